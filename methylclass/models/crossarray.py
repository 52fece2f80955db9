"""Cross-array prediction: put a query table of any array onto a model's features, with its coverage.

A model records its training features (canonical CpG ids, e.g. 450k ``cg…``). A query from an EPICv2 or MSA
array names its probes ``cg…_TC21`` and may carry several replicates of one CpG; an EPIC query lacks some
450k CpGs. :func:`align_to_features` is the one call the prediction path makes before ``predict_proba``:

1. replicate probe columns collapse to canonical CpG ids (mean of the non-missing replicates,
   :func:`methylclass.io.canonical.collapse_replicate_columns`);
2. the table is reindexed to the model's features (absent CpGs → NaN, extra columns dropped);
3. per sample, ``coverage`` = fraction of the CpGs the model *uses* that carry a value;
4. samples below ``min_coverage`` are flagged ``low_coverage`` with the numbers (the caller reports them as
   ``no_match``/refused with :attr:`CrossArrayAlignment.reasons` instead of predicting them).

The missing CpGs of the samples that pass are filled inside the model by its imputer (``impute="centroid"``:
:class:`methylclass.models.impute.CentroidImputer`, the documented strategy; see the accuracy-against-coverage
curve in the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io.canonical import collapse_replicate_columns, feature_coverage
from ..io.manifest.types import Manifest

__all__ = ["CrossArrayAlignment", "align_to_features"]


@dataclass
class CrossArrayAlignment:
    """A query aligned to a model: ``X`` (samples × the model's features, NaN where absent), ``coverage``
    (fraction of used features present, per sample), ``low_coverage`` (bool per sample) and the threshold."""

    X: pd.DataFrame
    coverage: pd.Series
    low_coverage: pd.Series
    min_coverage: float
    n_used: int

    @property
    def reasons(self) -> pd.Series:
        """Per flagged sample, the refusal reason with the numbers (empty string for the others)."""
        n_have = (self.coverage * self.n_used).round().astype(int)
        text = [f"low coverage: {h:,} of the {self.n_used:,} CpGs the model uses are present ({c:.1%}); at "
                f"least {self.min_coverage:.0%} are needed" if low else ""
                for h, c, low in zip(n_have, self.coverage, self.low_coverage)]
        return pd.Series(text, index=self.X.index, name="reason")


def align_to_features(X: pd.DataFrame, features: Sequence[str], *, used: Sequence[str] | None = None,
                      min_coverage: float, manifest: Manifest | None = None) -> CrossArrayAlignment:
    """Align a samples × probes query ``X`` of any array to a model's ``features`` (module docstring).

    Parameters
    ----------
    X : DataFrame
        Query betas, rows = samples, columns = probe ids of the query's array (suffixed or canonical).
    features : sequence of str
        The model's training features, in training order (canonical CpG ids).
    used : sequence of str, optional
        The features the model actually uses (after selection); coverage is computed on them. Default
        ``features``.
    min_coverage : float
        Smallest acceptable coverage, in [0, 1] (the default lives in ``conf/base.yaml``,
        ``predict.min_coverage``).
    manifest : Manifest, optional
        The query array's manifest (``probe_id`` → ``cpg_id``); default: strip Illumina suffixes.

    Returns
    -------
    CrossArrayAlignment
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError("cross-array prediction needs a samples × probes DataFrame with probe ids as columns")
    if not 0.0 <= float(min_coverage) <= 1.0:
        raise ConfigError(f"min_coverage must lie in [0, 1] (got {min_coverage!r})")
    features = [str(f) for f in features]
    used = features if used is None else [str(f) for f in used]
    Xc = collapse_replicate_columns(X.set_axis(X.columns.astype(str), axis=1), manifest)
    if Xc.columns.has_duplicates:
        dup = Xc.columns[Xc.columns.duplicated()].unique().tolist()
        raise DataError(f"duplicated probe columns in the query: {dup[:5]}")
    cov = feature_coverage(Xc, used)
    aligned = Xc.reindex(columns=features)
    try:
        aligned = aligned.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"non-numeric values in the query's CpG columns ({exc})") from None
    low = (cov < float(min_coverage)).rename("low_coverage")
    return CrossArrayAlignment(X=aligned, coverage=cov, low_coverage=low, min_coverage=float(min_coverage),
                               n_used=len(used))
