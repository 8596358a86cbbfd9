"""Shared fixtures."""

from __future__ import annotations

import pytest

from evalkit.data.examples import worked_example


@pytest.fixture
def example_ds():
    """The worked example of KPI_DEFINITIONS.md."""
    return worked_example()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The worked example written as a CSV dataset folder."""
    from evalkit.data.load import write_dataset

    out = tmp_path_factory.mktemp("we") / "example"
    write_dataset(worked_example(), out)
    return out
