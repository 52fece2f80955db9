"""``methylclass simulate --out DIR``: write a realistic simulated cohort (IDAT pairs, sample sheet, truth).

The array is a synthetic design (default, ``--array SYNTH --probes N``; needs no manifest), a built-in one
(``--array HM450``, ``HM27``, ``MSA``) or a manifest file (``--manifest PATH``, e.g. a user's EPIC/EPICv2
manifest). Tumour classes come in families with planted DMPs; copy-number events are random per class
(``--cnv auto``), off (``--cnv none``) or given per class (``--cnv "F1_A=+7,-10,EGFR:amp" --cnv
"F2_A=CDKN2A:homdel"``). ``--per-class`` takes one size or one per class (``200,150,40,8,5`` for rare entities).
The output folder holds ``idat/``, ``samplesheet.csv``, ``truth/{samples,dmps,cnv}.tsv`` and
``simulation.json`` (formats: ``help(methylclass.simulate)``). Deterministic given ``--seed``.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError


def _pair(text: str, what: str) -> tuple[float, float]:
    try:
        parts = [float(x) for x in text.replace(":", ",").split(",")]
    except ValueError:
        raise ConfigError(f"{what} must be one number or LOW,HIGH (got '{text}')") from None
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) != 2:
        raise ConfigError(f"{what} must be one number or LOW,HIGH (got '{text}')")
    return parts[0], parts[1]


def _sizes(text: str) -> int | list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--per-class must be an integer or a comma-separated list (got '{text}')") from None
    if not vals:
        raise ConfigError("--per-class is empty")
    return vals[0] if len(vals) == 1 else vals


def _classes(text: str) -> int | list[str]:
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return [c.strip() for c in text.split(",") if c.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser("simulate", help="write a realistic simulated cohort as IDAT files",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("--out", required=True, help="output folder (created; must be empty unless --force)")
    p.add_argument("--array", default=None,
                   help="SYNTH (default: synthetic design), HM450, HM27, MSA, or the name for --manifest")
    p.add_argument("--manifest", help="manifest file (Illumina CSV or sesame TSV) to simulate")
    p.add_argument("--probes", type=int, default=20_000, help="probes of a synthetic design (default 20000)")
    p.add_argument("--genome", default="hg19", choices=("hg19", "hg38"), help="build of a synthetic design")
    p.add_argument("--classes", default="4", help="number of tumour classes or their names (A,B,C)")
    p.add_argument("--families", type=int, help="number of families (default: pairs of sibling classes)")
    p.add_argument("--per-class", default="10", help="samples per class: N or N1,N2,… (default 10)")
    p.add_argument("--normals", type=int, default=8, help="copy-neutral normal references (default 8)")
    p.add_argument("--purity", default="0.5,0.95", help="tumour purity range LOW,HIGH in (0,1] (default 0.5,0.95)")
    p.add_argument("--male-fraction", type=float, default=0.5, help="fraction of male samples (default 0.5)")
    p.add_argument("--dmps", type=int, help="planted DMPs per class (default: 1%% of CpGs, 20-1000)")
    p.add_argument("--family-dmps", type=int, help="planted DMPs per family (default: as --dmps)")
    p.add_argument("--delta", default="0.3,0.6", help="|delta beta| range of planted DMPs (default 0.3,0.6)")
    p.add_argument("--cnv", action="append", metavar="SPEC",
                   help="auto (default), none, or CLASS=EVENT,EVENT… (repeatable; e.g. F1_A=+7,-10,EGFR:amp)")
    p.add_argument("--cn-gamma", type=float, default=1.0,
                   help="copy-number response exponent (1 = linear purity·CN/2 model; real 450k ≈ 0.65)")
    p.add_argument("--ffpe", type=float, default=0.3, help="fraction of FFPE samples (default 0.3)")
    p.add_argument("--low-quality", type=float, default=0.03, help="fraction of low-quality tumours (default 0.03)")
    p.add_argument("--failed-probes", type=float, default=0.002, help="failed-probe rate (default 0.002)")
    p.add_argument("--batch-effect", type=float, default=1.0, help="slide-effect strength (0 = none, default 1)")
    p.add_argument("--dye-bias", type=float, default=1.0, help="dye-bias spread (0 = none, default 1)")
    p.add_argument("--layout", choices=("450k", "epic", "hm27", "msa"), help="slide layout (default: the array's)")
    p.add_argument("--gzip", action="store_true", help="write .idat.gz files")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (-1 = all cores; default 1)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """The :class:`~methylclass.simulate.SimulationConfig` the command-line options describe."""
    from ..simulate import SimulationConfig

    if args.manifest:
        manifest = args.manifest
    elif args.array is None or args.array.upper() in ("SYNTH", "SYNTHETIC"):
        manifest = "synthetic"
    else:
        manifest = args.array
    cnv_opts = args.cnv or ["auto"]
    if len(cnv_opts) == 1 and cnv_opts[0].strip().lower() in ("auto", "none"):
        cnv = cnv_opts[0].strip().lower()
    elif any(c.strip().lower() in ("auto", "none") for c in cnv_opts):
        raise ConfigError("--cnv auto / none cannot be combined with per-class specs")
    else:
        cnv = cnv_opts
    return SimulationConfig(
        manifest=manifest, array=args.array if (args.manifest or manifest == "synthetic") else None,
        n_probes=args.probes, genome_build=args.genome, classes=_classes(args.classes), families=args.families,
        n_per_class=_sizes(args.per_class), n_normals=args.normals, purity=_pair(args.purity, "--purity"),
        male_fraction=args.male_fraction, dmps_per_class=args.dmps, dmps_per_family=args.family_dmps,
        dmp_delta=_pair(args.delta, "--delta"), cnv=cnv, cn_gamma=args.cn_gamma, ffpe_fraction=args.ffpe,
        low_quality_fraction=args.low_quality, failed_probe_rate=args.failed_probes,
        batch_effect=args.batch_effect, dye_bias=args.dye_bias, layout=args.layout, compress=args.gzip,
        seed=args.seed, n_jobs=args.jobs, force=args.force)


def run(args: argparse.Namespace) -> int:
    """Simulate the cohort and print where it went."""
    from ..progress import Progress
    from ..simulate import simulate_cohort

    cfg = config_from_args(args)
    with Progress(0, "simulate", unit="samples", enabled=False if args.quiet else None) as bar:
        res = simulate_cohort(args.out, cfg, progress=bar.update)
    s = res.samples
    n_t = int((~s["is_normal"]).sum())
    print(f"{res.out_dir}: {len(s)} samples ({n_t} tumours in {s.loc[~s['is_normal'], 'class'].nunique()} "
          f"classes, {int(s['is_normal'].sum())} normal references) on {res.manifest.array} "
          f"({res.manifest.n_probes:,} probes) [{res.seconds:.1f} s]")
    print(f"  sample sheet {res.samplesheet.name}, truth in {res.truth_samples.parent.name}/"
          + (f", manifest in {res.manifest_files[0].parent.name}/" if res.manifest_files else ""))
    return 0
