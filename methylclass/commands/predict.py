"""``methylclass predict --model DIR INPUT... --out DIR``: diagnose new cases with a model bundle.

INPUT: IDAT basenames or ``*_Grn.idat``/``*_Red.idat`` files (``.gz`` too), folders of IDATs, sample sheets,
beta tables or preprocessing stores. IDATs are normalised (and their copy number analysed) exactly as the
model's training data were, in this process (no Spark). OUT receives ``predictions.csv``,
``predictions.json`` and ``report/`` (``index.html`` + one page per sample). One row per sample: ``sample``,
``status`` (ok / failed), ``prediction`` (a class or ``no_match``), ``score``, ``reason`` (empty for a call;
``low_score``, ``out_of_distribution``, ``low_coverage``, ``qc_failed``, or the read error of a failed sample),
``top_classes``, ``prediction_set``, ``ood_pvalue``, ``coverage``, ``qc_status``, ``warning`` (e.g. a covariate
the model adjusts for that could not be built: that sample is not adjusted), ``proba_<class>`` and the CNV
features used. A model trained on a mixed-array store adjusts for the array: IDATs give it themselves, beta
tables need ``--array``; other covariates come from ``--covariate NAME=VALUE`` or the sample sheet.
The earlier form ``predict --model DIR --betas TABLE --out PRED.csv`` writes the CSV only.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError
from ._model_args import echo


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser("predict", help="diagnose new cases (IDATs, tables, stores) with a model bundle",
                              description=__doc__.split("\n\n", 1)[1])
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="IDATs / basenames / folders / sheets / tables / "
                                                              "stores")
    p.add_argument("--model", required=True, metavar="DIR", help="model bundle folder (from methylclass train)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (with --betas: the predictions CSV to write)")
    p.add_argument("--betas", metavar="TABLE", help="earlier form: a beta table or store → one CSV")
    p.add_argument("--manifest", help="manifest file for IDATs of an array without a built-in manifest")
    p.add_argument("--controls", help="control-probe table going with --manifest")
    p.add_argument("--no-report", dest="report", action="store_false", help="skip the HTML report")
    p.add_argument("--sample-column", metavar="COL", help="(--betas) column with the sample ids")
    p.add_argument("--orientation", choices=("auto", "samples_x_cpgs", "cpgs_x_samples"), default="auto")
    p.add_argument("--label-column", metavar="COL", help="(--betas) copy this true-label column as 'label'")
    p.add_argument("--labels", metavar="FILE", help="(--betas) label file whose labels are copied as 'label'")
    p.add_argument("--threshold", type=float,
                   help="calibrated score needed for a call (default: the model's, usually 0.9)")
    p.add_argument("--alpha", type=float,
                   help="conformal sets cover the true class with probability ≥ 1 − alpha (default: the model's)")
    p.add_argument("--ood-alpha", metavar="LEVEL",
                   help="out-of-distribution level (default auto: chosen from the training size so the flag "
                        "can fire)")
    p.add_argument("--max-missing", type=float, metavar="FRACTION",
                   help="largest fraction of the model's CpGs a sample may miss (default: the model's, 0.05)")
    p.add_argument("--array", metavar="NAME",
                   help="array of beta-value inputs (e.g. EPICv2), for a model adjusting for the array "
                        "(raw intensity inputs use the array detected when reading them)")
    p.add_argument("--covariate", dest="covariates", action="append", default=[], metavar="NAME=VALUE",
                   help="value of an adjusted covariate for every sample, e.g. material=ffpe (repeatable)")
    p.set_defaults(func=run)


def _ood(text: str | None):
    if text is None or text.lower() == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--ood-alpha must be a number in (0, 1) or 'auto' (got '{text}')") from None


def _covariates(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"--covariate must be NAME=VALUE (e.g. material=ffpe); got '{item}'")
        out[name.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    """Predict, write the outputs, print a one-line summary per outcome."""
    covariates = _covariates(args.covariates)
    if args.betas:
        if args.inputs:
            raise ConfigError("give either INPUT... or --betas TABLE, not both")
        from ..workflows.predict_outputs import predict_table

        pred = predict_table(args.model, args.betas, args.out, threshold=args.threshold, alpha=args.alpha,
                             ood_alpha=_ood(args.ood_alpha), sample_column=args.sample_column,
                             orientation=args.orientation, label_column=args.label_column, labels=args.labels,
                             array=args.array, covariates=covariates)
    else:
        if not args.inputs:
            raise ConfigError("nothing to predict: give IDATs, folders, sheets, tables or stores (or --betas)")
        from ..workflows.predict_outputs import predict_cases

        pred = predict_cases(args.model, args.inputs, args.out, report=args.report, echo=echo,
                             threshold=args.threshold, alpha=args.alpha, ood_alpha=_ood(args.ood_alpha),
                             max_missing=args.max_missing, manifest=args.manifest, controls=args.controls,
                             array=args.array, covariates=covariates)
    echo(f"{len(pred)} samples → {args.out}")
    for label, n in pred["prediction"].replace("", "(failed)").value_counts().items():
        print(f"{label}\t{n}", file=sys.stdout)
    if "label" in pred.columns:
        called = pred["prediction"] != "no_match"
        acc = (pred.loc[called, "prediction"] == pred.loc[called, "label"]).mean() if called.any() else float("nan")
        echo(f"accuracy among {int(called.sum())} classified samples: {acc:.3f}")
    return 0
