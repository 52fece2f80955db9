"""Model bundles: a folder with a JSON card and model files that cannot execute code when loaded.

Layout written by :func:`save_bundle`::

    DIR/card.json          classes (+ training counts), input features, training-data sha256, preprocessing
                           (array, manifest sha256, normalisation, probe filters, CNV), decision defaults,
                           metrics, versions, and every file with its format and sha256
    DIR/model.skops        the fitted estimator, cut to the columns it uses (:mod:`.slim`)
    DIR/<name>.skops       optional components, e.g. ``conformal`` and ``ood`` (see decision.py)
    DIR/<name>.npz         optional plain arrays, e.g. ``cnv_bins`` / ``cnv_reference`` (CNV panel)
    DIR/checksums.sha256   sha256 of card.json and every file (sha256sum format)
    DIR/checksums.sig      optional HMAC signature of checksums.sha256 under a shared key

Safety (details and limits in :mod:`.bundle_files`): no pickle anywhere; skops files may construct only
exactly-named trusted types; every file, the card included, is checked against ``checksums.sha256``; file
names in the card must stay inside the folder; the estimator's own classes must equal the card's. A bundle that
fails any check is refused with one line naming what failed.

Writing is atomic: everything goes to a temporary sibling directory that is renamed into place at the end.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
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

from .._atomic import atomic_text, make_temp_dir, publish_dir
from ..errors import ConfigError, DataError
from .bundle_files import (
    TRUSTED_TYPES,
    check_entry_path,
    dump_skops,
    load_skops,
    read_card,
    read_key,
    sha256_file,
    verify_bundle,
    write_checksums,
)

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_MISSING_FRACTION",
    "TRUSTED_TYPES",
    "Bundle",
    "hash_training_data",
    "load_bundle",
    "save_bundle",
]

BUNDLE_FORMAT = "methylclass-bundle"
FORMAT_VERSION = 2
#: default largest fraction of the model's CpGs a sample may miss (absent or NaN); conf/ decision.max_missing
MAX_MISSING_FRACTION = 0.05
_VERSION_MODULES = ("numpy", "pandas", "scipy", "sklearn", "imblearn", "xgboost", "boruta", "skops")


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


def _save_arrays(arrays: Mapping[str, Any], tmp: Path) -> dict[str, dict[str, str]]:
    """Write extra numpy-array files (objects with ``save(path)`` producing ``.npz``, e.g. CNV bins and the
    reference panel) into the bundle; returns their card entries."""
    out = {}
    for name, obj in arrays.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ConfigError(f"save_bundle: invalid file name {name!r}")
        path = tmp / f"{name}.npz"
        obj.save(path)
        with np.load(path, allow_pickle=False) as z:  # re-packed compressed: the 450k bins shrink ~10×
            data = {k: z[k] for k in z.files}
        np.savez_compressed(path, **data)
        out[name] = {"path": path.name, "format": "npz", "sha256": sha256_file(path)}
    return out


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


def _dump_components(estimator, components: Mapping[str, Any], tmp: Path) -> dict[str, dict[str, str]]:
    from .slim import compact_names

    files = {"model": dump_skops(compact_names(estimator), tmp / "model.skops")}
    for name, obj in (components or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name == "model":
            raise ConfigError(f"save_bundle: invalid component name {name!r}")
        files[name] = dump_skops(obj, tmp / f"{name}.skops")
    return files


def save_bundle(estimator, path: str | os.PathLike, *, classes: Sequence, features: Sequence[str],
                training_hash: str, metrics: Mapping | None = None, config: Mapping | None = None,
                components: Mapping[str, Any] | None = None, arrays: Mapping[str, Any] | None = None,
                card_extra: Mapping[str, Any] | None = None, training_X: pd.DataFrame | None = None,
                key: bytes | str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write a fitted ``estimator`` and its card to directory ``path``; returns the path.

    Parameters
    ----------
    estimator
        The fitted estimator.
    path : str or PathLike
        The bundle directory.
    classes : sequence
        Must equal ``estimator.classes_``.
    features : sequence of str
        The training columns (probe ids, CNV features) in training order (unique).
    training_hash : str
        Identifies the training data (see :func:`hash_training_data`).
    metrics : mapping, optional
        Evaluation metrics recorded in the card.
    config : mapping, optional
        The run configuration recorded in the card.
    components : mapping of str to object, optional
        Extra fitted objects saved beside the model (e.g. ``{"conformal": ConformalClassifier,
        "ood": KNNDistanceOOD}``).
    arrays : mapping of str to object, optional
        Objects with a ``save(path)`` writing ``.npz`` (CNV bins and reference panel).
    card_extra : mapping of str to object, optional
        More card keys (``preprocessing``, ``class_counts``, ``decision``, ``intended_use``, …).
    training_X : DataFrame, optional
        The training rows: the model is cut to the input columns it uses, verified on those rows
        (:func:`~methylclass.models.slim.slim_inputs`); the card's ``features`` are then those columns and
        ``n_training_features`` the original count.
    key : bytes, str or PathLike, optional
        Signs the checksum manifest (bytes or a key file).
    overwrite : bool
        Replace an existing bundle (or empty directory); other existing paths are never touched.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        Classes differing from the estimator's, duplicate or miscounted features, invalid component or file
        names, or an existing ``path`` that may not be replaced.
    """
    from .slim import slim_inputs

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
    n_training = len(features)
    if training_X is not None and hasattr(estimator, "base_pipeline_"):
        estimator, features = slim_inputs(estimator, training_X)
    key_bytes = read_key(key) if key is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(path.parent, path.name)
    try:
        files = _dump_components(estimator, components or {}, tmp)
        files.update(_save_arrays(arrays or {}, tmp))
        card = {
            "format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "classes": classes, "n_features": len(features), "n_training_features": n_training,
            "features": features, "used_features": _used_features(estimator, features),
            "training_hash": str(training_hash), "max_missing_fraction": MAX_MISSING_FRACTION,
            "metrics": _jsonable(metrics) if metrics is not None else None,
            "config": _jsonable(config) if config is not None else None,
            **_jsonable(dict(card_extra or {})),
            "versions": _versions(), "files": files,
        }
        import json

        atomic_text(tmp / "card.json", json.dumps(card, indent=1))
        write_checksums(tmp, ["card.json", *(e["path"] for e in files.values())], key=key_bytes)
        publish_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _used_features(estimator, features: list[str]) -> list[str] | None:
    try:
        names = [str(f) for f in estimator.selected_features_]
    except (AttributeError, ValueError, TypeError):
        return None
    known = set(features)
    return [n for n in names if n in known] or None


@dataclass
class Bundle:
    """A loaded model bundle: ``estimator``, ``card`` (dict), ``components`` (conformal, ood) and ``arrays``
    (paths of the verified ``.npz`` files, e.g. the CNV reference)."""

    path: Path
    estimator: Any
    card: dict
    components: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, Path] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """Class labels, in the column order of :meth:`predict_proba`."""
        return list(self.card["classes"])

    @property
    def features(self) -> list[str]:
        """Input features the model reads, in model-input order."""
        return list(self.card["features"])

    def align(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with the model's input columns in order (absent ones NaN; see :mod:`.verdict` for limits)."""
        from .verdict import align_input

        return align_input(self, X)[0]

    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities (samples × classes DataFrame, index of ``X``)."""
        return pd.DataFrame(self.estimator.predict_proba(self.align(X)), index=X.index, columns=self.classes)

    def predict(self, X: pd.DataFrame, **options) -> pd.DataFrame:
        """One tidy row per sample (:func:`methylclass.models.verdict.predict_frame`)."""
        from .verdict import predict_frame

        return predict_frame(self, X, **options)


def load_bundle(path: str | os.PathLike, *, trusted: Sequence[str] = (),
                key: bytes | str | os.PathLike | None = None) -> Bundle:
    """Read a bundle written by :func:`save_bundle` after verifying it.

    Verified: checksums of every file and of the card, file names inside the folder, exact trusted types, the
    estimator's classes equal to the card's. A bundle saved with other scikit-learn / xgboost /
    imbalanced-learn versions loads with a :class:`UserWarning`.

    Parameters
    ----------
    path : str or PathLike
        The bundle folder.
    trusted : sequence of str
        Further type names the skops loader may instantiate.
    key : bytes, str or PathLike, optional
        Bytes or a key file (default ``$METHYLCLASS_BUNDLE_KEY``); also verifies the signature.

    Returns
    -------
    Bundle
        The estimator, its card, the extra components and the paths of the ``.npz`` arrays.

    Raises
    ------
    DataError
        A missing path or a file, a bad or unsupported card, failed verification, an unsupported file format,
        or classes differing from the card's.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"'{path}' does not exist (expected a model bundle folder from `methylclass train`)")
    if not path.is_dir():
        raise DataError(f"'{path}' is a file, not a model bundle folder (written by `methylclass train`)")
    card = read_card(path)
    where = path / "card.json"
    if card.get("format") != BUNDLE_FORMAT:
        raise DataError(f"'{where}': not a methylclass bundle card (format={card.get('format')!r})")
    try:
        version = int(card.get("format_version", 0))
    except (TypeError, ValueError):
        raise DataError(f"'{where}': bad format_version {card.get('format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise DataError(f"'{where}': bundle format {version} is newer than this methylclass reads "
                        f"({FORMAT_VERSION}); upgrade methylclass")
    if version < FORMAT_VERSION:
        raise DataError(f"'{where}': bundle format {version} has no checksum over its card; retrain the model "
                        "with this methylclass")
    for k in ("classes", "features", "files"):
        if k not in card:
            raise DataError(f"'{where}': card lacks {k!r}")
    files = card["files"]
    if not isinstance(files, dict) or "model" not in files:
        raise DataError(f"'{where}': card names no model file")
    for entry in files.values():
        check_entry_path(path, entry.get("path") if isinstance(entry, dict) else None)
    verify_bundle(path, card, key=read_key(key))
    loaded, arrays = {}, {}
    for name, entry in files.items():
        fmt = entry.get("format")
        if fmt == "skops":
            loaded[name] = load_skops(path / entry["path"], trusted=trusted)
        elif fmt == "npz":
            arrays[name] = path / entry["path"]
        else:
            raise DataError(f"'{path / entry['path']}': unsupported file format {fmt!r} (bundles hold skops and "
                            "npz files only; pickle/joblib is never loaded)")
    estimator = loaded.pop("model")
    est_classes = [str(c) for c in getattr(estimator, "classes_", [])]
    if est_classes != [str(c) for c in card["classes"]]:
        raise DataError(f"'{where}': classes {card['classes']} differ from the model's own {est_classes}")
    here = _versions()
    changed = [f"{m} {card.get('versions', {}).get(m)} → {here.get(m)}" for m in ("sklearn", "xgboost", "imblearn")
               if card.get("versions", {}).get(m) not in (None, here.get(m))]
    if changed:
        warnings.warn(f"bundle {path} was saved with other package versions: {', '.join(changed)}", UserWarning,
                      stacklevel=2)
    return Bundle(path=path, estimator=estimator, card=card, components=loaded, arrays=arrays)
