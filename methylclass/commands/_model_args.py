"""Options shared by the train / evaluate / benchmark / predict commands (not a command itself)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import ConfigError


def add_data_options(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--betas --label-column --sample-column --labels --orientation --groups-column``."""
    g = p.add_argument_group("data (replaces the configured data set)")
    g.add_argument("--betas", required=required, metavar="TABLE",
                   help="beta table: CSV/TSV/Parquet (.gz ok), samples × CpGs or CpGs × samples, a GEO series "
                        "matrix or a methylprep output")
    g.add_argument("--label-column", metavar="COL",
                   help="column with the class labels (GEO series matrix: the !Sample_characteristics_ch1 key)")
    g.add_argument("--sample-column", metavar="COL", help="column with the sample ids (default: first column)")
    g.add_argument("--labels", metavar="FILE", help="separate label file (sample id column + label column)")
    g.add_argument("--orientation", choices=("auto", "samples_x_cpgs", "cpgs_x_samples"), default="auto",
                   help="table layout (default: detect from cg… probe ids)")
    g.add_argument("--groups-column", metavar="COL",
                   help="patient/batch column (in the table or label file): samples of a group stay in one fold")
    g.add_argument("--common-probes", metavar="ARRAYS",
                   help="use only the CpGs shared by these arrays, e.g. HM450,EPICv2 (a store's arrays or any "
                        "array whose manifest can be loaded); a store mixing arrays uses the CpGs of all its "
                        "arrays by default")


def add_labelled_input(p: argparse.ArgumentParser) -> None:
    """``--betas TABLE|STORE --label-column --labels --sample-column --out DIR`` of the commands that read a
    labelled cohort and write a folder (``panel``, ``embed``).

    Parameters
    ----------
    p : ArgumentParser
        The sub-command's parser.
    """
    p.add_argument("--betas", required=True, metavar="TABLE|STORE", help="beta table or preprocessing store")
    p.add_argument("--label-column", metavar="COL", help="column with the class labels")
    p.add_argument("--labels", metavar="FILE", help="separate label file (sample id column + label column)")
    p.add_argument("--sample-column", metavar="COL", help="column with the sample ids (default: first column)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced when complete)")


def add_config_options(p: argparse.ArgumentParser, *, experiment: bool = True) -> None:
    """``--experiment --config --conf-dir --set``."""
    g = p.add_argument_group("configuration")
    if experiment:
        g.add_argument("--experiment", metavar="NAME", help="conf/experiment/NAME.yaml (a delta on base.yaml)")
    g.add_argument("--config", metavar="FILE", help="a YAML file applied as a further delta (e.g. a saved "
                                                    "runs/…/config.yaml)")
    g.add_argument("--conf-dir", metavar="DIR",
                   help="configuration folder (default: $METHYLCLASS_CONF, the repository's conf/ or the copy a "
                        "wheel installs)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set cv.outer=3 --set models.rf.params.n_estimators=1000")


def add_cv_options(p: argparse.ArgumentParser) -> None:
    """``--outer --inner --repeats --rare --seed --n-jobs --backend --master --out-dir --no-progress``."""
    g = p.add_argument_group("cross-validation and run")
    g.add_argument("--outer", type=int, help="outer folds (cv.outer)")
    g.add_argument("--inner", type=int, help="inner folds fitting the calibrator (cv.inner)")
    g.add_argument("--repeats", type=int, help="repetitions with reshuffled folds (cv.repeats)")
    g.add_argument("--rare", choices=("refuse", "merge", "drop"),
                   help="classes smaller than the folds need: refuse (default), merge or drop them")
    g.add_argument("--seed", type=int, help="random seed (experiment.seed)")
    g.add_argument("--n-jobs", type=int, help="folds fitted in parallel (experiment.n_jobs)")
    g.add_argument("--backend", choices=("local", "spark"),
                   help="where the outer-fold fits run: local joblib processes or Spark tasks, same results "
                        "(experiment.backend)")
    g.add_argument("--master", metavar="URL", help="Spark master of --backend spark: local[N], "
                                                   "spark://HOST:PORT, yarn, k8s://… (experiment.master)")
    g.add_argument("--out-dir", metavar="DIR", help="runs are written to DIR/<experiment>/<timestamp>/ "
                                                    "(experiment.out_dir, default runs)")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (it is shown only on a terminal anyway)")


def overrides_from(args: argparse.Namespace) -> list[str]:
    """``key=value`` overrides for the options given on the command line (after the user's --set ones)."""
    mapping = {"outer": "cv.outer", "inner": "cv.inner", "repeats": "cv.repeats", "rare": "cv.rare",
               "seed": "experiment.seed", "n_jobs": "experiment.n_jobs", "out_dir": "experiment.out_dir",
               "backend": "experiment.backend", "master": "experiment.master"}
    out = list(getattr(args, "overrides", []) or [])
    for attr, key in mapping.items():
        value = getattr(args, attr, None)
        if value is not None:
            out.append(f"{key}={value}")
    return out


def load_run_config(args: argparse.Namespace, *, models: list[str] | None = None) -> dict[str, Any]:
    """Resolve the config of a command: experiment/config/overrides, model selection, data from the CLI."""
    from ..config import load_config
    from ..workflows import cli_data_block

    extra = [f"defaults.models=[{','.join(models)}]"] if models else []
    cfg = load_config(getattr(args, "experiment", None), config_file=args.config,
                      overrides=[*extra, *overrides_from(args)], conf=args.conf_dir)
    if getattr(args, "betas", None):
        if not args.label_column and not args.labels:
            raise ConfigError("--betas needs --label-column COL or --labels FILE to know the classes")
        cfg["data"] = cli_data_block(betas=args.betas, label_column=args.label_column,
                                     sample_column=args.sample_column, labels=args.labels,
                                     orientation=args.orientation, groups_column=args.groups_column,
                                     common_probes=getattr(args, "common_probes", None))
    elif any(getattr(args, a, None) for a in ("label_column", "sample_column", "labels", "groups_column")):
        raise ConfigError("--label-column/--sample-column/--labels/--groups-column describe a --betas table; "
                          "give --betas too")
    return cfg


def echo(message: str) -> None:
    """Progress line on stderr (stdout stays for results)."""
    print(message, file=sys.stderr, flush=True)
