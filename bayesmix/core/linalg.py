"""The covariance algebra of group effects, written once for both backends.

Every function takes ``xp``: ``pytensor.tensor`` when building the graph and
``numpy`` when expanding draws (arrays with leading ``(chain, draw)`` or ``(S,)``
axes), so the graph and the reported numbers cannot drift apart.

The LKJ(eta) prior on a correlation block of size ``m`` is placed on its canonical
partial correlations (CPCs): under LKJ the CPC in column ``j`` is
``2 * Beta(eta + (m - 2 - j) / 2, same) - 1``, independently (Lewandowski,
Kurowicka & Joe, 2009); ``L`` is filled from the CPCs row by row,
``L[i, j] = cpc[i, j] * sqrt(1 - sum_{m<j} L[i, m]^2)``.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

__all__ = [
    "cpc_beta_params",
    "cholesky_from_cpc",
    "covariance_matrix",
    "covariance_2x2",
    "correlations",
    "group_effects",
    "sigma_inverse",
    "normal_2x2",
]


def cpc_beta_params(correlated_blocks, eta: float) -> np.ndarray:
    """Beta parameter of each CPC under LKJ(``eta``), in the order of the factor's ``cor_pairs``."""
    out = []
    for block in correlated_blocks:
        m = len(block)
        for ii in range(1, m):
            for jj in range(ii):
                out.append(eta + (m - 2 - jj) / 2.0)
    return np.asarray(out, dtype=float)


def cholesky_from_cpc(cpc, factor, xp):
    """Block-diagonal Cholesky factor of a factor's correlation matrix.

    Parameters
    ----------
    cpc : tensor or ndarray, shape (..., n_pairs)
        The canonical partial correlations in ``factor.cor_pairs()`` order.
    factor : FactorDesign
        Read for its ``coefs`` and ``correlated_blocks``.
    xp : module
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    shape (..., k, k)
    """
    k = len(factor.coefs)
    one = xp.ones_like(cpc[..., 0])
    zero = xp.zeros_like(cpc[..., 0])
    L = [[one if i == j else zero for j in range(k)] for i in range(k)]
    pos = 0
    for block in factor.correlated_blocks:
        m = len(block)
        for ii in range(1, m):
            row = block[ii]
            used = zero
            for jj in range(ii):
                value = cpc[..., pos] * xp.sqrt(1.0 - used)
                L[row][block[jj]] = value
                used = used + value**2
                pos += 1
            L[row][row] = xp.sqrt(1.0 - used)
    return xp.stack([xp.stack(r, axis=-1) for r in L], axis=-2)


def covariance_matrix(sd, L, xp):
    """``Sigma = diag(sd) L L' diag(sd)`` (``L`` None: independent), shape ``(..., k, k)``."""
    if L is None:
        k = sd.shape[-1]
        return sd[..., :, None] ** 2 * xp.eye(k)
    sdL = sd[..., :, None] * L
    return sdL @ xp.swapaxes(sdL, -1, -2) if xp is np else pt.dot(sdL, sdL.T)


def covariance_2x2(sd, rho, k: int):
    """``Sigma`` (k x k, PyTensor, k = 1 or 2) in closed form: a smaller graph, quicker to compile."""
    if k == 1:
        return pt.reshape(sd[0] ** 2, (1, 1))
    s1, s2 = sd[0], sd[1]
    c = rho * s1 * s2
    return pt.stack([pt.stack([s1**2, c]), pt.stack([c, s2**2])])


def correlations(L, pairs, xp):
    """The correlations ``(L @ L.T)[i, j]`` for the index pairs, shape ``(..., n_pairs)``."""
    return xp.stack([(L[..., i, :] * L[..., j, :]).sum(axis=-1) for i, j in pairs], axis=-1)


def correlation_matrix(cor, pairs, k: int) -> np.ndarray:
    """The ``(..., k, k)`` correlation matrix with ``cor[..., p]`` at ``pairs[p]`` (numpy).

    ``cor`` may be None when there are no pairs (independent coefficients): the identity.
    """
    if not pairs:
        return np.eye(k)
    cor = np.asarray(cor, dtype=float)
    R = np.broadcast_to(np.eye(k), cor.shape[:-1] + (k, k)).copy()
    for p, (i, j) in enumerate(pairs):
        R[..., i, j] = R[..., j, i] = cor[..., p]
    return R


def group_effects(z, L, sd, xp):
    """Non-centred group effects ``(z @ L.T) * sd``; ``z`` is ``(..., J, k)``."""
    if L is None:
        return z * sd[..., None, :]
    return xp.matmul(z, xp.swapaxes(L, -1, -2)) * sd[..., None, :]


def sigma_inverse(sd, rho, k: int, xp):
    """Entries of ``Sigma^{-1}`` (``(s11,)`` or ``(s11, s12, s22)``) and ``log det Sigma``, k = 1 or 2.

    ``sd`` is ``(..., k)``, ``rho`` ``(...)`` (None or 0 for independent coefficients).
    """
    if k == 1:
        a = sd[..., 0] ** 2
        return (1.0 / a,), xp.log(a)
    s1, s2 = sd[..., 0], sd[..., 1]
    rho = 0.0 if rho is None else rho
    one_m = 1.0 - rho**2
    inv = (1.0 / (s1**2 * one_m), -rho / (s1 * s2 * one_m), 1.0 / (s2**2 * one_m))
    return inv, xp.log((s1 * s2) ** 2 * one_m)


def normal_2x2(m11, m12, m22, rhs0, rhs1, eps0, eps1, scale=1.0):
    """Draws of ``N(M^{-1} rhs / scale, M^{-1})`` for symmetric 2 x 2 precisions ``M``, elementwise.

    numpy only; ``eps0``, ``eps1`` are standard normal.  Returns the two components,
    each shaped like ``m11``.
    """
    det = m11 * m22 - m12**2
    c11, c12, c22 = m22 / det, -m12 / det, m11 / det
    mean0 = (c11 * rhs0 + c12 * rhs1) / scale
    mean1 = (c12 * rhs0 + c22 * rhs1) / scale
    l11 = np.sqrt(c11)
    l21 = c12 / l11
    l22 = np.sqrt(np.maximum(c22 - l21**2, 0.0))
    return mean0 + l11 * eps0, mean1 + l21 * eps0 + l22 * eps1
