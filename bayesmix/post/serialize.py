"""A fit as one netCDF file: the DataTree, the data the model read, the spec and the versions.

The file is the fit's DataTree (``posterior``, ``sample_stats``) plus a ``data``
group holding the rows and columns the model read (and ``group_data/<factor>``
frames when level-two data came separately), with the spec, the sampler settings
and the package versions in the root attributes.  :func:`bayesmix.load` rebuilds the
model from the spec and the data.  No pickles are stored: loading a file never runs
code from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pymc
import xarray as xr

__all__ = ["save", "frame_to_dataset", "dataset_to_frame", "FORMAT_VERSION", "VERSION"]

#: version of the file layout; files of a newer layout are refused with a clear error
FORMAT_VERSION = 1
#: the package version written into files
VERSION = "0.1.0"


def frame_to_dataset(df: pd.DataFrame) -> xr.Dataset:
    """A data frame as a Dataset over dim ``row`` (categories, their order and the column order in
    the attributes)."""
    cats = {}
    ordered = []
    data = {}
    for i, col in enumerate(df.columns):
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats[str(col)] = [str(c) for c in s.cat.categories]
            if s.cat.ordered:
                ordered.append(str(col))
            s = s.astype(str)
        values = s.to_numpy()
        if values.dtype == object:
            values = values.astype(str)
        data[f"col{i}"] = ("row", values)
    ds = xr.Dataset(data, coords={"row": np.asarray(df.index)})
    ds.attrs["columns"] = json.dumps([str(c) for c in df.columns])
    ds.attrs["categories"] = json.dumps(cats)
    ds.attrs["ordered"] = json.dumps(ordered)
    return ds


def dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    columns = json.loads(ds.attrs["columns"])
    cats = json.loads(ds.attrs.get("categories", "{}"))
    ordered = set(json.loads(ds.attrs.get("ordered", "[]")))
    out = {}
    for i, col in enumerate(columns):
        values = ds[f"col{i}"].values
        if values.dtype.kind in "SU":
            values = values.astype(object)
        s = pd.Series(values, name=col)
        if col in cats:
            s = pd.Series(pd.Categorical(s, categories=cats[col], ordered=col in ordered), name=col)
        out[col] = s
    frame = pd.DataFrame(out)
    frame.index = pd.Index(ds["row"].values)
    return frame


def save(fit, path: str | Path) -> Path:
    """Write a :class:`~bayesmix.Fit` to ``path`` (netCDF, one file); see the module docstring.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    model = fit.model
    groups = {
        "posterior": fit.idata["posterior"].to_dataset(),
        "sample_stats": fit.idata["sample_stats"].to_dataset(),
        "data": frame_to_dataset(model.data),
    }
    for name, frame in (model.group_data or {}).items():
        groups[f"group_data/{name}"] = frame_to_dataset(frame)
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(
        bayesmix_format=FORMAT_VERSION,
        bayesmix_version=VERSION,
        pymc_version=pymc.__version__,
        bayesmix_spec=json.dumps(model.spec()),
        bayesmix_sampler=json.dumps({**fit.settings.as_dict(), "collapsed": fit.collapsed}, default=str),
        group_data=json.dumps(sorted(model.group_data or {})),
    )
    tree.to_netcdf(path, engine="h5netcdf")
    return path
