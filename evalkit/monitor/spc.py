"""Statistical process control charts following NHS England's "Making Data Count".

:func:`spc` computes one chart: the centre line and process limits from the
baseline points, the near limits at two thirds of the distance, the four
special-cause rules and the variation of each point by the direction of
improvement. The rules reproduce NHSRplotthedots (``ptd_spc``):

``beyond_limit``
    a point above the upper or below the lower process limit;
``trend``
    7 points in a row each higher (or each lower) than the one before; every
    point of the run is marked;
``two_of_three``
    2 of 3 consecutive points between a near limit and the process limit on
    the same side, the three points all on that side of the centre line (the
    points near the limit are marked);
``shift``
    7 or more consecutive points on one side of the centre line (a point on
    the line breaks the run); every point of the run is marked.

Charts
------
``xmr``
    individuals chart: centre = mean of the baseline, limits = mean ±
    2.66 × mean moving range, the moving ranges above 3.267 × their mean
    screened out first (``screen_outliers=True``, NHSRplotthedots' default;
    ``False`` reproduces the NHS Excel tool).
``p`` / ``u``
    Laney's p′ and u′ charts for proportions and rates with varying
    denominators: centre p̄ = Σx/Σn over the baseline; each point's
    z-score ``(p_i − p̄)/σ_i`` with ``σ_i = √(p̄(1−p̄)/n_i)`` (p) or
    ``√(ū/n_i)`` (u); limits ``p̄ ± 2.66 × MR̄_z × σ_i`` where MR̄_z is the
    (screened) mean moving range of the baseline z-scores (Laney 2002:
    3 σ_i σ_z with σ_z = MR̄_z / 1.128).

Examples
--------
>>> out = spc([4, 6, 4, 6, 4, 6, 4, 6, 7, 7, 7, 7, 7, 7, 7], baseline=8, direction="up")
>>> float(out.loc[8, "center_line"]), float(out.loc[8, "upper_limit"]), out.loc[8, "signal"]
(5.0, 10.32, 'shift')
>>> out["variation"].iloc[-1]
'improvement'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

#: Columns of :func:`spc`'s result, in order (``note`` last).
SPC_COLUMNS = ["value", "center_line", "lower_limit", "upper_limit", "lower_near", "upper_near",
               "signal", "variation", "note"]
#: Signal codes in priority order (the first one decides a point's variation).
SIGNALS = ("beyond_limit", "trend", "two_of_three", "shift")
#: Japanese and English names of every signal.
SIGNAL_NAMES: dict[str, tuple[str, str]] = {
    "beyond_limit": ("管理限界外の点", "point beyond a process limit"),
    "trend": ("7点連続の上昇・低下", "trend of 7 points rising or falling"),
    "two_of_three": ("3点中2点が警戒線の外", "2 of 3 points beyond a near limit"),
    "shift": ("7点以上連続で平均の片側", "shift: 7 or more points on one side of the mean"),
}
#: Japanese and English names of every variation type.
VARIATION_NAMES: dict[str, tuple[str, str]] = {
    "improvement": ("改善の特別な変動", "special cause: improvement"),
    "concern": ("懸念の特別な変動", "special cause: concern"),
    "neutral": ("特別な変動（方向なし）", "special cause (no direction)"),
    "common": ("通常の変動", "common cause variation"),
}
#: Notes written in a row when limits cannot be computed.
NOTES: dict[str, tuple[str, str]] = {
    "too_short": ("基準期間の点が2未満のため管理限界を計算できません",
                  "fewer than 2 baseline points: no limits"),
    "empty_denominator": ("分母が0または空のため値がありません", "empty denominator: no value"),
    "no_variation": ("基準期間の変動が0のため管理限界は中心線と同じです",
                     "no variation in the baseline: limits equal the centre line"),
}
#: Constants of the XmR chart (3 / d2 with d2 = 1.128; the D4 screening factor).
LIMIT = 2.66
NEAR = 2.0 * LIMIT / 3.0
SCREEN = 3.267
RUN = 7
CHARTS = ("xmr", "p", "u")


# ---------------------------------------------------------------------- limits
def mean_moving_range(x: np.ndarray, screen_outliers: bool = True) -> float:
    """Mean of the moving ranges ``|x_i − x_{i−1}|`` (NaN pairs skipped).

    With ``screen_outliers`` the moving ranges at or above 3.267 × their mean
    are left out and the mean is taken again (NHSRplotthedots).
    """
    mr = np.abs(np.diff(np.asarray(x, float)))
    mr = mr[np.isfinite(mr)]
    if len(mr) == 0:
        return float("nan")
    amr = mr.mean()
    if screen_outliers:
        kept = mr[mr < SCREEN * amr]
        amr = kept.mean() if len(kept) else amr
    return float(amr)


def _limits_xmr(y: np.ndarray, base: np.ndarray, screen: bool) -> tuple[np.ndarray, np.ndarray]:
    """Centre (per point) and half-width of the process limits (per point)."""
    yb = y[base]
    center = np.nanmean(yb)
    amr = mean_moving_range(yb, screen)
    n = len(y)
    return np.full(n, center), np.full(n, LIMIT * amr)


def _limits_laney(num: np.ndarray, den: np.ndarray, base: np.ndarray, chart: str,
                  screen: bool) -> tuple[np.ndarray, np.ndarray]:
    ok = base & (den > 0) & np.isfinite(num)
    pbar = num[ok].sum() / den[ok].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        var = pbar * (1.0 - pbar) if chart == "p" else pbar
        sigma = np.sqrt(var / den)
        sigma[~(den > 0)] = np.nan
        z = (num / den - pbar) / sigma
    amr_z = mean_moving_range(np.where(ok, z, np.nan)[base], screen)
    n = len(num)
    return np.full(n, pbar), LIMIT * amr_z * sigma


# ---------------------------------------------------------------------- rules
def _part_of_run(ends: np.ndarray, length: int = RUN) -> np.ndarray:
    """Points lying in a run of ``length`` ending where ``ends`` is non-zero."""
    n = len(ends)
    out = np.zeros(n, bool)
    for j in np.flatnonzero(ends):
        out[max(0, j - length + 1): j + 1] = True
    return out


def _run_direction(ends: np.ndarray, length: int = RUN) -> np.ndarray:
    """Direction of the run each point belongs to (the later run where two overlap)."""
    n = len(ends)
    d = np.zeros(n)
    for j in np.flatnonzero(ends):
        d[max(0, j - length + 1): j + 1] = np.sign(ends[j])
    return d


def trend_ends(y: np.ndarray) -> np.ndarray:
    """+1/−1 where the point ends 7 points each higher/lower than the previous."""
    y = np.asarray(y, float)
    n = len(y)
    out = np.zeros(n)
    if n < RUN:
        return out
    w = sliding_window_view(np.sign(np.diff(y)), RUN - 1)  # NaN (a missing value) breaks runs
    out[RUN - 1:] = np.where((w == 1).all(axis=1), 1.0, np.where((w == -1).all(axis=1), -1.0, 0.0))
    return out


def shift_ends(side: np.ndarray) -> np.ndarray:
    """±1 where the point ends a run of 7 on the same (non-zero) side of the centre."""
    side = np.asarray(side, float)
    n = len(side)
    out = np.zeros(n)
    if n < RUN:
        return out
    w = sliding_window_view(side, RUN)
    same = (w == w[:, :1]).all(axis=1) & (w[:, 0] != 0)
    out[RUN - 1:] = np.where(same, w[:, 0], 0.0)
    return out


def two_of_three(close: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Points near a limit that are 2 of 3 consecutive near the same limit."""
    close = np.asarray(close, float)
    side = np.nan_to_num(np.asarray(side, float))
    n = len(close)
    if n == 0:
        return np.zeros(0, bool)
    cp = sliding_window_view(np.r_[0, 0, close, 0, 0], 3).sum(axis=1)  # window starting at j
    sp = np.abs(sliding_window_view(np.r_[0, 0, side, 0, 0], 3).sum(axis=1))
    ok = (cp >= 2) & (sp == 3)  # window j covers padded j..j+2 = points j-2..j
    hit = ok[:n] | ok[1:n + 1] | ok[2:n + 2]
    return hit & (close == 1)


# ---------------------------------------------------------------------- spc
def _baseline_mask(n: int, baseline: int | None) -> np.ndarray:
    if baseline is None:
        return np.ones(n, bool)
    b = int(baseline)
    if b < 0:
        raise ValueError("baseline must be ≥ 0 or None")
    return np.arange(n) < b


def _direction(direction: str | None) -> int:
    if direction in (None, "", "none", "neutral"):
        return 0
    if direction in ("up", "increase"):
        return 1
    if direction in ("down", "decrease"):
        return -1
    raise ValueError(f"direction must be 'up', 'down' or None, got {direction!r}")


def _inputs(values, chart, numerators, denominators) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if chart not in CHARTS:
        raise ValueError(f"chart must be one of {CHARTS}, got {chart!r}")
    if chart == "xmr":
        if values is None:
            raise ValueError("values are required for an xmr chart")
        y = np.asarray(values, float)
        return y, np.full(len(y), np.nan), np.full(len(y), np.nan)
    if numerators is None or denominators is None:
        raise ValueError(f"a {chart} chart needs numerators and denominators")
    num = np.asarray(numerators, float)
    den = np.asarray(denominators, float)
    if num.shape != den.shape:
        raise ValueError("numerators and denominators differ in length")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(den > 0, num / den, np.nan)
    return y, num, np.nan_to_num(den, nan=0.0)


def spc(values: Sequence[float] | None = None, *, chart: str = "xmr", baseline: int | None = None,
        screen_outliers: bool = True, direction: str | None = None,
        numerators: Sequence[float] | None = None,
        denominators: Sequence[float] | None = None) -> pd.DataFrame:
    """One SPC chart: limits, signals and variation of every point.

    Parameters
    ----------
    values : sequence of float
        The series in time order (for ``p``/``u`` charts it may be omitted:
        the values are ``numerators / denominators``). NaN = no value.
    chart : {'xmr', 'p', 'u'}
        Individuals chart, or Laney's p′ / u′ chart.
    baseline : int, optional
        Number of leading points that set the limits (``None``: all points).
    screen_outliers : bool
        Leave moving ranges ≥ 3.267 × their mean out of the mean moving range.
    direction : {'up', 'down', None}
        Which side is an improvement (``None``: signals are ``neutral``).
    numerators, denominators : sequence of float, optional
        Counts of the ``p`` / ``u`` chart.

    Returns
    -------
    DataFrame
        Columns :data:`SPC_COLUMNS`, one row per point. ``signal`` is the
        ``;``-joined codes of :data:`SIGNALS` marking the point (empty if
        none); ``variation`` is ``improvement``, ``concern``, ``neutral``
        (a signal without a direction) or ``common``; ``note`` says why a
        row has no limits or no value (codes of :data:`NOTES`).
    """
    y, num, den = _inputs(values, chart, numerators, denominators)
    return pd.DataFrame(spc_arrays(y, num, den, chart=chart, baseline=baseline,
                                   screen_outliers=screen_outliers, direction=direction),
                        columns=SPC_COLUMNS)


def spc_arrays(y: np.ndarray, num: np.ndarray, den: np.ndarray, *, chart: str,
               baseline: int | None, screen_outliers: bool, direction: str | None
               ) -> dict[str, np.ndarray | list]:
    """The columns of :func:`spc` as arrays (no DataFrame: fast for many series)."""
    sgn = _direction(direction)
    n = len(y)
    base = _baseline_mask(n, baseline)
    note = np.full(n, "", dtype=object)
    if chart != "xmr":
        note[~(den > 0)] = "empty_denominator"
    usable = base & np.isfinite(y)
    out: dict[str, np.ndarray | list] = {"value": y}
    if usable.sum() < 2:
        for c in SPC_COLUMNS[1:6]:
            out[c] = np.full(n, np.nan)
        out["signal"] = [""] * n
        out["variation"] = ["common"] * n
        note[note == ""] = "too_short"
        out["note"] = note
        return out
    if chart == "xmr":
        center, half = _limits_xmr(y, base, screen_outliers)
    else:
        center, half = _limits_laney(num, den, base, chart, screen_outliers)
    if np.nanmax(np.r_[half[usable], 0.0]) == 0:
        note[note == ""] = "no_variation"
    out["center_line"] = center
    out["lower_limit"] = center - half
    out["upper_limit"] = center + half
    out["lower_near"] = center - half * (NEAR / LIMIT)
    out["upper_near"] = center + half * (NEAR / LIMIT)
    sig, var = _signals(y, out, sgn)
    out["signal"] = sig
    out["variation"] = var
    out["note"] = note
    return out


def _signals(y: np.ndarray, lim: dict, sgn: int) -> tuple[list[str], list[str]]:
    """Signal codes and variation of every point (NHSRplotthedots' rules)."""
    ul, ll = lim["upper_limit"], lim["lower_limit"]
    un, ln = lim["upper_near"], lim["lower_near"]
    cl = lim["center_line"]
    fin = np.isfinite(y)
    with np.errstate(invalid="ignore"):
        beyond = fin & ((y > ul) | (y < ll))
        side = np.where(fin, np.sign(y - cl), 0.0)
        close = fin & ~beyond & ((y > un) | (y < ln))
    t_end = trend_ends(y)
    trend = _part_of_run(t_end)
    t_dir = _run_direction(t_end)
    s_end = shift_ends(side)
    shift = _part_of_run(s_end)
    two = two_of_three(close.astype(float), side)
    flags = {"beyond_limit": beyond, "trend": trend, "two_of_three": two, "shift": shift}
    dirs = {"beyond_limit": side, "trend": t_dir, "two_of_three": side, "shift": side}
    signals, variation = [], []
    for i in range(len(y)):
        codes = [c for c in SIGNALS if flags[c][i]]
        signals.append(";".join(codes))
        if not codes:
            variation.append("common")
            continue
        v = dirs[codes[0]][i]
        if sgn == 0:
            variation.append("neutral")
        else:
            variation.append("improvement" if v * sgn > 0 else "concern")
    return signals, variation


# ---------------------------------------------------------------------- assurance
#: Assurance verdicts with their Japanese and English names.
ASSURANCE_NAMES: dict[str, tuple[str, str]] = {
    "consistent_pass": ("目標を一貫して達成", "consistently passing the target"),
    "consistent_fail": ("目標を一貫して未達", "consistently failing the target"),
    "hit_and_miss": ("目標は達成・未達どちらもあり得る（ヒット・アンド・ミス）",
                     "hit and miss: the target lies inside the limits"),
}


def assurance(lower_limit: float, upper_limit: float, target: float,
              direction: str | None) -> str:
    """Assurance verdict of the latest limits against a target (NHSRplotthedots).

    Returns ``consistent_pass``, ``consistent_fail``, ``hit_and_miss`` (the
    target inside the limits), or ``""`` when there is no direction, no
    target or no limits.

    >>> assurance(1, 3, 4, "up"), assurance(5, 7, 4, "up"), assurance(1, 5, 4, "down")
    ('consistent_fail', 'consistent_pass', 'hit_and_miss')
    """
    sgn = _direction(direction)
    vals = np.array([lower_limit, upper_limit, target], float)
    if sgn == 0 or not np.isfinite(vals).all():
        return ""
    if target > upper_limit:
        return "consistent_fail" if sgn > 0 else "consistent_pass"
    if target < lower_limit:
        return "consistent_pass" if sgn > 0 else "consistent_fail"
    return "hit_and_miss"
