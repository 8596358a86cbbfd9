"""Figures of the contacts analysis (Japanese labels with English, units 件/人月)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.plotting import new_figure

OUTCOME_TITLES = {
    "interviews": "子ども・家族等との面接 / interviews",
    "family_exchanges": "親子・家族交流 / family exchanges",
}


def plot_its(res, outcome: str):
    """Monthly rate (件/人月) with the ITS fit and the counterfactual (no policy) line."""
    fig, ax = new_figure(8.0, 4.2)
    m = res.monthly[res.monthly["outcome"] == outcome]
    x = pd.to_datetime(m["month"])
    ax.plot(x, m["rate"], "o", ms=3, color="0.45", label="実績 / observed")
    ax.plot(x, m["fitted_rate"], "-", color="C0", lw=1.6, label="ITS 当てはめ / fitted")
    post = m["policy_share"].to_numpy() > 0
    if post.any():
        first = np.argmax(post)
        sl = slice(max(first - 1, 0), None)
        ax.plot(x.iloc[sl], m["counterfactual_rate"].iloc[sl], "--", color="C3", lw=1.6,
                label="導入なしの反実仮想 / counterfactual (no policy)")
    for d in sorted({v for v in res.starts.values() if v}):
        ax.axvline(pd.Timestamp(d), color="0.3", lw=0.8, ls=":")
    rr = res.rate_ratios
    r = rr[(rr["model"] == "its") & (rr["outcome"] == outcome)]
    sub = ""
    if len(r) and np.isfinite(r["rate_ratio"].iloc[0]):
        q = r.iloc[0]
        sub = f"（水準変化 率比 {q.rate_ratio:.2f} [{q.ci_lower:.2f}, {q.ci_upper:.2f}]）"
    ax.set_title(f"{OUTCOME_TITLES.get(outcome, outcome)} 分割時系列{sub}", fontsize=10)
    ax.set_xlabel("月 / month")
    ax.set_ylabel("件/人月 / contacts per child-month")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def plot_event_study(res, outcome: str):
    """DiD event-time rate ratios (log scale) with randomisation-inference intervals."""
    fig, ax = new_figure(7.0, 4.0)
    es = res.event_study[res.event_study["outcome"] == outcome]
    if es.empty:
        ax.text(0.5, 0.5, "段階導入なし：イベントスタディは推定できません\nno staggering: no event study",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    for kind, color, lab in (("lead", "C7", "導入前（事前トレンド）/ leads"),
                             ("lag", "C0", "導入後 / lags")):
        e = es[es["kind"] == kind]
        if e.empty:
            continue
        y = e["rate_ratio"].to_numpy()
        err = np.vstack([y - e["ci_lower"].to_numpy(), e["ci_upper"].to_numpy() - y])
        ax.errorbar(e["event_quarter"], y, yerr=err, fmt="o", color=color, capsize=3, label=lab)
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.axvline(-0.5, color="0.3", lw=0.8, ls=":")
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel("導入からの四半期 / quarters since the policy start")
    ax.set_ylabel("率比 / rate ratio")
    ax.set_title(f"{OUTCOME_TITLES.get(outcome, outcome)} イベントスタディ（代入推定）", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_rate_ratios(res):
    """Forest plot of the policy rate ratio by model and outcome (95% CI)."""
    rr = res.rate_ratios
    fig, ax = new_figure(7.0, 0.45 * len(rr) + 1.2)
    labels, ypos = [], []
    for i, r in enumerate(rr.itertuples()):
        y = len(rr) - i
        labels.append(f"{r.model} / {r.outcome}")
        ypos.append(y)
        if np.isfinite(r.rate_ratio):
            ax.errorbar([r.rate_ratio], [y], xerr=[[r.rate_ratio - r.ci_lower],
                                                   [r.ci_upper - r.rate_ratio]],
                        fmt="o", color="C0" if r.outcome == "interviews" else "C1", capsize=3)
        else:
            ax.text(1.0, y, " 推定なし / not estimated", va="center", fontsize=8, color="0.4")
    ax.axvline(1.0, color="0.3", lw=0.8)
    ax.set_yticks(ypos, labels, fontsize=8)
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel("率比（導入後/導入前）/ rate ratio (policy vs none), 95% CI")
    ax.set_title("導入の効果：面接と家族交流の頻度 / policy rate ratios", fontsize=10)
    return fig


def _plain_log_ticks(axis) -> None:
    """Log axis with plain decimal labels (0.8, 1.0, 1.5 …) instead of powers of ten."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0,
                                                       2.5, 3.0, 4.0)))
    axis.set_major_formatter(FormatStrFormatter("%.2g"))
    axis.set_minor_formatter(FormatStrFormatter(""))


def save_all(res, out: Path) -> list[Path]:
    """Write every figure as PNG into ``out``; returns the paths."""
    import matplotlib.pyplot as plt

    out = Path(out)
    paths = []
    figs = [("rate_ratios.png", plot_rate_ratios(res))]
    for o in res.its_:
        figs.append((f"its_{o}.png", plot_its(res, o)))
    for o in res.did_:
        figs.append((f"event_study_{o}.png", plot_event_study(res, o)))
    for name, fig in figs:
        p = out / name
        fig.savefig(p, metadata={"Software": None})
        plt.close(fig)
        paths.append(p)
    return paths
