"""Model bundles: a directory with a JSON card and model files that do not execute code when loaded.

Layout written by :func:`save_bundle`::

    DIR/card.json         classes, training features (probe ids), training-data sha256, package versions,
                          metrics, config, created time, and the sha256 of every model file
    DIR/model.skops       the fitted estimator (skops format; XGBoost boosters inside are XGBoost's JSON model)
    DIR/<name>.skops      optional components, e.g. ``conformal`` and ``ood`` (see decision.py)

Safety: skops files hold no pickle; :func:`load_bundle` asks skops which object types a file contains and loads it
only if every type belongs to the allowlist (``methylclass.models``, scikit-learn, imbalanced-learn, XGBoost,
Boruta, numpy dtypes) or to the caller's explicit ``trusted`` list, so a tampered file cannot construct arbitrary
objects. When skops is not installed, joblib (pickle) is used instead and the loader says so: pickle *can* run code
on load, the recorded sha256 only detects corruption or modification after saving, so load such bundles only from
sources you trust.

Writing is atomic: everything goes to a temporary sibling directory that is renamed into place at the end.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import make_temp_dir, publish_dir
from ..errors import ConfigError, DataError

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_MISSING_FRACTION",
    "TRUSTED_TYPE_PATTERN",
    "Bundle",
    "hash_training_data",
    "load_bundle",
    "save_bundle",
]

BUNDLE_FORMAT = "methylclass-bundle"
FORMAT_VERSION = 1
#: a bundle predicts with up to this fraction of its used features missing (training medians fill them)
MAX_MISSING_FRACTION = 0.05
#: object types a bundle may contain without the caller trusting them explicitly
TRUSTED_TYPE_PATTERN = re.compile(r"^(methylclass\.models\.|sklearn\.|imblearn\.|xgboost\.|boruta\.|numpy\.dtype$)")
_VERSION_MODULES = ("numpy", "pandas", "scipy", "sklearn", "imblearn", "xgboost", "boruta", "skops", "joblib")


def hash_training_data(X: pd.DataFrame | np.ndarray, y: Sequence | None = None) -> str:
    """``sha256:<hex>`` of a training matrix (values as float64, column names, row index) and its labels."""
    h = hashlib.sha256()
    if isinstance(X, pd.DataFrame):
        h.update("\x1f".join(map(str, X.columns)).encode())
        h.update("\x1f".join(map(str, X.index)).encode())
        values = X.to_numpy(dtype=np.float64)
    else:
        values = np.asarray(X, dtype=np.float64)
    h.update(str(values.shape).encode())
    h.update(np.ascontiguousarray(values).tobytes())
    if y is not None:
        h.update("\x1f".join(map(str, y)).encode())
    return "sha256:" + h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import importlib

    out = {"python": platform.python_version()}
    try:
        from .. import __version__ as mc_version

        out["methylclass"] = mc_version
    except ImportError:  # pragma: no cover - partial installs
        pass
    for mod in _VERSION_MODULES:
        try:
            out[mod] = str(getattr(importlib.import_module(mod), "__version__", "unknown"))
        except ImportError:
            continue
    return out


def _skops():
    try:
        import skops.io as sio

        return sio
    except ImportError:
        return None


def _dump(obj: Any, path_stem: Path) -> dict[str, str]:
    sio = _skops()
    if sio is not None:
        path = path_stem.with_suffix(".skops")
        sio.dump(obj, path)
        fmt = "skops"
    else:
        import joblib

        path = path_stem.with_suffix(".joblib")
        joblib.dump(obj, path)
        fmt = "joblib"
    return {"path": path.name, "format": fmt, "sha256": _sha256_file(path)}


def _load(bundle_dir: Path, entry: Mapping[str, str], trusted: Sequence[str]) -> Any:
    path = bundle_dir / entry["path"]
    if not path.is_file():
        raise DataError(f"bundle {bundle_dir}: model file {entry['path']!r} named in card.json is missing")
    digest = _sha256_file(path)
    if digest != entry.get("sha256"):
        raise DataError(f"bundle {bundle_dir}: {entry['path']} does not match the sha256 in card.json "
                        f"(file {digest[:12]}…, card {str(entry.get('sha256'))[:12]}…); it was modified or is "
                        "corrupt")
    if entry.get("format") == "skops":
        sio = _skops()
        if sio is None:
            raise ConfigError(f"bundle {bundle_dir}: {entry['path']} needs the 'skops' package (pip install skops)")
        types = sio.get_untrusted_types(file=path)
        bad = [t for t in types if not TRUSTED_TYPE_PATTERN.match(t) and t not in set(trusted)]
        if bad:
            raise DataError(f"bundle {bundle_dir}: {entry['path']} contains object types outside the allowlist: "
                            f"{bad[:5]}; pass trusted=[...] to load_bundle only if you trust its source")
        return sio.load(path, trusted=types)
    if entry.get("format") == "joblib":
        import joblib

        warnings.warn(f"bundle {bundle_dir}: {entry['path']} is a joblib pickle (skops was unavailable when it was "
                      "saved); its sha256 matched, but pickles can run code: load only trusted bundles",
                      UserWarning, stacklevel=3)
        return joblib.load(path)
    raise DataError(f"bundle {bundle_dir}: unknown model file format {entry.get('format')!r}")


def _jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and paths inside metrics/config to plain JSON values."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def _used_features(estimator, features: list[str]) -> list[str] | None:
    try:
        names = [str(f) for f in estimator.selected_features_]
    except (AttributeError, ValueError, TypeError):
        return None
    known = set(features)
    return [n for n in names if n in known] or None


def save_bundle(estimator, path: str | os.PathLike, *, classes: Sequence, features: Sequence[str],
                training_hash: str, metrics: Mapping | None = None, config: Mapping | None = None,
                components: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Write a fitted ``estimator`` and its card to directory ``path``; returns the path.

    ``classes`` must equal ``estimator.classes_``; ``features`` are the training columns (probe ids, CNV
    features) in training order; ``training_hash`` identifies the training data (see
    :func:`hash_training_data`). ``components`` are extra fitted objects saved beside the model (e.g.
    ``{"conformal": ConformalClassifier, "ood": KNNDistanceOOD}``). An existing bundle (or empty directory) is
    replaced only with ``overwrite=True``; other existing paths are never touched.
    """
    path = Path(path)
    classes = [str(c) for c in classes]
    features = [str(f) for f in features]
    est_classes = [str(c) for c in getattr(estimator, "classes_", classes)]
    if est_classes != classes:
        raise ConfigError(f"save_bundle: classes {classes} differ from the estimator's {est_classes}")
    if len(set(features)) != len(features):
        raise ConfigError("save_bundle: feature names are not unique")
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is not None and n_in != len(features):
        raise ConfigError(f"save_bundle: {len(features)} feature names given, the estimator was fitted on {n_in}")
    if path.exists():
        if not path.is_dir() or (any(path.iterdir()) and not (path / "card.json").is_file()):
            raise ConfigError(f"'{path}' exists and is not a model bundle; refusing to overwrite it")
        if not overwrite:
            raise ConfigError(f"'{path}' already exists (pass overwrite=True / --overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(path.parent, path.name)
    try:
        files = {"model": _dump(estimator, tmp / "model")}
        for name, obj in (components or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name == "model":
                raise ConfigError(f"save_bundle: invalid component name {name!r}")
            files[name] = _dump(obj, tmp / name)
        card = {
            "format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "classes": classes, "n_features": len(features), "features": features,
            "used_features": _used_features(estimator, features),
            "training_hash": str(training_hash), "max_missing_fraction": MAX_MISSING_FRACTION,
            "metrics": _jsonable(metrics) if metrics is not None else None,
            "config": _jsonable(config) if config is not None else None,
            "versions": _versions(), "files": files,
        }
        with open(tmp / "card.json", "w", encoding="utf-8") as fh:
            json.dump(card, fh, indent=1)
        publish_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


@dataclass
class Bundle:
    """A loaded model bundle: ``estimator``, ``card`` (dict), optional ``components`` (e.g. conformal, ood)."""

    path: Path
    estimator: Any
    card: dict
    components: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """Class labels, in the column order of :meth:`predict_proba`."""
        return list(self.card["classes"])

    @property
    def features(self) -> list[str]:
        """Training features in training order."""
        return list(self.card["features"])

    def align(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with the training columns in training order (extra columns dropped).

        Missing columns become NaN (the pipeline fills them with training medians) when they are at most
        ``card["max_missing_fraction"]`` of the features the model uses; otherwise DataError naming how many
        and the first few.
        """
        if not isinstance(X, pd.DataFrame):
            raise DataError("bundle predict: give a samples × features DataFrame with probe ids as columns")
        cols = X.columns.astype(str)
        if cols.has_duplicates:
            dup = cols[cols.duplicated()].unique().tolist()
            raise DataError(f"bundle predict: duplicated feature columns in the input: {dup[:5]}")
        X = X.set_axis(cols, axis=1)
        features = self.features
        present = set(cols)
        used = self.card.get("used_features") or features
        missing_used = [f for f in used if f not in present]
        if missing_used:
            frac = len(missing_used) / len(used)
            limit = float(self.card.get("max_missing_fraction", MAX_MISSING_FRACTION))
            from sklearn.utils import get_tags

            try:
                nan_ok = get_tags(self.estimator).input_tags.allow_nan
            except (AttributeError, TypeError, ValueError):
                nan_ok = False
            if frac > limit or not nan_ok:
                raise DataError(
                    f"bundle predict: {len(missing_used)} of the {len(used)} features the model uses are missing "
                    f"from the input (first: {', '.join(missing_used[:5])}); "
                    + (f"at most {limit:.0%} can be imputed" if nan_ok else "this model cannot impute them"))
            warnings.warn(f"bundle predict: {len(missing_used)} of {len(used)} used features missing; filled with "
                          "training medians", UserWarning, stacklevel=2)
        out = X.reindex(columns=features)
        try:
            out = out.astype(float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"bundle predict: non-numeric values in the feature columns ({exc})") from None
        return out

    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities (samples × classes DataFrame, index of ``X``)."""
        return self._proba(self.align(X), X.index)

    def _proba(self, A: pd.DataFrame, index) -> pd.DataFrame:
        return pd.DataFrame(self.estimator.predict_proba(A), index=index, columns=self.classes)

    def predict(self, X: pd.DataFrame, *, threshold: float = 0.9, per_class: Mapping[str, float] | None = None,
                alpha: float = 0.1, ood_alpha: float = 0.01) -> pd.DataFrame:
        """One row per sample: ``sample``, ``prediction`` (class or ``no_match``), ``score`` (calibrated
        probability of the best class), ``proba_<class>``…; with an ``ood`` component also ``ood_pvalue`` and
        ``ood`` (True forces ``no_match``), with a ``conformal`` component ``prediction_set`` (level 1 − alpha).
        """
        from .decision import decide, format_sets

        A = self.align(X)
        P = self._proba(A, X.index)
        ood_flags = None
        extra: dict[str, Any] = {}
        if "ood" in self.components and hasattr(self.estimator, "transform_selected"):
            Z = self.estimator.transform_selected(A)
            pv = self.components["ood"].pvalue(Z)
            floor = 1.0 / (len(getattr(self.components["ood"], "train_scores_", ())) + 1.0)
            if floor > ood_alpha:
                warnings.warn(f"out-of-distribution flag cannot fire: with {round(1 / floor) - 1} training "
                              f"samples the smallest p-value is {floor:.3f} > ood_alpha {ood_alpha}; "
                              "raise ood_alpha or train on more samples", UserWarning, stacklevel=2)
            ood_flags = pv <= ood_alpha
            extra.update(ood_pvalue=pv, ood=ood_flags)
        if "conformal" in self.components:
            sets = self.components["conformal"].predict_sets(P.to_numpy(), alpha)
            extra["prediction_set"] = format_sets(sets, self.classes)
        labels = decide(P.to_numpy(), self.classes, threshold=threshold, per_class=per_class, ood=ood_flags)
        out = pd.DataFrame({"sample": [str(i) for i in X.index], "prediction": labels,
                            "score": P.to_numpy().max(axis=1)}, index=X.index)
        for c in self.classes:
            out[f"proba_{c}"] = P[c].to_numpy()
        for k, v in extra.items():
            out[k] = v
        return out.reset_index(drop=True)


def load_bundle(path: str | os.PathLike, *, trusted: Sequence[str] = ()) -> Bundle:
    """Read a bundle written by :func:`save_bundle`, verifying file hashes and allowed object types."""
    path = Path(path)
    card_path = path / "card.json"
    if not path.exists():
        raise DataError(f"'{path}' does not exist (expected a model bundle folder from `methylclass train`)")
    if not path.is_dir():
        raise DataError(f"'{path}' is a file, not a model bundle folder (written by `methylclass train`)")
    if not card_path.is_file():
        raise DataError(f"'{path}' is not a model bundle: card.json not found")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"'{card_path}' is an unreadable card ({exc})") from None
    if card.get("format") != BUNDLE_FORMAT:
        raise DataError(f"'{card_path}' is not a methylclass bundle card (format={card.get('format')!r})")
    if int(card.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(f"'{card_path}': bundle format {card.get('format_version')} is newer than this "
                        f"methylclass reads ({FORMAT_VERSION}); upgrade methylclass")
    for key in ("classes", "features", "files"):
        if key not in card:
            raise DataError(f"'{card_path}' lacks {key!r}")
    files = card["files"]
    if "model" not in files:
        raise DataError(f"'{card_path}' names no model file")
    estimator = _load(path, files["model"], trusted)
    components = {name: _load(path, entry, trusted) for name, entry in files.items() if name != "model"}
    here = _versions()
    changed = [f"{m} {card.get('versions', {}).get(m)} → {here.get(m)}" for m in ("sklearn", "xgboost", "imblearn")
               if card.get("versions", {}).get(m) not in (None, here.get(m))]
    if changed:
        warnings.warn(f"bundle {path} was saved with other package versions: {', '.join(changed)}", UserWarning,
                      stacklevel=2)
    return Bundle(path=path, estimator=estimator, card=card, components=components)
