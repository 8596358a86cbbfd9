"""Small published datasets used by the tests, the docs and the docstring examples.

Each loader returns a fresh :class:`pandas.DataFrame`. Sources and licences:

=============  ==============================================================  ===============
dataset        source                                                          licence
=============  ==============================================================  ===============
``sicily``     Lopez Bernal, Cummins & Gasparrini (2017), Int J Epidemiol      published with
               46:348–355 (acute coronary events, Sicily 2002–2006, smoking    the paper's
               ban from January 2005); repository                              code
               ``gasparrini/2017_lopezbernal_IJE_codedata``
``mgus2``      R package ``survival``, data set ``mgus2``                      LGPL (≥ 2)
``heart``      R package ``survival``, data set ``heart`` (Stanford heart      LGPL (≥ 2)
               transplant, counting-process rows)
``rossi``      Rossi, Berk & Lenihan (1980) recidivism data, as in R package  GPL (≥ 2)
               ``carData`` (``Rossi``) and ``lifelines.datasets.load_rossi``
``quine``      R package ``MASS``, data set ``quine`` (Venables & Ripley)      GPL-2 | GPL-3
``epil``       R package ``MASS``, data set ``epil`` (Thall & Vail 1990)       GPL-2 | GPL-3
=============  ==============================================================  ===============

The worked example of the KPI contract is :func:`worked_example` (an
``evalkit`` :class:`~evalkit.data.dataset.Dataset`).

Examples
--------
>>> from evalkit.datasets import load_sicily
>>> df = load_sicily()
>>> df.shape, str(df["date"].min().date())
((59, 8), '2002-01-01')
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_sicily", "load_mgus2", "load_heart", "load_rossi", "load_quine", "load_epil",
           "worked_example", "SOURCES"]

SOURCES = {
    "sicily": "Lopez Bernal, Cummins & Gasparrini (2017) Int J Epidemiol 46:348-355",
    "mgus2": "R package survival, data set mgus2 (LGPL >= 2)",
    "heart": "R package survival, data set heart (LGPL >= 2)",
    "rossi": "Rossi, Berk & Lenihan (1980); R package carData, data set Rossi (GPL >= 2)",
    "quine": "R package MASS, data set quine (GPL-2 | GPL-3)",
    "epil": "R package MASS, data set epil (GPL-2 | GPL-3)",
}


def _read(name: str) -> pd.DataFrame:
    with resources.files(__name__).joinpath("data", f"{name}.csv").open("rb") as f:
        return pd.read_csv(f)


def load_sicily() -> pd.DataFrame:
    """Monthly acute coronary events in Sicily, 2002–2006 (smoking ban from 2005-01).

    Columns ``year, month, aces, time, smokban, pop, stdpop`` as published,
    plus ``date`` (the month's first day) for :func:`evalkit.contacts.its`.
    """
    df = _read("sicily")
    df["date"] = pd.to_datetime({"year": df["year"], "month": df["month"], "day": 1})
    return df


def load_mgus2() -> pd.DataFrame:
    """mgus2: time to progression (``pcm``) or death (``etime`` months, ``event``), ``age``, ``male``."""
    return _read("mgus2")


def load_heart() -> pd.DataFrame:
    """Stanford heart transplant in counting-process form (``start, stop, event, …, id``)."""
    return _read("heart")


def load_rossi() -> pd.DataFrame:
    """Rossi recidivism data: weeks to arrest (``week``, ``arrest``) of 432 released prisoners.

    Covariates ``fin, age, race, wexp, mar, paro, prio`` (Fox & Weisberg's
    appendix on Cox regression uses them all).
    """
    return _read("rossi")


def load_quine() -> pd.DataFrame:
    """Days absent from school (``Days``) with ``Eth, Sex, Age, Lrn``."""
    return _read("quine")


def load_epil() -> pd.DataFrame:
    """Seizure counts by subject and visit (MASS ``epil``)."""
    return _read("epil")


def worked_example():
    """The worked example of ``KPI_DEFINITIONS.md`` as a Dataset."""
    from evalkit.data.examples import worked_example as _we

    return _we()
