"""Small example datasets (the worked example of KPI_DEFINITIONS.md).

>>> ds = worked_example()
>>> len(ds.children), str(ds.as_of.date())
(3, '2027-03-31')
"""

from __future__ import annotations

import pandas as pd

from evalkit.data.dataset import Dataset


def worked_example() -> Dataset:
    """The FY2026 worked example of KPI_DEFINITIONS.md (children A, B, C)."""
    children = pd.DataFrame(
        {
            "child_id": ["A", "B", "C"],
            "sex": ["female", "male", "female"],
            "birth_date": ["2025-06-10", "2015-05-01", "2021-03-20"],
            "center": ["chuo", "chuo", "chuo"],
        }
    )
    placements = pd.DataFrame(
        [
            ("A", "2026-04-01", "2026-04-15", "tp_shelter", "moved"),
            ("A", "2026-04-15", "2026-08-15", "infant_home", "moved"),
            ("A", "2026-08-15", "2027-02-01", "foster_care", "reunification"),
            ("B", "2023-01-10", "", "childrens_home", ""),
            ("C", "2026-01-05", "2026-07-10", "childrens_home", "moved"),
            ("C", "2026-07-10", "", "family_home", ""),
        ],
        columns=["child_id", "start_date", "end_date", "setting", "end_reason"],
    )
    reviews = pd.DataFrame(
        [
            ("A", "2026-04-08", "progress_review"),
            ("A", "2026-05-10", "progress_review"),
            ("A", "2026-06-20", "progress_review"),
            ("B", "2026-03-01", "progress_review"),
            ("B", "2026-06-15", "progress_review"),
        ],
        columns=["child_id", "date", "forum"],
    )
    contacts = pd.DataFrame(
        [
            ("A", "2026-05-10", "child_interview", "", ""),
            ("A", "2026-05-20", "family_interview", "", ""),
            ("B", "2026-05-15", "child_interview", "", ""),
            ("C", "2026-05-03", "family_exchange", "visit", "true"),
            ("B", "2026-05-30", "family_exchange", "outing", "false"),
        ],
        columns=["child_id", "date", "kind", "exchange_type", "caregiver_present"],
    )
    return Dataset.from_frames(
        as_of="2027-03-31",
        meta={"prefecture": "長野県", "source": "KPI_DEFINITIONS.md worked example", "schema_version": 1},
        children=children,
        placements=placements,
        reviews=reviews,
        contacts=contacts,
    )
