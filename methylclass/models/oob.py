"""Out-of-bag class probabilities of a fitted forest: the forest's own held-out scores.

Every tree of a bagged forest is grown on a sample of the training data; the samples it did not see are its
out-of-bag (OOB) samples. Averaging, for each training sample, the probabilities of the trees that did not see it
gives an honest held-out prediction for every training sample from a *single* fit (Breiman 2001; randomForest's
``tuneRF`` and ranger tune ``mtry`` on it). :func:`methylclass.models.tuning.run_oob_search` uses these scores
to choose a forest's hyperparameters and feeds the chosen forest's OOB scores to the ridge calibrator, so a
forest is fitted once per candidate instead of once per candidate and inner fold plus a refit.

Written by hand because neither library offers it for our forests: imbalanced-learn's
``BalancedRandomForestClassifier(oob_score=True)`` requires ``bootstrap=True`` (our forests draw a balanced sample
with replacement per tree and no second bootstrap), and scikit-learn's ``oob_decision_function_`` is computed only
during ``fit`` of a forest that asked for it. The trees seen by each sample come from public attributes
(``samplers_[i].sample_indices_`` of imbalanced-learn, ``estimators_samples_`` of scikit-learn).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["forest_oob_proba"]


def _drawn_indices(forest) -> list[np.ndarray] | None:
    """Per tree, the training rows it was grown on (None when the forest is not bagged)."""
    samplers = getattr(forest, "samplers_", None)
    if samplers is not None:  # imbalanced-learn: each tree sees its sampler's rows (no second bootstrap)
        if getattr(forest, "bootstrap", False):
            return None  # rows of the resampled set, bootstrapped again: not tracked here
        return [np.asarray(s.sample_indices_) for s in samplers]
    if getattr(forest, "bootstrap", False) and hasattr(forest, "estimators_samples_"):
        return [np.asarray(ix) for ix in forest.estimators_samples_]
    return None


def forest_oob_proba(forest, Xt) -> np.ndarray:
    """Out-of-bag class probabilities of the training samples of a fitted bagged forest.

    Parameters
    ----------
    forest
        A fitted forest (imbalanced-learn ``BalancedRandomForestClassifier`` or a bootstrapped scikit-learn
        forest), the last step of its pipeline.
    Xt
        The training samples × features the forest was fitted on, as it saw them (after the pipeline's feature
        steps, e.g. ``MethylClassifier.transform_selected``), rows in the same order.

    Returns
    -------
    numpy.ndarray
        Samples × classes (columns in the forest's ``classes_`` order): the mean ``predict_proba`` of the trees
        that did not see each sample, as the forest's own ``predict_proba`` averages all trees.

    Raises
    ------
    ConfigError
        ``forest`` is not a bagged forest, or some sample was seen by every tree (too few trees).
    """
    drawn = _drawn_indices(forest)
    if drawn is None:
        raise ConfigError(f"out-of-bag scores need a bagged forest; got {type(forest).__name__}")
    # validated once as the forest does (float32, C order); each tree then predicts every row without copying
    # the out-of-bag rows out (a copy of ~2,000 x 10,000 per tree cost ~0.1 s, more than the prediction)
    Xt = np.ascontiguousarray(Xt, dtype=np.float32)
    n = Xt.shape[0]
    n_classes = len(forest.classes_)
    total = np.zeros((n, n_classes))
    count = np.zeros(n, dtype=np.int64)
    for tree, rows in zip(forest.estimators_, drawn, strict=True):
        oob = np.ones(n, dtype=bool)
        oob[rows] = False
        if not oob.any():
            continue
        p = tree.predict_proba(Xt, check_input=False)[oob]
        cols = np.asarray(tree.classes_, dtype=np.int64)  # encoded class positions the tree saw
        if len(cols) == n_classes:
            total[oob] += p
        else:
            total[np.ix_(oob, cols)] += p
        count[oob] += 1
    if (count == 0).any():
        raise ConfigError(f"{int((count == 0).sum())} training sample(s) were seen by every tree: too few trees "
                          "for out-of-bag scores; add trees or use the random/grid search")
    return total / count[:, None]
