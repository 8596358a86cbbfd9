"""One results protocol for every family (issue #13).

Each result — Cox, Aalen–Johansen, Fine–Gray, NB, GEE, ITS, DiD, the survival and
contacts analyses, KPI tables and study results — has ``params`` and
``std_errors`` as Series on one index, ``pvalues``, ``conf_int(level)`` with
columns ``lower, upper`` (narrower at a lower level), ``summary()`` a
DataFrame, ``to_frame()`` a fresh DataFrame, a readable ``str`` and an HTML
display for Jupyter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.results import Results


def _cox():
    from evalkit.datasets import load_rossi
    from evalkit.survival import cox

    return cox(load_rossi(), ["fin", "age", "prio"], duration="week", event="arrest")


def _aj():
    from evalkit.datasets import load_mgus2
    from evalkit.survival import cumulative_incidence

    return cumulative_incidence(load_mgus2(), "etime", "event", censored="censor",
                                times=[60, 120], time_unit="months")


def _finegray():
    from evalkit.datasets import load_mgus2
    from evalkit.survival import finegray

    return finegray(load_mgus2(), duration="etime", cause="event", censored="censor",
                    cause_of_interest="pcm", covariates=["age", "male"])


def _negbin():
    from evalkit.contacts import negbin
    from evalkit.datasets import load_quine

    return negbin(load_quine(), "Days", ["Eth", "Sex"])


def _gee():
    from evalkit.contacts import gee
    from evalkit.datasets import load_epil

    return gee(load_epil(), "y", ["trt", "lbase"], groups="subject")


def _its():
    from evalkit.contacts import its
    from evalkit.datasets import load_sicily

    return its(load_sicily(), count="aces", time="date", interruption="2005-01-01",
               exposure="stdpop", family="quasipoisson", seasonality=("harmonic", 2),
               slope_change=False)


def _did():
    from evalkit.contacts import did

    rng = np.random.default_rng(4)
    units, months = [f"u{i}" for i in range(6)], pd.date_range("2024-01-01", periods=18, freq="MS")
    starts = {"u0": "2024-07-01", "u1": "2024-10-01", "u2": "2025-01-01", "u3": "2025-03-01"}
    rows = [(u, m, rng.poisson(20)) for u in units for m in months]
    df = pd.DataFrame(rows, columns=["unit", "month", "n"])
    return did(df, unit="unit", time="month", count="n", treat_start=starts,
               n_permutations=50, seed=1)


def _survival_analysis():
    from _survival_sim import simulate

    from evalkit.survival import analyse

    return analyse(simulate(n=300, seed=2, first_entry="2020-04-01").dataset)


def _contacts_analysis():
    from evalkit.contacts import analyse
    from evalkit.synth import generate

    ds = generate("nagano_default", seed=3, children_scale=0.05).dataset
    return analyse(ds, models=("negbin", "its"), n_boot=0)


def _kpi_table():
    from evalkit.datasets import worked_example
    from evalkit.kpi import compute

    return compute(worked_example(), fiscal_year=2026)


def _study():
    from evalkit.simulate.study import StudyResult, StudySpec
    from evalkit.simulate.summary import summarise

    reps = pd.DataFrame({
        "point": 0, "replication": range(4), "seed": range(4), "status": "ok", "error": "",
        "estimator": "e", "estimate": [1.0, 2.0, 3.0, 4.0], "truth": 2.0,
        "ci_lower": [0.5, 1.0, 2.5, 3.5], "ci_upper": [1.5, 3.0, 3.5, 4.5],
        "p_value": [0.2, 0.01, 0.04, 0.001], "scale": "linear", "null": 0.0, "seconds": 0.0,
    })
    return StudyResult(StudySpec("nagano_default", replications=4, analyses=("survival",)), reps, summarise(reps), None)


def _lab():
    from evalkit.kpi.lab import LabConfig, LabResult

    cfg = LabConfig(seeds=(1, 2, 3), post_fys=(2026,), alpha=0.25)
    rows = [{"scenario": sc, "seed": s, "kpi": "placement_duration", "variant": "entry_rmst_3y",
             "group": "all", "post_fy": 2026, "target": "rmst_3y", "pre_value": 100.0,
             "post_value": 100 * e, "estimated_change": e, "true_change": t}
            for sc, t, es in (("nagano_default", 0.6, [0.6, 0.5, 0.7]),
                              ("null_effect", 1.0, [1.0, 0.9, 1.1]))
            for s, e in zip(cfg.seeds, es, strict=True)]
    return LabResult(cfg, pd.DataFrame(rows))


FAMILIES = {
    "cox": _cox, "aalen_johansen": _aj, "finegray": _finegray, "negbin": _negbin, "gee": _gee, "its": _its,
    "did": _did, "survival_analysis": _survival_analysis,
    "contacts_analysis": _contacts_analysis, "kpi_table": _kpi_table, "study": _study,
    "kpi_lab": _lab,
}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def result(request):
    return FAMILIES[request.param]()


def test_follows_the_protocol(result):
    assert isinstance(result, Results)
    p, se, pv = result.params, result.std_errors, result.pvalues
    for s in (p, se, pv):
        assert isinstance(s, pd.Series)
    assert p.index.equals(se.index) and p.index.equals(pv.index)
    assert len(p) >= 1
    ci = result.conf_int()
    assert list(ci.columns) == ["lower", "upper"] and ci.index.equals(p.index)
    ok = ci.notna().all(axis=1) & p.notna()
    assert (ci.loc[ok, "lower"] <= p[ok] + 1e-12).all() and (p[ok] <= ci.loc[ok, "upper"] + 1e-12).all()
    try:
        narrow = result.conf_int(level=0.5)
    except ValueError as e:  # DiD's randomisation interval exists at its fitted level only
        assert "refit" in str(e)
    else:
        width = (ci["upper"] - ci["lower"])[ok]
        assert ((narrow["upper"] - narrow["lower"])[ok] <= width + 1e-12).all()
    with pytest.raises(ValueError):
        result.conf_int(level=95)
    s = result.summary()
    assert isinstance(s, pd.DataFrame) and len(s) >= 1
    f = result.to_frame()
    assert isinstance(f, pd.DataFrame) and type(f) is pd.DataFrame
    f.drop(columns=f.columns[0], inplace=True)  # a copy: the result is unchanged
    assert isinstance(result.summary(), pd.DataFrame)
    text = str(result)
    assert isinstance(text, str) and len(text.splitlines()) >= 2
    html = result._repr_html_()
    assert isinstance(html, str) and "<table" in html


@pytest.mark.parametrize("name", ["cox", "finegray", "negbin", "gee", "its", "did"])
def test_wald_families_share_summary_columns(name):
    r = FAMILIES[name]()
    s = r.summary()
    assert list(s.columns[:6]) == ["estimate", "std_error", "z", "p_value", "lower", "upper"]
    if r.log_scale:
        np.testing.assert_allclose(s.iloc[:, 6], np.exp(s["estimate"]))
