"""Small numerical helpers shared by the count models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from evalkit.results import Results


def cluster_codes(groups) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 of cluster labels and the number of clusters G."""
    _, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes.astype(np.int64), int(codes.max() + 1) if len(codes) else 0


def cluster_indicator(codes: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """The sparse G × n matrix that sums rows within clusters (build once, reuse)."""
    return sp.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes))
    )


def cluster_sum(values: np.ndarray, codes: np.ndarray, n_groups: int,
                indicator: sp.csr_matrix | None = None) -> np.ndarray:
    """Sum rows of ``values`` (n × k or n) within clusters → (G × k or G).

    ``indicator`` (from :func:`cluster_indicator` on the same codes) saves
    rebuilding it in iterative fits; the sums are the same.
    """
    ind = indicator if indicator is not None else cluster_indicator(codes, n_groups)
    return np.asarray(ind @ values)


def xtwx(X: np.ndarray, w: np.ndarray, chunk: int = 500_000) -> np.ndarray:
    """``X' diag(w) X`` computed in chunks (bounded memory)."""
    k = X.shape[1]
    out = np.zeros((k, k))
    for i in range(0, len(X), chunk):
        Xi = X[i : i + chunk]
        out += Xi.T @ (Xi * w[i : i + chunk, None])
    return out


def sandwich(bread_inv: np.ndarray, scores_by_cluster: np.ndarray) -> np.ndarray:
    """``B⁻¹ (Σ_g u_g u_g') B⁻¹``."""
    meat = scores_by_cluster.T @ scores_by_cluster
    return bread_inv @ meat @ bread_inv


def rate_ratio_series(params: pd.Series, ci: pd.DataFrame, pvalues: pd.Series, term: str) -> pd.Series:
    """``rate_ratio, lower, upper, p_value`` of one log-scale term as a Series named ``term``."""
    return pd.Series(
        {"rate_ratio": float(np.exp(params[term])), "lower": float(np.exp(ci.loc[term, "lower"])),
         "upper": float(np.exp(ci.loc[term, "upper"])), "p_value": float(pvalues[term])},
        name=term,
    )


class WaldInference(Results):
    """Wald inference shared by the count-model results (``params`` and ``cov`` attributes).

    Mixed into the frozen result dataclasses: the project's results protocol
    (:mod:`evalkit.results`: ``std_errors``, ``pvalues``, ``conf_int()``,
    ``summary()``, …) from the covariance, and the rate ratio of one
    coefficient. ``bse`` is kept as another name for ``std_errors``.
    """

    params: pd.Series
    cov: pd.DataFrame

    log_scale = True
    exp_name = "rate_ratio"

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index,
                         name="std_error")

    @property
    def bse(self) -> pd.Series:
        return self.std_errors

    def rate_ratio(self, term: str = "policy", level: float = 0.95) -> pd.Series:
        """``rate_ratio, lower, upper, p_value`` of one coefficient, as a Series
        (the same shape as :meth:`evalkit.contacts.ITSFit.rate_ratio`)."""
        return rate_ratio_series(self.params, self.conf_int(level), self.pvalues, term)

    def __repr__(self) -> str:
        return self.__str__()
