"""Load a fit saved by :meth:`bayesmix.Fit.save`: the draws, and the model rebuilt from spec and data.

Loading rebuilds the :class:`~bayesmix.Model` from the spec and the data stored in
the file -- the same design, the same encoders for new data, the same default
priors -- so a loaded fit prints the same report, gives identical tables and can be
refitted.  Nothing in the file is executed: the formula is checked against the
formula language like any other, and no pickles are stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from bayesmix.errors import FitFileError
from bayesmix.fit import Fit
from bayesmix.inference.sampling import SamplerSettings
from bayesmix.model import Model
from bayesmix.post.serialize import FORMAT_VERSION, dataset_to_frame

__all__ = ["load"]


def load(path: str | Path) -> Fit:
    """Read a fit written by :meth:`bayesmix.Fit.save`, rebuilding its model.

    Raises
    ------
    FitFileError
        The file is missing, damaged, not a bayesmix fit, or of a newer format.
    """
    path = Path(path)
    if not path.exists():
        raise FitFileError(f"no file {str(path)!r}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            tree = opened.load()
    except Exception as exc:  # noqa: BLE001 - any reader failure means a file we cannot use
        raise FitFileError(f"{path} is not a readable netCDF file ({type(exc).__name__}: {exc})") from None
    attrs = tree.attrs
    if "bayesmix_format" not in attrs:
        raise FitFileError(f"{path} is a netCDF file but not a bayesmix fit (no 'bayesmix_format' attribute)")
    version = int(attrs["bayesmix_format"])
    if version > FORMAT_VERSION:
        raise FitFileError(
            f"{path} was written in bayesmix file format {version} (by bayesmix "
            f"{attrs.get('bayesmix_version', '?')}); this bayesmix reads format {FORMAT_VERSION} and "
            "older: upgrade bayesmix to load it"
        )
    try:
        spec = json.loads(attrs["bayesmix_spec"])
        sampler = json.loads(attrs["bayesmix_sampler"])
        data = dataset_to_frame(tree["data"].to_dataset())
        group_data = {
            name: dataset_to_frame(tree[f"group_data/{name}"].to_dataset())
            for name in json.loads(attrs.get("group_data", "[]"))
        }
        posterior = tree["posterior"].to_dataset()
        stats = tree["sample_stats"].to_dataset()
    except (KeyError, ValueError, TypeError) as exc:
        raise FitFileError(f"{path} is damaged or incomplete ({type(exc).__name__}: {exc})") from None
    model = Model(
        spec["formula"],
        data,
        family=spec["family"],
        link=spec["link"],
        priors=spec["priors"],
        centered=spec["centered"],
        na_action=spec["na_action"],
        level2=spec["level2"],
        group_data=group_data or None,
        weights=spec.get("weights"),
        weights_kind=spec.get("weights_kind", "frequency"),
    )
    collapsed = sampler.pop("collapsed", None)
    settings = SamplerSettings(**sampler)
    idata = xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})
    return Fit(model, idata, settings, collapsed=collapsed)
