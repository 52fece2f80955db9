"""``methylclass embed``: PCA, hierarchical clustering, t-SNE and UMAP of a cohort and their agreement with labels.

Writes into ``--out DIR`` (published only when complete): ``embedding_<method>.csv`` (``sample``, coordinates,
``label``, ``cluster``; hierarchical: leaf order), ``agreement.csv`` (``method, ari, nmi, silhouette``),
``pca_loadings.csv`` (top-loading CpGs per component), ``pca_variance.csv``, plots coloured by class (and by
every ``--color-by`` column: batch, material, a CNV feature, a prediction with ``no_match`` ringed), the clustered
heatmap, and ``index.html``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .understand_io import Echo, _silent, extra_columns, output_folder, read_input, write_csv

__all__ = ["EmbedRun", "embed_cohort", "write_embeddings"]


@dataclass
class EmbedRun:
    """What :func:`embed_cohort` wrote: the folder, the embeddings and the agreement table."""

    path: Path
    embeddings: dict
    agreement: pd.DataFrame


def _numba_cache() -> None:
    """umap-learn compiles with numba; give it a writable cache when site-packages is read-only."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        from ..paths import cache_dir

        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir() / "numba")


def compute_embeddings(X: pd.DataFrame, y: pd.Series, *, methods: Sequence[str] = ("pca", "hierarchical",
                       "tsne", "umap"), n_features: int = 2000, seed: int = 0, echo: Echo = _silent):
    """``{method: Embedding}`` and the agreement table on the ``n_features`` most variable CpGs of ``X``."""
    from ..tl.embed import agreement, embed

    if "umap" in methods:
        _numba_cache()
    cpg = X[[c for c in X.columns if not str(c).startswith("cnv_")]]
    k = int(y.nunique())
    out = {}
    for m in methods:
        echo(f"embed: {m}")
        out[m] = embed(cpg, m, n_features=n_features, n_clusters=k, seed=seed)
    return out, agreement(list(out.values()), y)


def write_embeddings(folder: Path, X: pd.DataFrame, y: pd.Series, embeddings: dict, agree: pd.DataFrame, *,
                     color_by: pd.DataFrame | None = None, n_features: int = 2000, title: str = "Embeddings",
                     lead: str = "", scores: pd.DataFrame | None = None) -> None:
    """Write the CSVs, plots and page of :func:`compute_embeddings` into ``folder``. ``scores``: the
    classifiers' scores on the same data, shown next to the cluster agreement."""
    from ..pl import (
        class_colors,
        figure_to_base64,
        plot_clustered_heatmap,
        plot_embedding,
        plot_scree,
        save_figure,
    )
    from ..report.understand import Section, write_page
    from ..tl.embed import top_variable

    pal = class_colors(y.unique())
    figs = []
    for m, e in embeddings.items():
        df = e.coords.copy()
        df.insert(0, "sample", df.index.astype(str))
        df["label"] = y.reindex(e.coords.index).to_numpy()
        df["cluster"] = e.clusters.to_numpy()
        write_csv(df, folder / f"embedding_{m}.csv", index=False)
        if m == "hierarchical":
            F = top_variable(X[[c for c in X.columns if not str(c).startswith("cnv_")]], n_features)
            fig = plot_clustered_heatmap(F, e.extra["linkage"], y, palette=pal)
            save_figure(fig, folder / "heatmap_hierarchical", formats=("png",))
            figs.append(("hierarchical clustering of the top-variable CpGs", figure_to_base64(fig)))
            continue
        fig = plot_embedding(e.coords, y.rename("class"), palette=pal, title=f"{m.upper()} coloured by class")
        save_figure(fig, folder / f"{m}_class", formats=("png",))
        figs.append((f"{m}: class", figure_to_base64(fig)))
        for col in ([] if color_by is None else color_by.columns):
            c = color_by[col]
            hl = None
            if c.astype(str).eq("no_match").any():
                hl = c.astype(str).eq("no_match")
            fig = plot_embedding(e.coords, c.rename(col), palette=None if hl is None else pal, highlight=hl,
                                 title=f"{m.upper()} coloured by {col}")
            save_figure(fig, folder / f"{m}_{col}", formats=("png",))
            figs.append((f"{m}: {col}", figure_to_base64(fig)))
        if m == "pca":
            evr = e.extra["explained_variance_ratio"]
            write_csv(pd.DataFrame({"component": [f"PC{i + 1}" for i in range(len(evr))],
                                    "explained_variance_ratio": evr}), folder / "pca_variance.csv", index=False)
            L = e.extra["loadings"]
            rows = []
            for pc in L.columns:
                top = L[pc].abs().sort_values(ascending=False).head(20)
                rows += [{"component": pc, "rank": i + 1, "feature": f, "loading": float(L.loc[f, pc])}
                         for i, f in enumerate(top.index)]
            write_csv(pd.DataFrame(rows), folder / "pca_loadings.csv", index=False)
            fig = plot_scree(evr)
            save_figure(fig, folder / "pca_variance", formats=("png",))
            figs.append(("PCA explained variance", figure_to_base64(fig)))
    write_csv(agree, folder / "agreement.csv", index=False)
    tables = [(("agreement of each view with the labels (ARI/NMI of a clustering with as many clusters as classes; "
               "silhouette of the true classes)"), agree)]
    if scores is not None:
        tables.append(("the classifiers on the same data (nested CV)", scores))
    write_page(folder / "index.html", title, [
        Section("Agreement with the labels", [(f"{len(X)} samples; each view uses the {n_features:,} most variable "
                                              "CpGs.")], tables=tables),
        Section("Views", figures=figs),
    ], lead=lead)


def embed_cohort(betas: str | Path, out: str | Path, *, label_column: str | None = None,
                 labels: str | Path | None = None, sample_column: str | None = None, orientation: str = "auto",
                 methods: Sequence[str] = ("pca", "hierarchical", "tsne", "umap"), n_features: int = 2000,
                 color_by: Sequence[str] = (), seed: int = 0, echo: Echo = _silent) -> EmbedRun:
    """Embed a labelled beta table or store and write the views to ``out``. ``color_by``: further columns of
    the table (e.g. a batch column) or ``cnv_*`` features to colour by."""
    from ..errors import ConfigError

    if not label_column and not labels:
        raise ConfigError("embed needs --label-column COL (or --labels FILE) to colour and score by class")
    X, y = read_input(betas, label_column=label_column, labels=labels, sample_column=sample_column,
                      orientation=orientation)
    assert y is not None
    extra = extra_columns(betas, list(color_by), X.index, sample_column=sample_column, X=X) if color_by else None
    embeddings, agree = compute_embeddings(X, y, methods=methods, n_features=n_features, seed=seed, echo=echo)
    with output_folder(out) as tmp:
        write_embeddings(tmp, X, y, embeddings, agree, color_by=extra, n_features=n_features,
                         title=f"Embeddings — {Path(betas).name}", lead=f"Data: {betas}.")
    return EmbedRun(path=Path(out), embeddings=embeddings, agreement=agree)
