"""Response families: checking the response, default priors, the likelihood and its numpy side.

===============  ==================  =========================================================
family           link                response; extra parameters (brms's names)
===============  ==================  =========================================================
``gaussian``     identity            numeric; residual SD ``sigma``
``student``      identity            numeric, robust to outliers; ``sigma``, ``nu``
``lognormal``    identity (of log)   positive; ``sigma`` of ``log y``
``gamma``        log                 positive, skewed; ``shape``
``beta``         logit, probit       proportions strictly in (0, 1); precision ``phi``
``bernoulli``    logit, probit       0/1, booleans, or a two-level column
``binomial``     logit               ``cbind(successes, failures)`` or ``successes | trials(n)``
``poisson``      log                 non-negative integer counts
``negbinomial``  log                 overdispersed counts (NB2); ``shape``
``cumulative``   logit, probit       ordered categories or integers; cutpoints ``Intercept[k]``
===============  ==================  =========================================================

Exposure for the count families enters through ``offset(np.log(exposure))``.  Each family
has a PyMC side (used by the graph) and a numpy side used after the fit and by the
simulator (predictions, pointwise log-likelihood for LOO, R^2, ICC, simulation), checked
against PyMC's own distributions in the tests; see :mod:`~bayesmix.spec.families.base`.

Default priors of the linear predictor: Gaussian-like families scale with ``sd(y)``
(``sd(log y)`` for the lognormal); on the logit, probit and log scales the intercept gets
``normal(loc, 2.5)`` (``loc`` 0 for logit/probit, the log of the mean for log links),
slopes ``normal(0, 2.5 / sd(x))`` and group SDs ``half_student_t(3, 2.5)`` as in brms and
rstanarm.  Extra parameters: brms's defaults (``nu ~ gamma(2, 0.1)``, ``shape`` and ``phi ~
gamma(0.01, 0.01)``, cutpoints ``student_t(3, 0, 2.5)``, ``sigma ~ half_student_t(3, sd)``).
"""

from __future__ import annotations

from bayesmix.errors import argument_error
from bayesmix.spec.families.base import Aux, Family, PriorScales, aux_draws
from bayesmix.spec.families.binary import Bernoulli, Binomial
from bayesmix.spec.families.continuous import Beta, Gamma, Gaussian, LogNormal, StudentT
from bayesmix.spec.families.counts import NegativeBinomial, Poisson
from bayesmix.spec.families.ordinal import Cumulative

__all__ = [
    "Family",
    "Aux",
    "PriorScales",
    "aux_draws",
    "Gaussian",
    "StudentT",
    "LogNormal",
    "Gamma",
    "Beta",
    "Bernoulli",
    "Binomial",
    "Poisson",
    "NegativeBinomial",
    "Cumulative",
    "FAMILIES",
    "get_family",
]

#: family names (and brms's / Stata's aliases) -> class
FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "normal": Gaussian,
    "student": StudentT,
    "student_t": StudentT,
    "lognormal": LogNormal,
    "gamma": Gamma,
    "beta": Beta,
    "bernoulli": Bernoulli,
    "binomial": Binomial,
    "poisson": Poisson,
    "negbinomial": NegativeBinomial,
    "negative_binomial": NegativeBinomial,
    "cumulative": Cumulative,
    "ordinal": Cumulative,
}


def get_family(family: str | Family, link: str | None = None) -> Family:
    """Look up a family by name (see the module docstring); ``link`` picks an alternative link."""
    if isinstance(family, Family):
        return family
    if isinstance(family, str) and family.lower() in FAMILIES:
        cls = FAMILIES[family.lower()]
        return cls() if link is None else cls(link=link)
    primary = sorted({cls.name for cls in FAMILIES.values()} | {"normal"})
    raise argument_error("family", family, f"one of {primary}")
