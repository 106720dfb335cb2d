"""Collapsed log likelihoods of one factor as PyTensor Ops with their own gradients.

:class:`CollapsedLoglik` works on sufficient statistics (one factor alone: O(J) per
evaluation); :class:`CollapsedRowsLoglik` on the rows, given a per-row mean that holds
the other, crossed, factors' effects (O(N)); both share the per-group pass below.

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

__all__ = [
    "CollapsedLoglik",
    "CollapsedRowsLoglik",
    "collapsed_loglik",
    "collapsed_rows_loglik",
    "loglik_and_grad_np",
    "rows_loglik_and_grad_np",
]

_DATA = ("N", "yty", "Dty", "DtD", "ZtZ", "ZtD", "Zty")


def _groups_np(Sigma, s2, ZtZ, b):
    """The per-group pass shared by both likelihoods (numpy); None if not positive definite."""
    J = ZtZ.shape[0]
    try:
        Ls = np.linalg.cholesky(Sigma)
        Sinv = np.linalg.inv(Sigma)
        M = Sinv + ZtZ / s2
        Lm = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return None
    C = np.linalg.inv(M)
    m = np.einsum("jab,jb->ja", C, b) / s2
    logdet = J * 2.0 * np.log(np.diag(Ls)).sum() + 2.0 * np.log(np.diagonal(Lm, axis1=1, axis2=2)).sum()
    mb = np.sum(m * b)
    extra = np.einsum("ja,jab,jb->", m, ZtZ, m) + np.einsum("jab,jba->", ZtZ, C)
    S = np.einsum("ja,jb->ab", m, m) + C.sum(axis=0)
    g_Sigma = 0.5 * (Sinv @ S @ Sinv - J * Sinv)
    return m, logdet, mb, extra, g_Sigma


def _finish(N, s2, sigma, ete, logdet, mb, extra):
    ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + logdet + ete / s2 - mb / s2)
    g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
    return ll, 2.0 * sigma * g_s2


def loglik_and_grad_np(theta, Sigma, sigma, N, yty, Dty, DtD, ZtZ, ZtD, Zty):
    """Log likelihood and its gradient wrt ``theta``, ``Sigma`` and ``sigma`` (numpy)."""
    s2 = sigma * sigma
    b = Zty - ZtD @ theta
    g = _groups_np(Sigma, s2, ZtZ, b)
    if g is None:
        return -np.inf, np.zeros_like(theta), np.zeros_like(Sigma), 0.0
    m, logdet, mb, extra, g_Sigma = g
    ete = yty - 2.0 * theta @ Dty + theta @ DtD @ theta
    ll, g_sigma = _finish(N, s2, sigma, ete, logdet, mb, extra)
    g_theta = (Dty - DtD @ theta - np.einsum("jkp,jk->p", ZtD, m)) / s2
    return float(ll), g_theta, g_Sigma, float(g_sigma)


def rows_loglik_and_grad_np(eta, u, Sigma, sigma, y, Z, index, ZtZ, others_index, others_Z):
    """Log likelihood of ``y ~ N(mu + Z v, sigma^2)``, ``v_j ~ N(0, Sigma)`` integrated out, with
    the per-row mean ``mu = eta + sum_q others_Z[q] * u[others_index[q]]``, and its gradient wrt
    ``eta``, ``u``, ``Sigma`` and ``sigma`` (numpy).  Zero-width ``Z``/``others_Z``: unit weights
    (see :class:`CollapsedRowsLoglik`)."""
    s2 = sigma * sigma
    J, k = ZtZ.shape[:2]
    if Z.shape[1] == 0:
        Z = np.ones((len(y), k))
    if others_Z.shape[1] == 0:
        others_Z = np.ones(others_index.shape)
    r = y - eta - np.sum(others_Z * u[others_index], axis=0)
    b = np.zeros((J, k))
    np.add.at(b, index, Z * r[:, None])
    g = _groups_np(Sigma, s2, ZtZ, b)
    if g is None:
        return -np.inf, np.zeros_like(eta), np.zeros_like(u), np.zeros_like(Sigma), 0.0
    m, logdet, mb, extra, g_Sigma = g
    ll, g_sigma = _finish(len(y), s2, sigma, float(r @ r), logdet, mb, extra)
    g_eta = (r - np.sum(Z * m[index], axis=1)) / s2
    g_u = np.zeros_like(u)
    np.add.at(g_u, others_index.ravel(), (others_Z * g_eta).ravel())
    return float(ll), g_eta, g_u, g_Sigma, float(g_sigma)


class _LoglikOp(Op):
    """``(*params, *data) -> (loglik, d param_1, ..., d param_n)``.

    Only the first output belongs in a model's graph; the others are what
    :meth:`pullback` returns, so a value-and-gradient function evaluates the Op once.
    """

    __props__ = ()
    param_names: tuple[str, ...] = ()
    param_ranks: tuple[int, ...] = ()
    data_names: tuple[str, ...] = ()
    data_ranks: tuple[int, ...] = ()
    #: data inputs holding integer indices
    int_data: tuple[str, ...] = ()
    numpy_impl = None

    def make_node(self, *inputs):
        name = type(self).__name__
        names = (*self.param_names, *self.data_names)
        if len(inputs) != len(names):
            raise TypeError(f"{name} takes {len(names)} inputs ({', '.join(names)})")
        ranks = (*self.param_ranks, *self.data_ranks)
        inputs = [
            pt.as_tensor_variable(x, dtype="int64" if n in self.int_data else "float64")
            for n, x in zip(names, inputs, strict=True)
        ]
        for n, var, rank in zip(names, inputs, ranks, strict=True):
            if var.ndim != rank:
                raise TypeError(f"{name}: {n} must have {rank} dimensions, not {var.ndim}")
        params = inputs[: len(self.param_names)]
        return Apply(self, inputs, [pt.dscalar(), *[p.type() for p in params]])

    def perform(self, node, inputs, output_storage):
        results = type(self).numpy_impl(*[np.asarray(x) for x in inputs])
        for store, value in zip(output_storage, results, strict=True):
            store[0] = np.asarray(value, dtype="float64")

    def pullback(self, inputs, outputs, cotangents):
        # The gradient outputs of this very node: one evaluation gives value and gradient.
        g = cotangents[0]
        n = len(self.param_names)
        data_grads = [grad_not_implemented(self, i, x) for i, x in enumerate(inputs) if i >= n]
        return [g * d for d in outputs[1:]] + data_grads

    def infer_shape(self, fgraph, node, shapes):
        return [(), *shapes[: len(self.param_names)]]


class CollapsedLoglik(_LoglikOp):
    """One factor integrated out, from sufficient statistics: inputs ``theta, Sigma, sigma, N,
    yty, Dty, DtD, ZtZ, ZtD, Zty``."""

    param_names = ("theta", "Sigma", "sigma")
    param_ranks = (1, 2, 0)
    data_names = _DATA
    data_ranks = (0, 0, 1, 2, 3, 3, 2)
    numpy_impl = staticmethod(loglik_and_grad_np)


class CollapsedRowsLoglik(_LoglikOp):
    """One factor integrated out given the other, crossed, factors' effects: inputs ``eta, u,
    Sigma, sigma, y, Z, index, ZtZ, others_index, others_Z``.

    The per-row mean is ``eta + sum_q others_Z[q] * u[others_index[q]]``: ``eta`` holds the
    population part, ``u`` the other factors' effects flattened, and each of the ``Q`` rows of
    ``others_index``/``others_Z`` (shape ``(Q, N)``) one of their varying coefficients.
    Gathering and scattering them here rather than in the graph saves a pass over the rows
    per coefficient.  O(N (k + Q) + J k^3) per evaluation.

    Unit weights, the common case of intercept-only factors, are passed as zero-width arrays
    (``Z`` of shape ``(N, 0)`` for a collapsed factor with one coefficient equal to 1 on every
    row, ``others_Z`` of shape ``(Q, 0)`` when every weight is 1): the kernel then reads neither,
    a third fewer bytes per pass over the rows (InstEval: 0.46 -> 0.30 ms per evaluation).
    """

    param_names = ("eta", "u", "Sigma", "sigma")
    param_ranks = (1, 1, 2, 0)
    data_names = ("y", "Z", "index", "ZtZ", "others_index", "others_Z")
    data_ranks = (1, 2, 1, 3, 2, 2)
    int_data = ("index", "others_index")
    numpy_impl = staticmethod(rows_loglik_and_grad_np)


def collapsed_loglik(theta, Sigma, sigma, stats) -> pt.TensorVariable:
    """The collapsed log likelihood (a scalar) for ``stats`` from ``SuffStats.as_graph_inputs``."""
    return CollapsedLoglik()(theta, Sigma, sigma, *[getattr(stats, n) for n in _DATA])[0]


def collapsed_rows_loglik(eta, u, Sigma, sigma, y, Z, index, ZtZ, others_index, others_Z):
    """The log likelihood with one factor integrated out given the others' effects ``u``."""
    return CollapsedRowsLoglik()(eta, u, Sigma, sigma, y, Z, index, ZtZ, others_index, others_Z)[0]


# ----------------------------------------------------------------------------------- numba


# No fast-math in the kernels, whatever PyTensor's config says: with any of its flags (reassociation
# alone included) a process that compiled a kernel and one that loaded it from numba's disk cache
# drew different last bits for the same seed (the kernels measured as fast without it).
_FASTMATH = False


@functools.cache
def _kernels():
    """The numba implementations (built on first use, so importing bayesmix does not need numba)."""
    from pytensor.link.numba.dispatch.basic import numba_njit

    @numba_njit(fastmath=_FASTMATH)
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

    @numba_njit(fastmath=_FASTMATH)
    def chol_inverse(L, out, W):
        # out = (L L')^{-1}, through W = L^{-1} (lower triangular; W is a work buffer)
        k = L.shape[0]
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

    @numba_njit(fastmath=_FASTMATH)
    def groups(Sigma, s2, ZtZ, B, Mm, g_Sigma):
        # Fills Mm (conditional means) and g_Sigma; returns (ok, log dets, sum m'b, extra).
        J, k = B.shape
        Ls = np.zeros((k, k))
        if not (s2 > 0.0) or not chol(Sigma, Ls):
            return False, 0.0, 0.0, 0.0
        Sinv = np.zeros((k, k))
        W = np.zeros((k, k))
        chol_inverse(Ls, Sinv, W)
        logdet = 0.0
        for a in range(k):
            logdet += 2.0 * J * np.log(Ls[a, a])
        M = np.zeros((k, k))
        Lm = np.zeros((k, k))
        C = np.zeros((k, k))
        S = np.zeros((k, k))
        mb = 0.0
        extra = 0.0  # sum_j m'Z'Z m + tr(Z'Z C)
        for j in range(J):
            for a in range(k):
                for c in range(k):
                    M[a, c] = Sinv[a, c] + ZtZ[j, a, c] / s2
            if not chol(M, Lm):
                return False, 0.0, 0.0, 0.0
            chol_inverse(Lm, C, W)
            for a in range(k):
                logdet += 2.0 * np.log(Lm[a, a])
                s = 0.0
                for c in range(k):
                    s += C[a, c] * B[j, c]
                Mm[j, a] = s / s2
            for a in range(k):
                mb += Mm[j, a] * B[j, a]
                for c in range(k):
                    extra += Mm[j, a] * ZtZ[j, a, c] * Mm[j, c] + ZtZ[j, a, c] * C[c, a]
                    S[a, c] += Mm[j, a] * Mm[j, c] + C[a, c]
        for a in range(k):
            for c in range(k):
                t = 0.0
                for q in range(k):
                    for r in range(k):
                        t += Sinv[a, q] * S[q, r] * Sinv[r, c]
                g_Sigma[a, c] = 0.5 * (t - J * Sinv[a, c])
        return True, logdet, mb, extra

    @numba_njit(fastmath=_FASTMATH)
    def collapsed_loglik_kernel(theta, Sigma, sigma_, N_, yty_, Dty, DtD, ZtZ, ZtD, Zty):
        # PyTensor hands scalars over as 0-d arrays
        sigma, N, yty = sigma_.item(), N_.item(), yty_.item()
        J, k, p = ZtD.shape
        s2 = sigma * sigma
        g_theta = np.zeros(p)
        g_Sigma = np.zeros((k, k))
        B = np.zeros((J, k))
        for j in range(J):
            for a in range(k):
                s = Zty[j, a]
                for c in range(p):
                    s -= ZtD[j, a, c] * theta[c]
                B[j, a] = s
        Mm = np.zeros((J, k))
        ok, logdet, mb, extra = groups(Sigma, s2, ZtZ, B, Mm, g_Sigma)
        if not ok:
            return (np.array(-np.inf), g_theta, g_Sigma, np.array(0.0))
        ete = yty
        for a in range(p):
            ete -= 2.0 * theta[a] * Dty[a]
            for c in range(p):
                ete += theta[a] * DtD[a, c] * theta[c]
        ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + logdet + ete / s2 - mb / s2)
        g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
        for c in range(p):
            s = Dty[c]
            for q in range(p):
                s -= DtD[c, q] * theta[q]
            for j in range(J):
                for a in range(k):
                    s -= ZtD[j, a, c] * Mm[j, a]
            g_theta[c] = s / s2
        return (np.array(ll), g_theta, g_Sigma, np.array(2.0 * sigma * g_s2))

    # Sums over rows go to 4 interleaved copies (lane = row & 3): with rows sorted by group, adding
    # into one slot row after row waits on the previous add; 4 lanes break that chain.
    # (Measured on InstEval's 73,421 rows: 0.25 -> 0.12 ms for two factors' scatter.)

    @numba_njit(fastmath=_FASTMATH)
    def collapsed_rows_kernel(eta, u, Sigma, sigma_, y, Z, index, ZtZ, others_index, others_Z):
        # Each loop over the rows comes in two versions: unit weights (zero-width Z/others_Z)
        # or weights read from the arrays; the passes stay separate (fusing them measured slower).
        sigma = sigma_.item()
        N = y.shape[0]
        Q = others_index.shape[0]
        J, k = ZtZ.shape[0], ZtZ.shape[1]
        unit_Z = Z.shape[1] == 0
        unit_others = others_Z.shape[1] == 0
        s2 = sigma * sigma
        g_eta = np.empty(N)
        g_u = np.zeros(u.shape[0])
        g_Sigma = np.zeros((k, k))
        for i in range(N):
            g_eta[i] = y[i] - eta[i]
        for q in range(Q):
            ix = others_index[q]
            if unit_others:
                for i in range(N):
                    g_eta[i] -= u[ix[i]]
            else:
                w = others_Z[q]
                for i in range(N):
                    g_eta[i] -= w[i] * u[ix[i]]
        acc = np.zeros((4, J, k))
        ete_lanes = np.zeros(4)
        if unit_Z:
            for i in range(N):
                r = g_eta[i]
                lane = i & 3
                ete_lanes[lane] += r * r
                acc[lane, index[i], 0] += r
        else:
            for i in range(N):
                r = g_eta[i]
                lane = i & 3
                ete_lanes[lane] += r * r
                for a in range(k):
                    acc[lane, index[i], a] += Z[i, a] * r
        ete = (ete_lanes[0] + ete_lanes[1]) + (ete_lanes[2] + ete_lanes[3])
        B = np.empty((J, k))
        for j in range(J):
            for a in range(k):
                B[j, a] = acc[0, j, a] + acc[1, j, a] + acc[2, j, a] + acc[3, j, a]
        Mm = np.zeros((J, k))
        ok, logdet, mb, extra = groups(Sigma, s2, ZtZ, B, Mm, g_Sigma)
        if not ok:
            return (np.array(-np.inf), np.zeros(N), g_u, g_Sigma, np.array(0.0))
        ll = -0.5 * (N * np.log(2.0 * np.pi * s2) + logdet + ete / s2 - mb / s2)
        g_s2 = -0.5 * N / s2 + 0.5 * (ete - 2.0 * mb + extra) / (s2 * s2)
        inv_s2 = 1.0 / s2
        if unit_Z:
            for i in range(N):
                g_eta[i] = (g_eta[i] - Mm[index[i], 0]) * inv_s2
        else:
            for i in range(N):
                s = g_eta[i]
                for a in range(k):
                    s -= Z[i, a] * Mm[index[i], a]
                g_eta[i] = s * inv_s2
        if Q > 0:
            lanes_u = np.zeros((4, u.shape[0]))
            for q in range(Q):
                ix = others_index[q]
                if unit_others:
                    for i in range(N):
                        lanes_u[i & 3, ix[i]] += g_eta[i]
                else:
                    w = others_Z[q]
                    for i in range(N):
                        lanes_u[i & 3, ix[i]] += w[i] * g_eta[i]
            for m in range(u.shape[0]):
                g_u[m] = lanes_u[0, m] + lanes_u[1, m] + lanes_u[2, m] + lanes_u[3, m]
        return (np.array(ll), g_eta, g_u, g_Sigma, np.array(2.0 * sigma * g_s2))

    return {CollapsedLoglik: collapsed_loglik_kernel, CollapsedRowsLoglik: collapsed_rows_kernel}


@functools.cache
def _cache_version() -> int:
    """Key of the kernels in numba's on-disk cache: a hash of their source and fast-math flags,
    so an edited kernel is never served from a stale cache entry."""
    import hashlib
    import inspect

    source = inspect.getsource(_kernels) + repr(_FASTMATH)  # the flags are part of the kernels
    return int(hashlib.sha256(source.encode()).hexdigest()[:15], 16)


def _register_numba() -> None:
    try:
        from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key
    except ImportError:  # pragma: no cover - PyTensor without numba
        return

    for op_type in (CollapsedLoglik, CollapsedRowsLoglik):

        @register_funcify_default_op_cache_key(op_type)
        def _funcify(op, node=None, **kwargs):
            return _kernels()[type(op)], _cache_version()


_register_numba()
