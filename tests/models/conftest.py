"""Shared helpers of the model-zoo tests: the real medulloblastoma table, tiny synthetic data, a spy model and
independent reference implementations of the multiclass Brier score and expected calibration error."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

MB_TABLE = Path("labelled/mb_gse85212/mb_gse85212_341x399.csv.gz")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Run every model test with one BLAS/OpenMP thread: on this shared 2-core machine OpenBLAS threads
    spin-wait, and a tiny L-BFGS fit took 4× the CPU time with 2 threads (measured 1.9 s vs 0.46 s)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def mb(data_dir) -> tuple[pd.DataFrame, np.ndarray]:
    """Real 450k betas of 341 medulloblastomas × 399 CpGs (GSE85212) and their subgroup labels."""
    df = pd.read_csv(data_dir / MB_TABLE)
    X = df.drop(columns=["GSM", "subgroup"]).set_index(df["GSM"].rename("sample"))
    return X, df["subgroup"].to_numpy(dtype=object)


def make_blobs_table(n_per_class=(30, 20, 10), n_features: int = 40, n_informative: int = 5, shift: float = 0.25,
                     seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Beta-like data: classes differ (by ``shift``) in the first ``n_informative`` CpGs only."""
    rng = np.random.default_rng(seed)
    labels = np.array([f"class_{chr(65 + i)}" for i, n in enumerate(n_per_class) for _ in range(n)], dtype=object)
    X = rng.beta(2, 2, size=(len(labels), n_features))
    for i, cls in enumerate(np.unique(labels)):
        X[labels == cls, :n_informative] += shift * ((i % 3) - 1) * np.linspace(1, 0.5, n_informative)
    X = np.clip(X, 0, 1)
    cols = [f"cg{j:08d}" for j in range(n_features)]
    return pd.DataFrame(X, columns=cols, index=[f"s{i}" for i in range(len(labels))]), labels


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Records the class counts and the number of features it was fitted on; predicts the majority class."""

    seen: ClassVar[list] = []

    def __init__(self, class_weight=None, random_state=None):
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y):
        labels, counts = np.unique(np.asarray(y), return_counts=True)
        self.classes_ = labels
        self.counts_ = dict(zip(labels.tolist(), counts.tolist()))
        self.n_fit_features_ = np.asarray(X).shape[1]
        self.fit_rows_ = np.asarray(X).copy()
        self.fit_labels_ = np.asarray(y).copy()
        SpyClassifier.seen.append({"counts": self.counts_, "class_weight": self.class_weight,
                                   "n_features": self.n_fit_features_})
        self.prior_ = counts / counts.sum()
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (np.asarray(X).shape[0], 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def brier_multiclass(P: np.ndarray, y, classes) -> float:
    """Reference multiclass Brier score on the 0–2 scale: mean over samples of Σ_k (p_k − 1[y = k])²."""
    Y = (np.asarray(y, dtype=object)[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)
    return float(((np.asarray(P) - Y) ** 2).sum(axis=1).mean())


def ece_top_label(P: np.ndarray, y, classes, n_bins: int = 10) -> float:
    """Reference expected calibration error of the top label (Guo et al. 2017), equal-width bins on (0, 1]."""
    P = np.asarray(P)
    conf = P.max(axis=1)
    correct = np.asarray(classes, dtype=object)[P.argmax(axis=1)] == np.asarray(y, dtype=object)
    total = 0.0
    for lo, hi in zip(np.linspace(0, 1, n_bins + 1)[:-1], np.linspace(0, 1, n_bins + 1)[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return float(total)


@pytest.fixture
def spy_model():
    """Register the spy under the registry name 'spy' for one test; yields the list of recorded fits."""
    from methylclass.models import MODELS, register_model

    SpyClassifier.seen = []
    register_model("spy", lambda class_weight=None, random_state=None: SpyClassifier(class_weight, random_state),
                   overwrite=True)
    yield SpyClassifier.seen
    MODELS.pop("spy", None)


@pytest.fixture(scope="session")
def make_blobs():
    """The :func:`make_blobs_table` generator."""
    return make_blobs_table


@pytest.fixture(scope="session")
def brier_ref():
    """The reference multiclass Brier score (0–2 scale)."""
    return brier_multiclass


@pytest.fixture(scope="session")
def ece_ref():
    """The reference top-label expected calibration error."""
    return ece_top_label
