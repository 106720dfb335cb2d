"""Collapsed Gaussian likelihood of a chain of nested factors, and exact draws of their effects.

For a chain of nested factors F_1 (coarsest) > ... > F_L (finest), each with k <= 2
coefficients, stack E = [y, D, Z_1, ..., Z_L] (m columns).  Per group c of the finest
factor, Q_c = E_c' V_c^{-1} E_c with V_c = sigma^2 I starts as E_c'E_c / sigma^2 and
log det V_c = n_c log sigma^2.  Integrating out factor l (its Z columns are the last k
columns of Q) is one Woodbury step per group,

    M = Sigma_l^{-1} + Q[z, z],   Q <- Q[r, r] - Q[r, z] M^{-1} Q[z, r],
    log det V <- log det V + log det Sigma_l + log det M,

after which the groups of factor l are summed into their parent groups of factor l - 1
(rows of different groups are independent once the coarser effects are fixed).  After
the coarsest factor, with v = (1, -theta), the log likelihood is
-(N log 2 pi + log det V + v' Q v) / 2.  theta enters only there; the cost per gradient
is O(sum_l J_l m^2), whatever the number of rows.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytensor.tensor as pt

from bayesmix.collapsed.common import Collapse, GraphParts
from bayesmix.core import names
from bayesmix.core.draws import assemble
from bayesmix.core.linalg import normal_2x2, sigma_inverse
from bayesmix.core.slots import data_slot
from bayesmix.core.suffstats import group_crossprod, parent_index, population_columns
from bayesmix.spec.design import Design, FactorDesign

__all__ = ["nested_chain", "NestedStats", "nested_loglik", "nested_loglik_np", "draw_nested_effects"]


def nested_chain(design: Design) -> list[FactorDesign] | None:
    """The factors ordered coarsest first if each is nested in the previous one, else None."""
    facs = sorted(design.factors, key=lambda f: f.n_levels)
    for outer, inner in zip(facs, facs[1:], strict=False):
        if parent_index(inner, outer) is None:
            return None
    return facs


class NestedStats(Collapse):
    """Per-finest-group cross-products of ``[y, D, Z_1..Z_L]`` and the nesting maps."""

    strategy = "nested"

    def __init__(self, design: Design, y: np.ndarray, xbar, slope_idx, chain: list[FactorDesign]):
        D = population_columns(design.X, design.has_intercept, xbar, slope_idx)
        if design.offset is not None:
            y = y - design.offset
        finest = chain[-1]
        E = np.column_stack([y, D, *[f.Z for f in chain]])
        self.p = D.shape[1]
        self.ks = [len(f.coefs) for f in chain]
        self.sizes = [f.n_levels for f in chain]
        self.N = len(y)
        self.EtE = group_crossprod(finest.index, E, E, finest.n_levels)
        self.n = np.bincount(finest.index, minlength=finest.n_levels).astype(float)
        # parents[l]: group of factor l - 1 containing each group of factor l (l >= 1)
        self.parents = [None] + [parent_index(b, a) for a, b in zip(chain, chain[1:], strict=False)]
        self.factors = tuple(f.name for f in chain)
        self.has_intercept = design.has_intercept

    def add_loglik(self, g: GraphParts):
        if self.has_intercept:
            theta = (
                pt.concatenate([pt.atleast_1d(g.icpt), g.slopes])
                if g.slopes is not None
                else pt.atleast_1d(g.icpt)
            )
        else:
            theta = g.slopes
        return nested_loglik(theta, [(sd, rho) for sd, rho, _ in g.hypers], g.sigma, self.as_graph_inputs())

    def draw_effects(self, post, out, design, parts, slope_idx, rng):
        chain = [design.factor(name) for name in self.factors]
        if design.has_intercept:
            cols = [np.asarray(post[names.INTERCEPT_C])[..., None]]
            if slope_idx:
                cols.append(assemble(post, names.SLOPES, parts))
            theta = np.concatenate(cols, axis=-1)
        else:
            theta = assemble(post, names.B, parts)
        shape = theta.shape[:-1]
        flat = int(np.prod(shape))
        hypers = []
        for f in chain:
            sd = assemble(post, names.sd_var(f.name), parts).reshape(flat, -1)
            rho = None
            if len(f.coefs) == 2:
                rho = (
                    2.0 * np.asarray(post[names.cpc_var(f.name)])[..., 0].reshape(flat) - 1.0
                    if f.cor_pairs()
                    else np.zeros(flat)
                )
            hypers.append((sd, rho))
        sigma = np.asarray(post[names.SIGMA]).reshape(flat)
        draws = draw_nested_effects(theta.reshape(flat, -1), hypers, sigma, self, rng)
        return {f.name: r.reshape(shape + r.shape[1:]) for f, r in zip(chain, draws, strict=True)}

    def as_graph_inputs(self) -> SimpleNamespace:
        """The statistics as named graph inputs."""
        out = SimpleNamespace(p=self.p, ks=self.ks, sizes=self.sizes)
        out.N = data_slot("collapsed.N", self.N)
        out.EtE = data_slot("collapsed.EtE", self.EtE)
        out.n = data_slot("collapsed.n", self.n)
        out.parents = [None] + [data_slot(f"collapsed.parent{i}", p) for i, p in enumerate(self.parents) if i]
        return out


def _woodbury(Q, sinv, logdet_sigma, k: int, xp):
    """One integration step on stacked matrices Q (..., J, m, m): returns Q', log det increment and
    the pieces the conditional draws need (M^{-1} entries and Q[:, r, z])."""
    zs = -k
    A = Q[..., :zs, :zs]
    B = Q[..., :zs, zs:]  # (..., J, m', k)
    C = Q[..., zs:, zs:]
    if k == 1:
        m11 = sinv[0][..., None] + C[..., 0, 0]
        minv = (1.0 / m11,)
        logdet_m = xp.log(m11)
        corr = B[..., :, 0, None] * B[..., None, :, 0] / m11[..., None, None]
    else:
        m11 = sinv[0][..., None] + C[..., 0, 0]
        m12 = sinv[1][..., None] + C[..., 0, 1]
        m22 = sinv[2][..., None] + C[..., 1, 1]
        det = m11 * m22 - m12**2
        c11, c12, c22 = m22 / det, -m12 / det, m11 / det
        minv = (c11, c12, c22)
        logdet_m = xp.log(det)
        b0, b1 = B[..., :, 0], B[..., :, 1]
        corr = (
            c11[..., None, None] * b0[..., :, None] * b0[..., None, :]
            + c12[..., None, None]
            * (b0[..., :, None] * b1[..., None, :] + b1[..., :, None] * b0[..., None, :])
            + c22[..., None, None] * b1[..., :, None] * b1[..., None, :]
        )
    return A - corr, logdet_sigma[..., None] + logdet_m, minv, B


def _segment_sum(values, parent, n_parent: int, xp, axis: int = 0):
    """Sum the groups along ``axis`` of ``values`` into their parent groups."""
    if xp is np:
        moved = np.moveaxis(values, axis, 0)
        out = np.zeros((n_parent,) + moved.shape[1:])
        np.add.at(out, parent, moved)
        return np.moveaxis(out, 0, axis)
    shape = (n_parent, *[values.shape[i] for i in range(1, values.ndim)])
    return pt.inc_subtensor(pt.zeros(shape)[parent], values)


def nested_loglik(theta, hypers, sigma, ss):
    """The collapsed log likelihood of nested factors as a PyTensor scalar.

    ``hypers`` is a list, coarsest factor first, of ``(sd, rho)`` (rho None unless k = 2
    with a correlation; 0 for independent pairs); ``ss`` from
    :meth:`NestedStats.as_graph_inputs`.
    """
    sigma2 = sigma**2
    Q = ss.EtE / sigma2
    logdet = ss.n * pt.log(sigma2)
    for level in range(len(ss.ks) - 1, -1, -1):
        sd, rho = hypers[level]
        k = ss.ks[level]
        sinv, logdet_sigma = sigma_inverse(sd, rho, k, pt)
        Q, dlog, _, _ = _woodbury(Q, sinv, logdet_sigma, k, pt)
        logdet = logdet + dlog
        if level:
            Q = _segment_sum(Q, ss.parents[level], ss.sizes[level - 1], pt)
            logdet = _segment_sum(logdet, ss.parents[level], ss.sizes[level - 1], pt)
    Qt = pt.sum(Q, axis=0)
    v = pt.concatenate([pt.ones((1,)), -theta])
    quad = pt.dot(v, pt.dot(Qt, v))
    return -0.5 * (ss.N * np.log(2.0 * np.pi) + pt.sum(logdet) + quad)


def nested_loglik_np(theta, hypers, sigma, ss: NestedStats):
    """The same log likelihood in numpy for one parameter point (used by the tests)."""
    sigma2 = sigma**2
    Q = ss.EtE / sigma2
    logdet = ss.n * np.log(sigma2)
    for level in range(len(ss.ks) - 1, -1, -1):
        sd, rho = hypers[level]
        sinv, logdet_sigma = sigma_inverse(np.asarray(sd, float), rho, ss.ks[level], np)
        Q, dlog, _, _ = _woodbury(Q, sinv, np.asarray(logdet_sigma), ss.ks[level], np)
        logdet = logdet + dlog
        if level:
            Q = _segment_sum(Q, ss.parents[level], ss.sizes[level - 1], np)
            logdet = _segment_sum(logdet, ss.parents[level], ss.sizes[level - 1], np)
    v = np.concatenate([[1.0], -np.asarray(theta, float)])
    return -0.5 * (ss.N * np.log(2.0 * np.pi) + logdet.sum() + v @ Q.sum(axis=0) @ v)


def draw_nested_effects(theta, hypers, sigma, ss: NestedStats, rng: np.random.Generator, chunk: int = 500):
    """Exact conditional draws of the nested factors' group effects, coarsest factor first.

    ``theta`` (S, p), ``hypers`` a list of ``(sd (S, k), rho (S,) or None)``, ``sigma`` (S,).
    Going from the coarsest factor down, ``u_l`` is drawn from its posterior given
    the coarser effects already drawn, with the finer ones integrated out:
    ``N(M^{-1} Z' V^{-1} r, M^{-1})`` with ``r = y - D theta - sum_{i<l} Z_i u_i``.
    Returns a list of arrays (S, J_l, k_l).
    """
    S = theta.shape[0]
    L = len(ss.ks)
    # ancestors[l][i]: group of factor i containing each group of factor l (i < l)
    ancestors: list[dict[int, np.ndarray]] = [{}]
    for level in range(1, L):
        up = {level - 1: ss.parents[level]}
        for i, a in ancestors[level - 1].items():
            up[i] = a[ss.parents[level]]
        ancestors.append(up)
    out = [np.empty((S, ss.sizes[level], ss.ks[level])) for level in range(L)]
    for lo in range(0, S, chunk):
        sl = slice(lo, min(S, lo + chunk))
        sigma2 = sigma[sl] ** 2
        Q = ss.EtE[None] / sigma2[:, None, None, None]
        before: list = [None] * L
        sinvs: list = [None] * L
        for level in range(L - 1, -1, -1):
            sd, rho = hypers[level]
            sinv, logdet_sigma = sigma_inverse(sd[sl], None if rho is None else rho[sl], ss.ks[level], np)
            before[level], sinvs[level] = Q, sinv
            Q, _, _, _ = _woodbury(Q, sinv, logdet_sigma, ss.ks[level], np)
            if level:
                Q = _segment_sum(Q, ss.parents[level], ss.sizes[level - 1], np, axis=1)
        for level in range(L):
            k = ss.ks[level]
            Qb = before[level]
            sinv = [s[:, None] for s in sinvs[level]]
            B = Qb[..., :-k, -k:]  # (s, J, m', k)
            J = Qb.shape[1]
            pieces = [
                np.ones((len(sigma2), J, 1)),
                np.broadcast_to(-theta[sl][:, None, :], (len(sigma2), J, theta.shape[1])),
            ]
            for i in range(level):
                pieces.append(-out[i][sl][:, ancestors[level][i], :])
            v = np.concatenate(pieces, axis=-1)
            rhs = np.einsum("sjmk,sjm->sjk", B, v)
            eps = rng.standard_normal((len(sigma2), J, k))
            if k == 1:
                m11 = sinv[0] + Qb[..., -1, -1]
                out[level][sl] = (rhs[..., 0] / m11 + eps[..., 0] / np.sqrt(m11))[..., None]
                continue
            m11 = sinv[0] + Qb[..., -2, -2]
            m12 = sinv[1] + Qb[..., -2, -1]
            m22 = sinv[2] + Qb[..., -1, -1]
            u0, u1 = normal_2x2(m11, m12, m22, rhs[..., 0], rhs[..., 1], eps[..., 0], eps[..., 1])
            out[level][sl] = np.stack([u0, u1], axis=-1)
    return out
