"""SPC charts and funnel plots (matplotlib, Japanese labels), and the one-line reading.

Markers print in greyscale too: improvement points are filled triangles up
(▲, blue), concern points filled triangles down (▼, orange), neutral
signals diamonds, common-cause points small grey dots.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.monitor.funnel import funnel_curve
from evalkit.monitor.spc import ASSURANCE_NAMES
from evalkit.plotting import new_figure

_UNIT = {"month": ("か月", "months"), "quarter": ("四半期", "quarters"), "year": ("年度", "years")}
_STYLE = {
    "improvement": dict(marker="^", color="#1f5fa8", ms=7, ls=""),
    "concern": dict(marker="v", color="#e07b00", ms=7, ls=""),
    "neutral": dict(marker="D", color="#555555", ms=5, ls=""),
}
_VAR_LABEL = {"improvement": "改善 / improvement", "concern": "懸念 / concern",
              "neutral": "特別な変動 / special cause"}
_SIGNAL_WORD = {"improvement": ("改善のシグナル", "a signal of improvement"),
                "concern": ("懸念のシグナル", "a signal of concern"),
                "neutral": ("特別な変動のシグナル", "a special-cause signal")}


def _run_back(codes: pd.Series, code: str, end: int, side: np.ndarray | None = None) -> int:
    """Length of the run of points carrying ``code`` ending at position ``end``.

    With ``side`` (+1 above / −1 below the centre line, per point) the run stops
    where the side changes: a shift below the mean followed at once by a shift
    above it are two runs, not one.
    """
    n = 0
    for i in range(end, -1, -1):
        if code in str(codes.iloc[i]).split(";") and (side is None or side[i] == side[end]):
            n += 1
        else:
            break
    return n


def reading(rows: pd.DataFrame, cadence: str = "month", lang: str = "ja") -> str:
    """One-line reading of a series' latest signal, e.g. 「7か月連続で平均を上回る：改善のシグナル」.

    Parameters
    ----------
    rows : DataFrame
        The series' rows (columns of ``spc.csv`` or :func:`evalkit.monitor.spc`), in order.
    cadence : {'month', 'quarter', 'year'}
    lang : {'ja', 'en'}

    >>> from evalkit.monitor import spc
    >>> reading(spc([2, 1, 2, 1, 2, 1, 2, 1, 3, 3, 3, 3, 3, 3, 3], baseline=8, direction="up"))
    '7か月連続で平均を上回る：改善のシグナル'
    """
    ja = lang == "ja"
    unit = _UNIT.get(cadence, _UNIT["month"])[0 if ja else 1]
    if rows.empty:
        return "データなし" if ja else "no data"
    if rows["center_line"].isna().all():
        return ("基準期間の点が足りず管理限界を計算できません" if ja
                else "too few baseline points for limits")
    sig = rows["signal"].fillna("").astype(str).reset_index(drop=True)
    var = rows["variation"].reset_index(drop=True)
    vals = rows["value"].reset_index(drop=True)
    cl = rows["center_line"].reset_index(drop=True)
    hit = np.flatnonzero(sig.to_numpy() != "")
    if len(hit) == 0:
        return ("特別な変動なし（通常の変動の範囲）" if ja
                else "no special cause: common-cause variation only")
    i = int(hit[-1])
    word = _SIGNAL_WORD[var[i]][0 if ja else 1] if var[i] in _SIGNAL_WORD else ""
    codes = sig[i].split(";")
    above = vals[i] > cl[i]
    if "period" in rows:
        period = str(rows["period"].iloc[i])
    else:
        period = f"{i + 1}点目" if ja else f"point {i + 1}"
    beyond = (f"{period}に管理限界を{'上回る' if above else '下回る'}" if ja
              else f"{period} {'above the upper' if above else 'below the lower'} process limit")
    side = np.sign(vals.to_numpy(float) - cl.to_numpy(float))
    if "beyond_limit" in codes and "shift" in codes:
        n = _run_back(sig, "shift", i, side)
        what = (f"{n}{unit}連続で平均を{'上回り' if above else '下回り'}、{beyond}" if ja
                else f"{n} {unit} in a row {'above' if above else 'below'} the mean, {beyond}")
    elif "beyond_limit" in codes:
        what = beyond
    elif "trend" in codes:
        n = _run_back(sig, "trend", i)
        rising = i > 0 and vals[i] > vals[i - 1]
        what = (f"{n}{unit}連続で{'上昇' if rising else '低下'}" if ja
                else f"{n} {unit} in a row {'rising' if rising else 'falling'}")
    elif "two_of_three" in codes:
        what = (f"3点中2点が警戒線を{'上回る' if above else '下回る'}" if ja
                else f"2 of 3 points beyond the {'upper' if above else 'lower'} near limit")
    else:
        n = _run_back(sig, "shift", i, side)
        what = (f"{n}{unit}連続で平均を{'上回る' if above else '下回る'}" if ja
                else f"{n} {unit} in a row {'above' if above else 'below'} the mean")
    return f"{what}：{word}" if ja else f"{what}: {word}"


def plot_spc(rows: pd.DataFrame, *, title: str, cadence: str = "month", trial: bool = False,
             policy_start: pd.Timestamp | None = None, targets: dict | None = None,
             assurance: dict | None = None, ylabel: str = "", lang: str = "ja",
             subtitle: str | None = None):
    """An SPC chart of one series (rows of ``spc.csv``): limits, near limits, signals marked.

    The one-line reading under the title is in ``lang`` (``subtitle`` replaces
    it); the legend is bilingual.
    """
    fig, ax = new_figure(8.0, 4.4)
    x = np.arange(len(rows))
    y = rows["value"].to_numpy(float)
    ax.plot(x, y, "-", color="0.55", lw=1.0, zorder=1)
    ax.plot(x, y, "o", color="0.55", ms=3, zorder=2, label="値 / value")
    ax.step(x, rows["center_line"], where="mid", color="black", lw=1.2, label="平均 / mean")
    for c, ls, lab in (("upper_limit", "--", "管理限界 / process limits"), ("lower_limit", "--", None),
                       ("upper_near", ":", "警戒線 / near limits"), ("lower_near", ":", None)):
        ax.step(x, rows[c], where="mid", color="0.25", lw=0.9, ls=ls, label=lab)
    var = rows["variation"].to_numpy()
    for kind, st in _STYLE.items():
        m = var == kind
        if m.any():
            ax.plot(x[m], y[m], zorder=3, label=_VAR_LABEL[kind], **st)
    if policy_start is not None and "period" in rows:
        pos = _position_of(rows, policy_start)
        if pos is not None:
            ax.axvline(pos - 0.5, color="0.3", lw=0.8, ls="-.")
            ax.annotate("方針導入 / policy", (pos - 0.5, 1.0), xycoords=("data", "axes fraction"),
                        fontsize=7, ha="left", va="top")
    for k, t in (targets or {}).items():
        lab = {"national": "国の目標 / national target", "prefecture": "県の目標 / prefectural target"}
        ax.axhline(t, color="#2e7d32", lw=1.0, ls=(0, (6, 2)) if k == "national" else (0, (2, 2)),
                   label=lab.get(k, k))
    step = max(1, len(rows) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(rows["period"].astype(str).to_numpy()[::step], rotation=45, ha="right",
                       fontsize=7)
    sub = reading(rows, cadence, lang) if subtitle is None else subtitle
    if trial:
        sub += "　※試行的な管理限界（基準期間12点未満）/ trial limits (< 12 baseline points)"
    if assurance:
        names = {k: ASSURANCE_NAMES[v][0] for k, v in assurance.items() if v}
        if names:
            sub += "\n目標: " + "、".join(f"{'国' if k == 'national' else '県'}={v}"
                                        for k, v in names.items())
    ax.set_title(f"{title}\n{sub}", fontsize=9)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _position_of(rows: pd.DataFrame, day: pd.Timestamp) -> int | None:
    starts = [_period_start(p) for p in rows["period"].astype(str)]
    if any(s is None for s in starts):
        return None
    for i, s in enumerate(starts):
        if s >= day:
            return i
    return None


def _period_start(label: str) -> pd.Timestamp | None:
    """First day of a period label: ``2026-04`` (month) or ``FY2026Q1`` (fiscal quarter)."""
    try:
        if label.startswith("FY") and "Q" in label:
            fy, q = label[2:].split("Q")
            return pd.Timestamp(int(fy), 4, 1) + pd.DateOffset(months=3 * (int(q) - 1))
        return pd.Period(label, freq="M").start_time
    except (ValueError, TypeError):
        return None


def plot_funnel(rows: pd.DataFrame, *, title: str, kind: str = "p", scale: float = 1.0,
                labels: dict[str, str] | None = None, line_label: str = "県全体 / prefecture",
                annotate: str = "all"):
    """A funnel plot of one KPI (rows of ``funnel.csv``; suppressed centres left out).

    ``line_label`` names the centre line (the whole); ``annotate`` is ``"all"`` (every
    centre named) or ``"outside"`` (only centres outside the 95% limits: hundreds of
    names would hide the plot).
    """
    if annotate not in ("all", "outside"):
        raise ValueError(f"annotate must be 'all' or 'outside', not {annotate!r}")
    fig, ax = new_figure(7.0, 4.4)
    ok = rows["denominator"].astype(float) > 0
    r = rows.loc[ok & rows["value"].notna()]
    theta = float(rows["center_line"].iloc[0]) / scale if len(rows) else float("nan")
    tau2 = float(rows["tau2"].iloc[0]) if len(rows) else 0.0
    if len(r) and np.isfinite(theta):
        cur = funnel_curve(theta, float(r["denominator"].max()) * 1.2, kind=kind, tau2=tau2,
                           n_min=float(r["denominator"].min()) * 0.5)
        for key, ls, lab in (("95", "--", "95%"), ("998", ":", "99.8%")):
            ax.plot(cur["n"], cur[f"upper_{key}"] * scale, color="0.25", ls=ls, lw=1.0, label=lab)
            ax.plot(cur["n"], cur[f"lower_{key}"] * scale, color="0.25", ls=ls, lw=1.0)
        ax.axhline(theta * scale, color="black", lw=1.2, label=line_label)
        for _, q in r.iterrows():
            mk = {"99.8": ("s", "#e07b00"), "95": ("D", "#1f5fa8")}.get(q["outside"], ("o", "0.4"))
            ax.plot(q["denominator"], q["value"], marker=mk[0], color=mk[1], ls="", ms=6)
            if annotate == "outside" and q["outside"] not in ("95", "99.8"):
                continue
            name = (labels or {}).get(str(q["center"]), str(q["center"]))
            ax.annotate(name, (q["denominator"], q["value"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        if len(r) > 1:
            ax.set_xscale("log")
    adj = "（過分散を補正）/ overdispersion-adjusted" if len(rows) and rows["adjusted"].any() else ""
    ax.set_title(f"{title}\n{adj}", fontsize=9)
    ax.set_xlabel("分母 / denominator")
    ax.legend(fontsize=7)
    return fig
