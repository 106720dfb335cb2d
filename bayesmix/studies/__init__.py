"""Simulation studies on a model: parameter recovery, simulation-based calibration, power.

Each study simulates data sets with :mod:`bayesmix.simulate`, fits them (in this
process, a local process pool, or on a Dask cluster with ``client=``; seeds spawned per
fit, so results do not depend on who ran them) and returns a
:class:`~bayesmix.studies.results.StudyResult`.  :mod:`bayesmix.plots` draws them.
"""

from bayesmix.studies.power import power
from bayesmix.studies.recovery import recovery
from bayesmix.studies.results import StudyResult
from bayesmix.studies.sbc import sbc

__all__ = ["recovery", "sbc", "power", "StudyResult"]
