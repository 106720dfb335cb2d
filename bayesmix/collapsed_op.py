"""The one-factor collapsed log likelihood as a single PyTensor Op with its own gradient.

Written as an elementwise PyTensor graph (:func:`bayesmix.collapsed.marginal_loglik`)
the collapsed density and its automatic gradient become a few large fused kernels
whose LLVM compile dominates a cold start (about a minute on two cores).  This Op
computes the value and the gradient in one pass over the groups, in a short numba
function that is compiled once per machine and cached like PyTensor's own kernels.

The gradient uses Fisher's identity: the score of the marginal likelihood is the
conditional expectation of the complete-data score given ``y``.  With
``M_j = Sigma^{-1} + Z_j'Z_j / sigma^2``, ``C_j = M_j^{-1}``, ``b_j = Z_j'(y_j - D_j theta)``
and the conditional mean of the group effects ``m_j = C_j b_j / sigma^2``::

    d/d theta   = (D'y - D'D theta - sum_j (Z_j'D_j)' m_j) / sigma^2
    d/d sigma^2 = -N / (2 sigma^2) + E||y - D theta - Z u||^2 / (2 sigma^4),
                  E||.||^2 = e'e - 2 sum_j m_j'b_j + sum_j [m_j'Z_j'Z_j m_j + tr(Z_j'Z_j C_j)]
    d/d Sigma   = (Sigma^{-1} S Sigma^{-1} - J Sigma^{-1}) / 2,  S = sum_j (m_j m_j' + C_j)

so the cost per evaluation is O(J k^2 (k + p)) for any number of rows, and any ``k``.
``Sigma`` enters as a matrix; PyTensor carries its gradient back to the SDs and the
correlation.  :func:`loglik_and_grad_np` is the same computation in vectorised numpy (the
Op's Python implementation, and an independent check in the tests).
"""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["CollapsedLoglik", "collapsed_loglik", "loglik_and_grad_np"]

_CACHE_VERSION = 1
_PARAMS = 3  # theta, Sigma, sigma come first; the rest are data
_DATA = ("N", "yty", "Dty", "DtD", "ZtZ", "ZtD", "Zty")


def loglik_and_grad_np(theta, Sigma, sigma, N, yty, Dty, DtD, ZtZ, ZtD, Zty):
    """Log likelihood and its gradient wrt ``theta``, ``Sigma`` and ``sigma`` (numpy)."""
    s2 = sigma * sigma
    J = ZtZ.shape[0]
    try:
        Ls = np.linalg.cholesky(Sigma)
        M = np.linalg.inv(Sigma) + ZtZ / s2
        Lm = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return -np.inf, np.zeros_like(theta), np.zeros_like(Sigma), 0.0
    Sinv = np.linalg.inv(Sigma)
    C = np.linalg.inv(M)
    b = Zty - ZtD @ theta
    m = np.einsum("jab,jb->ja", C, b) / s2
    ete = yty - 2.0 * theta @ Dty + theta @ DtD @ theta
    logdet_sigma = 2.0 * np.log(np.diag(Ls)).sum()
    logdet_m = 2.0 * np.log(np.diagonal(Lm, axis1=1, axis2=2)).sum()
    mb = np.sum(m * b)
    ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + J * logdet_sigma + logdet_m + ete / s2 - mb / s2)
    g_theta = (Dty - DtD @ theta - np.einsum("jkp,jk->p", ZtD, m)) / s2
    resid = ete - 2.0 * mb + np.einsum("ja,jab,jb->", m, ZtZ, m) + np.einsum("jab,jba->", ZtZ, C)
    g_s2 = -0.5 * N / s2 + 0.5 * resid / (s2 * s2)
    S = np.einsum("ja,jb->ab", m, m) + C.sum(axis=0)
    g_Sigma = 0.5 * (Sinv @ S @ Sinv - J * Sinv)
    return float(ll), g_theta, g_Sigma, float(2.0 * sigma * g_s2)


class CollapsedLoglik(Op):
    """``(theta, Sigma, sigma, *statistics) -> (loglik, d theta, d Sigma, d sigma)``.

    Only the first output belongs in a model's graph; the others are what
    :meth:`grad` returns, so a value-and-gradient function evaluates the Op once.
    """

    __props__ = ()

    def make_node(self, theta, Sigma, sigma, *data):
        if len(data) != len(_DATA):
            raise TypeError(f"CollapsedLoglik takes {_PARAMS + len(_DATA)} inputs")
        theta = pt.as_tensor_variable(theta, dtype="float64")
        Sigma = pt.as_tensor_variable(Sigma, dtype="float64")
        sigma = pt.as_tensor_variable(sigma, dtype="float64")
        data = [pt.as_tensor_variable(d, dtype="float64") for d in data]
        ranks = (1, 2, 0, 0, 0, 1, 2, 3, 3, 2)
        for name, var, rank in zip(
            ("theta", "Sigma", "sigma", *_DATA), (theta, Sigma, sigma, *data), ranks, strict=True
        ):
            if var.ndim != rank:
                raise TypeError(f"CollapsedLoglik: {name} must have {rank} dimensions, not {var.ndim}")
        outputs = [pt.dscalar(), theta.type(), Sigma.type(), pt.dscalar()]
        return Apply(self, [theta, Sigma, sigma, *data], outputs)

    def perform(self, node, inputs, output_storage):
        ll, g_theta, g_Sigma, g_sigma = loglik_and_grad_np(*[np.asarray(x) for x in inputs])
        output_storage[0][0] = np.asarray(ll, dtype="float64")
        output_storage[1][0] = np.asarray(g_theta, dtype="float64")
        output_storage[2][0] = np.asarray(g_Sigma, dtype="float64")
        output_storage[3][0] = np.asarray(g_sigma, dtype="float64")

    def pullback(self, inputs, outputs, cotangents):
        # The gradient outputs of this very node: one evaluation gives value and gradient.
        g = cotangents[0]
        _, g_theta, g_Sigma, g_sigma = outputs
        data_grads = [grad_not_implemented(self, i, x) for i, x in enumerate(inputs) if i >= _PARAMS]
        return [g * g_theta, g * g_Sigma, g * g_sigma, *data_grads]

    def infer_shape(self, fgraph, node, shapes):
        return [(), shapes[0], shapes[1], ()]


def collapsed_loglik(theta, Sigma, sigma, stats) -> pt.TensorVariable:
    """The collapsed log likelihood (a scalar) for ``stats`` from ``SuffStats.as_graph_inputs``."""
    return CollapsedLoglik()(theta, Sigma, sigma, *[getattr(stats, n) for n in _DATA])[0]


# ----------------------------------------------------------------------------------- numba


@functools.cache
def _kernel():
    """The numba implementation (built on first use, so importing bayesmix does not need numba)."""
    from pytensor.link.numba.dispatch.basic import numba_njit

    @numba_njit
    def chol(A, L):
        k = A.shape[0]
        for i in range(k):
            for j in range(i + 1):
                s = A[i, j]
                for q in range(j):
                    s -= L[i, q] * L[j, q]
                if i == j:
                    if s <= 0.0:
                        return False
                    L[i, i] = np.sqrt(s)
                else:
                    L[i, j] = s / L[j, j]
        return True

    @numba_njit
    def chol_inverse(L, out):
        # out = (L L')^{-1}, through W = L^{-1} (lower triangular)
        k = L.shape[0]
        W = np.zeros((k, k))
        for i in range(k):
            W[i, i] = 1.0 / L[i, i]
            for j in range(i):
                s = 0.0
                for q in range(j, i):
                    s -= L[i, q] * W[q, j]
                W[i, j] = s / L[i, i]
        for i in range(k):
            for j in range(k):
                s = 0.0
                for q in range(max(i, j), k):
                    s += W[q, i] * W[q, j]
                out[i, j] = s

    @numba_njit
    def collapsed_loglik_kernel(theta, Sigma, sigma_, N_, yty_, Dty, DtD, ZtZ, ZtD, Zty):
        # PyTensor hands scalars over as 0-d arrays
        sigma, N, yty = sigma_.item(), N_.item(), yty_.item()
        J, k, p = ZtD.shape
        s2 = sigma * sigma
        g_theta = np.zeros(p)
        g_Sigma = np.zeros((k, k))
        Ls = np.zeros((k, k))
        if not (s2 > 0.0) or not chol(Sigma, Ls):
            return (np.array(-np.inf), g_theta, g_Sigma, np.array(0.0))
        Sinv = np.zeros((k, k))
        chol_inverse(Ls, Sinv)
        logdet_sigma = 0.0
        for a in range(k):
            logdet_sigma += 2.0 * np.log(Ls[a, a])
        ete = yty
        for a in range(p):
            ete -= 2.0 * theta[a] * Dty[a]
            for c in range(p):
                ete += theta[a] * DtD[a, c] * theta[c]
        M = np.zeros((k, k))
        Lm = np.zeros((k, k))
        C = np.zeros((k, k))
        b = np.zeros(k)
        m = np.zeros(k)
        S = np.zeros((k, k))
        zd_m = np.zeros(p)
        logdet_m = 0.0
        mb = 0.0
        extra = 0.0  # sum_j m'Z'Z m + tr(Z'Z C)
        for j in range(J):
            for a in range(k):
                s = Zty[j, a]
                for c in range(p):
                    s -= ZtD[j, a, c] * theta[c]
                b[a] = s
                for c in range(k):
                    M[a, c] = Sinv[a, c] + ZtZ[j, a, c] / s2
            if not chol(M, Lm):
                return (np.array(-np.inf), g_theta, g_Sigma, np.array(0.0))
            chol_inverse(Lm, C)
            for a in range(k):
                logdet_m += 2.0 * np.log(Lm[a, a])
                s = 0.0
                for c in range(k):
                    s += C[a, c] * b[c]
                m[a] = s / s2
            for a in range(k):
                mb += m[a] * b[a]
                for c in range(p):
                    zd_m[c] += ZtD[j, a, c] * m[a]
                for c in range(k):
                    extra += m[a] * ZtZ[j, a, c] * m[c] + ZtZ[j, a, c] * C[c, a]
                    S[a, c] += m[a] * m[c] + C[a, c]
        ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + J * logdet_sigma + logdet_m + ete / s2 - mb / s2)
        for a in range(p):
            s = Dty[a] - zd_m[a]
            for c in range(p):
                s -= DtD[a, c] * theta[c]
            g_theta[a] = s / s2
        g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
        for a in range(k):
            for c in range(k):
                t = 0.0
                for q in range(k):
                    for r in range(k):
                        t += Sinv[a, q] * S[q, r] * Sinv[r, c]
                g_Sigma[a, c] = 0.5 * (t - J * Sinv[a, c])
        return (np.array(ll), g_theta, g_Sigma, np.array(2.0 * sigma * g_s2))

    return collapsed_loglik_kernel


def _register_numba() -> None:
    try:
        from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key
    except ImportError:  # pragma: no cover - PyTensor without numba
        return

    @register_funcify_default_op_cache_key(CollapsedLoglik)
    def _funcify(op, node=None, **kwargs):
        return _kernel(), _CACHE_VERSION


_register_numba()
