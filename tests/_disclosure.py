"""Helpers of the disclosure tests: small synthetic data, registries built like the notebook's."""

from __future__ import annotations

import warnings

from evalkit.report import sections as S

FY = 2026


def synth(out, seed: int, scale: float):
    from evalkit.cli import main

    assert main(["synth", "--seed", str(seed), "--children-scale", str(scale),
                 "--out", str(out)]) == 0
    return out


def no_contacts(monkeypatch) -> None:
    import evalkit.contacts.analysis as ca

    def skipped(*_a, **_k):
        raise RuntimeError("contacts analysis skipped in this test")

    monkeypatch.setattr(ca, "analyse", skipped)


def build(data, center: str, control: bool = True, fy: int = FY):
    """The report's sections and registry, as the notebook builds them (no figures)."""
    warnings.filterwarnings("ignore")
    r = S.open_report(str(data), fy, center=center, audience="public", min_cell=5)
    r.figures = False
    secs = S.compose(r, control=control)
    return r, secs
