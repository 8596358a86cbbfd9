"""Regenerate ``docs/validation.md``: coverage and bias of evalkit's estimators.

    .venv/bin/python -m evalkit.simulate.validation_doc --replications 500 --workers 2 \
        --scenarios nagano_default,nagano_staggered,null_effect,japan

Runs a simulation study of the survival, incidence and contact analyses on
each scenario — by default the default scenario (``nagano_default``), the
staggered roll-out (``nagano_staggered``, where the difference-in-differences
applies) and ``null_effect`` — and writes the performance table (bias,
empirical SE, coverage, power, with Monte Carlo SEs) as Markdown. A scenario
runs at full scale unless ``SCENARIO@SCALE`` (``japan@0.05``) or
``--scale SCENARIO=SCALE`` says otherwise; ``japan`` defaults to
:data:`DEFAULT_SCALES` (reduced). A scenario whose file is missing is skipped
with a message (and a line in the doc). Every coverage outside
:data:`COVERAGE_BAND` or bias beyond :data:`BIAS_MCSE` Monte-Carlo SEs gets a
line saying why, from :data:`EXPLANATIONS`, or that it is not explained. The
study folders (``build/validation/SCENARIO``) are kept, so an interrupted run
resumes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pandas as pd

from evalkit import __version__
from evalkit.simulate.study import StudySpec, run_study

ROOT = Path(__file__).resolve().parents[2]
#: children scale of a scenario when neither ``@SCALE`` nor ``--scale`` gives one
DEFAULT_SCALES: dict[str, float] = {"japan": 0.05}
#: coverage of a 95% interval outside this band is flagged
COVERAGE_BAND = (0.93, 0.97)
#: a bias more than this many Monte-Carlo SEs from zero is flagged
BIAS_MCSE = 3.0
#: marker of a flagged row that no known explanation covers
NOT_EXPLAINED = "未解明 / not explained (no known cause recorded; see the issue tracker)"
#: known causes of flagged rows: (scenario pattern, estimator pattern, measure, text);
#: patterns are shell-style (``*``), measure is "coverage", "bias" or "*"
EXPLANATIONS: list[tuple[str, str, str, str]] = [
    ("*", "survival.finegray_policy_shr", "*",
     "censoring-complete Fine–Gray at `as_of` (issue #15): the remaining upward log bias of "
     "about +0.02 comes from the left-truncated stock children (present in the data, absent "
     "from the population truth) interacting with the cut-off — leaving the stock out lowers "
     "the estimate by 0.016 ± 0.002 — a fifth of the SE; reported, not corrected "
     "(survival.md §8)"),
    ("nagano_*", "contacts.gee.interviews", "coverage",
     "a small shortfall of the child-clustered robust SE plus Monte-Carlo noise. In "
     "`nagano_default` the robust SE is stable across seed sets (mean 0.0203 in this set, "
     "0.0204 on an independent "
     "400 replications, `evalkit simulate --scenario nagano_default --replications 400 "
     "--analyses contacts:negbin,gee --seed 20261204`), but this set's empirical SE is high "
     "(0.0223 against 0.0197 there, where the coverage is 0.953 ± 0.011). Pooled over the 900 "
     "replications the robust SE is 0.96 of the empirical SE and the coverage 0.931 ± 0.008 "
     "(negbin 0.95 and 0.939; family exchanges 0.98 / 0.96 and 0.941 / 0.932): intervals a "
     "few per cent narrow on both outcomes; in `nagano_staggered` the ratio is 0.95 on "
     "interviews. The cause of that shortfall is not established (about 1,150 child "
     "clusters: the usual small-sample factor G/(G−1) is 1.001); no correction made "
     "(issue #16 note)"),
    ("nagano_*", "contacts.negbin.interviews", "coverage",
     "as for the GEE on interviews: the robust SE is the same on an independent 400 "
     "replications (mean 0.0233 / 0.0234), where the coverage is 0.958 ± 0.010; pooled over "
     "900 replications the robust SE is 0.95 of the empirical SE and the coverage "
     "0.939 ± 0.008 (issue #16 note)"),
    ("nagano_staggered", "contacts.its.*", "*",
     "the ITS fits one level change to the aggregate monthly series, but under a staggered "
     "roll-out the months after the first start mix treated and untreated centres and the "
     "case mix shifts with the roll-out, so the level change is not the per-child rate "
     "ratio (a bias of a few per cent upwards on interviews); the staggered DiD is the "
     "estimator for this design (contacts.md)"),
    ("japan*", "contacts.did.*", "coverage",
     "the estimate is unbiased (bias within 1 MCSE) but the randomisation intervals are a "
     "little narrow at this scale (mean half-width ÷ 1.96 is 0.90 of the empirical SE on "
     "interviews, 0.93 on family exchanges, against 1.06 / 1.10 on `nagano_staggered`, "
     "where the 120 assignments of 5 centres are enumerated and cover 0.95–0.96). Cause "
     "not established. Not the permutation scheme: `japan` adopts by "
     "prefecture while the 720 sampled assignments permute start dates among centres, but "
     "permuting the prefectures' starts instead gives the same randomisation spread on 16 "
     "null datasets (ratio 1.02 ± 0.02 interviews, 0.99 ± 0.03 family exchanges; "
     "benchmarks/did_prefecture_ri_diag.py). No correction made (issue #16 note)"),
    ("japan*", "survival.cif_difference_12m", "coverage",
     "no stored population values for `japan` (evalkit.synth.population_values: a 200× "
     "sample of the national population is not computed), so the truth falls back to the "
     "replication's own uncensored histories, which share the replication's sampling noise: "
     "the spread of estimate − truth (SD ≈ 0.009) is smaller than the interval's SE "
     "(≈ 0.016, the SE about the population value), and the coverage is ≈ 1 by "
     "construction, not a property of the interval; for the same reason the Fine–Gray "
     "SHR has no truth here and is not reported"),
    ("japan*", "survival.cox_policy_hr", "*",
     "a small downward log bias (≈ −0.013, a fifth of the SE) also seen in `nagano_default` "
     "(−0.012 ± 0.005, within 3 MCSE there); with about 2.5× the children (japan at "
     "scale 0.05) the MCSE here is small enough to flag it, and the robust SE is ≈ 0.93 of "
     "the empirical SE. Cause not established (candidates: the left-truncated stock, as "
     "for the Fine–Gray SHR, and the non-collapsibility of the hazard ratio over "
     "heterogeneity the model does not adjust for)"),
    ("japan*", "contacts.its.*", "*",
     "staggered adoption by prefecture: the national ITS has the same problem as on "
     "`nagano_staggered` (one level change for a staggered roll-out); use the DiD"),
]


def _fmt(x: float, nd: int = 3) -> str:
    return "" if pd.isna(x) else f"{x:.{nd}f}"


def table(summary: pd.DataFrame) -> str:
    lines = [
        "| estimator | truth | mean estimate | bias (log) ± MCSE | empirical SE | coverage ± MCSE | power / type I ± MCSE | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary.itertuples(index=False):
        lines.append(
            f"| `{r.estimator}` | {_fmt(r.truth, 2)} | {_fmt(r.mean_estimate)} | "
            f"{_fmt(r.bias)} ± {_fmt(r.bias_mcse)} | {_fmt(r.emp_se)} | "
            f"{_fmt(r.coverage, 2)} ± {_fmt(r.coverage_mcse, 2)} | "
            f"{_fmt(r.power, 2)} ± {_fmt(r.power_mcse, 2)} | {r.n} |"
        )
    return "\n".join(lines)


def explain(scenario: str, estimator: str, measure: str) -> str:
    """The known explanation of a flagged row, or :data:`NOT_EXPLAINED`.

    >>> explain("nagano_staggered", "contacts.its.interviews", "bias")[:12]
    'the ITS fits'
    >>> explain("null_effect", "contacts.gee.family_exchanges", "coverage") == NOT_EXPLAINED
    True
    """
    for sc, est, meas, text in EXPLANATIONS:
        if fnmatchcase(scenario, sc) and fnmatchcase(estimator, est) and meas in ("*", measure):
            return text
    return NOT_EXPLAINED


def flagged(scenario: str, summary: pd.DataFrame) -> list[str]:
    """One Markdown line per coverage outside the band or bias beyond 3 MCSE, with its explanation."""
    lo, hi = COVERAGE_BAND
    lines = []
    for r in summary.itertuples(index=False):
        why = []
        if not pd.isna(r.coverage) and not lo <= r.coverage <= hi:
            why.append(("coverage", f"coverage {r.coverage:.3f} ± {r.coverage_mcse:.3f} outside "
                                    f"{lo:.2f}–{hi:.2f}"))
        if (not pd.isna(r.bias) and not pd.isna(r.bias_mcse) and r.bias_mcse > 0
                and abs(r.bias) > BIAS_MCSE * r.bias_mcse):
            why.append(("bias", f"bias {r.bias:+.4f} = {r.bias / r.bias_mcse:+.1f} MCSE"))
        if why:
            texts = dict.fromkeys(explain(scenario, r.estimator, m) for m, _ in why)
            if NOT_EXPLAINED in texts and [m for m, _ in why] == ["coverage"] and r.n > 0:
                # the band is ±2 MCSE only at n ≈ 475: a smaller study can miss it by chance
                se95 = math.sqrt(0.95 * 0.05 / r.n)
                if abs(r.coverage - 0.95) <= 2 * se95:
                    texts = {f"Monte-Carlo noise: within 2 × {se95:.3f} (the MCSE of a true "
                             f"0.95 coverage at n = {r.n}) of 0.95 / モンテカルロ誤差の範囲内": None}
            lines.append(f"- `{r.estimator}`: {'; '.join(t for _, t in why)} — {' '.join(texts)}")
    return lines


def parse_scenarios(text: str, scales: list[str] | None = None) -> list[tuple[str, float]]:
    """``"a,japan@0.05"`` plus ``["b=0.5"]`` → ``[("a", 1.0), ("japan", 0.05)]`` (b only if listed).

    >>> parse_scenarios("nagano_default,japan", ["japan=0.1"])
    [('nagano_default', 1.0), ('japan', 0.1)]
    >>> parse_scenarios("japan,null_effect@0.5")
    [('japan', 0.05), ('null_effect', 0.5)]
    """
    given: dict[str, float] = {}
    for item in scales or []:
        name, sep, v = item.partition("=")
        if not sep:
            raise ValueError(f"--scale expects SCENARIO=SCALE, got {item!r} / "
                             f"--scale は SCENARIO=SCALE の形で指定してください")
        given[name.strip()] = _scale(v)
    out = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        name, sep, v = item.partition("@")
        scale = _scale(v) if sep else given.get(name, DEFAULT_SCALES.get(name, 1.0))
        out.append((name, scale))
    return out


def _scale(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"children scale must be a positive number, got {text!r} / "
                         "子どもの規模は正の数で指定してください")
    return v


def _label(scenario: str, scale: float) -> str:
    return scenario if scale == 1.0 else f"{scenario}@{scale:g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replications", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--analyses", default="survival,incidence,contacts",
                    help="as evalkit simulate --analyses (FAMILY[:EST,...],...)")
    ap.add_argument("--scenarios", default="nagano_default,nagano_staggered,null_effect",
                    help="comma-separated scenarios, each optionally SCENARIO@SCALE "
                         "(default: default, staggered, null effect)")
    ap.add_argument("--scale", action="append", default=[], metavar="SCENARIO=SCALE",
                    help=f"children scale of one scenario (repeatable; defaults {DEFAULT_SCALES})")
    ap.add_argument("--out", default=str(ROOT / "build" / "validation"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "validation.md"))
    args = ap.parse_args(argv)
    from evalkit.simulate.analyses import SelectionError, parse_selection
    from evalkit.synth.scenario import ScenarioError, resolve_scenario

    try:
        analyses = parse_selection(args.analyses)
        scenarios = parse_scenarios(args.scenarios, args.scale)
    except (SelectionError, ValueError) as e:
        print(f"validation_doc: {e}", file=sys.stderr)
        return 2
    if args.replications < 1:
        print("validation_doc: --replications must be at least 1 / 1 以上を指定してください",
              file=sys.stderr)
        return 2
    parts, skipped, done = [], [], []
    for scenario, scale in scenarios:
        try:
            resolve_scenario(scenario)
        except ScenarioError as e:
            msg = str(e).splitlines()[0]
            print(f"シナリオを飛ばします / skipping scenario {scenario}: {msg}", file=sys.stderr)
            skipped.append(f"- `{scenario}`: skipped — {msg}")
            continue
        label = _label(scenario, scale)
        spec = StudySpec(scenario, replications=args.replications, analyses=analyses,
                         seed=20260401, children_scale=scale)
        res = run_study(spec, Path(args.out) / label, workers=args.workers)
        done.append(label)
        failed = f" ({res.n_failed} failed replications)" if res.n_failed else ""
        at = "" if scale == 1.0 else f" — children scale {scale:g}"
        flags = flagged(scenario, res.table)
        why = ("\n\nOutside 0.93–0.97 coverage or beyond 3 MCSE of bias, and why:\n\n"
               + "\n".join(flags)) if flags else ""
        parts.append(f"### `{scenario}`{at}{failed}\n\n{table(res.table)}{why}\n")
    if skipped:
        parts.append("### Skipped scenarios\n\n" + "\n".join(skipped) + "\n")
    command = (f".venv/bin/python -m evalkit.simulate.validation_doc --replications "
               f"{args.replications} --scenarios {','.join(_label(s, c) for s, c in scenarios)}")
    doc = f"""# Validation: bias and coverage of evalkit's estimators / 推定量の偏りと被覆率

Generated by `{command}`
(evalkit {__version__}, {_dt.date.today().isoformat()}). Do not edit by hand.

Each row summarises {args.replications} synthetic replications of the scenario
(seeds `SeedSequence([20260401, r])`), analysed exactly as `evalkit survival` and
`evalkit contacts` analyse real data, against the true effect the generator
used (`truth.json` → `effects`). Ratios are summarised on the log scale; the
coverage is that of the reported 95% interval and should be near 0.95 (within
about ±2 MCSE); "power" under `null_effect` is the type I error rate at 5%.
Below each table, every coverage outside {COVERAGE_BAND[0]:.2f}–{COVERAGE_BAND[1]:.2f} or bias more
than {BIAS_MCSE:g} MCSE from zero is listed with its known explanation (or marked
not explained). See [simulate.md](simulate.md) for the definitions.

{chr(10).join(parts)}
## Reading the table

- **survival.cox_policy_hr** — cause-specific Cox hazard ratio of the policy
  (time-varying) for any permanent exit, robust SEs clustered by child;
  truth = `permanency_hr`.
- **survival.cif_difference_12m** — difference (post − pre, period analysis,
  transfers competing) in the 12-month cumulative incidence of a permanent
  exit, Aalen–Johansen with delta-method SEs; truth = the population value
  (`truth.json` → `oracle.population.incidence_by_period`, 200× uncensored
  histories; linear scale, null 0). Where no population values are stored
  (`japan`) the truth is the replication's own uncensored histories and the
  Fine–Gray row is left out.
- **survival.finegray_policy_shr** — Fine–Gray subdistribution HR of the
  policy; truth = the SHR fitted to 200× uncensored histories
  (`oracle.population.subdistribution_hr`; the policy is an external
  covariate of the fit, see survival.md §7–8).
- **contacts.&lt;model&gt;.&lt;outcome&gt;** — rate ratio of interviews or family
  exchanges under the policy; truth = `interviews_rr` / `family_exchanges_rr`.
  `its` estimates the level change of the aggregate monthly rate, `did` needs
  a staggered roll-out (absent in `nagano_default` and `null_effect`, so it
  has rows only for `nagano_staggered` and `japan`).
"""
    Path(args.doc).write_text(doc, "utf-8")
    print(f"written: {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
