"""KPI lab: which definition tells the truth?

Runs KPI variants on synthetic scenarios whose truth is known and changes
(the policy shortens stays by a known hazard ratio on permanent exits and
multiplies contact rates by known rate ratios), over replicated seeds, and
reports per variant

- ``true_change``: the change the variant should show, from the truth:
  for contact KPIs the scenario's rate ratio (``interviews_rr``,
  ``family_exchanges_rr``); for stay-length KPIs the ratio, post window ÷ pre
  window, of the same statistic (mean, median, or mean restricted to 3 years)
  of the **uncensored** stays of placement rows started in the entry window
  (the fiscal year and the two before), by setting group;
- ``estimated_change``: the KPI's post-period value ÷ pre-period value
  (monthly and quarterly KPIs pooled over the fiscal year: Σ numerator ÷
  Σ denominator; counts summed);
- ``bias``: mean of ``log(estimated) − log(true)`` over seeds, shown as a
  ratio ``exp(bias) − 1`` (``rel_bias``);
- ``detection_rate``: share of seeds where the estimate moves in the true
  direction beyond what the same variant shows in the ``null_effect``
  scenario (same seeds, same settings) at level ``alpha`` (one-sided); and the
  null scenario's own rate of such moves (about ``alpha`` by construction).

Examples
--------
>>> from evalkit.kpi.lab import LabConfig, run_lab
>>> res = run_lab(LabConfig(seeds=(1,), children_scale=0.05))  # a real lab uses ≥ 200 seeds
>>> res.summary().columns[:4].tolist()
['kpi', 'variant', 'group', 'post_fy']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.kpi.engine import Context, compute
from evalkit.results import Results

#: Variants the lab runs by default (stay length and contact frequency).
DURATION_VARIANTS = ("primary", "stock_mean", "entry_km_median", "entry_rmst_3y")
CONTACT_KPIS = {"interviews": "interviews_rr", "family_exchanges": "family_exchanges_rr"}
CONTACT_VARIANTS = ("primary", "count", "reach")
#: What each duration variant estimates on uncensored data (its truth).
DURATION_TARGET = {"primary": "mean", "stock_mean": "mean", "entry_km_median": "median",
                   "entry_rmst_3y": "rmst_3y"}
GROUPS = ("infant_home", "childrens_home", "family_based")


@dataclass(frozen=True)
class LabConfig:
    """Settings of a lab run.

    Attributes
    ----------
    scenario, null_scenario : str
        Synthetic scenarios with and without the policy effect.
    policy_start : str
        Policy start (every centre), put early enough to leave post years.
    pre_fy : int
        The pre-policy fiscal year compared against.
    post_fys : tuple of int
        Post-policy fiscal years (early and late after the start).
    children_scale : float
        Size of the synthetic population (1.0 = Nagano-like).
    seeds : tuple of int
        Replications.
    effects : dict
        Overrides applied to the effect scenario only (dotted keys), by default
        a permanency hazard ratio of 2.0 so that stays shorten visibly.
    overrides : dict
        Extra scenario overrides (dotted keys), applied to both scenarios.
    alpha : float
        One-sided level of the detection threshold from the null scenario.
    """

    scenario: str = "nagano_default"
    null_scenario: str = "null_effect"
    policy_start: str = "2021-04-01"
    pre_fy: int = 2020
    post_fys: tuple[int, ...] = (2021, 2023, 2026)
    children_scale: float = 1.0
    seeds: tuple[int, ...] = tuple(range(1, 11))
    effects: dict[str, Any] = field(
        default_factory=lambda: {"policy.effects.permanency_hr": 2.0})
    overrides: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.1

    def scenario_overrides(self, scenario: str) -> dict[str, Any]:
        """Overrides of one scenario (the effects only for the effect scenario)."""
        out = {"policy.start_date": self.policy_start, **self.overrides}
        if scenario == self.scenario:
            out.update(self.effects)
        return out


# ---------------------------------------------------------------------------- truth
def _true_stats(durations: np.ndarray) -> dict[str, float]:
    if len(durations) == 0:
        return {"mean": np.nan, "median": np.nan, "rmst_3y": np.nan}
    d = durations.astype(float)
    return {"mean": float(d.mean()), "median": float(np.median(d)),
            "rmst_3y": float(np.minimum(d, 3 * 365).mean())}


def true_stay_stats(histories, fy: int) -> dict[str, dict[str, float]]:
    """Uncensored stay statistics of placement rows started in FY ``fy−2`` … ``fy``,
    by setting group (from the generator's histories)."""
    from evalkit.data import codes as C

    settings = list(C.SETTINGS)
    group = np.array([C.SETTINGS[s].group for s in settings], dtype=object)[histories.row_setting]
    lo = np.datetime64(f"{fy - 2}-04-01").astype("datetime64[D]").astype(np.int64)
    hi = np.datetime64(f"{fy + 1}-04-01").astype("datetime64[D]").astype(np.int64)
    start, end = histories.row_start, histories.row_end
    m = (start >= lo) & (start < hi)
    return {g: _true_stats((end - start)[m & (group == g)]) for g in GROUPS}


# ---------------------------------------------------------------------------- estimates
def pooled_values(table: pd.DataFrame) -> pd.DataFrame:
    """One value per (kpi, variant, group, fiscal year): Σnum/Σden, counts summed,
    year-cadence values as they are."""
    from evalkit.kpi.registry import get_variant

    t = table.loc[table["center"] == "all"].copy()
    t["fy"] = pd.to_datetime(t["period_start"]).pipe(
        lambda s: s.dt.year - (s.dt.month < 4))
    rows = []
    for (k, v, g, fy), sub in t.groupby(["kpi", "variant", "group", "fy"], sort=False):
        var = get_variant(k, v)
        if var.cadence == "year":
            val = float(sub["value"].iloc[0])
        elif var.value_kind == "count":
            val = float(sub["numerator"].sum())
        else:
            den = float(sub["denominator"].sum())
            val = float(sub["numerator"].sum()) / den if den > 0 else np.nan
        rows.append((k, v, g, int(fy), val))
    return pd.DataFrame(rows, columns=["kpi", "variant", "group", "fy", "value"])


def changes(res, pre_fy: int, post_fys: Sequence[int]) -> pd.DataFrame:
    """Estimated and true changes of the lab's KPI variants on one generated result.

    Parameters
    ----------
    res : evalkit.synth.SynthResult
        A generated dataset with its truth and uncensored histories.
    pre_fy : int
        The fiscal year compared against.
    post_fys : sequence of int
        Fiscal years compared with ``pre_fy``.

    Returns
    -------
    DataFrame
        One row per (kpi, variant, group, post_fy): ``target, pre_value,
        post_value, estimated_change, true_change``.
    """
    ds = res.dataset
    fys = [int(pre_fy), *[int(f) for f in post_fys]]
    kpis = [f"placement_duration:{v}" for v in DURATION_VARIANTS] + [
        f"{k}:{v}" for k in CONTACT_KPIS for v in CONTACT_VARIANTS]
    ctx = Context(ds)
    parts = [compute(ds, fiscal_year=fy, kpis=kpis, context=ctx) for fy in fys]
    vals = pooled_values(pd.concat(parts, ignore_index=True))
    effects = res.truth["effects"]
    truth_pre = true_stay_stats(res.histories, int(pre_fy))
    out = []
    pre = vals.loc[vals["fy"] == pre_fy].set_index(["kpi", "variant", "group"])["value"]
    for fy in post_fys:
        post = vals.loc[vals["fy"] == fy].set_index(["kpi", "variant", "group"])["value"]
        truth_post = true_stay_stats(res.histories, int(fy))
        for key, pv in post.items():
            k, v, g = key
            if k == "placement_duration":
                target = DURATION_TARGET[v]
                t0, t1 = truth_pre[g][target], truth_post[g][target]
                true = t1 / t0 if t0 else np.nan
            else:
                target = "rate_ratio"
                true = float(effects.get(CONTACT_KPIS[k], 1.0))
            p0 = pre.get(key, np.nan)
            out.append({
                "kpi": k, "variant": v, "group": g, "post_fy": int(fy), "target": target,
                "pre_value": p0, "post_value": pv,
                "estimated_change": pv / p0 if p0 and np.isfinite(p0) and p0 != 0 else np.nan,
                "true_change": true,
            })
    return pd.DataFrame(out)


def replicate(cfg: LabConfig, seed: int, scenario: str) -> pd.DataFrame:
    """One replicate: generate, compute, compare with the truth.

    Returns the rows of :func:`changes` with ``scenario`` and ``seed`` added.
    """
    from evalkit.synth import generate

    res = generate(scenario, seed=seed, children_scale=cfg.children_scale,
                   overrides=cfg.scenario_overrides(scenario))
    out = changes(res, cfg.pre_fy, cfg.post_fys)
    out.insert(0, "seed", seed)
    out.insert(0, "scenario", scenario)
    return out


def replication_estimates(res) -> list[dict[str, Any]]:
    """Before/after KPI ratios of one synthetic replication, for simulation studies.

    The pre year is the fiscal year before the earliest policy start in
    ``res.truth["policy_start"]``; the post year is the last fiscal year
    complete by ``as_of``. Returns dicts with ``estimator``
    (``kpi.<kpi>.<variant>.<group>``), ``estimate`` (post ÷ pre), ``truth``
    (the true change, see the module doc), ``scale="log"`` and ``null=1.0``
    (the fields of :class:`evalkit.simulate.analyses.Estimate`); an empty list
    when there is no complete post-policy year.
    """
    from evalkit.data import calendar as cal

    starts = [pd.Timestamp(v) for v in (res.truth.get("policy_start") or {}).values()]
    if not starts:
        return []
    pre_fy = cal.fiscal_year(min(starts)) - 1
    as_of = res.dataset.as_of
    post_fy = cal.fiscal_year(as_of) - (cal.fiscal_year_end(cal.fiscal_year(as_of)) > as_of)
    if post_fy <= pre_fy:
        return []
    tab = changes(res, pre_fy, [post_fy])
    return [
        {"estimator": f"kpi.{r.kpi}.{r.variant}.{r.group}", "estimate": float(r.estimated_change),
         "truth": float(r.true_change), "scale": "log", "null": 1.0}
        for r in tab.itertuples(index=False)
    ]


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class LabResult(Results):
    """Replicates of a lab run and their summary (immutable).

    Attributes
    ----------
    config : LabConfig
    replicates : DataFrame
        One row per scenario × seed × KPI variant × group × post year.
    """

    config: LabConfig
    replicates: pd.DataFrame = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """Per KPI variant, group and post year: true and estimated change, bias,
        detection rate (effect scenario) and false-positive rate (null scenario)."""
        r = self.replicates.copy()
        r["log_est"] = np.log(r["estimated_change"])
        r["log_true"] = np.log(r["true_change"])
        key = ["kpi", "variant", "group", "post_fy"]
        eff = r.loc[r["scenario"] == self.config.scenario]
        nul = r.loc[r["scenario"] == self.config.null_scenario]
        rows = []
        a = self.config.alpha
        for k, e in eff.groupby(key, sort=False):
            n = nul.set_index(key).loc[[k]] if len(nul) else pd.DataFrame()
            true = float(np.exp(e["log_true"].mean()))
            up = true >= 1
            det = fpr = np.nan
            if len(n) and n["log_est"].notna().any():
                q = np.nanquantile(n["log_est"], 1 - a if up else a)
                le = e["log_est"].dropna()
                det = float(((le > q) if up else (le < q)).mean()) if len(le) else np.nan
                ln = n["log_est"].dropna()
                fpr = float(((ln > q) if up else (ln < q)).mean())
            bias = float((e["log_est"] - e["log_true"]).mean())
            rows.append({
                "kpi": k[0], "variant": k[1], "group": k[2], "post_fy": k[3],
                "target": e["target"].iloc[0],
                "true_change": true,
                "estimated_change": float(np.exp(e["log_est"].mean())),
                "rel_bias": float(np.exp(bias) - 1),
                "sd_log_est": float(e["log_est"].std(ddof=1)) if len(e) > 1 else np.nan,
                "detection_rate": det, "null_rate": fpr, "n_seeds": int(e["log_est"].notna().sum()),
            })
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """The replicates table."""
        return self.replicates.copy()

    # -- results protocol: mean log estimated change over seeds ---------------
    log_scale = True
    exp_name = "estimated_change"

    def _effect(self) -> pd.DataFrame:
        s = self.summary().set_index(["kpi", "variant", "group", "post_fy"])
        return s

    @property
    def params(self) -> pd.Series:
        """Mean log estimated change (post ÷ pre) over seeds, effect scenario."""
        return np.log(self._effect()["estimated_change"]).rename("estimate")

    @property
    def std_errors(self) -> pd.Series:
        """Monte-Carlo SE of that mean (SD over seeds / √seeds)."""
        e = self._effect()
        return (e["sd_log_est"] / np.sqrt(e["n_seeds"])).rename("std_error")

    def _title(self) -> str:
        return f"KPI lab: {self.config.scenario} vs {self.config.null_scenario}"

    def __repr__(self) -> str:
        return self.__str__()

    def plot(self, kpi: str = "placement_duration", group: str | None = "childrens_home",
             ax=None):
        """Estimated vs true change per variant and post year (points = seeds)."""
        import matplotlib.pyplot as plt

        from evalkit.plotting import setup

        setup()

        s = self.summary()
        s = s.loc[s["kpi"] == kpi]
        r = self.replicates.loc[(self.replicates["kpi"] == kpi)
                                & (self.replicates["scenario"] == self.config.scenario)]
        if group is not None:
            s, r = s.loc[s["group"] == group], r.loc[r["group"] == group]
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        variants = list(dict.fromkeys(s["variant"]))
        fys = list(self.config.post_fys)
        width = 0.8 / max(len(fys), 1)
        for j, fy in enumerate(fys):
            ss = s.loc[s["post_fy"] == fy].set_index("variant").reindex(variants)
            x = np.arange(len(variants)) + (j - (len(fys) - 1) / 2) * width
            ax.bar(x, ss["estimated_change"], width=width * 0.9, alpha=0.6,
                   label=f"推定 / estimated FY{fy}")
            ax.scatter(x, ss["true_change"], marker="_", s=400, color="black", zorder=3,
                       label="真の変化 / true change" if j == 0 else None)
            rr = r.loc[r["post_fy"] == fy]
            for i, v in enumerate(variants):
                pts = rr.loc[rr["variant"] == v, "estimated_change"]
                ax.scatter(np.full(len(pts), x[i]), pts, s=6, color="gray", zorder=2)
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        ax.set_xticks(np.arange(len(variants)), variants, rotation=15)
        ax.set_ylabel("変化（事後÷事前）/ change (post ÷ pre)")
        ax.set_title(f"{kpi}{'' if group is None else ' — ' + group}")
        ax.legend(fontsize=8)
        return ax


def run_lab(config: LabConfig | None = None, scenarios: Sequence[str] | None = None) -> LabResult:
    """Run every replicate of the lab (effect and null scenarios) and collect them."""
    cfg = config or LabConfig()
    scen = list(scenarios) if scenarios is not None else [cfg.scenario, cfg.null_scenario]
    parts = [replicate(cfg, s, sc) for sc in scen for s in cfg.seeds]
    return LabResult(cfg, pd.concat(parts, ignore_index=True))
