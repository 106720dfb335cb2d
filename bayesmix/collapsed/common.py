"""What the collapsed strategies share: conditional normal draws, the parameter vector, RNG streams."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytensor.tensor as pt

__all__ = [
    "GraphParts",
    "ONE_FACTOR_STREAM",
    "CROSSED_STREAM",
    "Collapse",
    "rng_for",
    "theta_vector",
    "conditional_draws",
]

#: second word of the seed of the exact group-effect draws (one factor and nested chains), so they
#: are a stream of their own, reproducible from the fit's seed
ONE_FACTOR_STREAM = 7919
#: the same for the factor integrated out of crossed designs
CROSSED_STREAM = 7927


@dataclass
class GraphParts:
    """The graph's tensors a collapsed log likelihood is written in.

    Attributes
    ----------
    icpt : tensor or None
        The centred design's intercept (None without an intercept).
    slopes : tensor or None
        The population slopes (with an intercept) or all population effects (without).
    hypers : list of (sd, rho, L)
        Per integrated-out factor (in the strategy's ``factors`` order): SDs, the correlation
        of a pair (0 for an independent pair, None for one coefficient) and the Cholesky factor
        of the correlation matrix (None when independent).
    sigma : tensor
        The residual SD.
    eta : tensor, optional
        Per-row population part with offsets (crossed designs).
    others : list of tensor
        The sampled factors' group effects (crossed designs).
    """

    icpt: object
    slopes: object
    hypers: list
    sigma: object
    eta: object = None
    others: list = field(default_factory=list)


class Collapse:
    """What every collapsed strategy's data object offers (one factor, nested chain, crossed).

    The graph side differs by strategy (:func:`bayesmix.graph.build.build_model` adds each
    strategy's log-likelihood Op); after sampling, :meth:`draw_effects` turns the draws into
    exact draws of the integrated-out group effects, the same call for all strategies.

    Attributes
    ----------
    strategy : str
        ``"one_factor"``, ``"nested"`` or ``"crossed"``.
    factors : tuple of str
        The factors whose effects were integrated out.
    description : str
        What the report says was integrated out.
    """

    strategy: str = ""
    factors: tuple[str, ...] = ()
    description: str = "group effects"

    def add_loglik(self, g: GraphParts):
        """The collapsed log likelihood as a PyTensor scalar, written in the graph's tensors ``g``."""
        raise NotImplementedError

    #: second word of the seed of this strategy's random stream (:func:`rng_for`)
    stream: int = ONE_FACTOR_STREAM

    def draw_effects(self, post, out: dict, design, parts: dict, slope_idx, rng) -> dict[str, np.ndarray]:
        """Exact draws ``(chain, draw, J, k)`` of the integrated-out effects, by factor name.

        Parameters
        ----------
        post : xarray.Dataset
            The sampler's draws (internal variables included).
        out : dict
            The reported variables already expanded, name -> (dims, array): ``b``, ``sd_*``,
            ``sigma`` and the sampled factors' ``r_*``.
        design, parts, slope_idx
            The design, and the graph's record of split vectors and slope columns.
        rng : numpy.random.Generator
            The draws' randomness; a fit passes ``rng_for(seed, self.stream)``, a stream of
            its seed of the strategy's own, so the draws follow the seed.
        """
        raise NotImplementedError


def rng_for(seed: int | None, stream: int) -> np.random.Generator:
    """The generator of one stream of exact draws: ``default_rng([seed, stream])`` (fresh entropy without a seed)."""
    return np.random.default_rng(None if seed is None else [seed, stream])


def theta_vector(icpt, b_s, has_intercept: bool, xp):
    """The sampled population vector ``[Intercept_c, slopes]`` (or ``b`` without an intercept)."""
    if has_intercept:
        parts = [xp.atleast_1d(icpt) if xp is pt else icpt[..., None]]
        if b_s is not None:
            parts.append(b_s)
        return xp.concatenate(parts, axis=-1)
    return b_s


def conditional_draws(Sigma, sigma, ZtZ, rhs, rng, budget: int = 20_000_000) -> np.ndarray:
    """Draws ``u_j ~ N(C_j b_j / sigma^2, C_j)``, ``C_j = (Sigma^{-1} + Z_j'Z_j / sigma^2)^{-1}``.

    The conditional posterior of group effects given everything else, for ``S``
    posterior draws at once (in chunks of draws bounded by ``budget`` numbers).
    ``Sigma`` is ``(S, k, k)``, ``sigma`` ``(S,)``, ``ZtZ`` ``(J, k, k)`` and ``rhs(sl)``
    returns ``b_j = Z_j'(y_j - mu_j)`` for the draws in slice ``sl``, shape ``(s, J, k)``.
    Returns ``(S, J, k)``.
    """
    J, k = ZtZ.shape[:2]
    S = Sigma.shape[0]
    out = np.empty((S, J, k))
    step = max(1, budget // max(1, J * k * k))
    for start in range(0, S, step):
        sl = slice(start, min(S, start + step))
        s2 = sigma[sl, None, None, None] ** 2
        if k == 1:  # scalars: elementwise (LAPACK's batched 1 x 1 inverses cost ~100x more)
            C = 1.0 / (1.0 / Sigma[sl][:, None] + ZtZ / s2)
            mean = C[..., 0] * rhs(sl) / s2[..., 0]
            out[sl] = mean + np.sqrt(C[..., 0]) * rng.standard_normal(mean.shape)
            continue
        C = np.linalg.inv(np.linalg.inv(Sigma[sl])[:, None] + ZtZ / s2)
        mean = np.einsum("sjab,sjb->sja", C, rhs(sl)) / s2[..., 0]
        L = np.linalg.cholesky(C)
        out[sl] = mean + np.einsum("sjab,sjb->sja", L, rng.standard_normal(mean.shape))
    return out
