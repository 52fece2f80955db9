"""``methylclass panel``: which small CpG panel could replace the array — rankings evaluated inside nested CV.

Writes into ``--out DIR`` (published only when complete):

* ``panel_curve.csv`` — ``ranking, model, size, balanced_accuracy, brier`` (out of fold; ranking ``all`` = every
  feature);
* ``panel.csv`` — the recommended panel: the smallest (ranking, model, size) within one point of the full
  balanced accuracy, its CpGs ranked on all samples: ``feature, stability, importance`` (+ ``chrom, pos, gene,
  island`` with an array/manifest); ``stability`` = fraction of outer folds whose panel of that size held it;
* ``fold_panels.csv`` — the CpGs every ranking chose in every outer training fold (``ranking, fold, rank,
  feature, score``), ``stable_cpgs.csv`` — the CpGs of the recommended ranking and size chosen in every fold;
* ``summary.json`` (the recommendation), ``panel_curve.png`` and ``index.html``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import atomic_text
from ..tl.panel import PanelOptions, PanelResult
from .understand_io import Echo, _silent, annotation_table, output_folder, read_input, write_csv

__all__ = ["PanelRun", "panel", "recommended_panel", "write_panel"]


@dataclass
class PanelRun:
    """What :func:`panel` wrote: the folder, the result, the recommendation and the panel table."""

    path: Path
    result: PanelResult
    best: dict[str, Any]
    panel: pd.DataFrame


def recommended_panel(X: pd.DataFrame, y: pd.Series, result: PanelResult, best: dict[str, Any]) -> pd.DataFrame:
    """The recommended panel: ``best["ranking"]`` refitted on all samples, its top ``best["size"]`` CpGs with
    their stability across the outer folds and their importance (ranking score on all samples)."""
    from ..tl.panel import final_ranking

    rank = final_ranking(X, y, best["ranking"], result.options).head(int(best["size"]))
    stab = result.stability(best["ranking"], int(best["size"]))
    return pd.DataFrame({"feature": rank.index, "stability": stab.reindex(rank.index).fillna(0.0).to_numpy(),
                         "importance": rank.to_numpy()})


def write_panel(folder: Path, X: pd.DataFrame, y: pd.Series, result: PanelResult, *,
                annotation_of=None, title: str = "CpG panels", lead: str = "") -> tuple[dict, pd.DataFrame]:
    """Write every panel output of ``result`` into ``folder``; returns (recommendation, panel table)."""
    from ..pl import figure_to_base64, plot_panel_curve, save_figure
    from ..report.understand import Section, write_page

    best = result.smallest_panel()
    table = recommended_panel(X, y, result, best)
    ann = annotation_of(table["feature"]) if annotation_of is not None else None
    if ann is not None:
        table = table.join(ann, on="feature")
    write_csv(result.curve, folder / "panel_curve.csv", index=False)
    write_csv(table, folder / "panel.csv", index=False)
    write_csv(result.fold_panels, folder / "fold_panels.csv", index=False)
    stable = pd.DataFrame({"ranking": best["ranking"], "size": best["size"],
                           "feature": result.always_chosen(best["ranking"], best["size"])})
    write_csv(stable, folder / "stable_cpgs.csv", index=False)
    opts = asdict(result.options)
    atomic_text(folder / "summary.json", json.dumps({"recommended": best, "options": opts,
                                                     "n_samples": len(result.y),
                                                     "n_features": result.n_features}, indent=1, default=str))
    fig = plot_panel_curve(result.curve, best=best, title=title)
    save_figure(fig, folder / "panel_curve", formats=("png",))
    text = [f"Smallest panel within {best['tolerance'] * 100:.0f} point(s) of the full balanced accuracy: "
            f"{best['size']} CpGs ranked by {best['ranking']}, model {best['model']}: balanced accuracy "
            f"{best['balanced_accuracy']:.3f} vs {best['full_balanced_accuracy']:.3f} on all "
            f"{result.n_features:,} features (Brier {best['brier']:.3f})."
            + ("" if best["within"] else " No panel reached the tolerance: the best panel is shown."),
            (f"Rankings were refitted in each of the {result.options.outer} outer training folds on the "
            f"{result.options.prefilter:,} most variable CpGs of that fold; {len(stable)} CpGs of the recommended "
            "panel were chosen in every fold.")]
    pivot = result.curve.pivot_table(index=["ranking", "model"], columns="size", values="balanced_accuracy")
    pivot.columns = [str(c) for c in pivot.columns]
    write_page(folder / "index.html", title, [
        Section("Recommendation", text, tables=[("recommended panel (first 50 CpGs)", table.head(50))]),
        Section("Panel-size curve", figures=[("balanced accuracy and Brier by panel size", figure_to_base64(fig))],
                tables=[("balanced accuracy by ranking, model and size", pivot.reset_index())]),
    ], lead=lead)
    return best, table


def panel(betas: str | Path, out: str | Path, *, label_column: str | None = None, labels: str | Path | None = None,
          sample_column: str | None = None, orientation: str = "auto", options: PanelOptions | None = None,
          array: str | None = None, manifest: str | Path | None = None, echo: Echo = _silent) -> PanelRun:
    """Evaluate CpG panels on a labelled beta table or store and write them to ``out``."""
    from ..errors import ConfigError
    from ..tl.panel import evaluate_panels

    if not label_column and not labels:
        raise ConfigError("panel needs --label-column COL (or --labels FILE) to know the classes")
    X, y = read_input(betas, label_column=label_column, labels=labels, sample_column=sample_column,
                      orientation=orientation)
    assert y is not None
    X = X[[c for c in X.columns if not str(c).startswith("cnv_")]]
    opts = options or PanelOptions()
    echo(f"panel: {len(X)} samples × {X.shape[1]:,} CpGs, rankings {', '.join(opts.rankings)}, models "
         f"{', '.join(opts.models)}, {opts.outer} outer folds")
    result = evaluate_panels(X, y, opts, progress=lambda d, t: echo(f"panel: fold {d}/{t} done"))
    with output_folder(out) as tmp:
        best, table = write_panel(tmp, X, y, result, title=f"CpG panels — {Path(betas).name}",
                                  annotation_of=(lambda f: annotation_table(f, array, manifest)),
                                  lead=f"Data: {betas} ({len(X)} samples, labels from {label_column or labels}).")
    echo(f"panel: smallest panel {best['size']} CpGs ({best['ranking']}, {best['model']}), balanced accuracy "
         f"{best['balanced_accuracy']:.3f} vs {best['full_balanced_accuracy']:.3f} with all features")
    return PanelRun(path=Path(out), result=result, best=best, panel=table)
