"""From care episodes to survival data (time to permanent resolution).

One row per **care episode** (DATA_MODEL.md): origin = care start (the first
in-care row of the episode), time = days to discharge, cause from the
discharge reason:

* permanent routes: ``reunification``, ``kinship``, ``adoption`` (special and
  ordinary adoption together), ``guardianship``;
* competing, non-permanent exits: ``independence``, ``other_service``,
  ``death``, ``other``;
* censored: ``transfer_out`` (at the transfer date: the child's story goes on
  elsewhere) and open episodes (at ``as_of``: known to be in care on that day).

Left truncation (delayed entry): with a study window starting at
``window_start``, episodes that began before it and are still in care on it
enter the risk set at ``window_start − care_start`` days; those that ended
before it (discharge ≤ window_start) are excluded. Children already in care
("stock") are then analysed correctly: each contributes only the time it was
observed, conditional on having stayed that long.

:func:`split_at_policy` turns the frame into ``(start, stop]`` rows split at the
centre's policy start, so a child in care on that day contributes time to
both periods (policy as a time-varying covariate).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.data import codes as C
from evalkit.data.calendar import age_group, fiscal_year

#: Discharge reason → cause of exit (``None`` = censored).
CAUSE_OF_REASON: dict[str, str | None] = {
    "reunification": "reunification",
    "kinship": "kinship",
    "special_adoption": "adoption",
    "ordinary_adoption": "adoption",
    "guardianship": "guardianship",
    "independence": "independence",
    "other_service": "other_service",
    "death": "death",
    "other": "other",
    "transfer_out": None,
}
PERMANENT_CAUSES = ("reunification", "kinship", "adoption", "guardianship")
COMPETING_CAUSES = ("independence", "other_service", "death", "other")
ALL_CAUSES = PERMANENT_CAUSES + COMPETING_CAUSES + ("transfer_out",)
#: Name of the combined cause "any permanent route".
ANY_PERMANENCY = "permanency"

CAUSE_LABELS_JA = {
    "reunification": "家庭復帰",
    "kinship": "親族等による養育",
    "adoption": "養子縁組（特別・普通）",
    "guardianship": "未成年後見",
    "permanency": "永続的解決（いずれか）",
    "independence": "自立",
    "other_service": "他制度・他施設へ",
    "death": "死亡",
    "other": "その他",
    "transfer_out": "移管",
}

SETTING_GROUP_ORDER = (
    C.GROUP_CHILDRENS,
    C.GROUP_INFANT,
    C.GROUP_FAMILY,
    C.GROUP_RES_OTHER,
)

FRAME_COLUMNS = [
    "episode_id", "child_id", "center", "care_start", "end_date", "time", "entry",
    "cause", "event", "reason", "entry_fy", "entry_year", "age_group", "setting_group",
    "policy_date", "policy_day",
]


class SurvivalInputError(ValueError):
    """Bad parameters or data for the survival analysis (code, Japanese, English)."""

    def __init__(self, code: str, message_ja: str, message_en: str):
        super().__init__(f"[{code}] {message_ja} / {message_en}")
        self.code = code
        self.message_ja = message_ja
        self.message_en = message_en


def _ts(d) -> pd.Timestamp | None:
    if d is None or (isinstance(d, float) and np.isnan(d)):
        return None
    try:
        return pd.Timestamp(d).normalize()
    except (ValueError, TypeError) as e:
        raise SurvivalInputError(
            "SV001", f"日付を読めません: {d!r}", f"cannot parse date: {d!r}"
        ) from e


def policy_dates(ds, centers, policy_start=None) -> dict[str, pd.Timestamp]:
    """Policy start per centre: ``policy_start`` if given, else the ``policy`` table.

    Raises
    ------
    SurvivalInputError
        When a centre has no date and none was given (code ``SV002``).
    """
    fixed = _ts(policy_start)
    out: dict[str, pd.Timestamp] = {}
    missing = []
    for c in sorted({str(c) for c in centers}):
        d = fixed if fixed is not None else ds.policy_start(c)
        if d is None or pd.isna(d):
            missing.append(c)
        else:
            out[c] = pd.Timestamp(d)
    if missing:
        raise SurvivalInputError(
            "SV002",
            "導入日が分かりません（policy 表にない児童相談所: "
            + ", ".join(missing)
            + "）。--policy-start で指定してください。",
            "no policy start date for centre(s) "
            + ", ".join(missing)
            + " (not in the policy table); give --policy-start.",
        )
    return out


def care_episodes_fast(ds) -> pd.DataFrame:
    """Care episodes with the columns this analysis needs, sorted by ``episode_id``.

    A selection of :func:`evalkit.data.episodes.care_episodes`
    (``episode_id, child_id, center, care_start, discharge_date,
    discharge_reason, open, first_care_setting``), with ``child_id`` as plain
    objects. (It was a separate vectorised copy while ``episodes()`` was slow.)
    """
    from evalkit.data.episodes import care_episodes

    cols = [
        "episode_id", "child_id", "center", "care_start", "discharge_date",
        "discharge_reason", "open", "first_care_setting",
    ]
    ep = care_episodes(ds)
    if ep.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = ep[cols].copy()
    out["child_id"] = out["child_id"].astype(object)
    return out.sort_values("episode_id", kind="mergesort").reset_index(drop=True)


def detect_window_start(ds) -> pd.Timestamp | None:
    """A study-window start implied by the data, or None.

    Exports from a case-management system that began at some date hold the
    children then already in care with their original care-start dates (and
    their earlier history), but none of the children whose care had ended
    before: those old episodes are a length-biased sample (only long stays
    survive to the export). Such exports show it in their activity tables:
    contacts and reviews are recorded only from the system's start. When the
    earliest contact or review is more than a year after the earliest care
    start — and in-care placements started before it at less than half the
    rate seen after it (only the survivors were kept; at least 30 starts after
    it, so tiny examples never trigger it) — that date is returned as the
    window start; otherwise None.
    """
    p = ds.placements
    if p.empty:
        return None
    first_start = p.loc[p["setting"].astype(object).isin(C.IN_CARE_SETTINGS), "start_date"].min()
    firsts = [
        ds.tables[t][col].min()
        for t, col in (("contacts", "date"), ("reviews", "date"))
        if t in ds.tables and not ds.tables[t].empty
    ]
    firsts = [d for d in firsts if not pd.isna(d)]
    if not firsts or pd.isna(first_start):
        return None
    first_activity = pd.Timestamp(min(firsts)).normalize()
    if (first_activity - first_start).days <= 365:
        return None
    # and the inflow confirms it: before the first record, in-care rows start at
    # well under half the rate seen afterwards (only the survivors were kept)
    starts = p.loc[p["setting"].astype(object).isin(C.IN_CARE_SETTINGS), "start_date"].dropna()
    as_of = pd.Timestamp(ds.as_of)
    yrs_before = (first_activity - first_start).days / 365.25
    yrs_after = (as_of - first_activity).days / 365.25
    if yrs_after < 0.5:
        return None
    n_after = int((starts >= first_activity).sum())
    rate_before = (starts < first_activity).sum() / yrs_before
    if n_after >= 30 and rate_before < 0.5 * n_after / yrs_after:
        return first_activity
    return None


def survival_frame(
    ds,
    *,
    policy_start=None,
    window_start=None,
    require_policy: bool = True,
    transfers: str = "censor",
) -> pd.DataFrame:
    """One row per care episode with time, cause, delayed entry and covariates.

    Parameters
    ----------
    ds : Dataset
    policy_start : date-like, optional
        One policy start date for every centre (overrides the ``policy`` table).
    window_start : date-like, optional
        Start of the study window (left truncation); default: no truncation.
    require_policy : bool
        Raise when a centre has no policy date (else ``policy_date`` is NaT).
    transfers : {"censor", "compete"}
        ``transfer_out`` censored at the transfer date (default) or treated as
        a competing cause ``transfer_out`` (to compare with shares computed on
        complete histories, where a transferred child did not reach
        permanency here).

    Returns
    -------
    DataFrame
        Columns ``episode_id, child_id, center, care_start, end_date, time,
        entry, cause, event, reason, entry_fy, entry_year, age_group,
        setting_group, policy_date, policy_day``; ``time``/``entry``/
        ``policy_day`` in days since care start; ``cause`` None when censored;
        ``event`` True for a permanent exit. Sorted by ``episode_id``
        (independent of input row order).
    """
    ep = care_episodes_fast(ds)
    if ep.empty:  # e.g. a header-only placements table (#11: not an internal error)
        raise SurvivalInputError(
            "SV007",
            "分析する措置がありません（placements 表に措置の行がありません）。",
            "no placements to analyse (the placements table has no care episodes).",
        )
    as_of = pd.Timestamp(ds.as_of).normalize()
    ws = _ts(window_start)
    if ws is not None and ws > as_of:
        raise SurvivalInputError(
            "SV003",
            f"観察期間の開始日 {ws.date()} がデータ基準日 {as_of.date()} より後です。",
            f"window start {ws.date()} is after the data cut-off {as_of.date()}.",
        )
    reason = ep["discharge_reason"].astype(object)
    is_open = ep["open"].to_numpy(dtype=bool)
    end = ep["discharge_date"].where(~ep["open"], as_of)
    care_start = ep["care_start"]
    time = (end - care_start).dt.days.to_numpy(dtype=float)
    mapping = dict(CAUSE_OF_REASON)
    if transfers == "compete":
        mapping["transfer_out"] = "transfer_out"
    elif transfers != "censor":
        raise SurvivalInputError(
            "SV006",
            f"transfers は censor か compete です: {transfers!r}",
            f"transfers must be 'censor' or 'compete': {transfers!r}",
        )
    cause = reason.map(mapping).astype(object)
    cause = cause.where(~is_open & cause.notna(), None)
    entry = np.zeros(len(ep))
    if ws is not None:
        entry = np.maximum((ws - care_start).dt.days.to_numpy(dtype=float), 0.0)
    births = ds.children.drop_duplicates("child_id").set_index("child_id")["birth_date"]
    birth = ep["child_id"].map(births)
    settings = ep["first_care_setting"].astype(object)
    sgroup = settings.map(lambda s: C.setting_group(s) if isinstance(s, str) else None)
    fr = pd.DataFrame(
        {
            "episode_id": ep["episode_id"].astype(str),
            "child_id": ep["child_id"].astype(str),
            "center": ep["center"].astype(object).fillna("unknown").astype(str),
            "care_start": care_start,
            "end_date": end,
            "time": time,
            "entry": entry,
            "cause": cause,
            "event": cause.isin(PERMANENT_CAUSES).to_numpy(),
            "reason": reason.where(~is_open, "open").fillna("open"),
            "entry_fy": fiscal_year(care_start).astype(np.int64),
            "entry_year": (care_start - pd.Timestamp("2000-01-01")).dt.days / 365.25 + 2000.0,
            "age_group": pd.Series(age_group(birth, care_start), index=ep.index).astype(object),
            "setting_group": sgroup,
        }
    )
    # exits on the care-start day and episodes ended before the window carry no risk time
    fr = fr.loc[fr["time"] > fr["entry"]]
    if fr.empty:
        raise SurvivalInputError(
            "SV004",
            "分析できる措置エピソードがありません。",
            "no care episodes to analyse.",
        )
    if require_policy or policy_start is not None or not ds.policy.empty:
        try:
            dates = policy_dates(ds, fr["center"].unique(), policy_start)
        except SurvivalInputError:
            if require_policy:
                raise
            dates = {}
    else:
        dates = {}
    pdate = fr["center"].map(dates)
    fr["policy_date"] = pd.to_datetime(pdate)
    fr["policy_day"] = (fr["policy_date"] - fr["care_start"]).dt.days.astype(float)
    fr = fr.sort_values("episode_id", kind="mergesort").reset_index(drop=True)
    return fr[FRAME_COLUMNS]


def split_at_policy(frame: pd.DataFrame) -> pd.DataFrame:
    """Counting-process rows ``(start, stop]`` split at each episode's policy day.

    An episode in care on its centre's policy start day contributes a
    pre-policy row ``(entry, policy_day]`` (no event) and a post-policy row
    ``(policy_day, time]`` carrying the exit; ``policy`` is 0/1.

    Returns
    -------
    DataFrame
        The frame's columns plus ``start, stop, policy`` (``event`` only on
        the last row of an episode), sorted by ``episode_id, start``.
    """
    t = frame["time"].to_numpy(dtype=float)
    e = frame["entry"].to_numpy(dtype=float)
    pdays = frame["policy_day"].to_numpy(dtype=float)
    pdays = np.where(np.isnan(pdays), np.inf, pdays)
    pre_only = t <= pdays
    post_only = pdays <= e
    both = ~pre_only & ~post_only
    a = frame.loc[pre_only | post_only].assign(
        start=e[pre_only | post_only],
        stop=t[pre_only | post_only],
        policy=post_only[pre_only | post_only].astype(np.int8),
    )
    b_pre = frame.loc[both].assign(start=e[both], stop=pdays[both], policy=np.int8(0), event=False)
    b_post = frame.loc[both].assign(start=pdays[both], stop=t[both], policy=np.int8(1))
    out = pd.concat([a, b_pre, b_post], ignore_index=True)
    out["event"] = out["event"].astype(bool)
    return out.sort_values(["episode_id", "start"], kind="mergesort").reset_index(drop=True)


def design(
    rows: pd.DataFrame,
    *,
    calendar: str = "linear",
    reference: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Covariate columns for the Cox model.

    ``policy`` (0/1), dummies for ``age_group`` (ref. ``under3``) and
    ``setting_group`` (ref. ``childrens_home``), and with ``calendar="linear"``
    ``entry_year`` (care start in years, a linear calendar-time trend: with
    time in care as the time scale, a log-linear trend in calendar time
    ``entry + t`` is exactly a linear term in the entry date plus a
    function of ``t`` absorbed by the baseline hazard). Dummy levels without
    any event are merged into the reference (their coefficient would be −∞).

    Returns
    -------
    (DataFrame, list of covariate names, list of notes)
    """
    ref = {"age_group": "under3", "setting_group": C.GROUP_CHILDRENS} | dict(reference or {})
    levels = {
        "age_group": ("under3", "preschool", "school_age"),
        "setting_group": SETTING_GROUP_ORDER,
    }
    X = pd.DataFrame(index=rows.index)
    cols: list[str] = ["policy"]
    notes: list[str] = []
    X["policy"] = rows["policy"].astype(float)
    ev = rows["event"].to_numpy(dtype=bool)
    for var in ("age_group", "setting_group"):
        v = rows[var].astype(object).fillna(ref[var])
        for lev in levels[var]:
            if lev == ref[var]:
                continue
            m = (v == lev).to_numpy()
            if not m.any():
                continue
            if not (m & ev).any():
                notes.append(f"{var}={lev}: no permanent exits; merged into reference {ref[var]}")
                continue
            name = f"{var}[{lev}]"
            X[name] = m.astype(float)
            cols.append(name)
    if calendar == "linear":
        X["entry_year"] = rows["entry_year"].astype(float)
        cols.append("entry_year")
    elif calendar != "none":
        raise SurvivalInputError(
            "SV005",
            f"calendar は linear か none です: {calendar!r}",
            f"calendar must be 'linear' or 'none': {calendar!r}",
        )
    const = [c for c in cols if X[c].nunique() < 2]
    for c in const:
        notes.append(f"{c}: constant in the data; dropped")
    cols = [c for c in cols if c not in const]
    return X[cols], cols, notes
