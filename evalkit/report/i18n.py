"""Bilingual texts of the annual report (Japanese first, English available).

>>> t("sec.glance", "ja")
'年度の概況'
>>> t("sec.glance", "en")
'The year at a glance'
>>> t("note.suppressed", "en", m=5, k=4)[:40]
'<5 = 1–4 (suppressed to protect privacy)'
"""

from __future__ import annotations

LANGS = ("ja", "en")

#: key -> (Japanese, English). Values may hold ``str.format`` fields.
TEXTS: dict[str, tuple[str, str]] = {
    # --- report frame -------------------------------------------------------------------
    "title": ("パーマネンシープランニング 年次評価報告書", "Permanency planning: annual evaluation report"),
    "subtitle": ("{fy}　{center}", "{fy} — {center}"),
    "center.all": ("全児童相談所", "all centres"),
    "audience.public": ("公表用（小規模セル秘匿済み）", "public (small cells suppressed)"),
    "audience.internal": ("内部用", "internal"),
    "internal.banner": (
        "取扱注意 — 内部資料。小規模セルの秘匿をしていません。外部に公表しないでください。",
        "取扱注意 (restricted) — internal document, small cells NOT suppressed. Do not publish.",
    ),
    "generated": ("作成日時: {ts}", "Generated: {ts}"),
    "note.suppressed": (
        "<{m} = 1〜{k}（個人の特定を防ぐため秘匿）　x = 秘匿した値から計算される値、または差し引きで"
        "秘匿値が分かるため秘匿",
        "<{m} = 1–{k} (suppressed to protect privacy); x = hidden because it is built on a "
        "suppressed count or would reveal one by subtraction",
    ),
    "note.na": ("— = 計算できない（分母が0）", "— = cannot be computed (zero denominator)"),
    "not_available": (
        "この分析は未実装のため表示できません（{what} がありません）。",
        "This analysis is not available ({what} is not installed).",
    ),
    "failed": ("この分析は実行できませんでした: {err}", "This analysis could not be run: {err}"),
    "no_policy_yet": (
        "この年度末までに取組が導入されていないため、導入前後の比較はできません。",
        "The policy had not started by the end of this year: no before/after comparison.",
    ),
    "no_data": ("該当するデータがありません。", "No data for this selection."),
    # --- section titles -----------------------------------------------------------------
    "sec.glance": ("年度の概況", "The year at a glance"),
    "sec.kpi": ("評価指標（KPI）", "Key performance indicators"),
    "sec.spc": ("変化は本物か：SPC チャート", "Signal or noise: SPC charts"),
    "sec.centres": ("児童相談所の比較（ファネルプロット）", "Comparing centres: funnel plots"),
    "sec.foster": ("年齢区分別の里親等委託率", "Foster-care rate by age group"),
    "sec.survival": ("パーマネンシー達成までの期間", "Time to permanency"),
    "sec.contacts": ("面接・交流の頻度（導入前後）", "Contact frequency before and after"),
    "sec.stagnant": ("停滞ケースと進行管理", "Stagnant cases and review compliance"),
    "sec.logic": ("ロジックモデルと今年度の指標", "Logic model and this year's indicators"),
    "sec.quality": ("データの品質", "Data quality"),
    "sec.methods": ("方法と来歴", "Methods and provenance"),
    # --- at a glance --------------------------------------------------------------------
    "glance.intro": (
        "{fy}の措置児童数の推移。年度初め（前年度末日）と年度末日の措置中（一時保護・在宅指導を除く）の"
        "児童数、年度中の措置開始件数と措置解除件数（年度初め＋開始−解除＝年度末）。",
        "Children in care (excluding temporary protection and in-home guidance) at the start of "
        "{fy} (on the previous year's last day) and on its last day, care starts and discharges "
        "during the year (start + starts − discharges = end).",
    ),
    "glance.item": ("項目", "Item"),
    "glance.caption": ("措置児童数と措置の開始・解除", "Children in care, care starts and discharges"),
    "glance.count": ("件数・人数", "Count"),
    "glance.stock_start": ("年度初めの措置児童数（前年度末日 {d}）",
                           "Children in care at the start of the year (on {d}, the previous "
                           "year's last day)"),
    "glance.stock_end": ("年度末日の措置児童数（{d}）", "Children in care on {d}"),
    "glance.entries": ("年度中の措置開始（ケース）", "Care episodes started in the year"),
    "glance.discharges": ("年度中の措置解除（ケース）", "Care episodes ended in the year"),
    "glance.by_reason": ("措置解除の理由", "Discharges by reason"),
    "glance.reason": ("解除理由", "Reason"),
    "glance.permanent": ("永続的解決", "Permanent"),
    "glance.stock_by_setting": ("年度末日の措置先別児童数", "Children in care on the last day by setting"),
    "glance.setting": ("措置先", "Setting"),
    "yes": ("該当", "yes"),
    "total": ("計", "Total"),
    "no": ("—", "no"),
    # --- KPI ----------------------------------------------------------------------------
    "kpi.intro": (
        "各指標の定義（KPI_DEFINITIONS.md の主定義）と、今年度および過去の年度の推移。"
        "変化の方向は今年度と前年度の値の比較。",
        "Each indicator's definition (primary definition of KPI_DEFINITIONS.md) and its series "
        "for this and earlier years. The direction compares this year with the previous one.",
    ),
    "kpi.definition": ("定義", "Definition"),
    "kpi.period": ("期間", "Period"),
    "kpi.numerator": ("分子", "Numerator"),
    "kpi.denominator": ("分母", "Denominator"),
    "kpi.value": ("値", "Value"),
    "kpi.fy": ("年度", "Fiscal year"),
    "kpi.group": ("区分", "Group"),
    "kpi.direction": ("変化の方向", "Direction of change"),
    "kpi.summary": ("指標の一覧（年度値）", "Indicators at a glance (yearly values)"),
    "kpi.name": ("指標", "Indicator"),
    "kpi.this_year": ("今年度", "This year"),
    "kpi.last_year": ("前年度", "Previous year"),
    "kpi.interval": ("今年度の95%信頼区間", "This year: 95% interval"),
    "kpi.interval95": ("95%信頼区間", "95% interval"),
    "kpi.verdict": ("前年度からの変化（判定）", "Change from last year (verdict)"),
    "kpi.verdict_note": (
        "判定は前年度との差（比率は差、率は率比）の95%信頼区間による: 区間が改善の側だけにあれば「改善」、"
        "悪化の側だけにあれば「悪化」、0（率比は1）をまたげば「誤差の範囲」（偶然のゆらぎと区別できない）。",
        "The verdict uses the 95% interval of the change from last year (a difference for shares, "
        "a rate ratio for rates): entirely on the better side = improved, entirely on the worse "
        "side = worsened, covering no change = no clear change (cannot be told from chance).",
    ),
    "verdict.improved": ("改善", "improved"),
    "verdict.worsened": ("悪化", "worsened"),
    "verdict.no_clear_change": ("誤差の範囲", "no clear change"),
    # --- SPC and funnels (issue #12) ------------------------------------------------------
    "spc.intro": (
        "月次・四半期の各指標の SPC（統計的工程管理）チャート。NHS England「Making Data Count」の規則で、"
        "通常の変動（偶然のゆらぎ）と特別な原因による変動（本当の変化）を区別する。中心線と管理限界は"
        "取組の導入前の期間（基準期間）から計算し、導入後の点が管理限界の外に出る、7点以上連続で平均の片側に"
        "ある、7点連続で上昇・低下する、3点中2点が警戒線の外にある場合にシグナルとする。",
        "SPC (statistical process control) chart of each monthly and quarterly indicator, following "
        "NHS England's \"Making Data Count\" rules, which separate common-cause variation (chance) "
        "from special-cause variation (real change). The centre line and limits come from the "
        "months before the policy start (the baseline); a point beyond a limit, 7 or more points "
        "on one side of the mean, 7 points rising or falling, or 2 of 3 points beyond a near "
        "limit are signals.",
    ),
    "spc.summary": ("変動と目標達成の見込み（指標別）", "Variation and assurance by indicator"),
    "spc.table": ("SPC チャートの点", "SPC chart points"),
    "spc.chart": ("チャート", "Chart"),
    "spc.baseline": ("基準期間", "Baseline"),
    "spc.limits": ("管理限界", "Limits"),
    "spc.trial": ("試行的（12点未満）", "trial (< 12 points)"),
    "spc.final": ("確定", "set"),
    "spc.latest": ("最新点の変動", "Latest point"),
    "spc.after": ("導入後のシグナル", "Signals after the baseline"),
    "spc.assur_nat": ("国の目標に対して", "Against the national target"),
    "spc.assur_pref": ("県の目標に対して", "Against the prefectural target"),
    "spc.reading": ("読み方", "Reading"),
    "spc.period": ("期間", "Period"),
    "spc.center_line": ("中心線", "Centre line"),
    "spc.lower": ("下方管理限界", "Lower limit"),
    "spc.upper": ("上方管理限界", "Upper limit"),
    "spc.lower_near": ("下方警戒線", "Lower near limit"),
    "spc.upper_near": ("上方警戒線", "Upper near limit"),
    "spc.signal": ("シグナル", "Signal"),
    "spc.variation": ("変動", "Variation"),
    "spc.baseline_row": ("基準期間の計", "Baseline total"),
    "spc.hidden": ("秘匿のため管理限界を示しません", "limits withheld (small counts)"),
    "spc.no_baseline": (
        "取組の導入前の点がないため、全期間の点から管理限界を計算しています。",
        "No points before the policy start: the limits use every point.",
    ),
    "spc.note": (
        "▲ 改善・▼ 懸念・● 通常の変動・◆ 方向のない特別な変動。保証: ✔ 目標を一貫して達成、✖ 一貫して未達、"
        "？ 達成・未達どちらもあり得る（目標が管理限界の内側）、— 目標なし。基準期間が12点未満のときは試行的な管理限界。"
        "公表用では、秘匿した度数の点は図から除き、その点に基づくシグナル（連続の判定を含む）も示しません（x）。"
        "月末の在籍などの時点の指標は同じ子どもを毎月数えるため、方針の効果がなくてもシグナルが出やすい（docs/monitor.md）。",
        "▲ improvement, ▼ concern, ● common cause, ◆ special cause without a direction. Assurance: "
        "✔ consistently passing the target, ✖ consistently failing, ? hit and miss (target inside "
        "the limits), — no target. Fewer than 12 baseline points: trial limits. Public report: "
        "points with suppressed counts are left off the charts, and so are the signals resting on "
        "them (runs included; x). Point-in-time "
        "indicators count the same children month after month and signal easily even without a "
        "policy effect (docs/monitor.md).",
    ),
    "funnel.intro": (
        "{period}の各指標を児童相談所ごとに、値と分母（対象の人数・件数・人月）のファネルプロットで比較。"
        "中心線は県全体の値、破線は95%、点線は99.8%の管理限界（Spiegelhalter 2005）。児童相談所間のばらつきが"
        "偶然で説明できる以上に大きいとき（過分散）は限界を広げる。限界の外の児童相談所は偶然とは考えにくい差。",
        "Each indicator by centre for {period}: value against denominator (children, cases or "
        "child-months) in a funnel plot. Centre line: the prefecture's value; dashed 95% and dotted "
        "99.8% limits (Spiegelhalter 2005), widened when centres differ more than chance allows "
        "(overdispersion). A centre outside the limits differs by more than chance.",
    ),
    "funnel.suppressed_note": (
        "公表用では、度数が小さい児童相談所（{m}未満、またはそこから差し引きで分かるもの）は図に示さず、表でも値を示しません。",
        "Public report: centres with small counts (below {m}, or recoverable from them) are not "
        "plotted and their values are not listed.",
    ),
    "funnel.table": ("ファネルプロットの点（児童相談所別）", "Funnel plot points by centre"),
    "funnel.summary": ("管理限界の外にある児童相談所", "Centres outside the limits"),
    "funnel.center": ("児童相談所", "Centre"),
    "funnel.prefecture": ("県全体", "prefecture"),
    "funnel.national": ("全体", "all centres"),
    "funnel.pref_col": ("都道府県", "Prefecture"),
    "funnel.outside": ("管理限界との位置", "Position"),
    "funnel.out95": ("95%限界の外", "Outside 95%"),
    "funnel.out998": ("99.8%限界の外", "Outside 99.8%"),
    "funnel.adjusted": ("過分散の補正", "Overdispersion adjusted"),
    "funnel.inside": ("限界内", "inside"),
    "funnel.above": ("上", "above"),
    "funnel.below": ("下", "below"),
    "funnel.none": ("なし", "none"),
    "funnel.lower95": ("95%下限", "Lower 95%"),
    "funnel.upper95": ("95%上限", "Upper 95%"),
    "funnel.lower998": ("99.8%下限", "Lower 99.8%"),
    "funnel.upper998": ("99.8%上限", "Upper 99.8%"),
    "funnel.hidden_plot": ("秘匿のため図を示しません", "plot withheld (small counts)"),
    "dir.up": ("↑ 上昇", "↑ up"),
    "dir.down": ("↓ 低下", "↓ down"),
    "dir.flat": ("→ 横ばい", "→ flat"),
    "dir.na": ("—", "—"),
    "kpi.yearly_note": (
        "年度値: 月次・四半期の指標は年度内の分子・分母を合計した比、時点の指標は年度末の値。",
        "Yearly value: for monthly/quarterly rates the ratio of the year's summed numerators and "
        "denominators; for point-in-time indicators the value on the year's last period.",
    ),
    # --- foster-care rate ---------------------------------------------------------------
    "foster.intro": (
        "年度末日の里親等委託率（(里親＋ファミリーホーム) ÷ (乳児院＋児童養護施設＋里親＋ファミリーホーム)）"
        "を年齢区分別に、国と長野県の目標値（令和11年度）と比較。",
        "Foster-care rate on the year's last day ((foster + family homes) ÷ (infant homes + "
        "children's homes + foster + family homes)) by age group, against the national and "
        "Nagano targets for FY2029.",
    ),
    "foster.group": ("年齢区分", "Age group"),
    "foster.family": ("里親等", "Family-based"),
    "foster.total": ("分母（4種別計）", "Denominator"),
    "foster.rate": ("委託率", "Rate"),
    "foster.target_nat": ("国の目標", "National target"),
    "foster.target_pref": ("長野県の目標", "Nagano target"),
    "foster.group.all": ("全体", "all"),
    "foster.plot_title": ("年齢区分別 里親等委託率（年度末）", "Foster-care rate by age group (year end)"),
    "foster.plot_y": ("委託率（%）", "rate (%)"),
    # --- survival -----------------------------------------------------------------------
    "surv.intro": (
        "措置開始コホート別の永続的解決（家庭復帰・親族養育・養子縁組・後見）の累積発生率"
        "（Aalen–Johansen、競合リスク: 自立・他制度等）。導入前後の比較は Cox 比例ハザードモデルのハザード比。",
        "Cumulative incidence of permanency (reunification, kinship, adoption, guardianship) by "
        "entry cohort (Aalen–Johansen; competing risks: independence, other services …), and the "
        "Cox hazard ratio after vs before the policy.",
    ),
    # --- contacts -----------------------------------------------------------------------
    "contacts.intro": (
        "措置中の子ども・家族との面接と親子交流の頻度の導入前後比較（率比と95%信頼区間）、"
        "および月次の時系列。",
        "Interviews and family exchanges of children in care before and after the policy (rate "
        "ratios with 95% CIs) and the monthly time series.",
    ),
    # --- stagnant -----------------------------------------------------------------------
    "stagnant.intro": (
        "停滞ケース（乳児院3か月以上、就学前の児童養護施設6か月以上、学童期の児童養護施設2年以上）の"
        "件数と進行管理の実施率（件数のみ、個別の一覧は内部用の evalkit stagnant を使用）。",
        "Stagnant cases (infant home ≥ 3 months, children's home ≥ 6 months while preschool, "
        "≥ 2 years while school age) and review compliance — counts only (child-level lists are "
        "internal: use `evalkit stagnant`).",
    ),
    # --- logic model --------------------------------------------------------------------
    "logic.intro": (
        "取組方針のロジックモデル（こどものパーマネンシー保障）と、各段階の指標の今年度の値。",
        "The policy's logic model (permanency for children) with each stage's indicator "
        "value this year.",
    ),
    "logic.stage": ("段階", "Stage"),
    "logic.element": ("内容", "Element"),
    "logic.indicator": ("指標", "Indicator"),
    "logic.value": ("今年度の値", "Value this year"),
    "logic.n": ("調査回答数", "Survey responses"),
    # --- data quality -------------------------------------------------------------------
    "quality.intro": ("データ検証の結果（規則ごとの件数）。", "Validation results (counts per rule)."),
    "quality.rule": ("規則", "Rule"),
    "quality.severity": ("重大度", "Severity"),
    "quality.message": ("内容", "Message"),
    "quality.n": ("件数", "Count"),
    "quality.none": ("問題は見つかりませんでした。", "No problems found."),
    "quality.rows": ("表の行数", "Rows per table"),
    "quality.table": ("表", "Table"),
    # --- methods ------------------------------------------------------------------------
    "methods.intro": (
        "この報告書は evalkit により同じデータ・同じパラメータから再現できます。",
        "This report can be rebuilt from the same data and parameters with evalkit.",
    ),
    "methods.key": ("項目", "Item"),
    "methods.value": ("値", "Value"),
    "methods.version": ("evalkit のバージョン", "evalkit version"),
    "methods.data": ("データ", "Data"),
    "methods.sha": ("データの SHA-256", "Data SHA-256"),
    "methods.as_of": ("データ基準日（as_of）", "Data cut-off (as_of)"),
    "methods.seed": ("合成データのシード", "Synthetic data seed"),
    "methods.source": ("データの出所", "Data source"),
    "methods.params": ("パラメータ", "Parameters"),
    "methods.policy": ("取組の導入日", "Policy start"),
    "methods.packages": ("使用した分析モジュール", "Analysis modules used"),
    "methods.glyphs": ("図の文字（フォント）", "Figure text (fonts)"),
    "methods.no_glyphs": (
        "すべての文字を表示（IPAexGothic、matplotlib-fontja）",
        "all glyphs rendered (IPAexGothic via matplotlib-fontja)",
    ),
}


def t(key: str, lang: str = "ja", **fields: object) -> str:
    """The text for ``key`` in ``lang`` (``ja`` or ``en``), formatted with ``fields``."""
    ja, en = TEXTS[key]
    s = en if lang == "en" else ja
    return s.format(**fields) if fields else s


def jdate(d, lang: str = "ja") -> str:
    """A date as readers expect it: ``2027年3月31日`` (ja) or ``31 Mar 2027`` (en).

    Reports avoid ISO dates in their text so that no string in them looks like
    a person's birth date.
    """
    import pandas as pd

    d = pd.Timestamp(d)
    if lang == "en":
        return f"{d.day} {d.strftime('%b')} {d.year}"
    return f"{d.year}年{d.month}月{d.day}日"
