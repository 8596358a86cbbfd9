"""The block design (centre indicators as a block) gives the dense design's fits."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.contacts._linalg import BlockDesign
from evalkit.contacts.design import design_matrix
from evalkit.contacts.geeglm import fit_gee
from evalkit.contacts.interrupted import expected_counts
from evalkit.contacts.nbreg import fit_negbin
from evalkit.contacts.panel import child_month_panel
from evalkit.synth import generate


@pytest.fixture(scope="module")
def panel():
    ds = generate("nagano_staggered", seed=3, children_scale=0.15).dataset
    starts = dict(zip(ds.policy["center"].astype(object), ds.policy["start_date"], strict=True))
    return child_month_panel(ds, starts, start="2022-01-01")


def _both(panel):
    Xd, nd = design_matrix(panel, block=False)
    Xb, nb = design_matrix(panel, block=True)
    assert isinstance(Xb, BlockDesign) and not isinstance(Xd, BlockDesign)
    order = [nd.index(n) for n in nb]  # the block puts the centre columns last
    return Xd[:, order], Xb, nb


def test_block_algebra_matches_dense(panel):
    Xd, Xb, _ = _both(panel)
    rng = np.random.default_rng(1)
    b, v, w = rng.normal(size=Xd.shape[1]), rng.normal(size=len(Xd)), rng.random(len(Xd))
    assert np.allclose(Xb @ b, Xd @ b)
    assert np.allclose(Xb.tdot(v), Xd.T @ v)
    assert np.allclose(Xb.xtwx(w), Xd.T @ (Xd * w[:, None]))
    g = rng.integers(0, 50, len(Xd))
    S = Xb.cluster_sum(v, g, 50)
    Sd = np.zeros((50, Xd.shape[1]))
    np.add.at(Sd, g, Xd * v[:, None])
    c = rng.random(50)
    assert np.allclose(S.gram(c), Sd.T @ (Sd * c[:, None]))
    assert np.allclose(S.tdot(c), Sd.T @ c)


@pytest.mark.parametrize("fit", [fit_negbin, fit_gee])
def test_block_fits_match_dense(panel, fit):
    Xd, Xb, names = _both(panel)
    y = panel["interviews"].to_numpy(float)
    ex = panel["exposure"].to_numpy()
    g = panel["child_id"].to_numpy()
    a, b = fit(y, Xd, ex, g, names), fit(y, Xb, ex, g, names)
    assert np.allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-7, atol=1e-9)
    assert np.allclose(a.cov.to_numpy(), b.cov.to_numpy(), rtol=1e-6, atol=1e-12)


def test_block_expected_counts_match_dense(panel, monkeypatch):
    import evalkit.contacts.design as D

    dense = expected_counts(panel, "interviews")
    monkeypatch.setattr(D, "BLOCK_MIN_LEVELS", 2)
    block = expected_counts(panel, "interviews")
    assert np.allclose(dense, block, rtol=1e-8)
