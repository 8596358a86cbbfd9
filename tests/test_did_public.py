"""evalkit.contacts.did on a plain panel: estimate, randomisation inference, scale (#13)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evalkit.contacts import did
from evalkit.contacts.staggered import assignments, distinct_assignments


def _panel(n_units: int, n_months: int, starts_idx, effect: float = 1.25, seed: int = 0):
    """Unit-month Poisson counts with unit and month effects and a multiplicative policy effect."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2020-01-01", periods=n_months, freq="MS")
    units = [f"u{i:03d}" for i in range(n_units)]
    a = rng.normal(0, 0.3, n_units)
    g = np.linspace(0, 0.2, n_months) + 0.05 * np.sin(np.arange(n_months))
    expo = rng.uniform(50, 150, (n_units, n_months))
    st = np.asarray(starts_idx, dtype=float)
    treated = np.arange(n_months)[None, :] >= st[:, None]
    mu = expo * 0.2 * np.exp(a[:, None] + g[None, :]) * np.where(treated, effect, 1.0)
    y = rng.poisson(mu)
    df = pd.DataFrame({"unit": np.repeat(units, n_months), "month": np.tile(months, n_units),
                       "n": y.ravel(), "child_months": expo.ravel()})
    ts = {u: (months[int(s)] if np.isfinite(s) else None) for u, s in zip(units, st, strict=True)}
    return df, ts, treated


def _independent_imputation(df, starts):
    """Borusyak et al.'s imputation estimator with statsmodels: FE Poisson on untreated cells."""
    d = df.copy()
    d["treated"] = [starts.get(u) is not None and m >= starts[u] for u, m in zip(d["unit"], d["month"],
                                                                                  strict=True)]
    d["mkey"] = d["month"].dt.strftime("%Y%m")
    unt = d[~d["treated"]]
    X = pd.get_dummies(unt[["unit", "mkey"]], drop_first=True, dtype=float)
    X.insert(0, "const", 1.0)
    fit = sm.GLM(unt["n"], X, family=sm.families.Poisson(), offset=np.log(unt["child_months"])).fit(
        tol=1e-13)
    tr = d[d["treated"]]
    Xt = pd.get_dummies(tr[["unit", "mkey"]], dtype=float).reindex(columns=X.columns, fill_value=0.0)
    Xt["const"] = 1.0
    y0 = np.exp(Xt.to_numpy() @ fit.params.to_numpy() + np.log(tr["child_months"].to_numpy()))
    return tr["n"].sum() / y0.sum()


def test_estimate_matches_an_independent_implementation():
    df, starts, _ = _panel(6, 30, [6, 10, 14, 18, 22, np.inf], seed=4)
    r = did(df, unit="unit", time="month", count="n", treat_start=starts, exposure="child_months",
            n_leads=0, interval=False)
    # every treated month has a not-yet-treated comparison (one unit never treated)
    assert r.n_cells_unidentified == 0
    assert r.rate_ratio == pytest.approx(_independent_imputation(df, starts), rel=1e-7)
    assert r.n_permutations == 720 // 1 and r.enumerated  # 6!/1! distinct assignments


def test_plain_panel_without_case_mix_runs_and_follows_the_protocol():
    df, starts, _ = _panel(5, 24, [4, 8, 12, 16, np.inf], seed=1)
    r = did(df, unit="unit", time="month", count="n", treat_start=starts, exposure="child_months")
    assert r.staggered and np.isfinite(r.rate_ratio)
    assert list(r.params.index) == ["att"]
    ci = r.conf_int()
    assert list(ci.columns) == ["lower", "upper"]
    assert ci.loc["att", "lower"] < r.params["att"] < ci.loc["att", "upper"]
    s = r.summary()
    assert s.loc["att", "p_value"] == r.p_value and "rate_ratio" in s.columns
    assert "<table" in r._repr_html_()
    with pytest.raises(ValueError, match="level"):
        r.conf_int(0.9)


def test_child_level_rows_and_covariates_are_aggregated():
    """Rows finer than unit-month are summed; a covariate adjusts the expected counts."""
    df, starts, _ = _panel(5, 24, [4, 8, 12, 16, np.inf], seed=2)
    halves = pd.concat([df.assign(n=df["n"] // 2, child_months=df["child_months"] / 2, grp="a"),
                        df.assign(n=df["n"] - df["n"] // 2, child_months=df["child_months"] / 2,
                                  grp="b")])
    a = did(df, unit="unit", time="month", count="n", treat_start=starts, exposure="child_months",
            n_leads=0, interval=False)
    b = did(halves, unit="unit", time="month", count="n", treat_start=starts,
            exposure="child_months", n_leads=0, interval=False)
    assert b.rate_ratio == pytest.approx(a.rate_ratio, rel=1e-9)
    c = did(halves, unit="unit", time="month", count="n", treat_start=starts,
            exposure="child_months", covariates=["grp"], n_leads=0, interval=False)
    assert np.isfinite(c.rate_ratio) and abs(np.log(c.rate_ratio / a.rate_ratio)) < 0.05


def test_assignments_enumerate_or_sample_uniformly():
    st = np.array([3, 5, 5, 9])
    perms, ia, enumerated = assignments(st, 720, seed=0)
    assert enumerated and len(perms) == distinct_assignments(10**9, st) == 12
    assert (perms[ia] == st).all() and len({tuple(p) for p in perms}) == 12
    st7 = np.arange(7)
    perms, ia, enumerated = assignments(st7, 500, seed=3)
    assert not enumerated and ia == 0 and (perms[0] == st7).all() and len(perms) == 500
    again, _, _ = assignments(st7, 500, seed=3)
    np.testing.assert_array_equal(perms, again)
    # uniform: each unit takes each start equally often (chi-square would be overkill here)
    share = (perms[1:, 0][:, None] == st7[None, :]).mean(axis=0)
    assert np.all(np.abs(share - 1 / 7) < 4 * np.sqrt((1 / 7) * (6 / 7) / 499))


def test_sampled_p_value_is_within_monte_carlo_error_of_the_exact_one():
    """7 units with distinct starts: 5,040 assignments enumerated vs 1,000 sampled."""
    df, starts, _ = _panel(7, 30, [5, 8, 11, 14, 17, 20, np.inf], effect=1.04, seed=7)
    kw = dict(unit="unit", time="month", count="n", treat_start=starts, exposure="child_months",
              n_leads=0, interval=False)
    exact = did(df, n_permutations=5040, **kw)
    sampled = did(df, n_permutations=1000, seed=11, **kw)
    assert exact.enumerated and exact.n_permutations == 5040
    assert not sampled.enumerated and sampled.rate_ratio == exact.rate_ratio
    p = exact.p_value
    assert 0.02 < p < 0.98  # a case where the p-value is not trivially 0 or 1
    assert abs(sampled.p_value - p) < 4 * np.sqrt(p * (1 - p) / 1000)


def test_two_hundred_units_run():
    starts_idx = np.r_[np.repeat([6, 9, 12, 15], 40), np.full(40, np.inf)]
    df, starts, _ = _panel(200, 24, starts_idx, effect=1.2, seed=5)
    r = did(df, unit="unit", time="month", count="n", treat_start=starts, exposure="child_months",
            n_leads=0, n_permutations=99, seed=1)
    assert not r.enumerated and r.n_permutations == 99
    assert 1.1 < r.rate_ratio < 1.3 and r.p_value <= 0.02
    assert r.ci_lower < r.rate_ratio < r.ci_upper


def test_bad_input_is_clear():
    df, starts, _ = _panel(5, 12, [3, 5, 7, 9, np.inf])
    with pytest.raises(ValueError, match="columns not found"):
        did(df, unit="centre", time="month", count="n", treat_start=starts)
    with pytest.raises(ValueError, match="not in the data"):
        did(df, unit="unit", time="month", count="n", treat_start={**starts, "zzz": "2020-05-01"})


def _random_cells(seed: int = 0, C: int = 24, T: int = 40):
    """Centre-month cells with a few absent cells and starts before, inside, after the window."""
    from evalkit.contacts.staggered import NEVER, _Cells

    rng = np.random.default_rng(seed)
    cc, tt = np.meshgrid(np.arange(C), np.arange(T), indexing="ij")
    keep = rng.random((C, T)) > 0.05
    c, t = cc[keep], tt[keep]
    e = rng.uniform(20, 80, len(c))
    y = rng.poisson(0.3 * e * np.exp(rng.normal(0, 0.2, C))[c]).astype(float)
    cells = _Cells(c=c, t=t, y=y, expected=e, centers=[f"c{i}" for i in range(C)],
                   months=np.arange(T))
    st = rng.choice(np.array([-3, 0, 5, 13, 14, 22, 30, 39, 45, NEVER]), C)
    return cells, st


@pytest.mark.parametrize("seed", [0, 1])
def test_segment_sums_give_the_grid_fit(seed):
    """The IPF by segments of months (many centres) gives the grid's fit, leads and ratios."""
    from evalkit.contacts.staggered import _batch_fit, _batch_fit_staircase, _ratios

    cells, st = _random_cells(seed)
    perms, _, _ = assignments(st, 60, seed)
    ev = cells.t[None, :] - perms[:, cells.c]
    tr = ev >= 0
    q = np.floor_divide(ev, 3)
    lead = np.where(~tr & (q <= -1) & (q >= -4), -q - 1, -1)
    Y = np.broadcast_to(cells.y, (len(perms), len(cells.y)))
    for leads in (None, lead):
        n = 4 if leads is not None else 0
        grid = _batch_fit(cells, tr, Y, leads, n)
        seg = _batch_fit(cells, tr, Y, leads, n, starts=perms)
        assert np.array_equal(grid[1], seg[1])
        np.testing.assert_allclose(seg[0], grid[0], rtol=1e-9)
        np.testing.assert_allclose(seg[2], grid[2], rtol=1e-8, atol=1e-9)  # NaN where absent
    ratios = _batch_fit_staircase(cells, perms, cells.y, ratios_only=True)
    np.testing.assert_allclose(ratios, _ratios(Y, *_batch_fit(cells, tr, Y)[:2]), rtol=1e-9)


def test_many_units_fit_by_segments_as_on_the_grid(monkeypatch):
    """With many units (warm starts, segment sums) the result is the grid fit's to rounding."""
    import evalkit.contacts.staggered as S

    starts_idx = np.r_[np.repeat([6, 9, 12, 15], 5), np.full(4, np.inf)]
    df, starts, _ = _panel(24, 30, starts_idx, effect=1.2, seed=7)
    kw = dict(unit="unit", time="month", count="n", treat_start=starts, exposure="child_months",
              n_permutations=99, seed=2)
    fast = did(df, **kw)
    monkeypatch.setattr(S, "WARM_START_MIN_CENTRES", 10**9)
    grid = did(df, **kw)
    for f in ("rate_ratio", "p_value", "pretrend_p", "ri_std_error"):
        assert getattr(fast, f) == pytest.approx(getattr(grid, f), rel=1e-8)
    for f in ("ci_lower", "ci_upper"):  # bounds searched to BOUND_XTOL
        assert getattr(fast, f) == pytest.approx(getattr(grid, f), rel=2 * S.BOUND_XTOL)
    num = ["rate_ratio", "ci_lower", "ci_upper"]
    np.testing.assert_allclose(fast.event_study[num].to_numpy(), grid.event_study[num].to_numpy(),
                               rtol=1e-7)
