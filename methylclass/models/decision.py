"""From probabilities to diagnoses: thresholded calls with "no_match", conformal sets, out-of-distribution flags.

* :func:`decide` — the best class when its calibrated probability reaches the threshold (0.9 as in Capper et al.
  2018; optionally one threshold per class), otherwise ``"no_match"``; an optional OOD mask forces ``"no_match"``.
* :func:`decide_hierarchical` — the same with a class-family fallback: a sample no class claims is called at
  family level when its family's summed probability reaches the family threshold (``prediction_level`` =
  ``class`` / ``family`` / ``no_match``; families from :mod:`methylclass.models.taxonomy`).
* :class:`ConformalClassifier` — split conformal prediction sets (Vovk et al. 2005; Angelopoulos & Bates 2021),
  marginal (``mode="split"``) or class-conditional / Mondrian (``mode="class_conditional"``: coverage holds for
  every class separately), with the LAC score ``1 − p_y`` (Sadinle et al. 2019) or the non-randomised APS score
  (Romano et al. 2020: total probability of the classes ranked at or above ``y``). Fitted on held-out
  *calibration* probabilities; ``predict_sets(proba, alpha)`` gives each sample the set of classes that contains
  the truth with probability ≥ 1 − α (finite-sample guarantee under exchangeability).
* :class:`KNNDistanceOOD` — a distance-to-training score in the model's selected-feature space: the mean
  Euclidean distance to the ``k`` nearest training samples (Sun et al. 2022, "deep nearest neighbours"). Its
  conformal p-value is computed against leave-one-out scores of the training samples themselves, so
  ``flag(Z, alpha)`` flags about a fraction α of in-distribution samples and, ideally, most samples of a tumour type
  absent from training. Probability-based rules cannot do the latter: a classifier forced to choose among the
  known classes can be confidently wrong on a new type.

Conformal sets and OOD p-values are hand-written (≈ 30 lines of numpy): the libraries that provide them (MAPIE,
crepes) wrap the model themselves and would duplicate the in-fold calibration machinery of this package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

__all__ = [
    "NO_MATCH",
    "ConformalClassifier",
    "KNNDistanceOOD",
    "ProfileOOD",
    "conformal_quantile",
    "decide",
    "decide_hierarchical",
    "family_scores",
    "format_sets",
    "max_proba_score",
    "set_coverage",
    "set_sizes",
]

#: label of samples that no class claims with enough confidence
NO_MATCH = "no_match"


def _proba_matrix(proba, classes) -> tuple[np.ndarray, np.ndarray]:
    """(n × k float matrix, class array) from a DataFrame (columns = classes or ``proba_<class>``) or array."""
    if isinstance(proba, pd.DataFrame):
        cols = [str(c) for c in proba.columns]
        if classes is None:
            classes = [c.removeprefix("proba_") for c in cols]
        P = proba.to_numpy(dtype=float)
    else:
        P = np.asarray(proba, dtype=float)
        if classes is None:
            raise ConfigError("decide: pass `classes` when the probabilities are an array (or give a DataFrame)")
    classes = np.asarray(classes, dtype=object)
    if P.ndim != 2 or P.shape[1] != len(classes):
        raise DataError(f"probabilities have shape {P.shape} but {len(classes)} classes were given")
    if np.isnan(P).any():
        raise DataError(f"probabilities contain NaN in {int(np.isnan(P).any(axis=1).sum())} sample(s)")
    return P, classes


def decide(proba, classes: Sequence | None = None, *, threshold: float = 0.9,
           per_class: Mapping[str, float] | None = None, ood: np.ndarray | None = None,
           no_match: str = NO_MATCH) -> np.ndarray:
    """Call each sample's class, or ``no_match`` when the best probability is below its class's threshold.

    Parameters
    ----------
    proba : DataFrame or array-like
        Samples × classes (DataFrame whose columns are the classes, or ``proba_<class>``; or an array with
        ``classes``).
    classes : sequence, optional
        The class of each column of an array ``proba``.
    threshold : float
        Minimum best probability for a call, in [0, 1].
    per_class : mapping of str to float, optional
        Overrides ``threshold`` for the named classes.
    ood : ndarray, optional
        Boolean per sample; True forces ``no_match`` (e.g. :meth:`KNNDistanceOOD.flag`).
    no_match : str
        The label of a rejected sample.

    Returns
    -------
    ndarray
        Object array of labels (order of the rows).

    Raises
    ------
    ConfigError
        ``threshold`` outside [0, 1], or ``per_class`` naming unknown classes.
    DataError
        An ``ood`` mask of the wrong shape.
    """
    P, classes = _proba_matrix(proba, classes)
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be within [0, 1]; got {threshold}")
    thr = np.full(len(classes), float(threshold))
    if per_class:
        names = {str(c): i for i, c in enumerate(classes)}
        unknown = [c for c in per_class if str(c) not in names]
        if unknown:
            raise ConfigError(f"per_class thresholds name unknown classes {unknown}; classes are "
                              f"{list(names)}")
        for c, t in per_class.items():
            thr[names[str(c)]] = float(t)
    best = np.argmax(P, axis=1)
    score = P[np.arange(len(P)), best]
    out = classes[best].astype(object)
    reject = score < thr[best]
    if ood is not None:
        ood = np.asarray(ood, dtype=bool)
        if ood.shape != (len(P),):
            raise DataError(f"ood mask has shape {ood.shape}; expected ({len(P)},)")
        reject |= ood
    out[reject] = no_match
    return out


def max_proba_score(proba) -> np.ndarray:
    """``1 − max_k p_k`` (the max-softmax OOD baseline of Hendrycks & Gimpel 2017): higher = less familiar."""
    P = proba.to_numpy(dtype=float) if isinstance(proba, pd.DataFrame) else np.asarray(proba, dtype=float)
    return 1.0 - P.max(axis=1)


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ⌈(n+1)(1−α)⌉-th smallest of ``scores`` (+inf when that rank exceeds n, i.e. too few scores)."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be within (0, 1); got {alpha}")
    s = np.sort(np.asarray(scores, dtype=float))
    rank = int(np.ceil((len(s) + 1) * (1.0 - alpha)))
    return float(s[rank - 1]) if 1 <= rank <= len(s) else float("inf")


def _nonconformity(P: np.ndarray, score: str) -> np.ndarray:
    """Score of every (sample, class) pair: LAC ``1 − p_k``; APS: mass of classes ranked at or above ``k``."""
    if score == "lac":
        return 1.0 - P
    order = np.argsort(-P, axis=1, kind="stable")
    cum = np.cumsum(np.take_along_axis(P, order, axis=1), axis=1)
    S = np.empty_like(P)
    np.put_along_axis(S, order, cum, axis=1)
    return S


class ConformalClassifier:
    """Split (or class-conditional) conformal prediction sets on top of any probabilistic classifier.

    ``fit(proba_cal, y_cal, classes)`` stores the calibration scores (the calibration samples must not have
    been used to train the classifier); ``predict_sets(proba, alpha)`` → boolean matrix samples × classes.
    Class-conditional mode with fewer than ``1/α − 1`` calibration members of a class gives that class an
    infinite quantile (always in the set) — the honest answer for too little data.
    """

    def __init__(self, score: str = "lac", mode: str = "split"):
        if score not in ("lac", "aps"):
            raise ConfigError(f"unknown conformal score {score!r}; choose lac or aps")
        if mode not in ("split", "class_conditional"):
            raise ConfigError(f"unknown conformal mode {mode!r}; choose split or class_conditional")
        self.score = score
        self.mode = mode

    def fit(self, proba, y, classes: Sequence | None = None) -> ConformalClassifier:
        """Store the non-conformity scores of calibration samples with true labels ``y``."""
        P, classes = _proba_matrix(proba, classes)
        y = np.asarray(y, dtype=object)
        if len(y) != len(P):
            raise DataError(f"conformal calibration: {len(P)} probability rows but {len(y)} labels")
        pos = {c: i for i, c in enumerate(classes)}
        unknown = sorted({str(v) for v in y if v not in pos})
        if unknown:
            raise DataError(f"conformal calibration labels {unknown[:5]} are not among the classes {list(classes)}")
        idx = np.array([pos[v] for v in y], dtype=int)
        S = _nonconformity(P, self.score)
        self.classes_ = classes
        self.cal_scores_ = S[np.arange(len(P)), idx]
        self.cal_labels_ = idx
        return self

    def quantiles(self, alpha: float) -> np.ndarray:
        """Per-class score thresholds q̂ (all equal in split mode)."""
        if not hasattr(self, "cal_scores_"):
            raise ConfigError("ConformalClassifier is not fitted: call fit(proba_cal, y_cal, classes) first")
        if self.mode == "split":
            return np.full(len(self.classes_), conformal_quantile(self.cal_scores_, alpha))
        return np.array([conformal_quantile(self.cal_scores_[self.cal_labels_ == k], alpha)
                         for k in range(len(self.classes_))])

    def _aligned(self, proba) -> np.ndarray:
        """Probability matrix with columns in ``classes_`` order (DataFrames are reordered by name)."""
        if not hasattr(self, "classes_"):
            raise ConfigError("ConformalClassifier is not fitted: call fit(proba_cal, y_cal, classes) first")
        if isinstance(proba, pd.DataFrame):
            P, cls = _proba_matrix(proba, None)
            where = {str(c): i for i, c in enumerate(cls)}
            missing = [c for c in self.classes_ if str(c) not in where]
            if missing:
                raise DataError(f"probabilities lack the classes {missing} the conformal model was fitted on")
            return P[:, [where[str(c)] for c in self.classes_]]
        P, _ = _proba_matrix(proba, self.classes_)
        return P

    def predict_sets(self, proba, alpha: float = 0.1) -> np.ndarray:
        """Boolean (n × k) membership of each class in each sample's 1 − α prediction set."""
        P = self._aligned(proba)
        return _nonconformity(P, self.score) <= self.quantiles(alpha)[None, :]

    def pvalues(self, proba) -> np.ndarray:
        """Conformal p-value of every (sample, class): (1 + #calibration scores ≥ s) / (n + 1)."""
        S = _nonconformity(self._aligned(proba), self.score)
        out = np.empty_like(S)
        groups = ([np.arange(len(self.cal_scores_))] * len(self.classes_) if self.mode == "split"
                  else [np.flatnonzero(self.cal_labels_ == k) for k in range(len(self.classes_))])
        for k, g in enumerate(groups):  # one vectorised pass per class
            cal = np.sort(self.cal_scores_[g])
            n_ge = len(cal) - np.searchsorted(cal, S[:, k], side="left")
            out[:, k] = (1.0 + n_ge) / (len(cal) + 1.0)
        return out


def set_coverage(sets: np.ndarray, y, classes: Sequence) -> float:
    """Fraction of samples whose true class is in its prediction set (labels outside ``classes`` count as
    not covered)."""
    pos = {c: i for i, c in enumerate(classes)}
    y = list(y)
    idx = np.array([pos.get(v, -1) for v in y])
    hit = np.zeros(len(y), dtype=bool)
    ok = idx >= 0
    hit[ok] = np.asarray(sets)[np.flatnonzero(ok), idx[ok]]
    return float(hit.mean()) if len(y) else float("nan")


def set_sizes(sets: np.ndarray) -> np.ndarray:
    """Number of classes in each prediction set (0 = the sample fits no class)."""
    return np.asarray(sets, dtype=bool).sum(axis=1)


def format_sets(sets: np.ndarray, classes: Sequence, sep: str = "|") -> list[str]:
    """Prediction sets as strings such as ``"SHH|WNT"`` (empty string for an empty set)."""
    classes = np.asarray(classes, dtype=object)
    return [sep.join(str(c) for c in classes[row]) for row in np.asarray(sets, dtype=bool)]


class KNNDistanceOOD:
    """Out-of-distribution score: mean distance to the ``k`` nearest training samples (selected features).

    ``fit(Z_train)`` indexes the training samples and computes their leave-one-out scores; ``score(Z)`` is the
    mean Euclidean distance of each new sample to its ``k`` nearest training samples; ``pvalue(Z)`` =
    (1 + #reference scores ≥ score) / (n + 1); ``flag(Z, alpha)`` = ``pvalue ≤ alpha``. The reference scores
    are the training samples' leave-one-out scores, or — after :meth:`calibrate` — held-out samples' scores
    (exact split-conformal validity). ``Z`` is typically ``MethylClassifier.transform_selected(X)``.
    """

    def __init__(self, k: int = 5):
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"KNNDistanceOOD: k must be a positive integer; got {k!r}")
        self.k = int(k)

    def fit(self, Z) -> KNNDistanceOOD:
        """Index the training matrix ``Z`` (samples × features, no NaN)."""
        from sklearn.neighbors import NearestNeighbors

        Z = self._check(Z)
        if len(Z) <= self.k:
            raise DataError(f"KNNDistanceOOD needs more than k={self.k} training samples; got {len(Z)}")
        self.nn_ = NearestNeighbors(n_neighbors=self.k + 1).fit(Z)
        dist, _ = self.nn_.kneighbors(Z, n_neighbors=self.k + 1)
        self.train_scores_ = np.sort(dist[:, 1:].mean(axis=1))  # drop self (distance 0)
        self.reference_ = "leave_one_out"
        self.n_features_in_ = Z.shape[1]
        return self

    @staticmethod
    def _check(Z) -> np.ndarray:
        Z = np.asarray(Z, dtype=float)
        if Z.ndim != 2:
            raise DataError(f"OOD features must be a samples × features matrix; got shape {Z.shape}")
        if np.isnan(Z).any():
            raise DataError(f"OOD features contain NaN in {int(np.isnan(Z).any(axis=1).sum())} sample(s); "
                            "impute first (MethylClassifier.transform_selected does)")
        return Z

    def calibrate(self, Z_cal) -> KNNDistanceOOD:
        """Use held-out in-distribution samples (not in the training index) as the reference scores.

        Split-conformal: their scores are exchangeable with those of new in-distribution samples, so
        ``flag(Z, alpha)`` then flags at most a fraction α of them (finite-sample guarantee); the default
        leave-one-out reference is only approximately valid (near-duplicate training samples, e.g. technical
        replicates, shrink it).
        """
        self.train_scores_ = np.sort(self.score(Z_cal))
        self.reference_ = "calibration"
        return self

    def score(self, Z) -> np.ndarray:
        """Mean distance of each sample to its ``k`` nearest training samples (higher = less familiar)."""
        if not hasattr(self, "nn_"):
            raise ConfigError("KNNDistanceOOD is not fitted: call fit(Z_train) first")
        Z = self._check(Z)
        if Z.shape[1] != self.n_features_in_:
            raise DataError(f"OOD features have {Z.shape[1]} columns; training had {self.n_features_in_}")
        dist, _ = self.nn_.kneighbors(Z, n_neighbors=self.k)
        return dist.mean(axis=1)

    def pvalue(self, Z) -> np.ndarray:
        """Conformal p-value of each sample's score among the training leave-one-out scores."""
        s = self.score(Z)
        n_ge = len(self.train_scores_) - np.searchsorted(self.train_scores_, s, side="left")
        return (1.0 + n_ge) / (len(self.train_scores_) + 1.0)

    def flag(self, Z, alpha: float = 0.05) -> np.ndarray:
        """True where a sample is out of distribution at level ``alpha`` (≈ α of in-distribution samples)."""
        if not 0.0 < alpha < 1.0:
            raise ConfigError(f"alpha must be within (0, 1); got {alpha}")
        return self.pvalue(Z) <= alpha


def family_scores(proba, classes: Sequence | None, taxonomy) -> tuple[np.ndarray, list[str]]:
    """Family probabilities: the summed calibrated probabilities of each family's member classes.

    Returns ``(F, families)``: ``F`` is samples × families (columns in order of first appearance).
    ``taxonomy`` is a :class:`~methylclass.models.taxonomy.Taxonomy` or a ``{class: family}`` mapping.
    """
    from .taxonomy import Taxonomy

    P, classes = _proba_matrix(proba, classes)
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy(dict(taxonomy or {}))
    fam_of = tax.family_of(classes)
    families = list(dict.fromkeys(fam_of))
    F = np.column_stack([P[:, fam_of == f].sum(axis=1) for f in families])
    return F, families


def decide_hierarchical(proba, classes: Sequence | None = None, taxonomy=None, threshold: float = 0.9,
                        family_threshold: float | None = None, *,
                        per_class: Mapping[str, float] | None = None, ood: np.ndarray | None = None,
                        no_match: str = NO_MATCH) -> pd.DataFrame:
    """Class call, else family call, else ``no_match`` — one row per sample.

    A sample gets its best class when that class reaches its threshold (as :func:`decide`); otherwise the best
    *family* (summed member probabilities, :func:`family_scores`) when it reaches ``family_threshold`` and has
    at least two member classes (a one-class family adds nothing to its class score); otherwise ``no_match``.

    Parameters
    ----------
    proba : DataFrame or array
        Calibrated probabilities, samples × classes (DataFrame columns are the classes or ``proba_<class>``).
    classes : sequence, optional
        Class names of the columns (needed for an array).
    taxonomy : Taxonomy or mapping, optional
        Class → family (:class:`~methylclass.models.taxonomy.Taxonomy` or ``{class: family}``); None gives
        :func:`decide` with the extra columns.
    threshold : float
        Class-level threshold (0.9 as in Capper et al. 2018).
    family_threshold : float, optional
        Family-level threshold; None uses ``threshold``.
    per_class : mapping, optional
        Per-class thresholds overriding ``threshold`` (as in :func:`decide`).
    ood : array of bool, optional
        True forces ``no_match`` at both levels (e.g. :meth:`KNNDistanceOOD.flag`).
    no_match : str
        Label of samples called at neither level.

    Returns
    -------
    DataFrame
        Index of ``proba`` when it is a DataFrame; columns ``prediction`` (class, family or ``no_match``),
        ``prediction_level`` (``class`` / ``family`` / ``no_match``), ``score`` (the best class's
        probability), ``family`` (family of the best class; for samples no class claims, the family called or
        else the family with the highest summed probability) and ``family_score`` (that family's summed
        probability).
    """
    P, classes = _proba_matrix(proba, classes)
    index = proba.index if isinstance(proba, pd.DataFrame) else None
    labels = decide(P, classes, threshold=threshold, per_class=per_class, ood=ood, no_match=no_match)
    ft = threshold if family_threshold is None else float(family_threshold)
    if not 0.0 <= ft <= 1.0:
        raise ConfigError(f"family_threshold must be within [0, 1]; got {ft}")
    best = np.argmax(P, axis=1)
    score = P[np.arange(len(P)), best]
    level = np.where(labels == no_match, no_match, "class").astype(object)
    if taxonomy is None:
        fam = classes[best].astype(object)
        fscore = score.copy()
        pred = labels.astype(object)
    else:
        F, families = family_scores(P, classes, taxonomy)
        from .taxonomy import Taxonomy

        tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy(dict(taxonomy))
        fam_of = tax.family_of(classes)
        size = np.array([int((fam_of == f).sum()) for f in families])
        col = {f: i for i, f in enumerate(families)}
        own = np.array([col[f] for f in fam_of[best]])
        fam = fam_of[best].astype(object)
        fscore = F[np.arange(len(P)), own]
        pred = labels.astype(object)
        Fm = np.where(size[None, :] >= 2, F, -np.inf)
        fbest = np.argmax(Fm, axis=1)
        fbest_score = Fm[np.arange(len(P)), fbest]
        fallback = (labels == no_match) & (fbest_score >= ft)
        if ood is not None:
            fallback &= ~np.asarray(ood, dtype=bool)
        rejected = np.flatnonzero(labels == no_match)
        top = np.where(fallback, fbest, np.argmax(F, axis=1))[rejected]  # rejected: the best family of any size
        fam[rejected] = np.asarray(families, dtype=object)[top]
        fscore[rejected] = F[rejected, top]
        pred[fallback] = fam[fallback]
        level[fallback] = "family"
    return pd.DataFrame({"prediction": pred, "prediction_level": level, "score": score, "family": fam,
                         "family_score": fscore}, index=index)


class ProfileOOD:
    """Out-of-distribution score on a CpG panel: how far a sample is from the *nearest class profile*.

    Why besides :class:`KNNDistanceOOD`: a Euclidean distance to the nearest training samples mixes every
    feature's noise; this score counts the CpGs where a sample is clearly outside a class's own spread, and
    takes the class that fits best. A tumour type absent from training matches no class at the CpGs that tell
    the training classes apart (it lacks each class's own methylation changes) and adds its own changes.
    ``fit(X, y)`` takes the panel: the ``max_features`` CpGs of highest variance across the training samples
    (the class-informative ones; a broad random panel at 450k/EPIC scale is ~99 % CpGs where nothing differs,
    and its tail fraction is set by per-sample noise, not by class). It stores, per class and panel CpG, the
    class median and a robust spread (1.4826 · MAD, at least ``min_scale`` = 0.05: a beta value's technical
    noise, so a CpG counts as far only when it is > 0.2 from the class median at the default ``z`` = 4);
    ``score(X)`` is, minimised over the classes, the fraction of a sample's measured panel CpGs with
    ``|x − median| / spread > z``. The reference scores come from ``folds``-fold cross-fitting: each training
    sample is scored against the panel *and* statistics chosen on the other folds only — the same procedure a
    new sample meets — so they are exchangeable with new in-distribution samples and the conformal p-value
    ``(1 + #reference ≥ s)/(n + 1)`` is honest. Sex-chromosome CpGs must not be in ``X`` (their methylation
    follows sex, and a class's minority sex then looks far from its own class); the store reader drops them.
    """

    def __init__(self, z: float = 4.0, max_features: int = 10_000, min_scale: float = 0.05, folds: int = 5,
                 random_state: int = 0):
        self.z = z
        self.max_features = max_features
        self.min_scale = min_scale
        self.folds = folds
        self.random_state = random_state

    def _panel(self, V: np.ndarray) -> np.ndarray:
        """Column positions of the ``max_features`` most variable CpGs of ``V`` (all when fewer), in order."""
        if V.shape[1] <= self.max_features:
            return np.arange(V.shape[1])
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            var = np.nan_to_num(np.nanvar(V, axis=0), nan=-1.0)
        return np.sort(np.argsort(-var, kind="stable")[: self.max_features])

    def _stats(self, V: np.ndarray, y: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import warnings

        centers, scales = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns / empty classes
            for c in classes:
                W = V[y == c]
                center = np.nanmedian(W, axis=0) if len(W) else np.full(V.shape[1], np.nan)
                scale = 1.4826 * np.nanmedian(np.abs(W - center), axis=0) if len(W) else center
                centers.append(center)
                scales.append(np.maximum(np.nan_to_num(scale, nan=np.inf), self.min_scale))
        return np.asarray(centers, np.float32), np.asarray(scales, np.float32)

    def _score(self, V: np.ndarray, centers: np.ndarray, scales: np.ndarray) -> np.ndarray:
        best = np.full(len(V), np.inf)
        for center, scale in zip(centers, scales):
            if not np.isfinite(center).any():
                continue
            with np.errstate(invalid="ignore"):
                far = np.abs(V - center) / scale > self.z
            measured = np.isfinite(V) & np.isfinite(center)
            n = measured.sum(axis=1)
            best = np.minimum(best, np.where(n > 0, (far & measured).sum(axis=1) / np.maximum(n, 1), np.inf))
        return np.where(np.isfinite(best), best, np.nan)

    def fit(self, X: pd.DataFrame, y) -> ProfileOOD:
        """Per-class statistics and cross-fitted reference scores of ``X`` (samples × CpGs DataFrame)."""
        if not isinstance(X, pd.DataFrame):
            raise DataError("ProfileOOD.fit needs a samples × CpGs DataFrame")
        y = np.asarray(y, dtype=object)
        cols = np.asarray(X.columns, dtype=object)
        V = X.to_numpy(dtype=np.float32)
        n = len(V)
        k = int(min(self.folds, n))
        if k < 2:
            raise DataError(f"ProfileOOD needs at least 2 training samples; got {n}")
        classes = np.unique(y)
        fold = np.random.default_rng(self.random_state).permutation(n) % k
        ref = np.empty(n)
        for f in range(k):
            rest = V[fold != f]
            panel = self._panel(rest)  # chosen without the scored fold, as for a new sample
            c, s = self._stats(rest[:, panel], y[fold != f], classes)
            ref[fold == f] = self._score(V[fold == f][:, panel], c, s)
        panel = self._panel(V)
        self.features_ = cols[panel].astype(str)
        self.classes_ = classes.astype(str)
        self.centers_, self.scales_ = self._stats(V[:, panel], y, classes)
        self.train_scores_ = np.sort(ref[np.isfinite(ref)])
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Fraction of each sample's measured panel CpGs outside its nearest class profile."""
        if not hasattr(self, "centers_"):
            raise ConfigError("ProfileOOD is not fitted: call fit(X_train, y_train) first")
        V = X.reindex(columns=list(self.features_)).to_numpy(dtype=np.float32)
        return self._score(V, self.centers_, self.scales_)

    def pvalue(self, X: pd.DataFrame) -> np.ndarray:
        """Conformal p-value of each sample's score among the cross-fitted training scores."""
        s = self.score(X)
        n_ge = len(self.train_scores_) - np.searchsorted(self.train_scores_, s, side="left")
        return (1.0 + n_ge) / (len(self.train_scores_) + 1.0)
