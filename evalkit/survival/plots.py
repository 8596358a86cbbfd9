"""Figures of the time-to-permanency analysis (Japanese labels, months on the x axis).

Every function takes a :class:`~evalkit.survival.analysis.SurvivalAnalysis`
and returns a matplotlib ``Figure`` (aggregates only: no child-level data).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalkit.plotting import new_figure
from evalkit.survival.aalen_johansen import DAYS_PER_MONTH
from evalkit.survival.data import ANY_PERMANENCY, CAUSE_LABELS_JA, PERMANENT_CAUSES

COHORT_LABELS_JA = {
    "all": "全体",
    "policy_pre": "導入前の期間",
    "policy_post": "導入後の期間",
}

TERM_LABELS_JA = {
    "policy": "パーマネンシープランニング導入（policy）",
    "age_group[preschool]": "措置開始時 3歳〜就学前（対 3歳未満）",
    "age_group[school_age]": "措置開始時 学童期以降（対 3歳未満）",
    "setting_group[infant_home]": "最初の措置先 乳児院（対 児童養護施設）",
    "setting_group[family_based]": "最初の措置先 里親等（対 児童養護施設）",
    "setting_group[residential_other]": "最初の措置先 その他の施設（対 児童養護施設）",
    "entry_year": "措置開始の暦年（1年あたり）",
}


def cohort_label(c: str) -> str:
    """Japanese label of a cohort code (``FY2015`` → ``2015年度入所``)."""
    if c.startswith("FY"):
        return f"{c[2:]}年度入所"
    return COHORT_LABELS_JA.get(c, c)


def _curve(ax, fit, cause, label, color, max_months):
    ci = fit.conf_int(cause)
    m = ci.index.to_numpy(dtype=float) / DAYS_PER_MONTH
    keep = (m <= max_months) & (ci.index.to_numpy(dtype=float) <= fit.estimable_until)
    if not keep.any():
        return
    m = m[keep]
    ax.step(m, ci["estimate"].to_numpy()[keep], where="post", color=color, label=label, lw=1.8)
    ax.fill_between(
        m, ci["ci_lower"].to_numpy()[keep], ci["ci_upper"].to_numpy()[keep],
        step="post", color=color, alpha=0.18, lw=0,
    )


def plot_cif(
    res,
    cohorts: Sequence[str] = ("policy_pre", "policy_post"),
    cause: str = ANY_PERMANENCY,
    max_months: float = 60,
):
    """Cumulative incidence of ``cause`` by cohort, with 95% intervals."""
    fig, ax = new_figure()
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#7f7f7f"]
    for i, c in enumerate(cohorts):
        if c in res.cif_fits:
            _curve(ax, res.cif_fits[c], cause, cohort_label(c), colors[i % len(colors)], max_months)
    ax.set_xlim(0, max_months)
    ax.set_ylim(0, 1)
    ax.set_xticks(np.arange(0, max_months + 1, 6 if max_months <= 60 else 12))
    ax.set_xlabel("措置開始からの月数（か月）")
    ax.set_ylabel("累積発生率（割合）")
    ax.set_title(f"{CAUSE_LABELS_JA.get(cause, cause)}の累積発生率（95%信頼区間）")
    ax.legend(loc="lower right", frameon=False)
    return fig


def plot_routes(res, cohort: str = "all", max_months: float = 60):
    """Cumulative incidence of each permanent route and of any permanency."""
    fig, ax = new_figure()
    fit = res.cif_fits[cohort]
    colors = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#000000"]
    for i, c in enumerate((*PERMANENT_CAUSES, ANY_PERMANENCY)):
        _curve(ax, fit, c, CAUSE_LABELS_JA[c], colors[i], max_months)
    ax.set_xlim(0, max_months)
    ax.set_ylim(0, 1)
    ax.set_xticks(np.arange(0, max_months + 1, 6 if max_months <= 60 else 12))
    ax.set_xlabel("措置開始からの月数（か月）")
    ax.set_ylabel("累積発生率（割合）")
    ax.set_title(f"経路別の永続的解決（{cohort_label(cohort)}、95%信頼区間）")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    return fig


def plot_hazard_ratios(res):
    """Forest plot of the Cox model's hazard ratios with 95% intervals (log scale)."""
    t = res.cox_table.dropna(subset=["hazard_ratio"]).iloc[::-1]
    fig, ax = new_figure(7.5, 0.45 * max(len(t), 2) + 1.2)
    y = np.arange(len(t))
    hr = t["hazard_ratio"].to_numpy(dtype=float)
    lo = t["ci_lower"].to_numpy(dtype=float)
    hi = t["ci_upper"].to_numpy(dtype=float)
    ax.errorbar(hr, y, xerr=[hr - lo, hi - hr], fmt="o", color="#1f77b4", capsize=3)
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ticks = [t for t in (0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0) if lo.min() / 1.2 <= t <= hi.max() * 1.2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_yticks(y)
    ax.set_yticklabels([TERM_LABELS_JA.get(s, s) for s in t["term"]], fontsize=9)
    ax.set_xlabel("ハザード比（対数目盛、95%信頼区間）")
    ax.set_title("永続的解決のハザード比\n（原因別 Cox モデル、児童単位のロバスト標準誤差）", fontsize=11)
    return fig


def plot_tracking(res, max_months: float = 36):
    """Any-permanency incidence by entry cohort (one curve per fiscal year)."""
    cohorts = [c for c in res.cif_fits if c.startswith("FY")]
    fig, ax = new_figure()
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for i, c in enumerate(cohorts):
        fit = res.cif_fits[c]
        ci = fit.conf_int(ANY_PERMANENCY)
        m = ci.index.to_numpy(dtype=float) / DAYS_PER_MONTH
        keep = (m <= max_months) & (ci.index.to_numpy(dtype=float) <= fit.estimable_until)
        ax.step(m[keep], ci["estimate"].to_numpy()[keep], where="post",
                color=cmap(i / max(len(cohorts) - 1, 1)), label=cohort_label(c), lw=1.2)
    ax.set_xlim(0, max_months)
    ax.set_ylim(0, 1)
    ax.set_xlabel("措置開始からの月数（か月）")
    ax.set_ylabel("永続的解決の累積発生率（割合）")
    ax.set_title("入所年度別の永続的解決（トラッキング）")
    ax.legend(loc="lower right", frameon=False, fontsize=7, ncol=2)
    return fig


def save_all(res, out_dir) -> list[str]:
    """Write the standard figures as PNG into ``out_dir``; returns file names."""
    import matplotlib.pyplot as plt

    figs = {
        "cif_policy.png": plot_cif(res),
        "cif_routes.png": plot_routes(res),
        "cif_cohorts.png": plot_tracking(res),
    }
    if res.cox_ is not None:
        figs["hazard_ratios.png"] = plot_hazard_ratios(res)
    names = []
    for name, fig in figs.items():
        fig.savefig(f"{out_dir}/{name}", metadata={"Software": None})
        plt.close(fig)
        names.append(name)
    return names
