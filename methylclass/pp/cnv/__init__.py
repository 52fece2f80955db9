"""Copy-number analysis from methylation-array intensities (conumee2-faithful, see each module).

``make_bins`` (cached bins) → ``CNVReference.from_intensities`` (panel of normals) → ``cnv_sample`` (fit,
bin medians, baseline shift, weighted CBS, arm/focal calls, fraction altered) → ``cnv_feature_table``.
"""

from .bins import Bins, make_bins
from .calls import CallThresholds, bin_values, call_arms, call_focal, fraction_altered, shorth_shift
from .features import cnv_feature_table, cnv_features, read_cnv_features, write_cnv_features
from .genome import Genome, load_genome, load_regions, read_regions
from .reference import CNVReference, FitResult, fit_reference, log2_intensity
from .sample import CNVResult, cnv_sample
from .segment import CBSParams, segment

__all__ = [
    "Bins", "make_bins", "CallThresholds", "bin_values", "call_arms", "call_focal", "fraction_altered",
    "shorth_shift", "cnv_feature_table", "cnv_features", "read_cnv_features", "write_cnv_features", "Genome",
    "load_genome", "load_regions", "read_regions", "CNVReference", "FitResult", "fit_reference",
    "log2_intensity", "CNVResult", "cnv_sample", "CBSParams", "segment",
]
