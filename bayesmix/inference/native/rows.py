"""The numbers that describe a model with its group effects as parameters to the native callback.

Covers what the graph builds for the families whose row density the callback knows
(gaussian, student, bernoulli with the logit or probit link, binomial, poisson, negbinomial, gamma
(log), lognormal (the gaussian rows of log y), beta (logit), and the cumulative ordinal family with either
link, its cutpoints under PyMC's ordered transform): population
coefficients with level-two columns (their columns of ``X``, centred as the graph centres
them), any number of grouping factors, crossed or nested, each non-centred
(``r = (z L') * sd``), centred (``r ~ MvN(0, diag(sd) L L' diag(sd))``) or centred on
its population and level-two coefficients (``m ~ MvN(M theta + m0, ...)``, ``r = m - M theta
- m0``; the means are linear in ``theta`` and read off
:func:`bayesmix.graph.build.centring_means`), and offsets.  Anything else (weights, other
links or families) raises :class:`~bayesmix.inference.native.layout.Unsupported`.

A Gaussian model of crossed factors with one of them integrated out given the others
(:class:`bayesmix.collapsed.crossed.RowsCollapse`) is a rows program too, family code 5: the
sampled factors as above, the rows sorted by the collapsed factor's groups, and its
likelihood in two passes over them (the same quantities as the graph's Op, with the groups'
Woodbury terms from the same ``kernels()["groups"]``).  A sampled intercept of a factor the
collapsed one is nested in (InstEval's departments over instructors) is one value per group
of those rows, so it enters per group instead of per row.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from bayesmix.core import names
from bayesmix.graph.build import centring_means
from bayesmix.inference.native.layout import (
    Program,
    Unsupported,
    cpc_positions,
    expanded_layout,
    free_layout,
    pack,
    table_len,
    theta_positions,
    where,
)

__all__ = ["program", "ARRAYS", "TABLE_LEN", "FAMILIES", "MODES", "distinct_rows", "DISTINCT_SHARE"]

#: family -> (code, its extra parameter or None); only these links
FAMILIES = {
    ("gaussian", "identity"): (0, names.SIGMA),
    # 5: gaussian with one crossed factor integrated out (set by :func:`program`)
    ("bernoulli", "logit"): (1, None),
    ("binomial", "logit"): (2, None),
    ("poisson", "log"): (3, None),
    ("negbinomial", "log"): (4, "shape"),
    ("cumulative", "logit"): (6, names.CUTPOINTS),
    ("cumulative", "probit"): (7, names.CUTPOINTS),
    ("bernoulli", "probit"): (8, None),
    ("gamma", "log"): (9, "shape"),
    ("lognormal", "identity"): (0, names.SIGMA),  # the gaussian rows of log y
    ("beta", "logit"): (10, "phi"),
    ("student", "identity"): (11, (names.SIGMA, "nu")),
}
#: a factor's parameterisation: non-centred, centred, centred on its population coefficients
MODES = {"noncentred": 0, "centred": 1, "around": 2}

#: the arrays' names and numbers of dimensions, in the table's order
ARRAYS = (
    ("code", 2),
    ("par", 2),
    ("out_idx", 1),
    ("theta_idx", 1),
    ("XT", 2),  # the population part's matrix, transposed (p, N)
    ("offset", 1),
    # the response as the density reads it (log y for lognormal and beta, else y) and a second
    # per-row data column (binomial: trials; gamma: log y; beta: log(1 - y); else ones): the
    # data's logs are taken here once, not at every gradient
    ("y", 1),
    ("y2", 1),
    # family code, position of its first extra parameter (-1: none), constant term, how many,
    # the second one's position when two separate scalars (student's sigma and nu; else -1)
    ("fam", 1),
    # per factor: k, J, mode, first position, first coef, first CPC, CPCs, first row of M and
    # of the group effects' workspace, 1 if it is one coefficient whose column is all ones
    ("fmeta", 2),
    ("sd_idx", 1),
    ("cpc_idx", 1),
    ("cpc_row", 1),
    ("cpc_col", 1),
    ("gpos", 2),  # per factor and row: where the row's group's effects start in the workspace
    ("Zv", 2),
    ("M", 2),
    # the factor integrated out (empty arrays when none): k, first CPC, CPCs; its SDs'
    # positions; the collapsed likelihood's data (:meth:`RowsCollapse.loglik`) with the rows
    # sorted by its groups: where each group's rows start (J + 1), Z (empty: all ones), the
    # column sums of Z and Z'Z per group, the other factors' effects each row adds (their
    # positions among the sampled effects, their weights; empty: all ones) and those that are
    # one per group (an intercept of a factor the collapsed one is nested in: added per group)
    ("cmeta", 1),
    ("csd_idx", 1),
    ("cstart", 1),
    ("cZ", 2),
    ("cZsum", 2),
    ("cZtZ", 3),
    ("oindex", 2),
    ("oZ", 2),
    ("pindex", 2),
    # each row's position among the population matrix's distinct rows, when ``XT`` holds only
    # those (:func:`distinct_rows`); when ``XT`` holds every row, empty (0, ..., N-1 with a
    # factor integrated out: its density always reads the rows through ``pat``)
    ("pat", 1),
    # the integrated-out factor's sufficient statistics when it is intercept-only and each row
    # adds one other factor's intercept (else empty: tstart = [0]): the other factor's levels'
    # rows (start per level, each row's collapsed group, the level's position among the sampled
    # effects), and sums of the rows' population columns and centred response (a column of
    # ones appended when there is none) per level and per collapsed group (column by column:
    # (m, levels) and (m, groups)) and their Gram matrix;
    # tmeta = (the response's mean, the column of ones)
    ("tstart", 1),
    ("tgroup", 1),
    ("tpos", 1),
    ("tU", 2),
    ("tJ", 2),
    ("tG", 2),
    ("tmeta", 1),
)
TABLE_LEN = table_len(d for _, d in ARRAYS)


def program(built, design, keep) -> Program:
    """The ``"rows"`` program of a model whose group effects are sampled.

    Raises :class:`~bayesmix.inference.native.layout.Unsupported` for models it does not cover.
    """
    family, data = built.family, built.response
    if family is None or data is None:
        raise Unsupported
    ss = built.collapsed
    if ss is not None and (getattr(ss, "strategy", "") != "crossed" or family.name != "gaussian"):
        raise Unsupported
    fam = FAMILIES.get((family.name, family.link))
    if fam is None or data.get("weights") is not None:
        raise Unsupported
    model = built.model
    if ss is None and (model.potentials or [v.name for v in model.observed_RVs] != ["obs"]):
        raise Unsupported
    if ss is not None and ([p.name for p in model.potentials] != ["collapsed_loglik"] or model.observed_RVs):
        raise Unsupported
    if any(d.name in keep for d in model.deterministics):
        raise Unsupported
    if tuple(built.aux) != (() if fam[1] is None else fam[1] if isinstance(fam[1], tuple) else (fam[1],)):
        raise Unsupported
    sampled = [f for f in design.factors if ss is None or f.name != ss.factor]
    modes = {}
    for f in sampled:
        if built.around.get(f.name):
            modes[f.name] = ("around", names.m_var(f.name))
        elif built.centered.get(f.name):
            modes[f.name] = ("centred", names.r_var(f.name))
        else:
            modes[f.name] = ("noncentred", names.z_var(f.name))
    code, par, free, offsets = free_layout(
        model,
        standard_normal={v for m, v in modes.values() if m == "noncentred"},
        external={v for m, v in modes.values() if m != "noncentred"},
    )
    y = np.asarray(data["y"], dtype=float)
    constant = 0.0 if ss is not None else _constant(family.name, y, data.get("n"))
    n_rows = len(y)
    # with a factor integrated out the rows go in the order of its groups (the density is a sum
    # over the rows: their order changes only the rounding)
    order = np.argsort(ss.index, kind="stable") if ss is not None else np.arange(n_rows)
    y2 = np.asarray(data["n"], dtype=float) if family.name == "binomial" else np.ones(n_rows)
    if family.name == "gamma":
        y2 = np.log(y)
    elif family.name == "beta":
        y, y2 = np.log(y), np.log1p(-y)
    elif family.name == "lognormal":
        y = np.log(y)
    X, theta_idx = _population(built, design, offsets)
    p = X.shape[1]
    offset = np.zeros(n_rows) if design.offset is None else np.asarray(design.offset, dtype=float)
    y, y2, X, offset = y[order], y2[order], X[order], offset[order]
    if ss is not None:  # the Gaussian rows read y - offset
        y, offset = y - offset, np.zeros(n_rows)
    # two extra parameters (student: sigma, nu) need not sit side by side: the second's position
    aux_pos, n_aux, aux2_pos = _aux_position(built, family, fam[1], offsets)
    fmeta, sd_idx, cpc_idx, cpc_row, cpc_col, M_rows = [], [], [], [], [], []
    k0 = q0 = r0 = 0
    for f in sampled:
        mode, var = modes[f.name]
        k, J = len(f.coefs), f.n_levels
        if var not in offsets:
            raise Unsupported
        qi, qr, qc = cpc_positions(f, offsets)
        ones = int(k == 1 and bool(np.all(f.Z[:, 0] == 1.0)))
        fmeta.append((k, J, MODES[mode], offsets[var], k0, q0, len(qi), r0, ones))
        sd_idx.extend(where(built.parts, offsets, names.sd_var(f.name), k))
        cpc_idx.extend(qi)
        cpc_row.extend(qr)
        cpc_col.extend(qc)
        M_rows.append(_means(built, design, f, p) if mode == "around" else np.zeros((J * k, p + 1)))
        k0, q0, r0 = k0 + k, q0 + len(qi), r0 + J * k
    gpos = np.array(
        [row[7] + f.index[order] * row[0] for f, row in zip(sampled, fmeta, strict=True)], dtype=np.int64
    ).reshape(len(sampled), n_rows)
    Zv = np.concatenate([f.Z[order].T for f in sampled]) if sampled else np.zeros((0, n_rows))
    collapsed = _collapsed(built, design, ss, offsets, q0, order)
    stats = _sufficient(collapsed, X, y, ss.index[order] if ss is not None else None)
    if ss is not None:
        cpc_idx.extend(collapsed.pop("cpc_idx"))
        cpc_row.extend(collapsed.pop("cpc_row"))
        cpc_col.extend(collapsed.pop("cpc_col"))
        fam = (5, fam[1])
    if not (np.isfinite(X).all() and np.isfinite(Zv).all() and np.isfinite(offset).all()):
        raise Unsupported
    out_idx, expanded = expanded_layout(free, keep)
    XT, pat = distinct_rows(X)
    if ss is not None and not len(pat):  # the collapsed density always reads the rows through pat
        pat = np.arange(n_rows)
    arrays = pack(
        (
            code,
            par,
            out_idx,
            theta_idx,
            XT,
            offset,
            y,
            y2,
            np.array([fam[0], aux_pos, constant, n_aux, aux2_pos]),
            np.asarray(fmeta, dtype=np.int64).reshape(len(fmeta), 9),
            np.asarray(sd_idx, dtype=np.int64),
            np.asarray(cpc_idx, dtype=np.int64),
            np.asarray(cpc_row, dtype=np.int64),
            np.asarray(cpc_col, dtype=np.int64),
            gpos,
            Zv,
            np.concatenate(M_rows) if M_rows else np.zeros((0, p + 1)),
            *collapsed.values(),
            pat,
            *stats,
        )
    )
    return Program("rows", arrays, [(a, b) for a, b, _, _ in free], expanded)


def _collapsed(built, design, ss, offsets, q0: int, order: np.ndarray) -> dict:
    """The integrated-out factor's arrays (in :data:`ARRAYS` order after ``M``; empty without
    one), its rows in ``order`` (sorted by its groups)."""
    if ss is None:
        return {
            "cmeta": np.zeros(3, dtype=np.int64),
            "csd_idx": np.zeros(0, dtype=np.int64),
            "cstart": np.zeros(1, dtype=np.int64),
            "cZ": np.zeros((0, 0)),
            "cZsum": np.zeros((0, 0)),
            "cZtZ": np.zeros((0, 0, 0)),
            "oindex": np.zeros((0, 0), dtype=np.int64),
            "oZ": np.zeros((0, 0)),
            "pindex": np.zeros((0, 0), dtype=np.int64),
        }
    f = design.factor(ss.factor)
    k, J, n = len(f.coefs), f.n_levels, len(order)
    qi, qr, qc = cpc_positions(f, offsets)
    index = ss.index[order]
    Z = ss.Z[order]
    start = np.searchsorted(index, np.arange(J + 1))
    first = np.minimum(start[:-1], n - 1)
    oindex, oZ = ss.others_index[:, order], ss.others_Z[:, order]
    # an effect that is one per group of the collapsed factor (a unit weight and the same
    # position on all of the group's rows) is added once per group, not per row
    per_group = np.array(
        [
            bool(np.all(w == 1.0)) and bool(np.all(ix == np.repeat(ix[first], np.diff(start))))
            for ix, w in zip(oindex, oZ, strict=True)
        ],
        dtype=bool,
    ).reshape(len(oindex))
    rows_ix, rows_w = oindex[~per_group], oZ[~per_group]
    unit = k == 1 and bool(np.all(Z == 1.0))
    return {
        "cmeta": np.array([k, q0, len(qi)], dtype=np.int64),
        "csd_idx": where(built.parts, offsets, names.sd_var(f.name), k),
        "cstart": start,
        "cZ": np.zeros((n, 0)) if unit else Z,
        "cZsum": np.add.reduceat(Z, first, axis=0) * (np.diff(start) > 0)[:, None] if n else np.zeros((J, k)),
        "cZtZ": ss.ZtZ,
        "oindex": rows_ix,
        "oZ": np.zeros((len(rows_w), 0)) if bool(np.all(rows_w == 1.0)) else rows_w,
        "pindex": oindex[per_group][:, first],
        "cpc_idx": qi,
        "cpc_row": qr,
        "cpc_col": qc,
    }


def _sufficient(collapsed: dict, X: np.ndarray, y: np.ndarray, group) -> tuple:
    """The statistics the integrated-out factor's density reads instead of the rows (the
    ``tstart`` to ``tmeta`` arrays of :data:`ARRAYS`), or empty ones when it does not apply:
    without a factor integrated out, with its slopes, with weights, or with more or fewer than
    one other factor's effect per row.  ``X``, ``y`` and ``group`` are in the collapsed rows'
    order (``y`` net of any offset)."""
    empty = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    empty += (np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), np.zeros(2))
    if group is None or collapsed["cmeta"][0] != 1 or collapsed["cZ"].shape[1] != 0:
        return empty
    if collapsed["oindex"].shape[0] != 1 or collapsed["oZ"].shape[1] != 0:
        return empty
    pos = collapsed["oindex"][0]
    tpos, level = np.unique(pos, return_inverse=True)
    by_level = np.argsort(level, kind="stable")
    tstart = np.searchsorted(level[by_level], np.arange(len(tpos) + 1))
    ones = np.flatnonzero(np.all(X == 1.0, axis=0))
    ybar = float(np.mean(y)) if len(y) else 0.0
    cols = [X] if len(ones) else [X, np.ones((len(y), 1))]
    aug = np.column_stack([*cols, y - ybar])
    one = int(ones[0]) if len(ones) else X.shape[1]
    tU = np.zeros((len(tpos), aug.shape[1]))
    np.add.at(tU, level, aug)
    tJ = np.zeros((len(collapsed["cstart"]) - 1, aug.shape[1]))
    np.add.at(tJ, group, aug)
    return (tstart, group[by_level], tpos, tU.T, tJ.T, aug.T @ aug, np.array([ybar, one], dtype=float))


def _aux_position(built, family, aux, offsets) -> tuple[int, int, int]:
    """Where the family's extra parameters start in the unconstrained vector, how many, and
    the second one's position when there are two separate ones (else -1)."""
    if aux is None:
        return -1, 0, -1
    if isinstance(aux, tuple):  # two scalars
        first, second = (int(where(built.parts, offsets, a, 1)[0]) for a in aux)
        return first, 2, second
    if aux == names.CUTPOINTS:  # sampled as the increasing vector of the centred design
        if names.CUTPOINTS_C not in offsets:
            raise Unsupported
        return offsets[names.CUTPOINTS_C], int(family.aux(built.response)[0].size), -1
    return int(where(built.parts, offsets, aux, 1)[0]), 1, -1


#: the population part is evaluated on its distinct rows when there are at most this share of them
DISTINCT_SHARE = 0.25


def distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(XT, pat)`` for the density: the distinct rows of ``X`` transposed and each row's position
    among them, when they are few; else ``X`` transposed and an empty ``pat``.

    Predictors that are categories or counts (InstEval's lecture age and service: 12 distinct
    rows of 73,421) make ``eta = X theta`` a gather from a small table and its gradient a
    scatter-add into it: 0.13 instead of 0.26 ms per gradient there (``benchmarks/README.md``,
    session 13), against p passes over the rows and p dot products.
    """
    n, p = X.shape
    if n and p:
        U, inv = np.unique(X, axis=0, return_inverse=True)
        if len(U) <= DISTINCT_SHARE * n:
            return np.ascontiguousarray(U.T), np.asarray(inv, dtype=np.int64).ravel()
    return np.ascontiguousarray(X.T), np.zeros(0, dtype=np.int64)


def _population(built, design, offsets) -> tuple[np.ndarray, np.ndarray]:
    """The population part's matrix (``[1, X - mean(X)]`` with an intercept, else ``X``) and
    the positions of its coefficients."""
    X = np.asarray(design.X, dtype=float)
    if design.has_intercept:
        slopes = np.asarray(built.slope_idx, dtype=int)
        Xp = np.column_stack([np.ones(X.shape[0]), X[:, slopes] - built.xbar])
    elif not built.family.has_intercept:  # cutpoints instead of an intercept: X centred
        Xp = X - built.xbar if X.shape[1] else X
    else:
        Xp = X
    return Xp, theta_positions(built, design, offsets, Xp.shape[1])


def _means(built, design, f, p: int) -> np.ndarray:
    """Rows ``(J*k, p + 1)``: the around-centred factor's means as ``M @ theta + m0``."""
    slope_idx = list(built.slope_idx)

    def at(theta):
        return np.asarray(
            centring_means(f, built.around[f.name], np.float64(theta[0]), theta[1:], design, slope_idx, np),
            dtype=float,
        ).reshape(-1)

    m0 = at(np.zeros(p))
    M = np.column_stack([at(np.eye(p)[a]) - m0 for a in range(p)] + [m0])
    probe = np.random.default_rng(0).normal(size=p)
    if not np.allclose(at(probe), M[:, :p] @ probe + m0, rtol=1e-12, atol=1e-12):
        raise Unsupported  # not affine in theta
    return M


def _constant(family: str, y: np.ndarray, trials: np.ndarray | None) -> float:
    """The row densities' terms that depend on the data only."""
    if family == "gaussian":
        return -0.5 * len(y) * np.log(2.0 * np.pi)
    if family == "lognormal":
        return float(-0.5 * len(y) * np.log(2.0 * np.pi) - np.sum(np.log(y)))
    if family == "gamma":
        return float(-np.sum(np.log(y)))
    if family == "beta":
        return float(-np.sum(np.log(y) + np.log1p(-y)))
    if family == "binomial":
        return float(
            np.sum(special.gammaln(trials + 1) - special.gammaln(y + 1) - special.gammaln(trials - y + 1))
        )
    if family in ("poisson", "negbinomial"):
        return float(-np.sum(special.gammaln(y + 1)))
    return 0.0
