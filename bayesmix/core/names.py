"""Parameter names: the one place they are built (and read back).

Three vocabularies, each kept here:

* **posterior variables** of the DataTree a user reads: ``b`` (dim ``term``),
  ``sd_<factor>`` (dim ``<factor>__coef``), ``cor_<factor>`` (dim ``<factor>__cor``,
  values ``<coef>__<coef>``), ``r_<factor>`` (dims ``<factor>``, ``<factor>__coef``),
  ``sigma``;
* **internal variables** the sampler moves in (prefix ``_``): ``_Intercept_c``,
  ``_b``, ``_cpc_<factor>``, ``_z_<factor>``, ``_m_<factor>``, ``_<vector>__<dist>``;
* **brms labels** of the tables and priors: ``b_Days``, ``sd_Subject__Days``,
  ``cor_Subject__Intercept__Days``, ``r_Subject[308,Days]``, and the report's
  ``sd(Days)``, ``cor(Intercept,Days)``.

>>> sd_label("Subject", "Days"), cor_label("Subject", "Intercept", "Days")
('sd_Subject__Days', 'cor_Subject__Intercept__Days')
"""

from __future__ import annotations

__all__ = [
    "INTERNAL_PREFIX",
    "RESERVED_NAMES",
    "B",
    "SIGMA",
    "AUX_SCALARS",
    "CUTPOINTS",
    "CUTPOINT",
    "CUTPOINTS_C",
    "TERM",
    "INTERCEPT_C",
    "SLOPES",
    "level_dim",
    "coef_dim",
    "cor_dim",
    "sd_var",
    "cor_var",
    "r_var",
    "cpc_var",
    "z_var",
    "m_var",
    "split_var",
    "cor_coord",
    "b_label",
    "sd_label",
    "sd_class_label",
    "cor_label",
    "cor_class_label",
    "r_label",
    "report_sd",
    "report_cor",
    "is_internal",
]

#: prefix of the sampler's internal variables (not reported)
INTERNAL_PREFIX = "_"
#: variable and coordinate names of a built model that a factor's level coordinate must not take
RESERVED_NAMES = frozenset(
    {"b", "sigma", "nu", "shape", "phi", "Intercept", "cutpoint", "obs", "term", "chain", "draw", "sample"}
)

#: population effects, dim :data:`TERM`
B = "b"
#: residual SD of Gaussian models
SIGMA = "sigma"
#: the families' scalar parameters besides the linear predictor (brms's names), in table order
AUX_SCALARS = (SIGMA, "nu", "shape", "phi")
#: cutpoints of ordinal families (brms's ``Intercept[k]``), dim :data:`CUTPOINT`
CUTPOINTS = "Intercept"
#: the cutpoints' coordinate (values "1", ..., "K-1")
CUTPOINT = "cutpoint"
#: cutpoints of the centred design (sampled; the reported ones are derived)
CUTPOINTS_C = f"{INTERNAL_PREFIX}Intercept_cut"
#: the population terms' coordinate
TERM = "term"
#: intercept of the centred design (sampled; the reported intercept is derived)
INTERCEPT_C = f"{INTERNAL_PREFIX}Intercept_c"
#: population slopes of a design with an intercept (sampled)
SLOPES = f"{INTERNAL_PREFIX}b"


def level_dim(factor: str) -> str:
    """Coordinate of a factor's levels: its name, or ``<name>__level`` for a reserved name."""
    return f"{factor}__level" if factor in RESERVED_NAMES else factor


def coef_dim(factor: str) -> str:
    """Coordinate of a factor's varying coefficients."""
    return f"{factor}__coef"


def cor_dim(factor: str) -> str:
    """Coordinate of a factor's correlation pairs."""
    return f"{factor}__cor"


def sd_var(factor: str) -> str:
    """Posterior variable of a factor's SDs."""
    return f"sd_{factor}"


def cor_var(factor: str) -> str:
    """Posterior variable of a factor's correlations."""
    return f"cor_{factor}"


def r_var(factor: str) -> str:
    """Posterior variable of a factor's group effects (deviations)."""
    return f"r_{factor}"


def cpc_var(factor: str) -> str:
    """Internal variable: the factor's canonical partial correlations, mapped to (0, 1)."""
    return f"{INTERNAL_PREFIX}cpc_{factor}"


def z_var(factor: str) -> str:
    """Internal variable: standard-normal group effects (non-centred)."""
    return f"{INTERNAL_PREFIX}z_{factor}"


def m_var(factor: str) -> str:
    """Internal variable: group coefficients drawn around their population value (centred)."""
    return f"{INTERNAL_PREFIX}m_{factor}"


#: internal variable: the intercept SDs of nested factors as a total variance and its shares
#: (:mod:`bayesmix.core.shares`)
SD_SHARES = f"{INTERNAL_PREFIX}sd_shares"


def is_group_effects(var: str) -> bool:
    """Whether ``var`` is a factor's sampled group effects (:func:`z_var`, :func:`r_var` or :func:`m_var`)."""
    return var.startswith(("r_", f"{INTERNAL_PREFIX}z_", f"{INTERNAL_PREFIX}m_"))


def split_var(vector: str, dist: str) -> str:
    """Internal variable: the elements of ``vector`` whose priors share the family ``dist``."""
    return f"{INTERNAL_PREFIX}{vector}__{dist}"


def cor_coord(a: str, b: str) -> str:
    """Coordinate value of the correlation of coefficients ``a`` and ``b``."""
    return f"{a}__{b}"


def b_label(term: str) -> str:
    """brms label (and prior key) of a population effect."""
    return f"b_{term}"


def sd_label(factor: str, coef: str) -> str:
    """brms label (and prior key) of a group-level SD."""
    return f"sd_{factor}__{coef}"


def sd_class_label(factor: str) -> str:
    """Prior key of all SDs of one factor."""
    return f"sd_{factor}"


def cor_label(factor: str, a: str, b: str) -> str:
    """brms label of a group-level correlation."""
    return f"cor_{factor}__{a}__{b}"


def cor_class_label(factor: str) -> str:
    """Prior key of a factor's correlation matrix (its LKJ prior)."""
    return f"cor_{factor}"


def r_label(factor: str, level: str, coef: str) -> str:
    """brms label of one group effect."""
    return f"r_{factor}[{level},{coef}]"


def report_sd(coef: str) -> str:
    """The report's row label of an SD."""
    return f"sd({coef})"


def report_cor(a: str, b: str) -> str:
    """The report's row label of a correlation."""
    return f"cor({a},{b})"


def is_internal(name: str) -> bool:
    """Whether a variable is one of the sampler's internal coordinates."""
    return name.startswith(INTERNAL_PREFIX)
