"""The model zoo: a registry of factories, each returning an unfitted scikit-learn classifier.

Built-in entries (all accept string class labels and expose ``predict_proba``):

========== ==================================================================================================
``rf``       ``RandomForestClassifier`` (500 trees, √p features); ``downsample=True`` gives imbalanced-learn's
             ``BalancedRandomForestClassifier`` with per-tree stratified down-sampling of every class to the
             smallest class, drawn with replacement — the ``randomForest(strata=y, sampsize=rep(min, k))``
             scheme of Capper et al. 2018 / mnp_training.
``logreg``   multinomial ``LogisticRegression``, L2 (ridge) penalty, lbfgs. ``l1_ratio>0`` makes it elastic net.
``enet``     multinomial ``LogisticRegression`` with elastic-net penalty (``l1_ratio=0.5``, saga solver) — the
             separate registry entry for elastic net (Maros et al. 2020 "elastic net alone").
``svm``      linear ``SVC``; ``predict_proba`` is softmax(margins), calibrate it (default ridge calibration).
``svm_rbf``  RBF-kernel ``SVC`` (``gamma="scale"``), same probability convention as ``svm``.
``xgb``      :class:`~methylclass.models.estimators.XGBLabelClassifier` (hist, depth 4, 200 rounds, max_bin 64).
``mlp``      ``MLPClassifier`` (one hidden layer of 256 ReLU units, adam, L2 ``alpha=1e-3``).
``knn``      ``KNeighborsClassifier`` (10 neighbours, distance-weighted votes).
``lda``      ``LinearDiscriminantAnalysis`` with Ledoit–Wolf covariance shrinkage (lsqr solver).
========== ==================================================================================================

A factory is any callable returning an estimator. :func:`build_model` passes ``random_state`` and ``n_jobs``
when the factory names them as parameters, ``class_weight="balanced"`` for ``balance="class_weight"``, and
``downsample=True`` for ``balance="downsample"``; a factory that cannot honour a requested option is refused with a
:class:`~methylclass.errors.ConfigError` instead of silently ignoring it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from .estimators import ClassWeightedClassifier, SoftmaxDecisionClassifier, XGBLabelClassifier

__all__ = [
    "MODELS",
    "available_models",
    "build_model",
    "get_factory",
    "logistic_regression",
    "register_model",
]

Factory = Callable[..., Any]


def logistic_regression(*, l1_ratio: float = 0.0, **kwargs) -> Any:
    """A ``LogisticRegression`` with penalty given by ``l1_ratio`` (0 = L2, 1 = L1) on any scikit-learn ≥ 1.4.

    scikit-learn 1.8 deprecated ``penalty=`` in favour of ``l1_ratio`` alone; older versions need
    ``penalty="l2"|"elasticnet"``. This helper speaks whichever the installed version understands.
    """
    from sklearn.linear_model import LogisticRegression

    default_penalty = inspect.signature(LogisticRegression).parameters["penalty"].default
    if default_penalty == "deprecated":
        return LogisticRegression(l1_ratio=l1_ratio, **kwargs)
    if l1_ratio == 0.0:
        return LogisticRegression(penalty="l2", **kwargs)
    return LogisticRegression(penalty="elasticnet", l1_ratio=l1_ratio, **kwargs)


def make_rf(*, n_estimators: int = 500, max_features: str | float = "sqrt", min_samples_leaf: int = 1,
            max_depth: int | None = None, class_weight: str | dict | None = None, downsample: bool = False,
            random_state: int | None = 0, n_jobs: int = 1, **params) -> Any:
    """Random forest; ``downsample=True`` → per-tree stratified down-sampling to the smallest class."""
    common = dict(n_estimators=n_estimators, max_features=max_features, min_samples_leaf=min_samples_leaf,
                  max_depth=max_depth, class_weight=class_weight, random_state=random_state, n_jobs=n_jobs,
                  **params)
    if downsample:
        from imblearn.ensemble import BalancedRandomForestClassifier

        return BalancedRandomForestClassifier(sampling_strategy="all", replacement=True, bootstrap=False,
                                              **common)
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**common)


def make_logreg(*, C: float = 1.0, l1_ratio: float = 0.0, max_iter: int = 2000,
                class_weight: str | dict | None = None, random_state: int | None = 0, **params) -> Any:
    """Multinomial logistic regression, L2 by default (``l1_ratio`` > 0 → elastic net with saga)."""
    solver = params.pop("solver", "lbfgs" if l1_ratio == 0.0 else "saga")
    return logistic_regression(C=C, l1_ratio=l1_ratio, solver=solver, max_iter=max_iter,
                               class_weight=class_weight, random_state=random_state, **params)


def make_enet(*, C: float = 1.0, l1_ratio: float = 0.5, max_iter: int = 3000, tol: float = 1e-3,
              class_weight: str | dict | None = None, random_state: int | None = 0, **params) -> Any:
    """Elastic-net multinomial logistic regression (saga solver)."""
    if not 0.0 < l1_ratio <= 1.0:
        raise ConfigError(f"enet: l1_ratio must be in (0, 1]; got {l1_ratio} (use model 'logreg' for ridge)")
    return logistic_regression(C=C, l1_ratio=l1_ratio, solver="saga", max_iter=max_iter, tol=tol,
                               class_weight=class_weight, random_state=random_state, **params)


def make_svm(*, C: float = 1.0, class_weight: str | dict | None = None, random_state: int | None = 0,
             **params) -> Any:
    """Linear-kernel SVM with softmax(margin) scores."""
    from sklearn.svm import SVC

    return SoftmaxDecisionClassifier(SVC(kernel="linear", C=C, class_weight=class_weight,
                                         random_state=random_state, **params))


def make_svm_rbf(*, C: float = 10.0, gamma: str | float = "scale", class_weight: str | dict | None = None,
                 random_state: int | None = 0, **params) -> Any:
    """RBF-kernel SVM with softmax(margin) scores."""
    from sklearn.svm import SVC

    return SoftmaxDecisionClassifier(SVC(kernel="rbf", C=C, gamma=gamma, class_weight=class_weight,
                                         random_state=random_state, **params))


def make_xgb(*, class_weight: str | None = None, random_state: int | None = 0, n_jobs: int = 1,
             **params) -> Any:
    """XGBoost (hist) with string labels; see :class:`XGBLabelClassifier` for the modest defaults."""
    known = set(inspect.signature(XGBLabelClassifier).parameters)
    extra = {k: params.pop(k) for k in list(params) if k not in known}
    xgb_params = {**(params.pop("xgb_params", None) or {}), **extra} or None
    return XGBLabelClassifier(class_weight=class_weight, random_state=random_state, n_jobs=n_jobs,
                              xgb_params=xgb_params, **params)


def make_mlp(*, hidden_layer_sizes: tuple[int, ...] = (256,), alpha: float = 1e-3, max_iter: int = 500,
             learning_rate_init: float = 1e-3, class_weight: str | dict | None = None,
             random_state: int | None = 0, **params) -> Any:
    """One-hidden-layer perceptron; ``class_weight`` is applied as sample weights."""
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=tuple(hidden_layer_sizes), alpha=alpha, max_iter=max_iter,
                        learning_rate_init=learning_rate_init, random_state=random_state, **params)
    return mlp if class_weight is None else ClassWeightedClassifier(mlp, class_weight=class_weight)


def make_knn(*, n_neighbors: int = 10, weights: str = "distance", metric: str = "euclidean", **params) -> Any:
    """k nearest neighbours (methylation classes are tight clusters); probabilities are neighbour votes."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=n_neighbors, weights=weights, metric=metric, **params)


def make_lda(*, shrinkage: str | float = "auto", **params) -> Any:
    """Linear discriminant analysis with a Ledoit–Wolf shrunken common covariance (``solver="lsqr"``).

    The covariance is features × features: keep the CpG selection to a few thousand (``conf/model/lda.yaml``
    selects 2,000; 10,000 CpGs would need an 800 MB matrix and a cubic solve per fit).
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage, **params)


#: name → factory; extend with :func:`register_model`
MODELS: dict[str, Factory] = {
    "rf": make_rf,
    "logreg": make_logreg,
    "enet": make_enet,
    "svm": make_svm,
    "svm_rbf": make_svm_rbf,
    "xgb": make_xgb,
    "mlp": make_mlp,
    "knn": make_knn,
    "lda": make_lda,
}


def available_models() -> list[str]:
    """Names of the registered models.

    Returns
    -------
    list of str
        The names, sorted.
    """
    return sorted(MODELS)


def get_factory(name: str) -> Factory:
    """The factory registered under ``name``; unknown names raise ConfigError listing the known ones."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown model {name!r}; available models: {', '.join(available_models())}"
        ) from None


def register_model(name: str, factory: Factory | str, *, overwrite: bool = False, **defaults) -> None:
    """Register ``factory`` under ``name``.

    Parameters
    ----------
    name : str
        The model's name (non-empty).
    factory : callable or str
        A callable returning an unfitted estimator, or the name of a registered model: then the new entry is
        that model with ``defaults`` as new default parameters (how a ``conf/`` file declares a variant, e.g.
        ``register_model("rf_big", "rf", n_estimators=2000)``).
    overwrite : bool
        Allow re-registering an existing name.
    **defaults
        Default parameters bound to the factory.

    Raises
    ------
    ConfigError
        An empty name, an existing name without ``overwrite``, or a factory that is neither callable nor a
        registered model name.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"model name must be a non-empty string; got {name!r}")
    if name in MODELS and not overwrite:
        raise ConfigError(f"model {name!r} is already registered (pass overwrite=True to replace it)")
    if isinstance(factory, str):
        base = get_factory(factory)
        factory = functools.wraps(base)(functools.partial(base, **defaults))
    elif not callable(factory):
        raise ConfigError(f"model {name!r}: factory must be callable or a registered model name")
    elif defaults:
        factory = functools.wraps(factory)(functools.partial(factory, **defaults))
    MODELS[name] = factory


def _accepts(factory: Factory, param: str) -> bool:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return False
    return param in sig.parameters and sig.parameters[param].kind is not inspect.Parameter.VAR_KEYWORD


def build_model(name: str, *, random_state: int | None = 0, n_jobs: int = 1, class_weight: str | None = None,
                downsample: bool = False, **params) -> Any:
    """Instantiate registry entry ``name`` with ``params``.

    Raises ConfigError for unknown names, for parameters the factory rejects, and for a requested
    ``class_weight``/``downsample`` that the model cannot honour.
    """
    factory = get_factory(name)
    kwargs = dict(params)
    for key, value in (("random_state", random_state), ("n_jobs", n_jobs)):
        if _accepts(factory, key):
            kwargs.setdefault(key, value)
    if class_weight is not None:
        if not _accepts(factory, "class_weight"):
            raise ConfigError(f"model {name!r} does not support class weights; "
                              "use balance='oversample', 'undersample' or 'smote'")
        kwargs["class_weight"] = class_weight
    if downsample:
        if not _accepts(factory, "downsample"):
            raise ConfigError(f"balance='downsample' is per-tree stratified down-sampling for random forests; "
                              f"model {name!r} does not support it (use balance='undersample')")
        kwargs["downsample"] = True
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"model {name!r}: invalid parameters {sorted(params)}: {exc}") from None
