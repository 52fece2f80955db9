"""The options of a CNV analysis as one value, passed unchanged through every path (IDATs, a store in this
process, a store on Spark) down to the per-sample kernel."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from .calls import DEFAULT_THRESHOLDS, CallThresholds
from .segment import METHODS, CBSParams


@dataclass(frozen=True)
class CNVOptions:
    """How each sample is analysed (the defaults are conumee2's).

    Parameters
    ----------
    method : {"cbs", "binseg"}
        Segmentation: weighted circular binary segmentation (conumee/DNAcopy) or the fast binary one.
    seg_params : CBSParams, optional
        Segmentation parameters (None: :class:`CBSParams` defaults).
    thresholds : CallThresholds
        log2-ratio thresholds of the gain/loss and amplification/deletion calls.
    cancer_genes : bool
        Add the ~730 cancer genes to the bundled focal-gene set.
    bin_summary : str, optional
        Also emit per-bin features (``"median"`` …) in the feature table.
    """

    method: str = "cbs"
    seg_params: CBSParams | None = None
    thresholds: CallThresholds = DEFAULT_THRESHOLDS
    cancer_genes: bool = False
    bin_summary: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown segmentation method '{self.method}'; choose one of {', '.join(METHODS)}")

    def replace(self, **changes: Any) -> CNVOptions:
        """A copy with ``changes`` applied (ConfigError for a name that is not an option)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"unknown CNV option(s) {', '.join(unknown)}; options: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, options: CNVOptions | None = None, **changes: Any) -> CNVOptions:
        """``options`` (default: the defaults) with ``changes`` applied; None values leave a field as it is."""
        return (options or cls()).replace(**{k: v for k, v in changes.items() if v is not None})


#: the default options (conumee2's)
DEFAULT_OPTIONS = CNVOptions()
