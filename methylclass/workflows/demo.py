"""The end-to-end demo behind ``make demo`` / ``methylclass demo``: every stage on a small embedded cohort.

1. **Real data check** — the real HumanMethylation27 pair in the shared data folder (when present) is read,
   normalised (noob) and summarised: per-sample QC and the beta distribution.
2. **Simulate** — a synthetic array design (20,000 probes with hg19 coordinates) and a cohort of five tumour
   classes with planted methylation differences and copy-number events, plus copy-neutral normals, written as
   real IDAT pairs with a sample sheet and a truth table (:func:`methylclass.simulate.simulate_cohort`).
3. **Ingest on Spark** — every sample normalised with noob + pOOBAH on an embedded local Spark master (or
   ``master``) into a Parquet store (:func:`methylclass.workflows.ingest.ingest_cohort`).
4. **Copy number** — conumee-style CNV of every sample against the simulated normals; arm/focal features are
   written next to the betas (:func:`methylclass.workflows.cnv.run_cnv`).
5. **Benchmark** — nested cross-validation of several models on the training samples (betas + CNV block),
   with an HTML report (:func:`methylclass.workflows.benchmark`).
6. **Train and predict** — one model fitted on every training sample, then applied to samples it never saw:
   two new cases per known class and every case of a fifth class kept out of training, which should come
   out as ``no_match``.
7. ``index.html`` links everything, with the headline numbers.
"""

from __future__ import annotations

import html
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError

#: tumour classes of the demo cohort and their sizes (imbalanced, as real cohorts are)
DEMO_CLASSES = {"ATRT": 16, "EPN": 14, "MB_SHH": 12, "PA": 10, "GBM": 8}
#: the class kept out of training entirely (a tumour type the model has never seen)
UNSEEN_CLASS = "GBM"
#: new cases per known class held out from training and predicted at the end
NEW_PER_CLASS = 2
MARKER = ".methylclass-demo"
Echo = Callable[[str], None]


@dataclass
class DemoResult:
    """Paths and headline numbers of one demo run."""

    out: Path
    index: Path
    numbers: dict = field(default_factory=dict)


def _prepare_out(out: Path) -> None:
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise ConfigError(f"'{out}' exists and is not a methylclass demo folder; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by methylclass demo; safe to delete\n")


def real_data_check(echo: Echo) -> dict | None:
    """Read and summarise the real HM27 pair of the shared data folder; None when the folder is absent."""
    from ..io.raw import read_raw
    from ..paths import data_dir
    from ..pp.normalize import normalize

    root = data_dir(required=False)
    if root is None or not (root / "idat" / "hm27").is_dir():
        echo("real data check skipped: shared data folder not found")
        return None
    raw = read_raw(root / "idat" / "hm27")
    rows = []
    for sample in raw.samples:
        norm = normalize(sample, method="noob")
        beta = norm.beta[np.isfinite(norm.beta)]
        qc = norm.qc
        rows.append({"sample": sample.sample, "array": raw.manifest.array, "probes": int(beta.size),
                     "median_beta": float(np.median(beta)),
                     "bimodal_fraction": float(((beta < 0.2) | (beta > 0.8)).mean()),
                     "failed_fraction": float(qc.get("failed_fraction", np.nan)),
                     "predicted_sex": (qc.get("sex") or {}).get("predicted", "unknown"),
                     "qc_pass": bool(qc.get("passed", False))})
    table = pd.DataFrame(rows)
    echo("real HM27 pair (noob):\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return {"table": table.to_dict(orient="records")}


def _split(truth: pd.DataFrame, seed: int) -> tuple[list[str], list[str]]:
    """Training samples and new (held-out) samples: all of the unseen class + NEW_PER_CLASS per known class."""
    rng = np.random.default_rng(seed)
    tumours = truth[~truth["is_normal"].astype(bool)]
    new = list(tumours.loc[tumours["class"] == UNSEEN_CLASS, "sample"])
    for cls, grp in tumours[tumours["class"] != UNSEEN_CLASS].groupby("class"):
        new += list(rng.choice(grp["sample"].to_numpy(), size=NEW_PER_CLASS, replace=False))
    train = [s for s in tumours["sample"] if s not in set(new)]
    return train, new


def run_demo(out: str | Path = "demo_out", *, seed: int = 0, master: str | None = None, local: bool = False,
             n_probes: int = 20_000, models: tuple[str, ...] = ("logreg", "rf", "xgb"), n_jobs: int = 2,
             echo: Echo = print) -> DemoResult:
    """Run the whole demo into ``out`` (replaced if it is an earlier demo folder); return the index path.

    Parameters
    ----------
    out : str or Path
        The demo folder (an existing folder must be an earlier demo folder).
    seed : int
        Seed of the simulation, the train/new split and the models.
    master : str, optional
        Spark master for the ingest (default: the local embedded master).
    local : bool
        Ingest without Spark.
    n_probes : int
        Probes of the synthetic array.
    models : tuple of str
        Models compared by nested CV; the first is trained and used for the predictions.
    n_jobs : int
        Parallel jobs of the simulation and the cross-validation.
    echo : callable
        Receives the progress lines.

    Returns
    -------
    DemoResult
        The output folder, the index page's path and the headline numbers.

    Raises
    ------
    ConfigError
        ``out`` exists and is not a demo folder.
    """
    from ..config import load_config
    from ..io.manifest import load_manifest
    from ..io.store import Store, load_betas, load_sample_table
    from ..pp.cnv.features import read_cnv_features
    from ..simulate import SimulationConfig, simulate_cohort
    from .benchmark import benchmark
    from .cnv import run_cnv
    from .data import Dataset, data_summary, drop_sex_chromosomes
    from .ingest import ingest_cohort
    from .predict_outputs import predict_cases
    from .train import train

    out = Path(out).resolve()
    _prepare_out(out)
    times: dict[str, float] = {}
    numbers: dict = {}

    t = time.perf_counter()
    numbers["real_data"] = real_data_check(echo)
    times["real_data"] = time.perf_counter() - t

    echo(f"[1/5] simulating {sum(DEMO_CLASSES.values())} tumours of {len(DEMO_CLASSES)} classes + 8 normals "
         f"on a {n_probes:,}-probe synthetic array")
    t = time.perf_counter()
    sim = simulate_cohort(out / "cohort", SimulationConfig(
        manifest="synthetic", n_probes=n_probes, classes=list(DEMO_CLASSES), n_per_class=list(DEMO_CLASSES.values()),
        n_normals=8, seed=seed, n_jobs=n_jobs))
    times["simulate"] = time.perf_counter() - t
    probes_file, controls_file = sim.manifest_files
    manifest = load_manifest(path=probes_file, controls=controls_file)
    truth = pd.read_csv(sim.truth_samples, sep="\t")

    where = "no Spark (local)" if local else master or "local Spark"
    echo(f"[2/5] ingesting {len(truth)} samples with noob on {where}")
    t = time.perf_counter()
    store = out / "store"
    ingest = ingest_cohort(sim.samplesheet, store, method="noob", manifest=manifest, master=master,
                           local=local, log=echo)
    times["ingest"] = time.perf_counter() - t
    samples = load_sample_table(store)
    qc_passed = samples.get("qc_passed", pd.Series(True, index=samples.index)).fillna(True).astype(bool)
    numbers["ingest"] = {"stored": int(ingest.n_ok), "failed": int(ingest.n_failed),
                         "qc_flagged": int((~qc_passed).sum())}

    echo("[3/5] copy number against the simulated normals")
    t = time.perf_counter()
    normals_sheet = out / "cohort" / "normals.csv"
    sheet = pd.read_csv(sim.samplesheet)
    sheet[sheet["Sample_Group"] == "normal"].to_csv(normals_sheet, index=False)
    run_cnv(sim.samplesheet, normals_sheet, out / "cnv", manifest=manifest, store=store,
            formats=("png",), log=lambda line: None if line.startswith("S0") else echo(line))
    times["cnv"] = time.perf_counter() - t

    train_ids, new_ids = _split(truth, seed)
    labels = truth.set_index("sample")["class"].astype(str)
    X = drop_sex_chromosomes(Store.open(store), load_betas(store), {})  # as train --betas STORE does
    X = X.join(read_cnv_features(store).reindex(X.index).astype(np.float32))
    train_ids = [s for s in train_ids if s in X.index]
    from ..models.taxonomy import load_taxonomy

    tumours = truth[truth["class"].astype(str) != "normal"]
    taxonomy = load_taxonomy(dict(zip(tumours["class"].astype(str), tumours["family"].astype(str))))
    dataset = Dataset(X=X.loc[train_ids], y=labels.loc[train_ids], groups=None,
                      summary=data_summary(X.loc[train_ids], labels.loc[train_ids], store), taxonomy=taxonomy)

    echo(f"[4/5] nested CV of {', '.join(models)} on {len(train_ids)} training samples "
         f"({X.shape[1]:,} features incl. CNV)")
    t = time.perf_counter()
    cfg = load_config(overrides=[
        f"defaults.models=[{','.join(models)}]", "cv.outer=3", "cv.inner=3", "experiment.name=demo",
        f"experiment.out_dir={out / 'runs'}", f"experiment.seed={seed}", f"experiment.n_jobs={n_jobs}",
        "pipeline.n_features=2000", "report.title=methylclass demo - simulated cohort, nested 3x3 CV",
        *[f"models.{m}.search=null" for m in models]])  # the demo stays fast: fixed parameters, no inner search
    cfg["data"] = {"store": str(store), "feature_blocks": ["cnv_"], "label_column": "class"}
    bench = benchmark(cfg, dataset=dataset, progress=False, echo=echo)
    times["benchmark"] = time.perf_counter() - t

    echo(f"[5/5] training {models[0]} on every training sample and predicting {len(new_ids)} new cases")
    t = time.perf_counter()
    model_dir = out / "model"
    train(cfg, model_dir, model=models[0], dataset=dataset, progress=False, echo=echo)
    # the one-call path on the new cases' IDATs (read, normalise, CNV with the bundle's panel, classify),
    # with one report page per case
    basename = truth.set_index("sample")["basename"].astype(str)
    stem_to_sample = {Path(basename[s]).name: s for s in new_ids}
    pred_all = predict_cases(model_dir, [str(out / "cohort" / basename[s]) for s in new_ids], out / "diagnosis",
                             manifest=probes_file, controls=controls_file, echo=echo)
    pred_all["sample"] = pred_all["sample"].map(lambda s: stem_to_sample.get(s, s))
    pred = pred_all.set_index("sample")
    pred.insert(0, "true_class", labels.reindex(pred.index))
    pred.to_csv(out / "predictions.csv")
    times["train_predict"] = time.perf_counter() - t

    known = pred[pred["true_class"] != UNSEEN_CLASS]
    unseen = pred[pred["true_class"] == UNSEEN_CLASS]
    numbers["predict"] = {
        "new_known": len(known),
        "known_correct": int((known["prediction"] == known["true_class"]).sum()),
        "known_no_match": int((known["prediction"] == "no_match").sum()),
        "unseen": len(unseen), "unseen_no_match": int((unseen["prediction"] == "no_match").sum()),
    }
    numbers["benchmark"] = _headline(bench)
    numbers["seconds"] = {k: round(v, 1) for k, v in times.items()}
    index = write_index(out, numbers, bench_report=Path(bench.path) / "report.html", cnv_dir=out / "cnv",
                        predictions=pred)
    (out / "demo.json").write_text(json.dumps(numbers, indent=1, default=str))
    p = numbers["predict"]
    echo(f"new cases of known classes: {p['known_correct']}/{p['new_known']} correct, "
         f"{p['known_no_match']} no_match; unseen class {UNSEEN_CLASS}: {p['unseen_no_match']}/{p['unseen']} "
         f"no_match")
    echo(f"demo finished in {sum(times.values()):.0f} s; open {index}")
    return DemoResult(out=out, index=index, numbers=numbers)


def _headline(bench) -> dict:
    metrics = json.loads((Path(bench.path) / "metrics.json").read_text())
    keys = ("balanced_accuracy", "brier", "ece", "classifiable", "accuracy_classified")
    return {m: {k: d["scalars"].get(k) for k in keys} for m, d in metrics["models"].items()}


def write_index(out: Path, numbers: dict, *, bench_report: Path, cnv_dir: Path, predictions: pd.DataFrame) -> Path:
    """Write ``out/index.html``: headline numbers, links to the benchmark report, CNV plots, predictions."""
    rel = lambda p: html.escape(str(Path(p).relative_to(out)))
    report = out / "diagnosis" / "report" / "index.html"
    pages = sorted(p for p in report.parent.glob("*.html") if p.name != "index.html")
    report_link = (f'<p><a href="{rel(report)}">Per-case diagnosis reports</a>: '
                   + ", ".join(f'<a href="{rel(p)}">{html.escape(p.stem)}</a>' for p in pages)
                   + "</p>") if report.exists() else ('<p><a href="diagnosis/predictions.csv">diagnosis/'
                                                      "predictions.csv</a> (one-call path)</p>")
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td>" + "".join(
            f"<td>{v:.3f}</td>" if isinstance(v, (int, float)) and v is not None else "<td>–</td>"
            for v in d.values()) + "</tr>"
        for m, d in numbers["benchmark"].items())
    heads = "".join(f"<th>{html.escape(k)}</th>" for k in next(iter(numbers["benchmark"].values())))
    plots = sorted(cnv_dir.rglob("*.png"))[:6]
    figs = "".join(f'<figure><img src="{rel(p)}" width="900"><figcaption>{html.escape(p.stem)}</figcaption>'
                   f"</figure>" for p in plots)
    p = numbers["predict"]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>methylclass demo</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>methylclass demo</h1>
<p>Simulated cohort: {sum(DEMO_CLASSES.values())} tumours of {len(DEMO_CLASSES)} classes + 8 normals, written as
IDATs, ingested with noob on Spark ({numbers['ingest']['stored']} stored, {numbers['ingest']['failed']} failed),
copy number called against the normals. Class <b>{UNSEEN_CLASS}</b> was kept out of training.</p>
<h2>Nested cross-validation (training samples)</h2>
<table><tr><th>model</th>{heads}</tr>{rows}</table>
<p><a href="{rel(bench_report)}">Full benchmark report</a> (confusion matrices, reliability diagrams).</p>
<h2>Predictions of new cases</h2>
<p>Known classes: {p['known_correct']}/{p['new_known']} correct ({p['known_no_match']} no_match).
Unseen class {UNSEEN_CLASS}: {p['unseen_no_match']}/{p['unseen']} called <code>no_match</code>.
<a href="predictions.csv">predictions.csv</a></p>
{report_link}
{predictions[['true_class', 'prediction', 'score', 'reason']].to_html(float_format=lambda v: f'{v:.3f}')}
<h2>Copy-number profiles</h2>{figs}
<p>Stage timings (s): {html.escape(json.dumps(numbers['seconds']))}</p>
</body></html>"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
