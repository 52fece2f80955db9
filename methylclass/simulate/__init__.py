"""Realistic simulated cohorts written as real IDAT files, with the truth they were generated from.

``simulate_cohort(out_dir, manifest=..., classes=..., n_per_class=..., seed=...)`` (or ``methylclass simulate
--out DIR``) writes K tumour classes grouped into families plus copy-neutral normal references for any array
the toolkit can load (HM450, HM27, MSA, a user's EPIC/EPICv2 manifest) or for a synthetic design of any size
(``manifest="synthetic"``, ``n_probes=…``; hg19/hg38 coordinates, no manifest file needed).

What is simulated (module by module):

* :mod:`.design` — the synthetic array (probes, Type I/II, addresses, controls, coordinates) and CpG context;
* :mod:`.profiles` — bimodal normal background, tumour-common / family / class DMPs, per-sample biological
  noise, SNP genotypes, X inactivation;
* :mod:`.cnv` — whole-chromosome, arm and focal events (amplification / homozygous deletion at named genes),
  per class (with a penetrance) and per sample, applied to total intensity as
  ``purity·CN/2 + (1 − purity)·CN_normal/2`` (raised to ``cn_gamma``, default 1; the X dosage of real 450k
  samples suggests ≈ 0.65); sex chromosomes follow the sample's sex (female chrY: 1 % cross-hybridisation);
* :mod:`.intensities` — Red/Grn Mean, SD, NBeads per address: probe affinities, background (normal +
  exponential), cross-talk / out-of-band signal, dye bias, controls, failed probes; calibrated on the real
  450k Green channel (Red ratios from the minfi oracle) and the real HM27 pair (two-sample KS statistics in
  :mod:`.calibration`, fitting script ``pipelines/calibrate_simulate.py``);
* :mod:`.cohort` — purity, FFPE, slides/batches, low-quality samples, parallel streaming writer;
* :mod:`.mixed` — one cohort on several array layouts (450k-, EPIC-, EPICv2-like with replicate probes,
  MSA-like) with array-specific technical shifts (:func:`simulate_mixed_cohort`).

Output folder (written under a temporary name and renamed when complete)::

    idat/<barcode>_<RxxCxx>_Grn.idat, …_Red.idat   one pair per sample (.idat.gz with compress=True);
                                                  12-digit barcodes, one barcode per slide
    samplesheet.csv                               Sample_Name, Sample_Group (= class), Sentrix_ID,
                                                  Sentrix_Position, Sex, Material (FFPE/Frozen), Basename
                                                  (relative to the folder, without _Grn.idat)
    truth/samples.tsv                             one row per sample (columns below)
    truth/dmps.tsv                                one row per planted differentially methylated probe
    truth/cnv.tsv                                 one row per copy-number event per sample
    manifest/probes.tsv.gz, manifest/controls.tsv only for synthetic designs: the manifest, readable by
                                                  methylclass.io.manifest.load_sesame_tsv
    simulation.json                               configuration, array, seed, version, intensity parameters

``truth/samples.tsv`` (tab-separated): ``sample``, ``basename``, ``sentrix_id``, ``sentrix_position``,
``slide`` (1-based), ``batch`` (``B001``: one batch per slide), ``class`` (``normal`` for the references),
``family``, ``is_normal``, ``sex`` (M/F), ``purity`` (tumour cell fraction; 0 for normals), ``ffpe``,
``low_quality`` (global intensity drop, more failed probes, poorer conversion), ``dye_bias`` (Red/Grn gain
ratio of the sample, 1 = none), ``dna_scale`` (DNA-dependent intensity factor), ``background_scale``,
``conversion_efficiency`` (bisulfite), ``failed_rate`` and ``failed_probes`` (planned rate, realised count:
half with 0 beads, half background-only), ``n_cnv_events``, ``sim_index`` (the sample's random stream).

``truth/dmps.tsv``: ``probe_id``, ``cpg_id``, ``level`` (``tumour`` = shared by all tumour classes, ``family``,
``class``), ``class`` (``*`` unless level is class), ``family`` (``*`` for tumour level), ``direction``
(hyper/hypo), ``delta`` (|class mean − normal mean| in β), ``beta_background`` (normal mean β),
``beta_class`` (class mean β in pure tumour). Observed betas are diluted by purity:
``β ≈ purity·beta_class + (1 − purity)·beta_background`` on copy-neutral probes.

``truth/cnv.tsv``: ``sample``, ``class``, ``origin`` (``class`` signature event or sporadic ``sample`` event),
``chrom``, ``start``, ``end`` (1-based closed), ``region`` (``7``, ``10q``, gene name or ``chr:start-end``),
``kind`` (gain/loss/amp/homdel), ``copy_number`` (absolute, in the tumour cells). Expected shift of
log2(M+U) against normals: ``log2(purity·copy_number/2 + 1 − purity)`` (autosomes).

Deterministic given ``seed`` (byte-identical files, independent of ``n_jobs``).
"""

from __future__ import annotations

from .calibration import ks_statistic, ks_table, real_450k_green, reference_channels
from .cnv import CnvEvent, parse_event
from .cohort import SimulationConfig, SimulationResult, demo_cohort, simulate_cohort
from .design import cpg_context, synthetic_manifest, write_manifest_tsv
from .intensities import PRESETS, IntensityParams
from .mixed import MixedResult, simulate_mixed_cohort
from .truth import Truth, read_truth

__all__ = [
    "PRESETS",
    "CnvEvent",
    "IntensityParams",
    "MixedResult",
    "SimulationConfig",
    "SimulationResult",
    "Truth",
    "cpg_context",
    "demo_cohort",
    "ks_statistic",
    "ks_table",
    "parse_event",
    "read_truth",
    "real_450k_green",
    "reference_channels",
    "simulate_cohort",
    "simulate_mixed_cohort",
    "synthetic_manifest",
    "write_manifest_tsv",
]
