"""Shared fixtures."""

from __future__ import annotations

import pytest

from evalkit.data.examples import worked_example


@pytest.fixture
def example_ds():
    """The worked example of KPI_DEFINITIONS.md."""
    return worked_example()
