"""Rank-normalised split R-hat and bulk ESS for many parameters at once.

The convergence check after every fit looks at every parameter, group effects
included: InstEval has 4,128 of them.  ``arviz_stats`` computes these diagnostics
one parameter at a time (a SciPy rank and an FFT per parameter, about 2.5 ms
each: 10.5 s for InstEval); here the same estimators (Vehtari, Gelman, Simpson,
Carpenter & Buerkner 2021, "Rank-normalization, folding, and localization",
as ``arviz_stats`` implements them) are computed for all parameters in one set of
array operations (0.5 s).  The tests check equality with ``arviz_stats`` to
1e-10.  The convergence check and the reported tables (:mod:`bayesmix.results`) use them,
and the tables' quantiles (:func:`quantiles`, equal to ``np.quantile``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["rhat_rank", "ess_bulk", "ess_tail", "rhat_and_ess_bulk", "quantiles"]


def _split(x: np.ndarray) -> np.ndarray:
    """``(chain, draw, n)`` -> ``(2 chain, draw // 2, n)``: first and last halves of each chain."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1-based) along the last axis of a 2-D array, ties given their average rank,
    and the rows sorted.

    As ``scipy.stats.rankdata(method="average")``, with one sort for all rows and the
    tie bookkeeping only for rows that have ties (SciPy's tie handling dominates its time).
    """
    m, s = x.shape
    order = np.argsort(x, axis=-1)
    xs = np.take_along_axis(x, order, axis=-1)
    ranks_sorted = np.broadcast_to(np.arange(1.0, s + 1.0), (m, s)).copy()
    tied = xs[:, 1:] == xs[:, :-1]
    for i in np.flatnonzero(tied.any(axis=1)):
        starts = np.flatnonzero(np.concatenate([[True], ~tied[i]]))
        ends = np.append(starts[1:], s)
        ranks_sorted[i] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    out = np.empty((m, s))
    out[np.arange(m)[:, None], order] = ranks_sorted
    return out, xs


def _rows(x: np.ndarray) -> np.ndarray:
    """``(chain, draw, n)`` -> ``(n, chain * draw)``, contiguous: sorting and selecting along
    the last axis is several times faster than along a strided first one."""
    c, d, n = x.shape
    return np.ascontiguousarray(x.reshape(c * d, n).T)


def _quantiles_of_sorted(xs: np.ndarray, probs) -> np.ndarray:
    """Quantiles of each row of the row-sorted ``xs``, as ``np.quantile``'s default (linear)
    method computes them; shape ``(len(probs), rows)``."""
    s = xs.shape[1]
    out = []
    for p in probs:
        pos = p * (s - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, s - 1)
        t = pos - lo
        a, b = xs[:, lo], xs[:, hi]
        # numpy's _lerp: the form that is exact at t = 1 for t >= 0.5
        out.append(np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t))
    return np.array(out)


def _quantiles(x: np.ndarray, probs) -> tuple[np.ndarray, ...]:
    return tuple(_quantiles_of_sorted(np.sort(_rows(x), axis=1), probs))


def quantiles(x: np.ndarray, probs) -> np.ndarray:
    """Quantiles of the pooled draws per parameter, equal to ``np.quantile(..., axis=0)`` of the
    ``(chain * draw, n)`` draws: shape ``(len(probs), n)``.  One row sort per block of 512
    parameters rather than a partition per quantile along a strided axis (InstEval's 4,128
    parameters: about 10x faster)."""
    return np.array(_in_blocks(_quantiles, x, probs)).reshape(len(probs), -1)


def _z_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores of the pooled ranks (average ranks for ties; Blom's offset 3/8), and the
    pooled draws sorted, one row per parameter."""
    from scipy import special

    c, d, n = x.shape
    ranks, xs = _average_ranks(_rows(x))
    return special.ndtri((ranks.T - 0.375) / (c * d + 0.25)).reshape(c, d, n), xs


def _rhat(x: np.ndarray) -> np.ndarray:
    d = x.shape[1]
    between = d * np.var(x.mean(axis=1), axis=0, ddof=1)
    within = np.mean(np.var(x, axis=1, ddof=1), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant parameter: NaN
        return np.sqrt((between / within + d - 1) / d)


def _constant(x: np.ndarray) -> np.ndarray:
    return (x.max(axis=(0, 1)) - x.min(axis=(0, 1))) < np.finfo(float).resolution


def _autocov(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Autocovariances of ``(chain, draw, n)`` draws (all lags, divided by the draw count), via
    FFT along contiguous rows (one worker: the blocks of parameters already run a thread per
    core, :func:`_in_blocks`): averaged over chains by lag, ``(draw, n)``, and
    each chain's at lag 0, ``(chain, n)``."""
    from scipy.fft import irfft, next_fast_len, rfft

    d = x.shape[1]
    m = next_fast_len(2 * d)
    rows = np.ascontiguousarray(np.moveaxis(x - x.mean(axis=1, keepdims=True), 1, -1))
    f = rfft(rows, n=m, axis=-1, workers=1)
    acov = irfft(f.real**2 + f.imag**2, n=m, axis=-1, workers=1)[..., :d] / d
    return acov.mean(axis=0).T, acov[..., 0]


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS per parameter of ``(chain, draw, n)`` draws: Geyer's initial monotone sequence."""
    c, d, n = x.shape
    acov_mean, acov0 = _autocov(x)  # (draw, n) averaged over chains; (chain, n) at lag 0
    mean_var = acov0.mean(axis=0) * d / (d - 1.0)
    var_plus = mean_var * (d - 1.0) / d
    if c > 1:
        var_plus = var_plus + np.var(x.mean(axis=1), axis=0, ddof=1)
    rho = 1.0 - (mean_var - acov_mean) / var_plus  # (draw, n): autocorrelation by lag
    cols = np.arange(n)
    rho_t = np.zeros((d, n))
    rho_t[0] = 1.0
    rho_t[1] = rho[1]
    # initial positive sequence: pairs of lags while their sum stays positive
    even, odd = np.ones(n), rho[1].copy()
    last_t = np.ones(n, dtype=int)
    active = even + odd > 0.0
    t = 1
    while t < d - 3 and active.any():
        e, o = rho[t + 1], rho[t + 2]
        even = np.where(active, e, even)
        odd = np.where(active, o, odd)
        keep = active & (e + o >= 0.0)
        rho_t[t + 1, keep] = e[keep]
        rho_t[t + 2, keep] = o[keep]
        last_t[active] = t + 2
        active &= even + odd > 0.0
        t += 2
    max_t = last_t - 2
    tail = even > 0.0
    rho_t[max_t[tail] + 1, cols[tail]] = even[tail]
    # initial monotone sequence: no pair larger than the one before it
    t = 1
    while t <= max_t.max() - 2:
        on = t <= max_t - 2
        prev = rho_t[t - 1] + rho_t[t]
        fix = on & (rho_t[t + 1] + rho_t[t + 2] > prev)
        rho_t[t + 1, fix] = prev[fix] / 2.0
        rho_t[t + 2, fix] = prev[fix] / 2.0
        t += 2
    csum = np.vstack([np.zeros((1, n)), np.cumsum(rho_t, axis=0)])
    after = np.where(max_t + 1 < d, rho_t[np.minimum(max_t + 1, d - 1), cols], 0.0)
    tau = -1.0 + 2.0 * csum[max_t + 1, cols] + after
    size = c * d
    tau = np.maximum(tau, 1.0 / np.log10(size))
    ess = size / tau
    ess[np.isnan(rho_t).any(axis=0)] = np.nan
    return ess


def _ess_or_size(y: np.ndarray) -> np.ndarray:
    """ESS per parameter of transformed draws ``y``; their draw count where ``y`` is constant."""
    const = _constant(y)
    out = np.full(y.shape[-1], float(y.shape[0] * y.shape[1]))
    if (~const).any():
        out[~const] = _ess(y[..., ~const])
    return out


def _finite(x: np.ndarray) -> np.ndarray:
    """Parameters whose draws are all finite, when there are at least 4 draws (else none)."""
    ok = np.all(np.isfinite(x), axis=(0, 1))
    return ok & (x.shape[1] >= 4)


def _in_blocks(fn, x: np.ndarray, *args):
    """``fn`` over blocks of parameters (bounded memory for thousands of group effects), its
    outputs (an array or a tuple of arrays, one value per parameter) joined.  Beyond 512
    parameters the blocks run on a thread per core (their sorts and FFTs release the GIL), each
    512 / cores wide so that the memory in use stays that of one 512-wide block."""
    x = np.asarray(x, dtype=float)
    threads = min(os.cpu_count() or 1, -(-x.shape[-1] // 512))
    # with threads, blocks of 512 / threads parameters: the same memory as one block at a time
    size = max(64, 512 // threads)
    starts = range(0, x.shape[-1], size)
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(lambda i: fn(x[..., i : i + size], *args), starts))
    else:
        parts = [fn(x[..., i : i + size], *args) for i in starts] or [fn(x, *args)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
    return np.concatenate(parts)


def _rhat_and_ess_bulk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[-1]
    rhat, ess = np.full(n, np.nan), np.full(n, np.nan)
    ok = _finite(x)
    if not ok.any():
        return rhat, ess
    split = _split(x[..., ok])
    z, xs = _z_scale(split)
    if x.shape[0] >= 2:
        folded = np.abs(split - _quantiles_of_sorted(xs, [0.5])[0])
        rhat[ok] = np.maximum(_rhat(z), _rhat(_z_scale(folded)[0]))
    ess[ok] = _ess_or_size(z)
    return rhat, ess


def _ess_tail(x: np.ndarray, prob: float) -> np.ndarray:
    out = np.full(x.shape[-1], np.nan)
    ok = _finite(x)
    if not ok.any():
        return out
    v = x[..., ok]
    ess = [_ess_or_size(_split((v <= q).astype(float))) for q in _quantiles(v, sorted((prob, 1.0 - prob)))]
    out[ok] = np.minimum(*ess)
    return out


def rhat_and_ess_bulk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat (the larger of bulk and folded) and bulk ESS per parameter,
    sharing the rank-normalised split draws.

    Parameters
    ----------
    x : ndarray, shape (chain, draw, n)

    Returns
    -------
    rhat, ess : ndarray, shape (n,)
        NaN for parameters with non-finite draws or fewer than 4 draws, and R-hat NaN with
        one chain; the ESS of a constant parameter is its draw count.
    """
    return _in_blocks(_rhat_and_ess_bulk, x)


def rhat_rank(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat per parameter (see :func:`rhat_and_ess_bulk`)."""
    return rhat_and_ess_bulk(x)[0]


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk effective sample size per parameter (see :func:`rhat_and_ess_bulk`)."""
    return rhat_and_ess_bulk(x)[1]


def ess_tail(x: np.ndarray, prob: float = 0.1) -> np.ndarray:
    """Tail effective sample size: the smaller ESS of the indicators ``x <= q`` for the
    ``prob`` and ``1 - prob`` quantiles ``q`` (split chains), per parameter.

    Parameters
    ----------
    x : ndarray, shape (chain, draw, n)
    prob : float
    """
    return _in_blocks(_ess_tail, x, prob)
