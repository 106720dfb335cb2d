"""The collapsed-likelihood Op: value against a dense multivariate normal, gradient against
finite differences, the numba kernel against the numpy implementation."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats as st

from bayesmix.collapsed.op import (
    CollapsedLoglik,
    CollapsedRowsLoglik,
    loglik_and_grad_np,
    rows_loglik_and_grad_np,
)

J, P, NPER = 6, 3, 5


def _problem(k: int, seed: int):
    rng = np.random.default_rng(seed)
    idx = np.repeat(np.arange(J), NPER)
    n = idx.size
    D = np.column_stack([np.ones(n), rng.normal(size=(n, P - 1))])
    Z = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    y = 2.0 * rng.normal(size=n)
    ZtZ = np.zeros((J, k, k))
    np.add.at(ZtZ, idx, Z[:, :, None] * Z[:, None, :])
    ZtD = np.zeros((J, k, P))
    np.add.at(ZtD, idx, Z[:, :, None] * D[:, None, :])
    Zty = np.zeros((J, k))
    np.add.at(Zty, idx, Z * y[:, None])
    stats = (float(n), float(y @ y), D.T @ y, D.T @ D, ZtZ, ZtD, Zty)
    A = rng.normal(size=(k, k))
    params = (rng.normal(size=P), A @ A.T + np.eye(k), 1.3)
    return idx, D, Z, y, stats, params


@pytest.mark.parametrize("k", [1, 2, 3])
def test_value_is_the_dense_marginal_likelihood(k):
    idx, D, Z, y, stats, (theta, Sigma, sigma) = _problem(k, seed=k)
    V = sigma**2 * np.eye(y.size)
    for j in range(J):
        r = idx == j
        V[np.ix_(r, r)] += Z[r] @ Sigma @ Z[r].T
    dense = st.multivariate_normal(D @ theta, V).logpdf(y)
    ll = loglik_and_grad_np(theta, Sigma, sigma, *stats)[0]
    assert ll == pytest.approx(dense, rel=1e-10)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_gradient_matches_central_differences(k):
    _, _, _, _, stats, (theta, Sigma, sigma) = _problem(k, seed=10 + k)
    _, g_theta, g_Sigma, g_sigma = loglik_and_grad_np(theta, Sigma, sigma, *stats)

    def f(th=theta, S=Sigma, s=sigma):
        return loglik_and_grad_np(th, S, s, *stats)[0]

    h = 1e-6  # central differences: error O(h^2) ~ 1e-12 plus rounding ~ 1e-16 / h ~ 1e-10
    num_theta = [(f(th=theta + h * e) - f(th=theta - h * e)) / (2 * h) for e in np.eye(P)]
    np.testing.assert_allclose(g_theta, num_theta, rtol=1e-6, atol=1e-7)
    assert g_sigma == pytest.approx((f(s=sigma + h) - f(s=sigma - h)) / (2 * h), rel=1e-6)
    for a in range(k):
        for c in range(a + 1):
            E = np.zeros((k, k))
            E[a, c] = E[c, a] = h  # a symmetric perturbation moves both off-diagonal entries
            num = (f(S=Sigma + E) - f(S=Sigma - E)) / (2 * h)
            ours = g_Sigma[a, c] + (g_Sigma[c, a] if a != c else 0.0)
            assert ours == pytest.approx(num, rel=1e-6, abs=1e-7), (a, c)


@pytest.mark.parametrize("k", [1, 2])
def test_numba_kernel_equals_numpy_and_gradient_flows_through_pytensor(k):
    _, _, _, _, stats, (theta, Sigma, sigma) = _problem(k, seed=20 + k)
    th, S, s = pt.dvector("theta"), pt.dmatrix("Sigma"), pt.dscalar("sigma")
    outs = CollapsedLoglik()(th, S, s, *[pt.as_tensor(x) for x in stats])
    g = pytensor.grad(outs[0], [th, S, s])
    fn = pytensor.function([th, S, s], [*outs, *g], mode="NUMBA")
    got = fn(theta, Sigma, sigma)
    want = loglik_and_grad_np(theta, Sigma, sigma, *stats)
    for a, b in zip(got[:4], want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(got[4:], want[1:], strict=True):  # pytensor.grad returns the Op's own gradient
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # the value and the gradient come from one evaluation of the Op
    nodes = [n for n in fn.maker.fgraph.toposort() if isinstance(n.op, CollapsedLoglik)]
    assert len(nodes) == 1


def test_a_covariance_that_is_not_positive_definite_gives_minus_infinity():
    _, _, _, _, stats, (theta, _, sigma) = _problem(2, seed=3)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    th, S, s = pt.dvector("theta"), pt.dmatrix("Sigma"), pt.dscalar("sigma")
    fn = pytensor.function([th, S, s], CollapsedLoglik()(th, S, s, *stats)[0], mode="NUMBA")
    assert fn(theta, bad, sigma) == -np.inf
    assert loglik_and_grad_np(theta, bad, sigma, *stats)[0] == -np.inf


def _rows_problem(k: int, seed: int):
    idx, D, Z, y, _, (theta, Sigma, sigma) = _problem(k, seed)
    rng = np.random.default_rng(seed + 100)
    eta = D @ theta + rng.normal(size=y.size)  # any per-row population part
    ZtZ = np.zeros((J, k, k))
    np.add.at(ZtZ, idx, Z[:, :, None] * Z[:, None, :])
    # a crossed factor with 7 groups and 2 coefficients (intercept, slope on x), sorted by
    # group as data often are (the kernel's interleaved sums must not change the result)
    J2 = 7
    g2 = np.sort(rng.integers(0, J2, size=y.size))
    x = rng.normal(size=y.size)
    others_index = np.stack([g2 * 2, g2 * 2 + 1])
    others_Z = np.stack([np.ones(y.size), x])
    u = rng.normal(scale=0.7, size=2 * J2)
    return idx, Z, y, eta, ZtZ, Sigma, sigma, u, others_index, others_Z


@pytest.mark.parametrize("k", [1, 2])
def test_rows_version_value_gradient_and_numba(k):
    idx, Z, y, eta, ZtZ, Sigma, sigma, u, oi, oz = _rows_problem(k, seed=30 + k)
    A = np.zeros((y.size, u.size))  # the rows' map onto u, dense
    for q in range(oi.shape[0]):
        A[np.arange(y.size), oi[q]] += oz[q]
    mu = eta + A @ u
    V = sigma**2 * np.eye(y.size)
    for j in range(J):
        r = idx == j
        V[np.ix_(r, r)] += Z[r] @ Sigma @ Z[r].T
    data = (y, Z, idx, ZtZ, oi, oz)
    ll, g_eta, g_u, g_Sigma, g_sigma = rows_loglik_and_grad_np(eta, u, Sigma, sigma, *data)
    assert ll == pytest.approx(st.multivariate_normal(mu, V).logpdf(y), rel=1e-10)
    # the gradient wrt the row mean is V^{-1}(y - mu) exactly, and wrt u its map back: A'V^{-1}(y - mu)
    np.testing.assert_allclose(g_eta, np.linalg.solve(V, y - mu), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g_u, A.T @ np.linalg.solve(V, y - mu), rtol=1e-9, atol=1e-12)
    h = 1e-6

    def f(S=Sigma, s=sigma):
        return rows_loglik_and_grad_np(eta, u, S, s, *data)[0]

    assert g_sigma == pytest.approx((f(s=sigma + h) - f(s=sigma - h)) / (2 * h), rel=1e-6)
    E = np.zeros((k, k))
    E[-1, 0] = E[0, -1] = h
    ours = g_Sigma[-1, 0] + (g_Sigma[0, -1] if k > 1 else 0.0)
    assert ours == pytest.approx((f(S=Sigma + E) - f(S=Sigma - E)) / (2 * h), rel=1e-6)
    e, w, S, s = pt.dvector("eta"), pt.dvector("u"), pt.dmatrix("Sigma"), pt.dscalar("sigma")
    outs = CollapsedRowsLoglik()(e, w, S, s, *data)
    fn = pytensor.function([e, w, S, s], outs, mode="NUMBA")
    for a, b in zip(fn(eta, u, Sigma, sigma), (ll, g_eta, g_u, g_Sigma, g_sigma), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # no other factors (Q = 0): the same likelihood with their effects moved into eta
    ll0 = rows_loglik_and_grad_np(mu, np.zeros(0), Sigma, sigma, y, Z, idx, ZtZ, oi[:0], oz[:0])[0]
    assert ll0 == pytest.approx(ll, rel=1e-12)


def test_rows_version_reads_zero_width_weights_as_ones():
    # intercept-only factors: Z (N, 0) and others_Z (Q, 0) stand for all-ones weights
    idx, Z, y, eta, ZtZ, Sigma, sigma, u, oi, oz = _rows_problem(1, seed=40)
    Z = np.ones_like(Z)
    ZtZ = np.zeros_like(ZtZ)
    np.add.at(ZtZ, idx, 1.0)
    oi, oz = oi[:1], np.ones_like(oz[:1])  # the crossed factor's intercept only
    u = u[::2]
    oi = oi // 2
    full = rows_loglik_and_grad_np(eta, u, Sigma, sigma, y, Z, idx, ZtZ, oi, oz)
    empty = (y, np.empty((y.size, 0)), idx, ZtZ, oi, np.empty((1, 0)))
    e, w, S, s = pt.dvector("eta"), pt.dvector("u"), pt.dmatrix("Sigma"), pt.dscalar("sigma")
    fn = pytensor.function([e, w, S, s], CollapsedRowsLoglik()(e, w, S, s, *empty), mode="NUMBA")
    for got in (rows_loglik_and_grad_np(eta, u, Sigma, sigma, *empty), fn(eta, u, Sigma, sigma)):
        for a, b in zip(got, full, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # and the numba kernel with explicit ones gives the same
    fn1 = pytensor.function(
        [e, w, S, s], CollapsedRowsLoglik()(e, w, S, s, y, Z, idx, ZtZ, oi, oz), mode="NUMBA"
    )
    for a, b in zip(fn1(eta, u, Sigma, sigma), full, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
