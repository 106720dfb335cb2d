"""Collapsed Gaussian sampling: integrate the group effects out, draw them back afterwards.

For a Gaussian model with one grouping factor of ``k`` varying coefficients
(nested factors: :mod:`bayesmix.collapsed.nested`; crossed: :mod:`bayesmix.collapsed.crossed`), ``y_j = D_j theta + Z_j u_j + e_j`` with ``u_j ~ N(0, Sigma)`` and
``e_j ~ N(0, sigma^2 I)``, the marginal likelihood of ``theta, Sigma, sigma`` is,
with ``b_j = Z_j' (y_j - D_j theta)`` and ``M_j = Sigma^{-1} + Z_j'Z_j / sigma^2``
(Woodbury and the matrix determinant lemma)::

    -2 log L = N log(2 pi sigma^2) + sum_j [log det Sigma + log det M_j]
               + (y - D theta)'(y - D theta) / sigma^2 - sum_j b_j' M_j^{-1} b_j / sigma^4

All of it comes from per-group sufficient statistics (``Z_j'Z_j``, ``Z_j'D_j``,
``Z_j'y_j``) and global ones (``D'D``, ``D'y``, ``y'y``), so a gradient costs
O(J k^2 p), not O(N).  In the model graph it is one Op with its own gradient
(:mod:`bayesmix.collapsed.op`), which keeps the compile short; closed-form
2 x 2 algebra (batched linear algebra for k > 2) serves the exact draws of the group effects.  NUTS samples only the
population effects, SDs, correlation and sigma; for every posterior draw the
group effects are then drawn exactly from their conditional posterior
``u_j ~ N(M_j^{-1} b_j / sigma^2, M_j^{-1})``, so ``ranef()``, ``coef()`` and
everything built on them work unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytensor.tensor as pt

from bayesmix.collapsed.common import (
    Collapse,
    GraphParts,
    conditional_draws,
    theta_vector,
)
from bayesmix.collapsed.op import collapsed_loglik
from bayesmix.core import names
from bayesmix.core.draws import assemble
from bayesmix.core.linalg import (
    cholesky_from_cpc,
    covariance_2x2,
    covariance_matrix,
    normal_2x2,
    sigma_inverse,
)
from bayesmix.core.slots import data_slot
from bayesmix.core.suffstats import group_crossprod, group_sum, population_columns
from bayesmix.spec.design import Design, FactorDesign

__all__ = ["SuffStats", "marginal_loglik", "draw_group_effects"]


class SuffStats(Collapse):
    """Sufficient statistics of the design with centred population columns (one factor)."""

    strategy = "one_factor"

    def __init__(self, design: Design, y: np.ndarray, xbar: np.ndarray | None, slope_idx):
        D = population_columns(design.X, design.has_intercept, xbar, slope_idx)
        if design.offset is not None:
            y = y - design.offset
        f = design.factors[0]
        J, Z = f.n_levels, f.Z
        self.N = len(y)
        self.yty = float(y @ y)
        self.Dty = D.T @ y
        self.DtD = D.T @ D
        self.ZtZ = group_crossprod(f.index, Z, Z, J)
        self.ZtD = group_crossprod(f.index, Z, D, J)
        self.Zty = group_sum(f.index, Z * y[:, None], J)
        self.factors = (f.name,)
        self.has_intercept = design.has_intercept

    def add_loglik(self, g: GraphParts):
        sd, rho, L = g.hypers[0]
        k = self.ZtZ.shape[1]
        # k <= 2: closed-form entries (a smaller graph, quicker to compile); else sd L L' sd
        Sigma = covariance_2x2(sd, rho, k) if k <= 2 else covariance_matrix(sd, L, pt)
        theta = theta_vector(g.icpt, g.slopes, self.has_intercept, pt)
        return collapsed_loglik(theta, Sigma, g.sigma, self.as_graph_inputs())

    def draw_effects(self, post, out, design, parts, slope_idx, rng):
        return {self.factors[0]: draw_group_effects(post, design, parts, slope_idx, self, rng)}

    def as_graph_inputs(self) -> SimpleNamespace:
        """The statistics as named graph inputs (so the compiled function does not depend on them)."""
        out = SimpleNamespace()
        for name in ("N", "yty", "Dty", "DtD", "ZtZ", "ZtD", "Zty"):
            setattr(out, name, data_slot(f"collapsed.{name}", getattr(self, name)))
        out.J, out.k = self.ZtZ.shape[:2]
        return out


def _precision(sd, rho, ss: SuffStats, sigma2, xp):
    """Entries of M_j = Sigma^{-1} + Z'Z / sigma^2 and log det Sigma (k = 1 or 2)."""
    k = ss.ZtZ.shape[1]
    inv, logdet = sigma_inverse(sd, rho, k, xp)
    if k == 1:
        return (inv[0][..., None] + ss.ZtZ[:, 0, 0] / sigma2[..., None],), logdet
    m11 = inv[0][..., None] + ss.ZtZ[:, 0, 0] / sigma2[..., None]
    m22 = inv[2][..., None] + ss.ZtZ[:, 1, 1] / sigma2[..., None]
    m12 = inv[1][..., None] + ss.ZtZ[:, 0, 1] / sigma2[..., None]
    return (m11, m12, m22), logdet


def _b(theta, ss: SuffStats, xp):
    """b_j = Z_j'(y_j - D_j theta), shape (..., J, k)."""
    return ss.Zty - xp.sum(ss.ZtD * theta[..., None, None, :], axis=-1)


def marginal_loglik(icpt, b_s, Sigma, sigma, design: Design, ss: SuffStats):
    """The collapsed log likelihood as a PyTensor scalar (``ss`` from :meth:`SuffStats.as_graph_inputs`).

    One Op with its own gradient (:mod:`bayesmix.collapsed.op`) computes it, for any
    number of coefficients; ``Sigma`` is their covariance (k x k).
    """
    theta = theta_vector(icpt, b_s, design.has_intercept, pt)
    return collapsed_loglik(theta, Sigma, sigma, ss)


def draw_group_effects(
    post,
    design: Design,
    parts: dict,
    slope_idx,
    ss: SuffStats,
    rng: np.random.Generator,
    budget: int = 4_000_000,
) -> np.ndarray:
    """Exact draws of the group effects from their conditional posterior, one per posterior draw.

    Returns an array ``(chain, draw, J, k)``.
    """
    f: FactorDesign = design.factors[0]
    icpt = np.asarray(post[names.INTERCEPT_C]) if design.has_intercept else None
    b_s = (
        assemble(post, names.SLOPES if design.has_intercept else names.B, parts)
        if (slope_idx or not design.has_intercept)
        else None
    )
    sd = assemble(post, names.sd_var(f.name), parts)
    theta = theta_vector(icpt, b_s, design.has_intercept, np)
    if len(f.coefs) > 2:
        return _draw_any_k(post, f, sd, theta, ss, rng)
    rho = None
    if len(f.coefs) == 2:
        rho = (
            2.0 * np.asarray(post[names.cpc_var(f.name)])[..., 0] - 1.0
            if f.cor_pairs()
            else np.zeros(sd.shape[:-1])
        )
    sigma2 = np.asarray(post[names.SIGMA]) ** 2
    shape, S = sigma2.shape, sigma2.size
    J, k = ss.ZtZ.shape[:2]
    theta, sd, sigma2 = theta.reshape(S, -1), sd.reshape(S, -1), sigma2.reshape(S)
    rho = None if rho is None else rho.reshape(S)
    out = np.empty((S, J, k))
    step = max(1, budget // (J * k))  # draws per chunk: bounded memory for many groups
    for start in range(0, S, step):
        sl = slice(start, min(S, start + step))
        out[sl] = _closed_form_draws(theta[sl], sd[sl], None if rho is None else rho[sl], sigma2[sl], ss, rng)
    return out.reshape(shape + (J, k))


def _closed_form_draws(theta, sd, rho, sigma2, ss: SuffStats, rng) -> np.ndarray:
    """Conditional draws for ``s`` posterior draws at once, k = 1 or 2: ``(s, J, k)``."""
    b = _b(theta, ss, np)  # (s, J, k)
    M, _ = _precision(sd, rho, ss, sigma2, np)
    eps = rng.standard_normal(b.shape)
    if len(M) == 1:
        (m11,) = M
        mean = b[..., 0] / m11 / sigma2[..., None]
        return (mean + eps[..., 0] / np.sqrt(m11))[..., None]
    m11, m12, m22 = M
    u0, u1 = normal_2x2(m11, m12, m22, b[..., 0], b[..., 1], eps[..., 0], eps[..., 1], sigma2[..., None])
    return np.stack([u0, u1], axis=-1)


def _draw_any_k(post, f: FactorDesign, sd, theta, ss: SuffStats, rng) -> np.ndarray:
    """:func:`draw_group_effects` for more than two coefficients (batched linear algebra)."""
    shape = sd.shape[:-1]
    S = int(np.prod(shape))
    L = None
    if f.cor_pairs():
        L = cholesky_from_cpc(2.0 * np.asarray(post[names.cpc_var(f.name)]) - 1.0, f, np)
        L = L.reshape(S, *L.shape[-2:])
    Sigma = covariance_matrix(sd.reshape(S, -1), L, np)
    theta = theta.reshape(S, -1)
    sigma = np.asarray(post[names.SIGMA]).reshape(S)
    draws = conditional_draws(Sigma, sigma, ss.ZtZ, lambda sl: _b(theta[sl], ss, np), rng)
    return draws.reshape(shape + draws.shape[1:])


# ------------------------------------------------------------------------------- nested factors
#
# For a chain of nested factors F_1 (coarsest) > ... > F_L (finest), each with k <= 2
# coefficients, stack E = [y, D, Z_1, ..., Z_L] (m columns).  Per group c of the finest
# factor, Q_c = E_c' V_c^{-1} E_c with V_c = sigma^2 I starts as E_c'E_c / sigma^2 and
# log det V_c = n_c log sigma^2.  Integrating out factor l (its Z columns are the last k
# columns of Q) is one Woodbury step per group,
#
#     M = Sigma_l^{-1} + Q[z, z],   Q <- Q[r, r] - Q[r, z] M^{-1} Q[z, r],
#     log det V <- log det V + log det Sigma_l + log det M,
#
# after which the groups of factor l are summed into their parent groups of factor l - 1
# (rows of different groups are independent once the coarser effects are fixed).  After
# the coarsest factor, with v = (1, -theta), the log likelihood is
# -(N log 2 pi + log det V + v' Q v) / 2.  theta enters only there; the cost per gradient
# is O(sum_l J_l m^2), whatever the number of rows.
