"""Crossed factors: the largest (or a nested) factor integrated out given the others.

Crossed factors have no per-group factorisation, but one of them can still be integrated
out given the others: with mu = D theta + (the sampled factors' effects), the rows of
different groups of the collapsed factor are independent, and the one-factor identities
hold with b_j = Z_j'(y_j - mu_j).  The cost per gradient is O(N k + J k^3)
(:class:`bayesmix.collapsed.op.CollapsedRowsLoglik`), as for the full model, with the
largest factor's effects gone from the sampled parameters.
"""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt
from scipy import sparse

from bayesmix.collapsed.common import CROSSED_STREAM, Collapse, GraphParts, conditional_draws
from bayesmix.collapsed.op import collapsed_rows_loglik
from bayesmix.core import names
from bayesmix.core.linalg import cholesky_from_cpc, covariance_matrix
from bayesmix.core.slots import data_slot
from bayesmix.core.suffstats import group_crossprod, parent_index
from bayesmix.spec.design import Design, FactorDesign

__all__ = ["partial_factor", "RowsCollapse"]


def partial_factor(design: Design) -> FactorDesign:
    """The factor integrated out when factors are crossed.

    A factor nested in another (instructors within departments) competes with it for the
    same variation: sampled together they form a ridge, integrated out it leaves none.  So
    the finest factor nested in another one is chosen, else the one with most effects.
    Measured on InstEval ``(1|s) + (1|d) + (1|dept)``, instructors ``d`` nested in ``dept``
    (4 x 1000 draws, seed 1): integrating out ``d`` gave min bulk ESS 1,610 and max R-hat
    1.002; the largest factor ``s`` 603 and 1.007; the full model 296 and 1.020.
    """
    nested = [
        inner
        for inner in design.factors
        for outer in design.factors
        if inner is not outer and parent_index(inner, outer) is not None
    ]
    if nested:
        return max(nested, key=lambda f: f.n_levels * len(f.coefs))
    return max(design.factors, key=lambda f: f.n_levels * len(f.coefs))


def _all_ones(a: np.ndarray) -> bool:
    return bool(np.all(a == 1.0))


class RowsCollapse(Collapse):
    """Data of the factor integrated out given the other (crossed) factors' effects.

    ``others`` are the remaining factors in design order; their effects enter the
    likelihood flattened into one vector ``u`` (factor after factor, each ``(J_f, k_f)``
    row-major), and ``others_index``/``others_Z`` (shape ``(Q, N)``, one row per varying
    coefficient) say which element of ``u`` each row uses and with what weight.
    """

    strategy = "crossed"
    stream = CROSSED_STREAM

    def __init__(self, design: Design, y: np.ndarray, factor: FactorDesign):
        self.factor = factor.name
        self.factors = (factor.name,)
        self.description = f"{factor.name} effects (given the other factors')"
        self.y = np.asarray(y, dtype=float)
        self.Z = np.asarray(factor.Z, dtype=float)
        self.index = np.asarray(factor.index, dtype=np.int64)
        self.ZtZ = group_crossprod(self.index, self.Z, self.Z, factor.n_levels)
        self.others = tuple(f.name for f in design.factors if f.name != factor.name)
        index, weight = [], []
        offset = 0
        for name in self.others:
            f = design.factor(name)
            kf = len(f.coefs)
            for c in range(kf):
                index.append(offset + np.asarray(f.index, dtype=np.int64) * kf + c)
                weight.append(np.asarray(f.Z[:, c], dtype=float))
            offset += f.n_levels * kf
        n = self.y.size
        self.n_u = offset
        self.others_index = np.array(index, dtype=np.int64).reshape(-1, n)
        self.others_Z = np.array(weight, dtype=float).reshape(-1, n)
        self._X = None if not design.terms else np.asarray(design.X, dtype=float)
        self._offset = None if design.offset is None else np.asarray(design.offset, dtype=float)

    def loglik(self, eta, effects, Sigma, sigma):
        """The log likelihood as a PyTensor scalar (data as named graph inputs).

        ``eta`` is the per-row population part, ``effects`` the other factors' group
        effects (``(J_f, k_f)`` each, in :attr:`others` order).
        """
        name = f"collapsed.{self.factor}"
        u = pt.concatenate([pt.flatten(r) for r in effects]) if effects else pt.zeros(0)
        # unit weights (intercepts) go to the Op as zero-width arrays: it then skips reading them
        n, k = self.Z.shape
        Z = np.empty((n, 0)) if k == 1 and _all_ones(self.Z) else self.Z
        others_Z = self.others_Z
        if _all_ones(others_Z):
            others_Z = np.empty((len(others_Z), 0))
        return collapsed_rows_loglik(
            pt.broadcast_to(eta, self.y.shape),
            u,
            Sigma,
            sigma,
            data_slot(f"{name}.y", self.y),
            data_slot(f"{name}.Z", Z),
            data_slot(f"{name}.index", self.index),
            data_slot(f"{name}.ZtZ", self.ZtZ),
            data_slot(f"{name}.others_index", self.others_index),
            data_slot(f"{name}.others_Z", others_Z),
        )

    @functools.cached_property
    def _cross(self):
        """Per coefficient ``a`` of the collapsed factor: ``Z_a'(y - offset)`` (J,), ``Z_a'X`` (J, p)
        and ``Z_a'A`` (sparse J x n_u), ``A`` being the rows' map onto ``u``."""
        J, k = self.ZtZ.shape[:2]
        n = self.y.size
        rows = np.repeat(np.arange(n)[None, :], self.others_index.shape[0], axis=0)
        A = sparse.csr_matrix(
            (self.others_Z.ravel(), (rows.ravel(), self.others_index.ravel())), shape=(n, self.n_u)
        )
        y = self.y if self._offset is None else self.y - self._offset
        out = []
        for a in range(k):
            Zt = sparse.csr_matrix((self.Z[:, a], (self.index, np.arange(n))), shape=(J, n))
            ZtX = None if self._X is None else np.asarray(Zt @ self._X)
            out.append((Zt @ y, ZtX, (Zt @ A).tocsr()))
        return out

    def draw(self, b, u, Sigma, sigma, rng: np.random.Generator, budget: int = 20_000_000) -> np.ndarray:
        """Exact conditional draws of the effects, ``(S, J, k)`` for ``S`` posterior draws.

        ``b`` is ``(S, p)`` (the population coefficients of the design's columns; None without
        any), ``u`` ``(S, n_u)`` (the other factors' effects, flattened as in :meth:`loglik`),
        ``Sigma`` ``(S, k, k)`` and ``sigma`` ``(S,)``.  The per-group right-hand sides
        ``Z_j'(y_j - mu_j)`` come from cross-products computed once, so no per-row mean is
        formed: O(S nnz) in all.
        """
        cross = self._cross

        def rhs(sl):
            B = np.empty((sl.stop - sl.start, *self.ZtZ.shape[:2]))
            for a, (Zty, ZtX, ZtA) in enumerate(cross):
                r = Zty - (ZtA @ u[sl].T).T
                B[..., a] = r if ZtX is None else r - b[sl] @ ZtX.T
            return B

        return conditional_draws(Sigma, sigma, self.ZtZ, rhs, rng, budget)

    def add_loglik(self, g: GraphParts):
        sd, _, L = g.hypers[0]
        return self.loglik(g.eta, g.others, covariance_matrix(sd, L, pt), g.sigma)

    def draw_effects(self, post, out, design, parts, slope_idx, rng):
        """Draws given the other factors' effects, already in ``out`` (see :class:`Collapse`)."""
        f = design.factor(self.factor)
        sd = out[names.sd_var(f.name)][1]
        L = None
        if f.cor_pairs():
            L = cholesky_from_cpc(2.0 * np.asarray(post[names.cpc_var(f.name)]) - 1.0, f, np)
        shape = out[names.SIGMA][1].shape
        S = int(np.prod(shape))
        b = out[names.B][1].reshape(S, -1) if names.B in out else None
        u = np.concatenate([out[names.r_var(name)][1].reshape(S, -1) for name in self.others], axis=-1)
        Sigma = covariance_matrix(sd.reshape(S, -1), None if L is None else L.reshape(S, *L.shape[-2:]), np)
        draws = self.draw(b, u, Sigma, out[names.SIGMA][1].reshape(S), rng)
        return {f.name: draws.reshape(shape + draws.shape[1:])}
