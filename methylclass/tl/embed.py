"""Unsupervised views of a cohort next to the classifiers: PCA, hierarchical clustering, t-SNE and UMAP.

All four work on the same features — the ``n_features`` most variable CpGs (NaN-ignoring variance), missing
values filled with the CpG's median — so their agreement with the labels can be compared:

* ARI / NMI: a clustering with as many clusters as classes (k-means on the 2-D coordinates of PCA, t-SNE and
  UMAP; the tree cut of the hierarchical clustering) against the true labels
  (``sklearn.metrics.adjusted_rand_score`` / ``normalized_mutual_info_score``);
* silhouette of the true classes: in the embedding coordinates (PCA: the first ``n_components``), and for the
  hierarchical view in the correlation distance it clusters on.

Libraries: scikit-learn (PCA, TSNE, KMeans, metrics), umap-learn (UMAP), scipy (average-linkage clustering on
1 − Pearson correlation, the usual choice for methylation heatmaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

__all__ = ["METHODS", "Embedding", "agreement", "embed", "hierarchical", "top_variable"]

METHODS: tuple[str, ...] = ("pca", "hierarchical", "tsne", "umap")


@dataclass
class Embedding:
    """One unsupervised view: ``coords`` (samples × components; for ``hierarchical`` the leaf order and
    cluster), ``method``, ``clusters`` (one label per sample) and method-specific ``extra`` (PCA: explained
    variance ratio and loadings; hierarchical: the linkage matrix, leaf order and the clustered matrix)."""

    method: str
    coords: pd.DataFrame
    clusters: pd.Series
    extra: dict = field(default_factory=dict)


def top_variable(X: pd.DataFrame, n_features: int) -> pd.DataFrame:
    """The ``n_features`` most variable columns of ``X``, NaN filled with column medians (all-NaN → 0.5)."""
    from ..models.selectors import top_variance_indices

    if X.shape[0] < 3:
        raise DataError(f"embeddings need at least 3 samples; got {X.shape[0]}")
    idx = top_variance_indices(X.to_numpy(dtype=float), n_features)
    sub = X.iloc[:, idx].astype(float)
    return sub.fillna(sub.median()).fillna(0.5)


def _kmeans(coords: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=int(min(k, len(coords))), n_init=10, random_state=seed).fit_predict(coords)


def hierarchical(F: pd.DataFrame, k: int) -> Embedding:
    """Average-linkage clustering of the samples on 1 − Pearson correlation, cut into ``k`` clusters."""
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import pdist

    D = pdist(F.to_numpy(), metric="correlation")
    D = np.nan_to_num(D, nan=1.0)
    Z = linkage(D, method="average")
    leaves = leaves_list(Z)
    cl = fcluster(Z, t=int(k), criterion="maxclust")
    coords = pd.DataFrame({"leaf_order": np.argsort(leaves)}, index=F.index)
    return Embedding("hierarchical", coords, pd.Series(cl, index=F.index, name="cluster"),
                     {"linkage": Z, "leaves": leaves, "distance": D})


def embed(X: pd.DataFrame, method: str, *, n_features: int = 2000, n_clusters: int = 4, seed: int = 0,
          n_components: int = 10, perplexity: float = 30.0, n_neighbors: int = 15) -> Embedding:
    """One unsupervised view of ``X`` (samples × CpGs) on its ``n_features`` most variable CpGs.

    ``method``: ``pca`` (``n_components`` components; coordinates ``PC1…``), ``hierarchical``, ``tsne``
    (perplexity capped at (n − 1)/3) or ``umap`` (``n_neighbors`` capped at n − 1). ``n_clusters``: clusters
    compared with the labels (usually the number of classes).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown embedding {method!r}; choose from {', '.join(METHODS)}")
    F = top_variable(X, n_features)
    n = len(F)
    if method == "hierarchical":
        return hierarchical(F, n_clusters)
    A = F.to_numpy()
    extra: dict = {"features": list(F.columns.astype(str))}
    if method == "pca":
        from sklearn.decomposition import PCA

        nc = int(min(n_components, n - 1, A.shape[1]))
        pca = PCA(n_components=nc, random_state=seed).fit(A)
        Y = pca.transform(A)
        extra.update(explained_variance_ratio=pca.explained_variance_ratio_,
                     loadings=pd.DataFrame(pca.components_.T, index=F.columns.astype(str),
                                           columns=[f"PC{i + 1}" for i in range(nc)]))
        cols = [f"PC{i + 1}" for i in range(nc)]
    elif method == "tsne":
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        A50 = PCA(n_components=int(min(50, n - 1, A.shape[1])), random_state=seed).fit_transform(A)
        Y = TSNE(n_components=2, perplexity=float(min(perplexity, max((n - 1) / 3.0, 1.0))), init="pca",
                 random_state=seed).fit_transform(A50)
        cols = ["tSNE1", "tSNE2"]
    else:
        import umap

        Y = umap.UMAP(n_components=2, n_neighbors=int(min(n_neighbors, n - 1)), random_state=seed,
                      n_jobs=1).fit_transform(A)
        cols = ["UMAP1", "UMAP2"]
    coords = pd.DataFrame(Y, index=F.index, columns=cols)
    clusters = _kmeans(Y[:, :2], n_clusters, seed)
    return Embedding(method, coords, pd.Series(clusters, index=F.index, name="cluster"), extra)


def agreement(embeddings: Sequence[Embedding], labels: pd.Series, *, n_silhouette_components: int = 10
              ) -> pd.DataFrame:
    """Per embedding: ``method, ari, nmi, silhouette`` of its clustering / geometry against ``labels``."""
    from scipy.spatial.distance import squareform
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

    rows = []
    for e in embeddings:
        y = labels.reindex(e.clusters.index).astype(str).to_numpy()
        ari = adjusted_rand_score(y, e.clusters.to_numpy())
        nmi = normalized_mutual_info_score(y, e.clusters.to_numpy())
        sil = np.nan
        if len(np.unique(y)) > 1:
            if e.method == "hierarchical":
                sil = silhouette_score(squareform(e.extra["distance"]), y, metric="precomputed")
            else:
                C = e.coords.to_numpy()[:, : n_silhouette_components if e.method == "pca" else 2]
                sil = silhouette_score(C, y)
        rows.append({"method": e.method, "ari": float(ari), "nmi": float(nmi), "silhouette": float(sil)})
    return pd.DataFrame(rows, columns=["method", "ari", "nmi", "silhouette"])
