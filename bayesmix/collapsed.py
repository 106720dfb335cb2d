"""Collapsed Gaussian sampling: integrate the group effects out, draw them back afterwards.

For a Gaussian model with one grouping factor of ``k <= 2`` varying
coefficients, ``y_j = D_j theta + Z_j u_j + e_j`` with ``u_j ~ N(0, Sigma)`` and
``e_j ~ N(0, sigma^2 I)``, the marginal likelihood of ``theta, Sigma, sigma`` is,
with ``b_j = Z_j' (y_j - D_j theta)`` and ``M_j = Sigma^{-1} + Z_j'Z_j / sigma^2``
(Woodbury and the matrix determinant lemma)::

    -2 log L = N log(2 pi sigma^2) + sum_j [log det Sigma + log det M_j]
               + (y - D theta)'(y - D theta) / sigma^2 - sum_j b_j' M_j^{-1} b_j / sigma^4

All of it comes from per-group sufficient statistics (``Z_j'Z_j``, ``Z_j'D_j``,
``Z_j'y_j``) and global ones (``D'D``, ``D'y``, ``y'y``), so a gradient costs
O(J k^2 p), not O(N).  The 2 x 2 determinants and inverses are written out,
which keeps the graph elementwise and quick to compile.  NUTS samples only the
population effects, SDs, correlation and sigma; for every posterior draw the
group effects are then drawn exactly from their conditional posterior
``u_j ~ N(M_j^{-1} b_j / sigma^2, M_j^{-1})``, so ``ranef()``, ``coef()`` and
everything built on them work unchanged.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from .design import Design, FactorDesign

__all__ = ["applies", "marginal_loglik", "draw_group_effects", "SuffStats"]


def applies(design: Design, family) -> tuple[bool, str]:
    """Whether the collapsed likelihood covers this model, and why not when it does not."""
    if family.name != "gaussian":
        return False, f"the {family.name} likelihood has no closed-form marginal"
    if len(design.factors) != 1:
        return False, f"{len(design.factors)} grouping factors (collapsing covers one)"
    f = design.factors[0]
    if len(f.coefs) > 2:
        return False, f"{len(f.coefs)} varying coefficients (collapsing covers up to 2)"
    if not design.terms:
        return False, "no population-level terms"
    return True, ""


class SuffStats:
    """Sufficient statistics of the design with centred population columns."""

    def __init__(self, design: Design, y: np.ndarray, xbar: np.ndarray | None, slope_idx):
        X = design.X
        if design.has_intercept:
            D = (
                np.column_stack([np.ones(len(y)), X[:, list(slope_idx)] - xbar])
                if slope_idx
                else np.ones((len(y), 1))
            )
        else:
            D = X
        if design.offset is not None:
            y = y - design.offset
        f = design.factors[0]
        J, k, p = f.n_levels, len(f.coefs), D.shape[1]
        Z = f.Z
        self.N = len(y)
        self.yty = float(y @ y)
        self.Dty = D.T @ y
        self.DtD = D.T @ D
        self.ZtZ = np.zeros((J, k, k))
        np.add.at(self.ZtZ, f.index, Z[:, :, None] * Z[:, None, :])
        self.ZtD = np.zeros((J, k, p))
        np.add.at(self.ZtD, f.index, Z[:, :, None] * D[:, None, :])
        self.Zty = np.zeros((J, k))
        np.add.at(self.Zty, f.index, Z * y[:, None])


def _theta(icpt, b_s, design: Design, xp):
    if design.has_intercept:
        parts = [xp.atleast_1d(icpt) if xp is pt else icpt[..., None]]
        if b_s is not None:
            parts.append(b_s)
        return xp.concatenate(parts, axis=-1)
    return b_s


def _precision(sd, rho, ss: SuffStats, sigma2, xp):
    """Entries of M_j = Sigma^{-1} + Z'Z / sigma^2 and log det Sigma (k = 1 or 2)."""
    k = ss.ZtZ.shape[1]
    if k == 1:
        a = sd[..., 0] ** 2
        m11 = 1.0 / a[..., None] + ss.ZtZ[:, 0, 0] / sigma2[..., None]
        return (m11,), xp.log(a)
    s1, s2 = sd[..., 0], sd[..., 1]
    one_m = 1.0 - rho**2
    det_sigma = (s1 * s2) ** 2 * one_m
    inv11 = 1.0 / (s1**2 * one_m)
    inv22 = 1.0 / (s2**2 * one_m)
    inv12 = -rho / (s1 * s2 * one_m)
    m11 = inv11[..., None] + ss.ZtZ[:, 0, 0] / sigma2[..., None]
    m22 = inv22[..., None] + ss.ZtZ[:, 1, 1] / sigma2[..., None]
    m12 = inv12[..., None] + ss.ZtZ[:, 0, 1] / sigma2[..., None]
    return (m11, m12, m22), xp.log(det_sigma)


def _b(theta, ss: SuffStats, xp):
    """b_j = Z_j'(y_j - D_j theta), shape (..., J, k)."""
    return ss.Zty - xp.sum(ss.ZtD * theta[..., None, None, :], axis=-1)


def marginal_loglik(icpt, b_s, sd, rho, sigma, design: Design, ss: SuffStats):
    """The collapsed log likelihood as a PyTensor scalar."""
    theta = _theta(icpt, b_s, design, pt)
    sigma2 = sigma**2
    ete = ss.yty - 2.0 * pt.dot(theta, ss.Dty) + pt.dot(theta, pt.dot(ss.DtD, theta))
    b = _b(theta, ss, pt)
    M, logdet_sigma = _precision(sd, rho, ss, sigma2, pt)
    if len(M) == 1:
        (m11,) = M
        logdet_m = pt.log(m11)
        quad = b[:, 0] ** 2 / m11
    else:
        m11, m12, m22 = M
        det_m = m11 * m22 - m12**2
        logdet_m = pt.log(det_m)
        quad = (m22 * b[:, 0] ** 2 - 2.0 * m12 * b[:, 0] * b[:, 1] + m11 * b[:, 1] ** 2) / det_m
    J = ss.ZtZ.shape[0]
    return -0.5 * (
        ss.N * pt.log(2.0 * np.pi * sigma2)
        + J * logdet_sigma
        + pt.sum(logdet_m)
        + ete / sigma2
        - pt.sum(quad) / sigma2**2
    )


def draw_group_effects(post, design: Design, built, ss: SuffStats, seed: int | None) -> np.ndarray:
    """Exact draws of the group effects from their conditional posterior, one per posterior draw.

    Returns an array ``(chain, draw, J, k)``.
    """
    from .build import INTERNAL_PREFIX, _assemble

    f: FactorDesign = design.factors[0]
    icpt = np.asarray(post[f"{INTERNAL_PREFIX}Intercept_c"]) if design.has_intercept else None
    b_s = (
        _assemble(post, f"{INTERNAL_PREFIX}b" if design.has_intercept else "b", built.parts)
        if (built.slope_idx or not design.has_intercept)
        else None
    )
    sd = _assemble(post, f"sd_{f.name}", built.parts)
    rho = None
    if len(f.coefs) == 2:
        rho = (
            2.0 * np.asarray(post[f"{INTERNAL_PREFIX}cpc_{f.name}"])[..., 0] - 1.0
            if f.cor_pairs()
            else np.zeros(sd.shape[:-1])
        )
    sigma2 = np.asarray(post["sigma"]) ** 2
    theta = _theta(icpt, b_s, design, np)
    b = _b(theta, ss, np)  # (C, D, J, k)
    M, _ = _precision(sd, rho, ss, sigma2, np)
    rng = np.random.default_rng(None if seed is None else [seed, 7919])
    eps = rng.standard_normal(b.shape)
    if len(M) == 1:
        (m11,) = M
        mean = b[..., 0] / m11 / sigma2[..., None]
        return (mean + eps[..., 0] / np.sqrt(m11))[..., None]
    m11, m12, m22 = M
    det_m = m11 * m22 - m12**2
    c11, c12, c22 = m22 / det_m, -m12 / det_m, m11 / det_m  # M^{-1}
    mean0 = (c11 * b[..., 0] + c12 * b[..., 1]) / sigma2[..., None]
    mean1 = (c12 * b[..., 0] + c22 * b[..., 1]) / sigma2[..., None]
    l11 = np.sqrt(c11)
    l21 = c12 / l11
    l22 = np.sqrt(np.maximum(c22 - l21**2, 0.0))
    return np.stack([mean0 + l11 * eps[..., 0], mean1 + l21 * eps[..., 0] + l22 * eps[..., 1]], axis=-1)
