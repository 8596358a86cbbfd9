"""Exports that look like case-management output, built from a synthetic dataset (issue 14).

Three shapes, each with the mapping that reads it back (``mapping_*.toml`` beside
this file):

1. ``per_centre``: one workbook per centre (``中央児相_2025.xlsx`` …), Japanese
   headings, era dates (令和/平成/昭和, 元年), free-text settings such as
   「児童養護施設（〇〇学園）」, placement rows mixed with 相談 rows to filter out.
2. ``wide_csv``: one wide CP932 CSV with the child and the placement on one row
   (children repeated), contacts and the other tables in further CP932 files.
3. ``excel``: one workbook with Excel serial dates, extra columns holding
   (fictitious) names, and merged header cells over two heading rows.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.data import codes as C

HERE = Path(__file__).resolve().parent
MAPPINGS = {s: HERE / f"mapping_{s}.toml" for s in ("per_centre", "wide_csv", "excel")}
CENTRE_JA = {"chuo": "中央児相", "matsumoto": "松本児相", "iida": "飯田児相", "suwa": "諏訪児相",
             "saku": "佐久児相"}
_ERAS = ((_dt.date(2019, 5, 1), "令和", 2018), (_dt.date(1989, 1, 8), "平成", 1988),
         (_dt.date(1926, 12, 25), "昭和", 1925))
NAMES = ("山田太郎", "佐藤花子", "鈴木一郎", "高橋美咲")


def era(d) -> str:
    """``令和元年5月1日``-style text of a date ('' for NaT)."""
    if pd.isna(d):
        return ""
    d = pd.Timestamp(d).date()
    for start, name, off in _ERAS:
        if d >= start:
            y = d.year - off
            return f"{name}{'元' if y == 1 else y}年{d.month}月{d.day}日"
    raise ValueError(d)


def serial(d):
    """Excel serial day number of a date (None for NaT)."""
    if pd.isna(d):
        return None
    return (pd.Timestamp(d).date() - _dt.date(1899, 12, 30)).days


def slash(d) -> str:
    return "" if pd.isna(d) else pd.Timestamp(d).strftime("%Y/%m/%d")


def kanji(d) -> str:
    return "" if pd.isna(d) else f"{d.year}年{d.month}月{d.day}日"


def label(table: dict, v) -> str:
    return "" if pd.isna(v) else table[v].ja


def _s(v) -> str:
    return "" if pd.isna(v) else str(v)


def setting_text(code, i: int) -> str:
    """Free-text settings as a case file writes them."""
    if code == "childrens_home":
        return f"児童養護施設（{'〇△□'[i % 3]}{'〇△'[i % 2]}学園）"
    if code == "infant_home":
        return f"乳児院（{'ひかり' if i % 2 else 'あおば'}乳児院）"
    if code == "tp_shelter":
        return "一時保護所"
    return C.SETTINGS[code].ja


def _yn(v) -> str:
    return "" if pd.isna(v) else ("あり" if v else "なし")


def _score(v) -> str:
    return "" if pd.isna(v) else repr(float(v)).removesuffix(".0")


# --------------------------------------------------------------------------- shape 1
def per_centre(ds, out: Path) -> Path:
    """One workbook per centre, Japanese headings, era dates, free-text settings."""
    out.mkdir(parents=True, exist_ok=True)
    ch = ds.children
    for code, ja in CENTRE_JA.items():
        ids = set(ch.loc[ch["center"] == code, "child_id"])
        c = ch.loc[ch["child_id"].isin(ids)]
        sheets = {
            "児童": pd.DataFrame({"児童番号": c["child_id"].astype(str),
                                "性別": [label(C.SEXES, v) for v in c["sex"]],
                                "生年月日": [era(v) for v in c["birth_date"]]}),
        }
        p = ds.placements.loc[ds.placements["child_id"].isin(ids)]
        pl = pd.DataFrame({"区分": ["一時保護" if s in C.TP_SETTINGS else "措置" for s in p["setting"]],
                           "児童番号": p["child_id"].astype(str),
                           "措置開始年月日": [era(v) for v in p["start_date"]],
                           "措置終了年月日": [era(v) for v in p["end_date"]],
                           "措置先": [setting_text(v, i) for i, v in enumerate(p["setting"])],
                           "解除事由": [label(C.END_REASONS, v) for v in p["end_reason"]]})
        junk = pd.DataFrame({"区分": ["相談"] * 2, "児童番号": ["X1", "X2"],
                             "措置開始年月日": ["令和2年1月1日", "不明"], "措置終了年月日": "",
                             "措置先": "相談のみ", "解除事由": ""})
        sheets["措置"] = pd.concat([pl.iloc[:3], junk, pl.iloc[3:]], ignore_index=True)
        k = ds.contacts.loc[ds.contacts["child_id"].isin(ids)]
        sheets["面接記録"] = pd.DataFrame({
            "児童番号": k["child_id"].astype(str), "実施日": [era(v) for v in k["date"]],
            "種別": [label(C.CONTACT_KINDS, v) for v in k["kind"]],
            "交流の種類": [label(C.EXCHANGE_TYPES, v) for v in k["exchange_type"]],
            "養育者同席": [_yn(v) for v in k["caregiver_present"]],
            "当事者参画": [_yn(v) for v in k["family_participated"]]})
        r = ds.reviews.loc[ds.reviews["child_id"].isin(ids)]
        sheets["進行管理"] = pd.DataFrame({"児童番号": r["child_id"].astype(str),
                                       "会議日": [era(v) for v in r["date"]],
                                       "会議種別": [label(C.REVIEW_FORUMS, v) for v in r["forum"]]})
        pn = ds.plans.loc[ds.plans["child_id"].isin(ids)]
        sheets["プラン"] = pd.DataFrame({
            "児童番号": pn["child_id"].astype(str), "プランID": pn["plan_id"].astype(str),
            "作成日": [era(v) for v in pn["plan_date"]], "順位": pn["rank"].astype(str),
            "目標": [label(C.PLAN_GOALS, v) for v in pn["goal"]],
            "目標期日": [era(v) for v in pn["target_date"]],
            "見直し条件": [_s(v) for v in pn["review_condition"]]})
        sv = ds.surveys.loc[ds.surveys["child_id"].isin(ids)]
        sheets["調査"] = pd.DataFrame({"児童番号": sv["child_id"].astype(str),
                                     "調査日": [era(v) for v in sv["date"]],
                                     "尺度": [label(C.SURVEY_INSTRUMENTS, v) for v in sv["instrument"]],
                                     "得点": [_score(v) for v in sv["score"]]})
        po = ds.policy.loc[ds.policy["center"] == code]
        sheets["方針"] = pd.DataFrame({"導入日": [era(v) for v in po["start_date"]]})
        with pd.ExcelWriter(out / f"{ja}_2025.xlsx", engine="openpyxl") as w:
            for name, df in sheets.items():
                df.to_excel(w, sheet_name=name, index=False)
    return out


# --------------------------------------------------------------------------- shape 2
def _cp932(df: pd.DataFrame, path: Path) -> None:
    path.write_bytes(df.to_csv(index=False, lineterminator="\r\n").encode("cp932"))


def wide_csv(ds, out: Path) -> Path:
    """A wide CP932 CSV (child + placement per row); contacts etc. in further files."""
    out.mkdir(parents=True, exist_ok=True)
    sex = {"male": "1", "female": "2", "unknown": "9"}
    m = ds.placements.merge(ds.children, on="child_id", how="left")
    _cp932(pd.DataFrame({
        "ケース番号": m["child_id"].astype(str), "性別": [sex[v] for v in m["sex"]],
        "生年月日": [slash(v) for v in m["birth_date"]],
        "所属児相": [label(C.CENTERS, v) for v in m["center"]],
        "措置開始日": [slash(v) for v in m["start_date"]], "措置終了日": [slash(v) for v in m["end_date"]],
        "措置先種別": [label(C.SETTINGS, v) for v in m["setting"]],
        "終了理由": [label(C.END_REASONS, v) for v in m["end_reason"]]}), out / "児童措置一覧.csv")
    k = ds.contacts
    _cp932(pd.DataFrame({
        "ケース番号": k["child_id"].astype(str), "面接日": [kanji(v) for v in k["date"]],
        "面接種別": [label(C.CONTACT_KINDS, v) for v in k["kind"]],
        "交流の種類": [label(C.EXCHANGE_TYPES, v) for v in k["exchange_type"]],
        "養育者同席": [_yn(v) for v in k["caregiver_present"]],
        "当事者参画": [_yn(v) for v in k["family_participated"]]}), out / "面接記録.csv")
    r = ds.reviews
    _cp932(pd.DataFrame({"ケース番号": r["child_id"].astype(str), "会議日": [slash(v) for v in r["date"]],
                         "会議種別": [label(C.REVIEW_FORUMS, v) for v in r["forum"]]}),
           out / "進行管理.csv")
    pn = ds.plans
    _cp932(pd.DataFrame({
        "ケース番号": pn["child_id"].astype(str), "プランID": pn["plan_id"].astype(str),
        "作成日": [slash(v) for v in pn["plan_date"]], "順位": pn["rank"].astype(str),
        "ゴール": [label(C.PLAN_GOALS, v) for v in pn["goal"]],
        "目標期日": [slash(v) for v in pn["target_date"]],
        "見直し条件": [_s(v) for v in pn["review_condition"]]}), out / "プラン.csv")
    sv = ds.surveys
    _cp932(pd.DataFrame({"ケース番号": sv["child_id"].astype(str), "調査日": [slash(v) for v in sv["date"]],
                         "尺度": [label(C.SURVEY_INSTRUMENTS, v) for v in sv["instrument"]],
                         "得点": [_score(v) for v in sv["score"]]}), out / "調査.csv")
    _cp932(pd.DataFrame({"児童相談所": [label(C.CENTERS, v) for v in ds.policy["center"]],
                         "導入日": [slash(v) for v in ds.policy["start_date"]]}), out / "導入日.csv")
    return out


# --------------------------------------------------------------------------- shape 3
def _sheet(ws, top: list[tuple[str, int]] | None, heads: list[str], rows) -> None:
    """Write headings (optionally a merged top row over groups) and rows to a worksheet."""
    r0 = 1
    if top is not None:
        c = 1
        for text, span in top:
            ws.cell(row=1, column=c, value=text)
            if span > 1:
                ws.merge_cells(start_row=1, start_column=c, end_row=1, end_column=c + span - 1)
            c += span
        r0 = 2
    for j, h in enumerate(heads, 1):
        ws.cell(row=r0, column=j, value=h)
    for i, row in enumerate(rows, r0 + 1):
        for j, v in enumerate(row, 1):
            if v is not None and v != "":
                ws.cell(row=i, column=j, value=v)


def excel(ds, out: Path) -> Path:
    """One workbook: serial dates, name columns, merged header cells."""
    import openpyxl

    out.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    rng = np.random.default_rng(0)
    ch = ds.children
    _sheet(wb.create_sheet("児童台帳"), [("基本情報", 4), ("所属", 1)],
           ["児童番号", "氏名", "性別", "生年月日", "児童相談所"],
           zip(ch["child_id"].astype(str), rng.choice(NAMES, len(ch)),
               [label(C.SEXES, v) for v in ch["sex"]], [serial(v) for v in ch["birth_date"]],
               [label(C.CENTERS, v) for v in ch["center"]], strict=True))
    p = ds.placements
    _sheet(wb.create_sheet("措置歴"), [("児童番号", 1), ("措置期間", 2), ("措置先", 2), ("担当", 1)],
           ["児童番号", "開始", "終了", "種別", "解除理由", "担当者名"],
           zip(p["child_id"].astype(str), [serial(v) for v in p["start_date"]],
               [serial(v) for v in p["end_date"]], [label(C.SETTINGS, v) for v in p["setting"]],
               [label(C.END_REASONS, v) for v in p["end_reason"]], rng.choice(NAMES, len(p)),
               strict=True))
    ws = wb["措置歴"]
    ws.merge_cells("A1:A2")  # a heading merged down over both heading rows
    k = ds.contacts
    _sheet(wb.create_sheet("面接"), None,
           ["児童番号", "実施日", "種別", "交流の種類", "養育者同席", "当事者参画", "面接者"],
           zip(k["child_id"].astype(str), [serial(v) for v in k["date"]],
               [label(C.CONTACT_KINDS, v) for v in k["kind"]],
               [label(C.EXCHANGE_TYPES, v) for v in k["exchange_type"]],
               [_yn(v) for v in k["caregiver_present"]], [_yn(v) for v in k["family_participated"]],
               rng.choice(NAMES, len(k)), strict=True))
    r = ds.reviews
    _sheet(wb.create_sheet("進行管理"), None, ["児童番号", "会議日", "会議種別"],
           zip(r["child_id"].astype(str), [serial(v) for v in r["date"]],
               [label(C.REVIEW_FORUMS, v) for v in r["forum"]], strict=True))
    pn = ds.plans
    _sheet(wb.create_sheet("プラン"), None,
           ["児童番号", "プランID", "作成日", "順位", "ゴール", "目標期日", "見直し条件"],
           zip(pn["child_id"].astype(str), pn["plan_id"].astype(str),
               [serial(v) for v in pn["plan_date"]], [int(v) for v in pn["rank"]],
               [label(C.PLAN_GOALS, v) for v in pn["goal"]], [serial(v) for v in pn["target_date"]],
               [_s(v) for v in pn["review_condition"]], strict=True))
    sv = ds.surveys
    _sheet(wb.create_sheet("調査"), None, ["児童番号", "調査日", "尺度", "得点"],
           zip(sv["child_id"].astype(str), [serial(v) for v in sv["date"]],
               [label(C.SURVEY_INSTRUMENTS, v) for v in sv["instrument"]],
               [float(v) for v in sv["score"]], strict=True))
    _sheet(wb.create_sheet("導入日"), None, ["児童相談所", "導入日"],
           zip([label(C.CENTERS, v) for v in ds.policy["center"]],
               [serial(v) for v in ds.policy["start_date"]], strict=True))
    wb.save(out / "ケース台帳.xlsx")
    return out


BUILDERS = {"per_centre": per_centre, "wide_csv": wide_csv, "excel": excel}
