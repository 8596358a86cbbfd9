"""Build the ``japan`` scenario: 47 prefectures, about 230 centres, staggered adoption.

``python -m evalkit.synth.japan`` (re)writes ``synthetic/scenarios/japan.toml``
from the table below; ``--print`` prints it instead. The output is fixed by
the table and :data:`SEED`, so the file is reproducible.

Sources and guesses (also stated in the file and in docs/synthetic.md):

- **Centres per prefecture** (都道府県・指定都市・児童相談所設置市の児童相談所を所在の
  都道府県に含む): approximate counts after the Children and Families Agency
  (こども家庭庁) list of child guidance centres, 2023–2024 (national total
  232 in April 2023 and 234 in April 2024); counts here total
  :data:`N_CENTRES`. Branch offices are not counted. Approximate.
- **Child population** (0–17, thousands): rounded from the 2020 census
  (国勢調査); approximate.
- **Arrivals** (children entering temporary protection or care a year):
  13,200 nationally, the rate that gives the national stock in the four
  foster-rate settings near 33,000 (入所児童等調査 2023: 33,217), as in the
  ``national`` scenario; shared between prefectures in proportion to the
  child population (a guess: real rates per child differ by prefecture).
- **Centre names**: Nagano's five are real (中央・松本・飯田・諏訪・佐久児童相談所);
  the others are placeholders (``<県>第<n>児童相談所``).
- **Centre shares within a prefecture, centre factors**: random (seeded).
- **Policy start**: invented. Prefectures adopt on 1 April or 1 October
  between FY2021 and FY2026; Nagano on 2026-04-01 (its planned start, as
  in ``nagano_default``); :data:`N_NEVER` prefectures get 2028-04-01, after
  the data cut-off (2027-03-31), i.e. they never adopt within the data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

#: Seed of the random parts (centre shares, factors, adoption order).
SEED = 20261203

#: (romaji code stem, name, centres, child population 0–17 in thousands) — approximate.
PREFECTURES: tuple[tuple[str, str, int, int], ...] = (
    ("hokkaido", "北海道", 9, 750), ("aomori", "青森県", 6, 170), ("iwate", "岩手県", 3, 165),
    ("miyagi", "宮城県", 4, 340), ("akita", "秋田県", 3, 110), ("yamagata", "山形県", 2, 160),
    ("fukushima", "福島県", 4, 290), ("ibaraki", "茨城県", 4, 450), ("tochigi", "栃木県", 3, 305),
    ("gunma", "群馬県", 3, 300), ("saitama", "埼玉県", 8, 1140), ("chiba", "千葉県", 7, 950),
    ("tokyo", "東京都", 21, 1900), ("kanagawa", "神奈川県", 14, 1430), ("niigata", "新潟県", 6, 330),
    ("toyama", "富山県", 2, 150), ("ishikawa", "石川県", 3, 175), ("fukui", "福井県", 2, 125),
    ("yamanashi", "山梨県", 2, 125), ("nagano", "長野県", 5, 325), ("gifu", "岐阜県", 5, 325),
    ("shizuoka", "静岡県", 7, 580), ("aichi", "愛知県", 13, 1300), ("mie", "三重県", 6, 290),
    ("shiga", "滋賀県", 3, 245), ("kyoto", "京都府", 5, 380), ("osaka", "大阪府", 11, 1330),
    ("hyogo", "兵庫県", 7, 870), ("nara", "奈良県", 3, 205), ("wakayama", "和歌山県", 2, 140),
    ("tottori", "鳥取県", 3, 85), ("shimane", "島根県", 4, 100), ("okayama", "岡山県", 4, 310),
    ("hiroshima", "広島県", 4, 455), ("yamaguchi", "山口県", 6, 200), ("tokushima", "徳島県", 3, 105),
    ("kagawa", "香川県", 2, 150), ("ehime", "愛媛県", 3, 200), ("kochi", "高知県", 2, 95),
    ("fukuoka", "福岡県", 9, 860), ("saga", "佐賀県", 2, 140), ("nagasaki", "長崎県", 2, 215),
    ("kumamoto", "熊本県", 3, 300), ("oita", "大分県", 2, 175), ("miyazaki", "宮崎県", 3, 180),
    ("kagoshima", "鹿児島県", 3, 280), ("okinawa", "沖縄県", 2, 300),
)
N_CENTRES = sum(p[2] for p in PREFECTURES)
#: Nagano's real centres (code suffix, name, English).
NAGANO = (("chuo", "中央児童相談所", "Chuo (Central)"), ("matsumoto", "松本児童相談所", "Matsumoto"),
          ("iida", "飯田児童相談所", "Iida"), ("suwa", "諏訪児童相談所", "Suwa"),
          ("saku", "佐久児童相談所", "Saku"))
NAGANO_START = "2026-04-01"
#: Prefectures that do not adopt within the data.
N_NEVER = 7
NEVER_DATE = "2028-04-01"
#: Arrivals a year, nationally (see the module docstring).
CHILDREN_PER_YEAR = 13200.0
#: Adoption dates (1 April / 1 October, FY2021–FY2026).
START_DATES = tuple(f"{y}-{m}-01" for y in range(2021, 2027) for m in ("04", "10"))


def build() -> dict:
    """The scenario as plain data: centres (code, names, prefecture, weight, factors), starts."""
    rng = np.random.default_rng(SEED)
    pop = np.array([p[3] for p in PREFECTURES], float)
    codes, names_ja, names_en, prefs, weights, perm, cont = [], [], [], [], [], [], []
    for (stem, pref, n, _), pp in zip(PREFECTURES, pop / pop.sum(), strict=True):
        share = rng.uniform(0.6, 1.4, n)
        share /= share.sum()
        for k in range(n):
            if stem == "nagano":
                suffix, ja, en = NAGANO[k]
                codes.append(f"nagano_{suffix}")
                names_ja.append(ja)
                names_en.append(f"Nagano {en}")
            else:
                codes.append(f"{stem}_{k + 1:02d}")
                names_ja.append(f"{pref}{'中央' if k == 0 else f'第{k + 1}'}児童相談所")
                names_en.append(f"{stem.capitalize()} {'Central' if k == 0 else f'No. {k + 1}'}")
            prefs.append(pref)
            weights.append(round(float(pp * share[k]), 6))
        perm += [round(float(x), 3) for x in np.exp(rng.normal(0, 0.1, n))]
        cont += [round(float(x), 3) for x in np.exp(rng.normal(0, 0.1, n))]
    others = [p[1] for p in PREFECTURES if p[0] != "nagano"]
    order = rng.permutation(len(others))
    never = {others[i] for i in order[:N_NEVER]}
    starts = {"長野県": NAGANO_START}
    adopters = [others[i] for i in order[N_NEVER:]]
    for j, pref in enumerate(adopters):  # spread evenly over the dates, then shuffled
        starts[pref] = START_DATES[j * len(START_DATES) // len(adopters)]
    for pref in never:
        starts[pref] = NEVER_DATE
    starts = {p[1]: starts[p[1]] for p in PREFECTURES}
    return {"codes": codes, "names_ja": names_ja, "names_en": names_en, "prefectures": prefs,
            "weights": weights, "permanency_factor": perm, "contact_factor": cont,
            "prefecture_start": starts, "never": sorted(never)}


def _arr(xs: list, per_line: int = 8) -> str:
    items = [f'"{x}"' if isinstance(x, str) else repr(x) for x in xs]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[\n  " + ",\n  ".join(lines) + ",\n]"


def toml_text() -> str:
    """Text of ``synthetic/scenarios/japan.toml``."""
    b = build()
    adopt = sorted(v for v in b["prefecture_start"].values() if v != NEVER_DATE)
    head = f"""# 全国シナリオ / japan: 47 prefectures, {N_CENTRES} child guidance centres, staggered adoption.
# GENERATED by `python -m evalkit.synth.japan` (evalkit/synth/japan.py); do not edit by hand.
#
# Sources and guesses (see evalkit/synth/japan.py and docs/synthetic.md):
# - centres per prefecture: approximate, after the Children and Families Agency list
#   (national total 232 in 2023, 234 in 2024; municipal centres counted in their prefecture);
# - child population 0-17 by prefecture: 2020 census, rounded (approximate); arrivals are shared
#   in proportion to it (a guess), {CHILDREN_PER_YEAR:,.0f} a year nationally so that the stock in the
#   four foster-rate settings is near 33,000 (入所児童等調査 2023: 33,217);
# - centre names: Nagano's five are real, the others placeholders;
# - centre shares within a prefecture and centre factors: random (seed {SEED});
# - policy starts: INVENTED. Prefectures adopt between {adopt[0]} and {adopt[-1]}
#   (Nagano {NAGANO_START}); {N_NEVER} prefectures start on {NEVER_DATE}, after as_of: never within the data.
inherits = "nagano_default"
name = "japan"
description = "全国（47都道府県・{N_CENTRES}児童相談所・段階導入）/ Japan: 47 prefectures, {N_CENTRES} centres, staggered adoption"
prefecture = "全国"

[calendar]
history_start = "2016-04-01"
events_start = "2016-04-01"

[arrivals]
children_per_year = {CHILDREN_PER_YEAR}

[policy]
start_date = "{NEVER_DATE}"
"""
    ps = "\n".join(f'"{k}" = "{v}"' for k, v in b["prefecture_start"].items())
    body = "\n[policy.prefecture_start]\n" + ps + "\n\n[centers]\n"
    for key in ("codes", "names_ja", "names_en", "prefectures", "weights", "permanency_factor",
                "contact_factor"):
        body += f"{key} = {_arr(b[key], 4 if key.startswith('names') or key == 'prefectures' else 8)}\n"
    return head + body


def scenario_path() -> Path:
    from evalkit.resources import scenarios_dir

    return scenarios_dir() / "japan.toml"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write synthetic/scenarios/japan.toml")
    ap.add_argument("--print", action="store_true", help="print instead of writing the file")
    a = ap.parse_args(argv)
    text = toml_text()
    if a.print:
        print(text, end="")
        return 0
    path = scenario_path()
    path.write_text(text, "utf-8")
    print(f"wrote {path} ({N_CENTRES} centres)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
