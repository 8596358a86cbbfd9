"""Scenario files: TOML with ``inherits``, deep merge, dotted overrides, validation.

Every scenario is resolved on top of ``nagano_default.toml``, which lists
every parameter with its default. A scenario file may say
``inherits = "other_name"`` (or a relative path) to start from another
scenario. Unknown keys are errors, so a typo never passes silently.

Examples
--------
>>> sc = resolve_scenario("nagano_default", {"policy.effects.permanency_hr": "1.0"})
>>> sc["policy"]["effects"]["permanency_hr"]
1.0
>>> sc["name"]
'nagano_default'
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.data import codes as C
from evalkit.data.centers import NAGANO_CENTERS, is_center_code

BASE = "nagano_default"

#: Tables whose keys are free (checked separately) rather than fixed by the base scenario.
OPEN_TABLES = {
    "policy.center_start": "center",
    "policy.prefecture_start": "prefecture",
    "care.exit_setting_factor.*": "setting",
    "care.moves.rate": "setting",
    "care.moves.first_year_factor": "setting",
    "care.moves.destination.*": "setting",
}


class ScenarioError(ValueError):
    """A scenario cannot be read or holds invalid values (message in Japanese and English)."""


def scenarios_dir() -> Path:
    """Folder of the bundled scenarios (``<repo>/synthetic/scenarios``, or the installed copies)."""
    from evalkit.resources import scenarios_dir as _dir

    return _dir()


def available_scenarios() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in scenarios_dir().glob("*.toml"))


def _find(name: str | os.PathLike, relative_to: Path | None = None) -> Path:
    p = Path(name)
    cands = []
    if p.suffix == ".toml" or os.sep in str(name) or "/" in str(name):
        if relative_to is not None and not p.is_absolute():
            cands.append(relative_to / p)
        cands.append(p)
    else:
        if relative_to is not None:
            cands.append(relative_to / f"{name}.toml")
        cands.append(scenarios_dir() / f"{name}.toml")
        cands.append(p)
    for c in cands:
        if c.is_file():
            return c
    raise ScenarioError(
        f"シナリオ {name} が見つかりません（利用可能: {', '.join(available_scenarios())}） / "
        f"scenario {name} not found (available: {', '.join(available_scenarios())})"
    )


#: Largest scenario file read (bytes): the bundled ones are under 10 kB.
MAX_SCENARIO_BYTES = 1_000_000


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(
                f"シナリオ {path} が大きすぎます（{size} バイト、上限 {MAX_SCENARIO_BYTES}） / "
                f"scenario {path} is too large ({size} bytes, limit {MAX_SCENARIO_BYTES})")
        with open(path, "rb") as f:
            return tomllib.load(f)
    except RecursionError as e:  # arrays/tables nested thousands deep
        raise ScenarioError(f"シナリオ {path} の入れ子が深すぎます / scenario {path} is nested too deeply") from e
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"シナリオ {path} を読み取れません: {e} / cannot parse scenario {path}: {e}") from e


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: tables merge key by key, other values replace."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _load_chain(source: str | os.PathLike, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = _find(source, None if not seen else Path(seen[-1]).parent)
    key = str(path.resolve())
    if key in seen:
        raise ScenarioError(f"inherits が循環しています: {path} / circular inherits: {path}")
    data = _read_toml(path)
    parent = data.pop("inherits", None)
    if parent is None and path.stem != BASE:
        parent = BASE
    if parent is None:
        return data
    base = _load_chain(parent, (*seen, key))
    return deep_merge(base, data)


def base_scenario() -> dict[str, Any]:
    """The base scenario (``nagano_default``) as read from its file."""
    return _read_toml(scenarios_dir() / f"{BASE}.toml")


def _is_open(dotted: str) -> str | None:
    for pat, kind in OPEN_TABLES.items():
        if pat.endswith(".*"):
            head = pat[:-2]
            if dotted.startswith(head + ".") and dotted.count(".") == head.count(".") + 1:
                return kind
        elif dotted == pat:
            return kind
    return None


def _coerce(value: Any, like: Any, key: str) -> Any:
    """Coerce an override value (often a string from the command line) to the type of ``like``."""
    if isinstance(value, str) and not isinstance(like, str):
        text = value.strip()
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            try:
                value = json.loads(text)
            except ValueError as e:
                raise ScenarioError(
                    f"{key} の値 {value!r} を読み取れません / cannot read value {value!r} for {key}"
                ) from e
    if isinstance(value, (_dt.date, _dt.datetime)):
        value = value.isoformat()[:10]
    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise ScenarioError(f"{key} は真偽値です / {key} must be true or false")
        return value
    if isinstance(like, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{key} は数値です / {key} must be a number")
        return float(value)
    if isinstance(like, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{key} は整数です / {key} must be an integer")
        return value
    if isinstance(like, list):
        if not isinstance(value, list):
            raise ScenarioError(f"{key} は配列です / {key} must be an array")
        if like and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in like):
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
                raise ScenarioError(f"{key} は数値の配列です / {key} must be an array of numbers")
            if any(isinstance(x, float) for x in like):
                value = [float(x) for x in value]
        return value
    if isinstance(like, str):
        return str(value)
    return value


def _check(sc: Mapping[str, Any], base: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Check keys and types against the base scenario; returns a coerced copy."""
    out: dict[str, Any] = {}
    for k, v in sc.items():
        dotted = f"{prefix}{k}"
        kind = _is_open(prefix[:-1]) if prefix else None
        if kind is not None:
            if kind == "center":
                ok = is_center_code(k)  # checked against centers.codes in validate_values
            elif kind == "prefecture":
                ok = isinstance(k, str) and bool(k.strip())
            else:
                ok = k in C.SETTINGS
            if not ok:
                what = {"center": "児童相談所", "prefecture": "都道府県"}.get(kind, "措置先種別")
                raise ScenarioError(
                    f"{dotted}: {k} は{what}のコードではありません / {k} is not a {kind} code"
                )
            if isinstance(v, Mapping):
                out[k] = _check(v, v, dotted + ".")
            else:
                out[k] = _coerce(v, "" if kind in ("center", "prefecture") else 1.0, dotted)
            continue
        if k not in base:
            raise ScenarioError(f"未知のパラメータ {dotted} / unknown parameter {dotted}")
        like = base[k]
        if isinstance(like, Mapping):
            if not isinstance(v, Mapping):
                raise ScenarioError(f"{dotted} は表です / {dotted} must be a table")
            out[k] = _check(v, like, dotted + ".")
        else:
            out[k] = _coerce(v, like, dotted)
    return out


def apply_overrides(sc: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Apply ``{"a.b.c": value}`` overrides (values may be strings, coerced to the parameter's type)."""
    sc = copy.deepcopy(sc)
    for key, value in (overrides or {}).items():
        parts = str(key).split(".")
        node: Any = sc
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict):
                raise ScenarioError(f"未知のパラメータ {key} / unknown parameter {key}")
            if part not in node:
                if _is_open(".".join(parts[: i + 1])) is not None or _is_open(".".join(parts[:i])):
                    node[part] = {}
                else:
                    raise ScenarioError(f"未知のパラメータ {key} / unknown parameter {key}")
            node = node[part]
        if not isinstance(node, dict):
            raise ScenarioError(f"未知のパラメータ {key} / unknown parameter {key}")
        leaf = parts[-1]
        if leaf in node and isinstance(node[leaf], dict):
            raise ScenarioError(f"{key} は表です（下位のキーを指定してください） / {key} is a table")
        if leaf not in node and _is_open(".".join(parts[:-1])) is None:
            raise ScenarioError(f"未知のパラメータ {key} / unknown parameter {key}")
        like = node.get(leaf, value)
        node[leaf] = _coerce(value, like, key) if leaf in node else value
    return sc


def resolve_scenario(
    scenario: str | os.PathLike | Mapping[str, Any] = BASE,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Resolve a scenario name, path or dict (plus overrides) into a full, validated dict.

    Parameters
    ----------
    scenario : str, path or mapping
        A bundled scenario name (``nagano_default``, ``nagano_staggered``,
        ``national``, ``null_effect``), a path to a TOML file, or a dict
        (merged on top of the base scenario, or of its ``inherits``).
    overrides : mapping, optional
        Dotted keys → values, e.g. ``{"policy.effects.permanency_hr": 1.0}``.

    Raises
    ------
    ScenarioError
        Unknown scenario, unknown key, wrong type or invalid value.
    """
    if isinstance(scenario, Mapping):
        data = copy.deepcopy(dict(scenario))
        parent = data.pop("inherits", BASE)
        sc = deep_merge(_load_chain(parent), data)
    else:
        sc = _load_chain(scenario)
    sc = apply_overrides(sc, overrides)
    sc = _check(sc, base_scenario())
    validate_values(sc)
    return sc


def _date(sc: Mapping[str, Any], key: str, value: Any) -> _dt.date:
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError as e:
        raise ScenarioError(f"{key}: 日付 {value!r} を読み取れません / invalid date {value!r}") from e


def validate_values(sc: Mapping[str, Any]) -> None:
    """Check values (ranges: :func:`check_ranges`; dates, lengths of band arrays)."""
    check_ranges(sc)
    cal = sc["calendar"]
    hs = _date(sc, "calendar.history_start", cal["history_start"])
    ao = _date(sc, "calendar.as_of", cal["as_of"])
    _date(sc, "calendar.events_start", cal["events_start"])
    if ao <= hs:
        raise ScenarioError("calendar.as_of は history_start より後にしてください / as_of must be after history_start")
    _date(sc, "policy.start_date", sc["policy"]["start_date"])
    _date(sc, "surveys.start_date", sc["surveys"]["start_date"])
    ce = sc["centers"]
    codes = ce["codes"]
    if (not codes or not all(is_center_code(c) for c in codes) or len(set(codes)) != len(codes)):
        raise ScenarioError("centers.codes は児童相談所コード（半角英小文字・数字・_・-）の重複しない配列です / "
                            "centers.codes must list distinct centre codes (lower-case ASCII, digits, _, -)")
    for key in ("names_ja", "names_en", "prefectures"):
        arr = ce[key]
        if arr and len(arr) != len(codes):
            raise ScenarioError(f"centers.{key} の長さが codes と違います（空なら既定値）/ "
                                f"centers.{key} must match codes (or be empty for the defaults)")
        if any(not isinstance(x, str) or not x.strip() for x in arr):
            raise ScenarioError(f"centers.{key} は空でない文字列の配列です / centers.{key} must be non-empty strings")
    unknown = [c for c in codes if c not in C.CENTERS]
    if unknown and not ce["names_ja"]:
        raise ScenarioError(f"centers.names_ja がありません（{unknown[0]} は既定の児童相談所ではありません）/ "
                            f"centers.names_ja is needed: {unknown[0]} is not a default centre")
    if ce["names_ja"] and len(set(ce["names_ja"])) != len(codes):
        raise ScenarioError("centers.names_ja に重複があります / centers.names_ja must be distinct")
    for c, d in sc["policy"]["center_start"].items():
        if c not in codes:
            raise ScenarioError(f"policy.center_start.{c}: {c} は centers.codes にありません / "
                                f"{c} is not in centers.codes")
        _date(sc, f"policy.center_start.{c}", d)
    prefs = set(center_prefectures(sc).values())
    for pref, d in sc["policy"]["prefecture_start"].items():
        if pref not in prefs:
            raise ScenarioError(f"policy.prefecture_start.{pref}: {pref} は centers.prefectures にありません / "
                                f"{pref} is not a prefecture of the scenario's centres")
        _date(sc, f"policy.prefecture_start.{pref}", d)
    for key in ("weights", "permanency_factor", "contact_factor"):
        if len(sc["centers"][key]) != len(codes):
            raise ScenarioError(f"centers.{key} の長さが codes と違います / centers.{key} must match codes")
        if any(x < 0 for x in sc["centers"][key]):
            raise ScenarioError(f"centers.{key} は負にできません / centers.{key} must not be negative")
    n_age = len(sc["care"]["age_bands"]) + 1
    n_dur = len(sc["care"]["duration_bands"]) + 1
    for key in ("age_bands", "duration_bands"):
        b = sc["care"][key]
        if any(b2 <= b1 for b1, b2 in zip(b, b[1:], strict=False)) or any(x <= 0 for x in b):
            raise ScenarioError(f"care.{key} は正の昇順です / care.{key} must be positive and increasing")

    def need(key: str, arr: Any, n: int) -> None:
        if len(arr) != n:
            raise ScenarioError(f"{key} の要素数は {n} です / {key} must have {n} values")
        if any(x < 0 for x in arr):
            raise ScenarioError(f"{key} は負にできません / {key} must not be negative")

    need("temporary_protection.care_probability", sc["temporary_protection"]["care_probability"], n_age)
    need("care.first_setting.family_based_share", sc["care"]["first_setting"]["family_based_share"], n_age)
    for part in ("residential", "family"):
        for s, arr in sc["care"]["first_setting"][part].items():
            need(f"care.first_setting.{part}.{s}", arr, n_age)
    for cause, arr in sc["care"]["exit_base"].items():
        need(f"care.exit_base.{cause}", arr, n_dur)
    for cause, arr in sc["care"]["exit_age_factor"].items():
        need(f"care.exit_age_factor.{cause}", arr, n_age)
    need("reentry.rate", sc["reentry"]["rate"], len(sc["reentry"]["bands"]) + 1)
    for r in sc["reentry"]["after"]:
        if r not in C.PERMANENT_REASONS:
            raise ScenarioError(f"reentry.after: {r} は永続的解決の理由ではありません / not a permanent reason")
    for k, v in sc["policy"]["effects"].items():
        if v < 0:
            raise ScenarioError(f"policy.effects.{k} は 0 以上です / must be ≥ 0")
    if sc["arrivals"]["children_per_year"] < 0:
        raise ScenarioError("arrivals.children_per_year は 0 以上です / must be ≥ 0")


#: Earliest and latest dates a scenario may use (as the fiscal years evalkit accepts).
DATE_RANGE = (_dt.date(1947, 1, 1), _dt.date(2100, 12, 31))
#: Most children a generated dataset may expect (about 10× the national scenario's).
MAX_CHILDREN = 2_000_000
#: The only values that may be negative.
SIGNED = frozenset({"arrivals.secular_trend"})
#: Upper bounds (dotted key, or ``prefix.*`` for every key below it) so memory cannot explode.
UPPER = {
    "arrivals.children_per_year": 1_000_000.0,
    "arrivals.secular_trend": 0.5,
    "calendar.burn_in_years": 100.0,
    "temporary_protection.max_days": 36_500,
    "temporary_protection.median_days": 36_500.0,
    "temporary_protection.in_home_guidance_median_days": 36_500.0,
    "age.max_age": 18.0,
    "reentry.max_age": 18.0,
    "contacts.rate.*": 1000.0,
    "contacts.tp_rate.*": 1000.0,
    "policy.effects.*": 1000.0,
    "care.exit_base.*": 1000.0,
    "care.moves.rate.*": 1000.0,
    "reentry.rate": 1000.0,
    "care.independence.extension_years": 10.0,
}
#: Keys below these prefixes (or named ``*_share`` / ``*_probability``) are probabilities.
PROBABILITY_PREFIXES = (
    "temporary_protection.exit_reasons.", "contacts.caregiver_present.", "contacts.exchange_type.",
    "care.moves.destination.", "care.first_setting.residential.", "care.first_setting.family.",
)
_DATE_KEYS = ("calendar.history_start", "calendar.as_of", "calendar.events_start",
              "policy.start_date", "surveys.start_date")


def _leaves(node: Any, prefix: str = ""):
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    elif isinstance(node, list):
        for x in node:
            yield prefix[:-1], x
    else:
        yield prefix[:-1], node


def _upper(key: str) -> float | None:
    if key in UPPER:
        return UPPER[key]
    head = key.rsplit(".", 1)[0]
    while True:
        if f"{head}.*" in UPPER:
            return UPPER[f"{head}.*"]
        if "." not in head:
            return None
        head = head.rsplit(".", 1)[0]


def check_ranges(sc: Mapping[str, Any]) -> None:
    """Range checks of every value, before anything is generated (:class:`ScenarioError`).

    - every number is finite (no NaN or infinity);
    - nothing is negative except :data:`SIGNED` (rates, shares and factors ≥ 0);
    - the policy's effects (hazard and rate ratios) are > 0;
    - probabilities (``*_share``, ``*_probability`` and the tables of
      :data:`PROBABILITY_PREFIXES`) are in [0, 1];
    - dates lie in :data:`DATE_RANGE` (1947–2100);
    - sizes are bounded (:data:`UPPER`: arrivals, burn-in years, days, event
      rates), so a typo cannot exhaust memory; :func:`check_size` bounds the
      expected number of children.

    The message names the key, in Japanese and English.
    """
    for key, v in _leaves(sc):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if not math.isfinite(v):
            raise ScenarioError(f"{key} は有限の数です: {v} / {key} must be a finite number: {v}")
        if v < 0 and key not in SIGNED:
            raise ScenarioError(f"{key} は負にできません（≥ 0）: {v} / {key} must not be negative "
                                f"(≥ 0): {v}")
        hi = _upper(key)
        if hi is not None and abs(v) > hi:
            raise ScenarioError(f"{key} が大きすぎます: {v}（上限 {hi:g}）/ {key} is too large: {v} "
                                f"(at most {hi:g})")
        leaf = key.rsplit(".", 1)[-1]
        prob = (leaf.endswith("_share") or leaf.endswith("_probability")
                or key.startswith(PROBABILITY_PREFIXES))
        if prob and v > 1:
            raise ScenarioError(f"{key} は 0〜1 の確率です: {v} / {key} is a probability in [0, 1]: {v}")
        if key.startswith("policy.effects.") and v <= 0:
            raise ScenarioError(f"{key} は 0 より大きい比です: {v} / {key} is a ratio and must be > 0: {v}")
    lo, hi = DATE_RANGE
    dates = [(k, sc[k.split(".")[0]][k.split(".")[1]]) for k in _DATE_KEYS]
    dates += [(f"policy.center_start.{c}", d) for c, d in sc["policy"]["center_start"].items()]
    dates += [(f"policy.prefecture_start.{p}", d)
              for p, d in (sc["policy"].get("prefecture_start") or {}).items()]
    for key, value in dates:
        d = _date(sc, key, value)
        if not lo <= d <= hi:
            raise ScenarioError(f"{key}: {d} は {lo.year}〜{hi.year} 年の範囲外です / {key}: {d} is "
                                f"outside {lo.year}–{hi.year}")
    if sum(sc["centers"]["weights"]) <= 0:
        raise ScenarioError("centers.weights の合計は正です / centers.weights must not all be 0")


def expected_children(sc: Mapping[str, Any], children_scale: float = 1.0) -> float:
    """Expected number of children a resolved scenario generates (burn-in included)."""
    cal = sc["calendar"]
    hs = _dt.date.fromisoformat(str(cal["history_start"]))
    ao = _dt.date.fromisoformat(str(cal["as_of"]))
    years_after = ((ao - hs).days + 1) / 365.25
    burn = float(cal["burn_in_years"])
    rate = float(sc["arrivals"]["children_per_year"]) * float(children_scale)
    g = float(sc["arrivals"]["secular_trend"])
    if g == 0:
        return rate * (burn + years_after)
    return rate * (math.exp(g * years_after) - math.exp(-g * burn)) / g


def check_size(sc: Mapping[str, Any], children_scale: float = 1.0) -> None:
    """Refuse a scenario × scale expecting more than :data:`MAX_CHILDREN` children."""
    if not math.isfinite(children_scale) or children_scale < 0:
        raise ScenarioError(f"children_scale は 0 以上の有限の数です: {children_scale} / "
                            f"children_scale must be a finite number ≥ 0: {children_scale}")
    n = expected_children(sc, children_scale)
    if not math.isfinite(n) or n > MAX_CHILDREN:
        raise ScenarioError(
            f"生成される子どもの数が多すぎます（期待値 {n:,.0f} 人、上限 {MAX_CHILDREN:,}）: "
            "arrivals.children_per_year・calendar・children_scale を確認してください / the scenario "
            f"would generate too many children (expected {n:,.0f}, at most {MAX_CHILDREN:,}): "
            "check arrivals.children_per_year, the calendar and children_scale")
def center_names(sc: Mapping[str, Any], lang: str = "ja") -> dict[str, str]:
    """Name of each centre of a scenario (``centers.names_ja`` / ``names_en``, else the defaults)."""
    codes = list(sc["centers"]["codes"])
    given = list(sc["centers"].get("names_ja" if lang == "ja" else "names_en") or [])
    if given:
        return dict(zip(codes, given, strict=True))
    default = {c: (n_ja if lang == "ja" else n_en) for c, n_ja, n_en in NAGANO_CENTERS}
    return {c: default.get(c, c) for c in codes}


def center_prefectures(sc: Mapping[str, Any]) -> dict[str, str]:
    """Prefecture of each centre (``centers.prefectures``, else the scenario's ``prefecture``)."""
    codes = list(sc["centers"]["codes"])
    given = list(sc["centers"].get("prefectures") or [])
    if given:
        return dict(zip(codes, given, strict=True))
    return {c: str(sc.get("prefecture") or "長野県") for c in codes}


def policy_starts(sc: Mapping[str, Any]) -> dict[str, str]:
    """Policy start date (ISO) of each centre of the scenario.

    ``policy.center_start`` of the centre, else ``policy.prefecture_start`` of
    its prefecture, else ``policy.start_date``.
    """
    default = str(sc["policy"]["start_date"])
    by_pref = sc["policy"].get("prefecture_start", {})
    pref = center_prefectures(sc)
    return {c: str(sc["policy"]["center_start"].get(c, by_pref.get(pref[c], default)))
            for c in sc["centers"]["codes"]}
