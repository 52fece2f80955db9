"""The pipeline builder: selection → (CNV block) → rebalancing → model → calibration, all fitted in-fold.

:func:`make_pipeline` returns a :class:`MethylClassifier`, a scikit-learn classifier whose ``fit`` builds and fits

.. code-block:: text

    Calibrator(                                   # ridge (default) | sigmoid | isotonic | none
        imblearn.Pipeline([
            ("features", CpG selection [+ CNV block]),  # top-variance k → median impute [→ Boruta]
            ("sampler", imbalanced-learn sampler),      # only for oversample / undersample / smote
            ("model", registry model),                  # class weights / RF down-sampling set here
        ]))

on exactly the data passed to ``fit``. Any outer cross-validation (``sklearn.base.clone`` + ``fit`` per fold)
therefore refits selection, rebalancing and calibration per fold — the only honest way to estimate accuracy
(Ambroise & McLachlan 2002; the leakage test in ``tests/models`` shows the contrast).

With ``feature_blocks`` (e.g. ``"cnv_"``), columns whose names start with one of the prefixes bypass the CpG
selection and are median-imputed and standardised; the other columns are the CpGs. This needs a DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from ..errors import ConfigError
from .impute import IMPUTE_METHODS, make_imputer
from .rebalance import check_balance, make_sampler
from .registry import build_model, get_factory
from .scaling import BlockColumnTransformer, check_block_weight, check_scale, scale_steps
from .tuning import check_search, run_oob_search, run_search, run_search_with_scores

__all__ = ["CALIBRATE_METHODS", "SELECT_METHODS", "MethylClassifier", "make_pipeline"]

#: accepted values of ``select`` (besides ``None``)
SELECT_METHODS: tuple[str, ...] = ("variance", "boruta")
#: accepted values of ``calibrate`` (besides ``None``)
CALIBRATE_METHODS: tuple[str, ...] = ("ridge", "sigmoid", "isotonic")
_DEFAULT_BLOCK_PREFIX = "cnv_"


def _thread_limit(n_jobs: int | None):
    """Cap BLAS/OpenMP threads at ``n_jobs`` (None or ≤ 0: no cap).

    On a shared 2-core machine an unconstrained OpenBLAS made a 341 × 399 logistic-regression fit 25× slower
    (4.4 s vs 0.17 s) through thread oversubscription; ``n_jobs`` therefore bounds every kind of thread.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(n_jobs) if n_jobs is not None and n_jobs > 0 else None)


def _check_X(X):
    """DataFrames pass unchanged (their column names drive CNV blocks and bundles); other input becomes a 2-D
    float array (NaN allowed); sparse matrices are refused (beta matrices are dense)."""
    from scipy import sparse
    from sklearn.utils import check_array

    if hasattr(X, "iloc"):
        return X
    if sparse.issparse(X):
        raise TypeError("MethylClassifier does not support sparse input: pass a dense samples × features matrix")
    return check_array(X, ensure_all_finite="allow-nan", dtype="numeric")


def _none(value) -> bool:
    return value is None or (isinstance(value, str) and value.lower() in ("none", ""))


def _block_prefixes(feature_blocks) -> tuple[str, ...]:
    if feature_blocks is None or feature_blocks is False:
        return ()
    if feature_blocks is True:
        return (_DEFAULT_BLOCK_PREFIX,)
    if isinstance(feature_blocks, str):
        return (feature_blocks,)
    prefixes = tuple(feature_blocks)
    if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
        raise ConfigError(f"feature_blocks must be a column prefix or a list of prefixes; got {feature_blocks!r}")
    return prefixes



def _adjust_prefixes(adjust) -> tuple[str, ...]:
    """Covariate column prefixes of the in-fold adjustment (``True`` = ``"cov_"``; a mapping gives them under
    ``prefixes``)."""
    if isinstance(adjust, dict):
        unknown = set(adjust) - {"prefixes", "shrink"}
        if unknown:
            raise ConfigError(f"adjust: unknown keys {sorted(unknown)}; allowed: prefixes, shrink")
        return _adjust_prefixes(adjust.get("prefixes", True))
    if adjust is None or adjust is False or (isinstance(adjust, str) and adjust.lower() in ("", "none")):
        return ()
    if adjust is True:
        return ("cov_",)
    if isinstance(adjust, str):
        return (adjust,)
    prefixes = tuple(adjust)
    if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
        raise ConfigError(f"adjust must be a covariate column prefix or a list of prefixes; got {adjust!r}")
    return prefixes


class ColumnPositions:
    """Column selector for ``ColumnTransformer``: integer positions of the columns whose names match ``pattern``.

    Like :func:`sklearn.compose.make_column_selector`, but it returns positions rather than names: scikit-learn
    resolves a list of names with one ``list.index`` call per name, which is quadratic and took 50 s of a 74 s
    fit on 20,000 CpG columns; positions are resolved in one regex pass.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __call__(self, X) -> np.ndarray:
        import re

        rx = re.compile(self.pattern)
        return np.flatnonzero([rx.search(str(c)) is not None for c in X.columns])

class MethylClassifier(ClassifierMixin, BaseEstimator):
    """A methylation classifier: registry model + in-fold selection, rebalancing and calibration.

    Parameters are those of :func:`make_pipeline` (``model_params`` holds the model's own keyword arguments).
    Fitted attributes: ``estimator_`` (the fitted calibrated estimator), ``classes_``, ``n_features_in_``,
    ``feature_names_in_`` (DataFrame input). Properties on a fitted classifier: ``base_pipeline_``,
    ``final_estimator_``, ``selected_features_``; method :meth:`transform_selected`.
    """

    def __init__(self, model: str = "rf", *, select: str | None = "variance", n_features: int = 10000,
                 boruta_kwargs: dict | None = None, balance: str | None = None, calibrate: str | None = "ridge",
                 inner_cv: int = 3, feature_blocks: str | Sequence[str] | bool | None = None,
                 impute: str | None = "median", calibration_kwargs: dict | None = None,
                 random_state: int | None = 0, n_jobs: int = 1, model_params: dict | None = None,
                 search: dict | None = None, adjust: str | Sequence[str] | None = None,
                 scale: str | None = None, block_weight: float | str = 1.0):
        self.model = model
        self.select = select
        self.n_features = n_features
        self.boruta_kwargs = boruta_kwargs
        self.balance = balance
        self.calibrate = calibrate
        self.inner_cv = inner_cv
        self.feature_blocks = feature_blocks
        self.impute = impute
        self.calibration_kwargs = calibration_kwargs
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.model_params = model_params
        self.search = search
        self.adjust = adjust
        self.scale = scale
        self.block_weight = block_weight

    # ---------------------------------------------------------------------------------------------- building
    def check_options(self) -> None:
        """Raise ConfigError for an unknown model, selection, balance, calibration or bad numbers."""
        get_factory(self.model)
        if not _none(self.select) and self.select not in SELECT_METHODS:
            raise ConfigError(f"unknown select {self.select!r}; choose one of: none, {', '.join(SELECT_METHODS)}")
        if not _none(self.calibrate) and self.calibrate not in CALIBRATE_METHODS:
            raise ConfigError(f"unknown calibrate {self.calibrate!r}; choose one of: none, "
                              f"{', '.join(CALIBRATE_METHODS)}")
        if not _none(self.impute) and self.impute not in IMPUTE_METHODS:
            raise ConfigError(f"unknown impute {self.impute!r}; choose none, {', '.join(IMPUTE_METHODS)}")
        check_balance(self.balance)
        if not isinstance(self.n_features, (int, np.integer)) or self.n_features < 1:
            raise ConfigError(f"n_features must be a positive integer; got {self.n_features!r}")
        if not isinstance(self.inner_cv, (int, np.integer)) or self.inner_cv < 2:
            raise ConfigError(f"inner_cv must be an integer ≥ 2; got {self.inner_cv!r}")
        _block_prefixes(self.feature_blocks)
        check_search(self.search)
        _adjust_prefixes(self.adjust)
        check_scale(self.scale)
        check_block_weight(self.block_weight)

    def _cpg_steps(self) -> list[tuple[str, Any]]:
        from .selectors import BorutaSelector, VarianceSelector

        steps: list[tuple[str, Any]] = []
        select = None if _none(self.select) else self.select
        kw = dict(self.boruta_kwargs or {})
        if select == "variance":
            steps.append(("variance", VarianceSelector(n_features=int(self.n_features))))
        elif select == "boruta":
            prefilter = kw.pop("prefilter", 1000)
            k = int(self.n_features) if prefilter is None else int(min(self.n_features, prefilter))
            steps.append(("variance", VarianceSelector(n_features=k)))
        if not _none(self.impute):
            steps.append(("impute", make_imputer(self.impute)))
        if select == "boruta":
            kw.setdefault("random_state", self.random_state)
            kw.setdefault("n_jobs", self.n_jobs)
            try:
                steps.append(("boruta", BorutaSelector(prefilter=None, **kw)))
            except TypeError as exc:
                raise ConfigError(f"invalid boruta_kwargs {sorted(kw)}: {exc}") from None
        return steps + scale_steps(self.scale)

    def _feature_steps(self) -> list[tuple[str, Any]]:
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        cpg = self._cpg_steps()
        prefixes = _block_prefixes(self.feature_blocks)
        adjust = _adjust_prefixes(self.adjust)
        first: list[tuple[str, Any]] = []
        if adjust:
            from .adjust import CovariateAdjuster

            shrink = bool(self.adjust.get("shrink", True)) if isinstance(self.adjust, dict) else True
            first = [("adjust", CovariateAdjuster(prefixes=adjust, exclude=prefixes, shrink=shrink))]
        if not prefixes:
            return first + cpg  # flat steps: imbalanced-learn refuses nested Pipelines as intermediate steps
        import re

        from .impute import MedianImputer

        alt = "|".join(re.escape(p) for p in prefixes)
        block = Pipeline([("impute", MedianImputer()),
                          ("scale", StandardScaler())])
        return first + [("features", BlockColumnTransformer(
            [("cpg", Pipeline(cpg) if cpg else "passthrough", ColumnPositions(f"^(?!(?:{alt}))")),
             ("blocks", block, ColumnPositions(f"^(?:{alt})"))],
            block_weight=self.block_weight, remainder="drop", verbose_feature_names_out=False))]

    def build_base(self):
        """The unfitted imbalanced-learn pipeline (features → sampler → model), without calibration."""
        from imblearn.pipeline import Pipeline as ImbPipeline

        self.check_options()
        balance = check_balance(self.balance)
        model = build_model(self.model, random_state=self.random_state, n_jobs=self.n_jobs,
                            class_weight="balanced" if balance == "class_weight" else None,
                            downsample=balance == "downsample", **(self.model_params or {}))
        steps = self._feature_steps()
        sampler = make_sampler(balance, random_state=self.random_state)
        if sampler is not None:
            steps.append(("sampler", sampler))
        steps.append(("model", model))
        return ImbPipeline(steps)

    def build(self):
        """The unfitted estimator that :meth:`fit` fits: the base pipeline wrapped in its calibrator."""
        from .calibration import RidgeCalibratedClassifier, SklearnCalibratedClassifier

        base = self.build_base()
        if _none(self.calibrate):
            return base
        kw = dict(self.calibration_kwargs or {})
        kw.setdefault("random_state", self.random_state)
        try:
            if self.calibrate == "ridge":
                return RidgeCalibratedClassifier(base, inner_cv=int(self.inner_cv), **kw)
            return SklearnCalibratedClassifier(base, method=self.calibrate, inner_cv=int(self.inner_cv), **kw)
        except TypeError as exc:
            raise ConfigError(f"invalid calibration_kwargs {sorted(kw)}: {exc}") from None

    # ---------------------------------------------------------------------------------------------- fitting
    def fit(self, X, y):
        """Fit selection, rebalancing, model and calibration on ``X`` (samples × features) and labels ``y``."""
        self.check_options()
        if _block_prefixes(self.feature_blocks) and not hasattr(X, "columns"):
            raise ConfigError("feature_blocks needs a DataFrame with column names (e.g. 'cnv_…' columns)")
        X = _check_X(X)
        X, y = validate_data(self, X, y, skip_check_array=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        check_consistent_length(X, y)
        with _thread_limit(self.n_jobs):
            spec = check_search(self.search)
            if spec is None:
                self.estimator_ = self.build().fit(X, y)
                # a model that tunes parts of itself (an ensemble member with its own search) reports its choice
                self.best_params_ = getattr(self.final_estimator_, "best_params_", None)
            else:
                from .calibration import resolve_inner_folds

                probe = clone(self).set_params(search=None, calibrate=None)
                n_splits = resolve_inner_folds(y, int(self.inner_cv), what="hyperparameter search inner CV")
                if spec["method"] == "oob":
                    best, params, table = self._fit_oob_search(probe, X, y, spec)
                elif spec["method"] != "halving" and self.calibrate == "ridge":
                    # the calibrator's inner folds are the search's: reuse the chosen candidate's fold models
                    best, params, table, oof = run_search_with_scores(
                        probe, X, y, spec, n_splits=n_splits, random_state=self.random_state,
                        score_method=lambda cand: self._ridge_score_method(cand))
                    final = clone(self).set_params(search=None, **params).build()
                    same_folds = final.random_state == self.random_state
                    self.estimator_ = final.fit(X, y, oof_scores=oof) if same_folds else final.fit(X, y)
                else:
                    best, params, table = run_search(probe, X, y, spec, n_splits=n_splits,
                                                     random_state=self.random_state)
                    self.estimator_ = clone(self).set_params(search=None, **params).build().fit(X, y)
                self.best_params_ = best
                self.search_results_ = table
        self.classes_ = np.asarray(self.estimator_.classes_)
        if not hasattr(self, "n_features_in_") and hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def _fit_oob_search(self, probe: MethylClassifier, X, y, spec: dict) -> tuple[dict, dict, list[dict]]:
        """``search.method: oob``: one fit per candidate; the chosen forest is the final model and its
        out-of-bag scores fit the ridge calibrator (other calibrators refit as usual)."""
        from .calibration import log_proba_scores

        best, params, table, fitted, oob = run_oob_search(probe, X, y, spec, random_state=self.random_state)
        final = clone(self).set_params(search=None, **params)
        if _none(self.calibrate):
            self.estimator_ = fitted.estimator_
        elif self.calibrate == "ridge" and self._ridge_score_method(fitted) == "log_proba":
            self.estimator_ = final.build().fit(X, y, oof_scores=log_proba_scores(oob),
                                                fitted_estimator=fitted.estimator_)
        else:
            self.estimator_ = final.build().fit(X, y)
        return best, params, table

    def _ridge_score_method(self, candidate: MethylClassifier) -> str:
        """The score method the ridge calibrator of ``candidate`` (a probe without calibration) would use."""
        cal = clone(candidate).set_params(calibrate=self.calibrate,
                                          calibration_kwargs=self.calibration_kwargs).build()
        if cal.score_method != "auto":
            return cal.score_method
        return "decision" if hasattr(cal._base(), "decision_function") else "log_proba"

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (calibrated unless ``calibrate=None``), columns in ``classes_`` order."""
        check_is_fitted(self, "estimator_")
        X = _check_X(X)
        validate_data(self, X, reset=False, skip_check_array=True)
        with _thread_limit(self.n_jobs):
            return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Most probable class (use :func:`methylclass.models.decide` for a thresholded "no_match" call)."""
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)]

    # ---------------------------------------------------------------------------------------- introspection
    @property
    def base_pipeline_(self):
        """The fitted features → sampler → model pipeline trained on all of the training data."""
        check_is_fitted(self, "estimator_")
        return self.estimator_ if _none(self.calibrate) else self.estimator_.estimator_

    @property
    def final_estimator_(self):
        """The fitted model (last pipeline step), e.g. for SHAP."""
        return self.base_pipeline_[-1]

    @property
    def selected_features_(self) -> np.ndarray:
        """Names of the columns the model sees (after selection and the CNV block), in model-input order."""
        pre = self._pre_model()
        if pre is None:
            names = getattr(self, "feature_names_in_", None)
            return np.asarray(names if names is not None else [f"x{i}" for i in range(self.n_features_in_)],
                              dtype=object)
        names = getattr(self, "feature_names_in_", None)
        return np.asarray(pre.get_feature_names_out(names), dtype=object)

    def _pre_model(self):
        """The fitted steps before the model, samplers excluded (None when there are none)."""
        from sklearn.pipeline import Pipeline

        steps = [(n, s) for n, s in self.base_pipeline_.steps[:-1] if not hasattr(s, "fit_resample")]
        return Pipeline(steps) if steps else None

    def transform_selected(self, X) -> np.ndarray:
        """``X`` as the model sees it: selected, imputed (and CNV-scaled) features; samplers are skipped."""
        check_is_fitted(self, "estimator_")
        pre = self._pre_model()
        return np.asarray(X if pre is None else pre.transform(X), dtype=float)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = not _none(self.impute)
        return tags


def make_pipeline(model: str = "rf", *, select: str | None = "variance", n_features: int = 10000,
                  boruta_kwargs: dict | None = None, balance: str | None = None,
                  calibrate: str | None = "ridge", inner_cv: int = 3,
                  feature_blocks: str | Sequence[str] | bool | None = None, impute: str | None = "median",
                  calibration_kwargs: dict | None = None, random_state: int | None = 0, n_jobs: int = 1,
                  search: dict | None = None, adjust: str | Sequence[str] | bool | None = None,
                  scale: str | None = None, block_weight: float | str = 1.0, **model_params) -> MethylClassifier:
    """Build an unfitted :class:`MethylClassifier` (options are checked now).

    Parameters
    ----------
    model : str
        A registry name (:func:`~methylclass.models.available_models`).
    select : str or None
        ``"variance"`` (top ``n_features`` by variance), ``"boruta"`` (variance pre-filter to
        ``min(n_features, boruta_kwargs["prefilter"]=1000)`` then Boruta with ``boruta_kwargs``), or None.
    n_features : int
        Number of features kept by the selection.
    boruta_kwargs : dict, optional
        Options of the Boruta selection (``prefilter`` and Boruta's own).
    balance : str or None
        None, ``"class_weight"``, ``"downsample"`` (RF only), ``"oversample"``, ``"undersample"``, ``"smote"``
        (see :mod:`methylclass.models.rebalance`).
    calibrate : str or None
        ``"ridge"`` (default), ``"sigmoid"``, ``"isotonic"`` or None.
    inner_cv : int
        Folds of the inner cross-validation (calibration, search).
    feature_blocks : str, sequence of str, bool or None
        Column prefix(es) (``True`` = ``"cnv_"``) of non-CpG features that bypass selection and are
        standardised.
    impute : str or None
        ``"median"``/``"mean"`` imputation of missing values after selection (training statistics), or None to
        pass NaN to the model.
    calibration_kwargs : dict, optional
        Go to the calibrator (e.g. ``{"C": 1.0}`` fixes the ridge strength instead of choosing it by inner CV).
    random_state : int or None
        Seed of every random step.
    n_jobs : int
        Threads of the model (RF, XGBoost, Boruta forest) and cap on BLAS/OpenMP threads during
        ``fit``/``predict_proba``; keep 1 when folds run in parallel.
    search : dict, optional
        A hyperparameter search space chosen by inner CV on the training data before calibration
        (:mod:`methylclass.models.tuning`); the fitted classifier has ``best_params_`` and ``search_results_``.
    adjust : str, sequence of str, bool or None
        Covariate column prefix(es) (``True`` = ``"cov_"``, e.g. a ``cov_material`` column with 1 = FFPE) whose
        shift is removed per CpG by :class:`~methylclass.models.adjust.CovariateAdjuster`, fitted on the
        training data with the class design protected; the covariate columns are consumed and dropped.
        ``{"prefixes": [...], "shrink": False}`` selects limma's plain least-squares estimate (no shrinkage).
    scale : str or None
        The scale of the CpG columns the model sees (:mod:`methylclass.models.scaling`): None (betas),
        ``"standard"`` (each CpG standardised with training-fold statistics), ``"mvalue"`` or
        ``"mvalue_standard"``.
    block_weight : float or "auto"
        Factor applied to the standardised ``feature_blocks`` columns (for ridge models a block-wise penalty
        ``1/block_weight²``; :class:`~methylclass.models.scaling.BlockColumnTransformer`); ``"auto"``: the median
        training-fold SD of the selected CpGs, so one CNV feature weighs like a typical CpG.
    **model_params
        Go to the model's factory (e.g. ``n_estimators=1000`` for ``rf``).

    Returns
    -------
    MethylClassifier
        The unfitted classifier.

    Raises
    ------
    ConfigError
        Bad options or model parameters.
    """
    est = MethylClassifier(model, select=select, n_features=n_features, boruta_kwargs=boruta_kwargs,
                           balance=balance, calibrate=calibrate, inner_cv=inner_cv, feature_blocks=feature_blocks,
                           impute=impute, calibration_kwargs=calibration_kwargs, random_state=random_state,
                           n_jobs=n_jobs, search=search, adjust=adjust, scale=scale, block_weight=block_weight,
                           model_params=dict(model_params) or None)
    est.check_options()
    est.build_base()  # surfaces factory/parameter errors (ConfigError) before any fitting
    return est
