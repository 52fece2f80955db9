"""Copy-number analysis from methylation-array intensities (conumee2-faithful, see each module).

``make_bins`` (cached bins) → ``CNVReference.from_intensities`` (panel of normals) → ``cnv_sample`` (fit,
bin medians, baseline shift, weighted CBS, arm/focal calls, fraction altered) → ``cnv_feature_table``.
"""

from .bins import Bins, make_bins
from .calls import CallThresholds, bin_values, call_arms, call_focal, fraction_altered, shorth_shift
from .features import cnv_feature_table, cnv_features, read_cnv_features, write_cnv_features
from .genome import Genome, load_genome, load_regions, read_regions
from .options import CNVOptions
from .reference import CNVReference, FitResult, fit_reference, log2_intensity
from .sample import CNVResult, cnv_sample
from .segment import CBSParams, segment

__all__ = [
    "Bins",
    "CBSParams",
    "CNVOptions",
    "CNVReference",
    "CNVResult",
    "CallThresholds",
    "FitResult",
    "Genome",
    "bin_values",
    "call_arms",
    "call_focal",
    "cnv_feature_table",
    "cnv_features",
    "cnv_sample",
    "fit_reference",
    "fraction_altered",
    "load_genome",
    "load_regions",
    "log2_intensity",
    "make_bins",
    "read_cnv_features",
    "read_regions",
    "segment",
    "shorth_shift",
    "write_cnv_features",
]
