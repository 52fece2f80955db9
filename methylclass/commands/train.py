"""``methylclass train``: fit one model on every labelled sample of a beta table and write a model bundle.

The bundle folder holds the fitted pipeline (probe selection, rebalancing, model and calibration), a JSON card
(classes, probes, training-data hash, versions, cross-validated metrics, config) and, when the classes are
large enough, a conformal calibration fitted on out-of-fold probabilities plus an out-of-distribution detector.
``--betas`` may name a preprocessing store (``methylclass preprocess`` output; labels from a sample-sheet
column such as ``--label-column Sample_Group``). Use the bundle with ``methylclass predict --model DIR``.
"""

from __future__ import annotations

import argparse
import json

from ._model_args import add_config_options, add_data_options, echo, load_run_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    p = subparsers.add_parser("train", help="fit one model on all labelled samples → model bundle folder",
                              description=__doc__.split("\n\n", 1)[1])
    add_data_options(p, required=True)
    p.add_argument("--model", required=True, metavar="NAME",
                   help="model name: conf/model/NAME.yaml or a registry entry (rf, logreg, enet, svm, svm_rbf, "
                        "xgb, mlp)")
    p.add_argument("--out", required=True, metavar="DIR", help="model bundle folder to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle in --out")
    p.add_argument("--cnv", action="store_true",
                   help="add the copy-number features (a store's cnv_features.parquet from `methylclass cnv "
                        "--store`, or a table's cnv_ columns); the bundle then carries the CNV reference panel")
    p.add_argument("--exclude", action="append", default=[], metavar="CLASS",
                   help="leave the samples of this label out of training (repeatable; e.g. normal references)")
    p.add_argument("--key", metavar="FILE", help="sign the bundle with the secret in FILE (HMAC-SHA256)")
    p.add_argument("--conformal", choices=("split", "class_conditional", "none"),
                   help="conformal prediction sets fitted on out-of-fold probabilities (default: "
                        "decision.conformal of the config, split)")
    p.add_argument("--conformal-folds", type=int, metavar="K",
                   help="folds of the cross-validation behind the conformal sets and card metrics "
                        "(default cv.outer)")
    p.add_argument("--inner", type=int, help="inner folds fitting the calibrator (cv.inner)")
    p.add_argument("--seed", type=int, help="random seed (experiment.seed)")
    p.add_argument("--n-jobs", type=int, help="folds fitted in parallel (experiment.n_jobs)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")
    add_config_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the config, train, print the bundle summary as JSON."""
    from ..workflows import train

    cfg = load_run_config(args, models=[args.model])
    if args.cnv:
        cfg["data"]["feature_blocks"] = ["cnv_"]
    if args.exclude:
        cfg["data"]["exclude_classes"] = list(args.exclude)
    res = train(cfg, args.out, model=args.model, overwrite=args.overwrite,
                conformal={None: "config", "none": None}.get(args.conformal, args.conformal),
                conformal_folds=args.conformal_folds, progress=args.progress, echo=echo, key=args.key)
    keys = ("balanced_accuracy", "accuracy", "brier", "ece", "classifiable")
    print(json.dumps({"bundle": str(res.path), "classes": res.classes, "components": res.components,
                      "cv_metrics": None if res.metrics is None else {k: round(res.metrics[k], 4) for k in keys},
                      "seconds": round(res.wall_seconds, 1)}, indent=1))
    return 0
