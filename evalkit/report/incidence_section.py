"""Annual report: the time-to-permanency section's lead (issue #15).

"Permanent home within 12 months: X% before, Y% after (difference, 95% CI)",
then the cause-specific and subdistribution hazard ratios of the policy side
by side, each with one sentence on how to read it. Japanese first; English
with ``lang="en"``. Aggregates only.

The notebook calls :func:`incidence_section` just before
:func:`evalkit.report.sections.survival`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

READ_CSH = (
    "原因別ハザード比: 措置中の子どもが、同じ在所期間で、永続的な家庭へ退所する速さが導入後に何倍になったか。",
    "Cause-specific HR: how many times faster children still in care leave for a permanent "
    "home, at the same time in care, once the policy is in force.",
)
READ_SHR = (
    "部分分布ハザード比（Fine–Gray）: 永続的解決に至る割合（累積発生率）の側の比。ほかの退所"
    "（自立・移管等）が変わっても動く。1を超えれば、どの在所期間でも永続的解決に至った割合が"
    "導入後に高い。大きさは上の割合の差で読む。",
    "Subdistribution HR (Fine–Gray): a ratio on the scale of the share reaching permanency, "
    "which also moves when other exits (independence, transfers) change. Above 1: a larger "
    "share has reached a permanent home by any time in care once the policy is in force; "
    "read the size from the difference above.",
)


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _ratio(h: float, lo: float, hi: float) -> str:
    if not all(math.isfinite(v) for v in (h, lo, hi)):
        return "—"
    return f"{h:.2f} ({lo:.2f}–{hi:.2f})"


def lead_sentence(row: pd.Series | None, lang: str = "ja") -> str:
    """The lead sentence from the 12-month period-analysis row of ``cif_difference``."""
    ja = lang == "ja"
    if row is None or not math.isfinite(float(row["difference"])):
        return ("12か月以内の永続的解決: 導入前後の比較に必要な観察期間がありません。" if ja else
                "Permanent home within 12 months: not enough follow-up to compare before and after.")
    d, lo, hi = (100 * float(row[k]) for k in ("difference", "ci_lower", "ci_upper"))
    if ja:
        return (f"12か月以内に永続的な家庭へ: 導入前 {_pct(row['cif_pre'])}、導入後 "
                f"{_pct(row['cif_post'])}（差 {d:+.1f} ポイント、95%信頼区間 {lo:+.1f}〜{hi:+.1f}）。")
    return (f"Permanent home within 12 months: {_pct(row['cif_pre'])} before, "
            f"{_pct(row['cif_post'])} after (difference {d:+.1f} points, 95% CI {lo:+.1f} to {hi:+.1f}).")


def hazard_ratio_table(res: Any, lang: str = "ja") -> pd.DataFrame:
    """Policy term: cause-specific HR and subdistribution HR side by side."""
    ja = lang == "ja"
    c = res.cox_table.set_index("term")
    f = res.finegray_table.set_index("term")
    rows = []
    if "policy" in c.index:
        r = c.loc["policy"]
        rows.append({("指標" if ja else "Measure"): "原因別ハザード比" if ja else "Cause-specific HR",
                     ("推定値（95%信頼区間）" if ja else "Estimate (95% CI)"):
                     _ratio(r["hazard_ratio"], r["ci_lower"], r["ci_upper"]),
                     ("読み方" if ja else "How to read"): READ_CSH[0 if ja else 1]})
    if "policy" in f.index:
        r = f.loc["policy"]
        rows.append({("指標" if ja else "Measure"): "部分分布ハザード比" if ja else "Subdistribution HR",
                     ("推定値（95%信頼区間）" if ja else "Estimate (95% CI)"):
                     _ratio(r["subdistribution_hr"], r["ci_lower"], r["ci_upper"]),
                     ("読み方" if ja else "How to read"): READ_SHR[0 if ja else 1]})
    return pd.DataFrame(rows)


def incidence_section(r):
    """The lead of the time-to-permanency section (a report Section)."""
    from evalkit.report.sections import Section

    ja = r.lang == "ja"
    s = Section(r, None)
    s.h3("永続的解決の割合（導入前後）" if ja else "Share reaching a permanent home, before and after")
    mod = r.module("survival.analysis")
    if mod is None or not hasattr(mod, "analyse"):
        s.unavailable("evalkit.survival")
        return s
    res = s.attempt(lambda: mod.analyse(r.ds, cohorts=False, n_boot=0, standardised=False))
    if res is None:
        return s
    r.used("survival")
    s.p(lead_sentence(res.permanency_12m, r.lang))
    tab = hazard_ratio_table(res, r.lang)
    if len(tab):
        s.table("policy_hazard_ratios",
                "導入効果: 原因別ハザード比と部分分布ハザード比" if ja
                else "Policy effect: cause-specific and subdistribution hazard ratios", tab)
    s.note("導入前・導入後: 期間分析（各期間のハザードが続いた場合）の Aalen–Johansen 推定。"
           if ja else
           "Before/after: Aalen–Johansen period analysis (incidence if that period's hazards "
           "applied throughout).")
    return s
