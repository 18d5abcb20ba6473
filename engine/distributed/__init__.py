"""Past one machine: leads and events as Parquet partitioned by lead, replayed on Dask."""

from __future__ import annotations

import importlib
from types import ModuleType

from leadrules.dsl.errors import LeadrulesError, UsageError

_NEEDS = {"pyarrow": "Parquet files need pyarrow", "dask": "--engine dask needs Dask",
          "distributed": "--engine dask needs Dask"}


class ClusterError(LeadrulesError):
    """A distributed run could not finish on its cluster."""


def load(module: str) -> ModuleType:
    """`leadrules.engine.distributed.<module>`, or a UsageError saying what to install when
    the optional libraries it needs (the `dask` extra) are missing."""
    try:
        return importlib.import_module(f"leadrules.engine.distributed.{module}")
    except ImportError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in _NEEDS:
            raise
        raise UsageError(f"{_NEEDS[missing]}: pip install 'leadrules[dask]'") from None
