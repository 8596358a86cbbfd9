"""The KPI lab: machinery on hand-made data, and the qualitative result on synthetic data.

On synthetic data where the policy shortens stays (permanency hazard ratio 2)
and multiplies contact rates (interviews × 1.5, family exchanges × 1.4):

- the entry-cohort duration variants (Kaplan–Meier median, 3-year RMST)
  recover the true change of the entry cohorts' stays;
- the exit-cohort mean (primary) and the point-in-time stock mean do not:
  they barely move (or rise) while true stays shorten, because the policy
  first clears the long-stay backlog (exits of long stays) and the stock keeps
  its long stayers (length-biased sampling);
- contact frequency: the rate per child-month tracks the true rate ratio; the
  count follows the shrinking number of children in care and reach saturates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.kpi.lab import LabConfig, LabResult, pooled_values, run_lab, true_stay_stats

# one worker runs the module-scoped fixtures once (make test: pytest -n 2 --dist loadgroup)
pytestmark = pytest.mark.xdist_group("kpi_lab")


# ----------------------------------------------------------------------------- machinery
def test_pooled_values_pool_months_and_keep_years():
    t = pd.DataFrame({
        "kpi": ["interviews"] * 3 + ["interviews"] * 2 + ["placement_duration"],
        "variant": ["primary"] * 3 + ["count"] * 2 + ["primary"],
        "period": ["2026-04", "2026-05", "2027-04", "2026-04", "2026-05", "FY2026"],
        "period_start": ["2026-04-01", "2026-05-01", "2027-04-01", "2026-04-01", "2026-05-01",
                         "2026-04-01"],
        "period_end": "", "center": "all",
        "group": ["all"] * 5 + ["childrens_home"],
        "numerator": [3.0, 1.0, 5.0, 3.0, 1.0, 300.0],
        "denominator": [2.0, 2.0, 1.0, np.nan, np.nan, 2.0],
        "value": [1.5, 0.5, 5.0, 3.0, 1.0, 150.0],
    })
    v = pooled_values(t).set_index(["kpi", "variant", "group", "fy"])["value"]
    assert v[("interviews", "primary", "all", 2026)] == 1.0  # (3+1)/(2+2), not mean of 1.5, 0.5
    assert v[("interviews", "primary", "all", 2027)] == 5.0
    assert v[("interviews", "count", "all", 2026)] == 4.0
    assert v[("placement_duration", "primary", "childrens_home", 2026)] == 150.0


class _H:
    """A stand-in for the generator's histories (placement rows only)."""

    def __init__(self, rows):
        from evalkit.data import codes as C

        settings = list(C.SETTINGS)
        self.row_start = np.array([np.datetime64(s, "D").astype(np.int64) for s, _, _ in rows])
        self.row_end = np.array([np.datetime64(e, "D").astype(np.int64) for _, e, _ in rows])
        self.row_setting = np.array([settings.index(x) for _, _, x in rows])


def test_true_stay_stats_uses_the_three_year_entry_window():
    h = _H([("2024-04-01", "2024-04-11", "childrens_home"),  # FY2024: in FY2026's window
            ("2026-06-01", "2029-06-01", "childrens_home"),  # FY2026, 1096 days
            ("2024-03-31", "2024-04-30", "childrens_home"),  # FY2023: outside
            ("2026-05-01", "2026-05-31", "foster_care")])
    s = true_stay_stats(h, 2026)
    assert s["childrens_home"]["mean"] == pytest.approx((10 + 1096) / 2)
    assert s["childrens_home"]["median"] == pytest.approx((10 + 1096) / 2)
    assert s["childrens_home"]["rmst_3y"] == pytest.approx((10 + 1095) / 2)
    assert s["family_based"]["mean"] == 30
    assert np.isnan(s["infant_home"]["mean"])


def test_summary_bias_and_detection_from_replicates():
    cfg = LabConfig(seeds=(1, 2, 3, 4), post_fys=(2026,), alpha=0.25)
    rows = []
    for sc, ests in (("nagano_default", [0.6, 0.55, 0.7, 1.1]), ("null_effect", [1.0, 0.9, 1.1, 0.95])):
        for seed, e in zip(cfg.seeds, ests, strict=True):
            rows.append({"scenario": sc, "seed": seed, "kpi": "placement_duration",
                         "variant": "entry_rmst_3y", "group": "childrens_home", "post_fy": 2026,
                         "target": "rmst_3y", "pre_value": 100.0, "post_value": 100 * e,
                         "estimated_change": e, "true_change": 0.6 if sc == "nagano_default" else 1})
    s = LabResult(cfg, pd.DataFrame(rows)).summary().iloc[0]
    assert s["true_change"] == pytest.approx(0.6)
    geo = float(np.exp(np.mean(np.log([0.6, 0.55, 0.7, 1.1]))))
    assert s["estimated_change"] == pytest.approx(geo)
    assert s["rel_bias"] == pytest.approx(geo / 0.6 - 1)
    # threshold: 25% quantile of the null's log changes; 3 of 4 effect seeds fall below it
    q = np.quantile(np.log([1.0, 0.9, 1.1, 0.95]), 0.25)
    assert s["detection_rate"] == pytest.approx(np.mean(np.log([0.6, 0.55, 0.7, 1.1]) < q))
    assert s["null_rate"] == pytest.approx(0.25)


# ----------------------------------------------------------------------------- synthetic truth
@pytest.fixture(scope="module")
def lab():
    cfg = LabConfig(seeds=(1, 2, 3, 4), children_scale=0.5, post_fys=(2026,), alpha=0.1)
    return run_lab(cfg).summary().set_index(["kpi", "variant", "group", "post_fy"])


def test_entry_cohort_variants_recover_the_true_change(lab):
    for v, tol in (("entry_rmst_3y", 0.06), ("entry_km_median", 0.1)):
        r = lab.loc[("placement_duration", v, "childrens_home", 2026)]
        assert r["true_change"] < 0.85  # stays really did shorten
        assert abs(r["rel_bias"]) < tol, (v, r.to_dict())


def test_exit_cohort_and_point_in_time_are_biased_upward(lab):
    for v in ("primary", "stock_mean"):
        r = lab.loc[("placement_duration", v, "childrens_home", 2026)]
        # they show stays shortening far less than they did (or lengthening)
        assert r["estimated_change"] > r["true_change"] + 0.15, (v, r.to_dict())
        assert r["rel_bias"] > 0.2
    ent = lab.loc[("placement_duration", "entry_rmst_3y", "childrens_home", 2026)]
    stock = lab.loc[("placement_duration", "stock_mean", "childrens_home", 2026)]
    assert abs(stock["rel_bias"]) > abs(ent["rel_bias"]) + 0.2


def test_rate_per_child_month_tracks_the_rate_ratio(lab):
    # (family exchanges are overdispersed and fall with time in care: noisier)
    for k, rr, tol in (("interviews", 1.5, 0.08), ("family_exchanges", 1.4, 0.12)):
        p = lab.loc[(k, "primary", "all", 2026)]
        c = lab.loc[(k, "count", "all", 2026)]
        r = lab.loc[(k, "reach", "all", 2026)]
        assert p["true_change"] == rr
        assert abs(p["rel_bias"]) < tol
        assert c["rel_bias"] < -0.2  # the count follows the shrinking stock
        assert r["rel_bias"] < -0.07  # reach saturates
        assert p["detection_rate"] == 1.0


# ----------------------------------------------------------------------------- the notebook
def test_notebook_is_committed_clean_and_runs(tmp_path):
    import json
    from pathlib import Path

    import papermill as pm

    path = Path(__file__).resolve().parents[1] / "notebooks" / "kpi_lab.ipynb"
    nb = json.loads(path.read_text("utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3" and nb["metadata"]["language_info"]
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    out = tmp_path / "out.ipynb"
    pm.execute_notebook(str(path), str(out), parameters={"seeds": 1, "children_scale": 0.1,
                                                         "post_fys": [2026]},
                        kernel_name="python3", execution_timeout=300, progress_bar=False)
    text = out.read_text("utf-8")
    assert "Glyph" not in text and "Traceback" not in text
    assert "true_change" in text


def test_replication_estimates_for_simulation_studies():
    from evalkit.kpi.lab import replication_estimates
    from evalkit.simulate.analyses import Estimate
    from evalkit.synth import generate

    res = generate("nagano_default", seed=2, children_scale=0.15)
    est = [Estimate(**e) for e in replication_estimates(res)]
    names = {e.estimator for e in est}
    assert "kpi.interviews.primary.all" in names
    assert "kpi.placement_duration.entry_rmst_3y.childrens_home" in names
    iv = next(e for e in est if e.estimator == "kpi.interviews.primary.all")
    assert iv.truth == res.truth["effects"]["interviews_rr"] and iv.scale == "log"
    assert 1.0 < iv.estimate < 2.5
    # no complete post-policy year: nothing to estimate
    res2 = generate("nagano_default", seed=2, children_scale=0.05,
                    overrides={"calendar.as_of": "2026-12-31"})
    assert replication_estimates(res2) == []
