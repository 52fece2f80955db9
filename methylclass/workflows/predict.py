"""Diagnose new cases in one call: ``load_model(path).predict(inputs)`` → one tidy row per sample.

``inputs`` may be IDAT basenames, ``*_Grn.idat`` / ``*_Red.idat`` paths (plain or ``.gz``), a folder of IDATs, a
sample sheet, a beta table (CSV/TSV/Parquet), a preprocessing store, a samples × features DataFrame, or a
list mixing them. IDATs go through the same kernels as training — read → map → normalise
(:func:`methylclass.pp.kernel.run_kernel`, the per-sample kernel of cohort ingestion, run in this process:
no Spark for a handful of samples) → CNV with the reference panel stored in the bundle
(:class:`methylclass.pp.cnv.task.CNVTask`) — so betas and CNV features equal those of a store built from the
same files (``tests/workflows/test_predict_cases.py`` proves it). A sample that cannot be read or normalised
is a ``failed`` row naming the file and the reason; the others are predicted.

Tables and stores must carry the model's CNV features themselves (a store's ``cnv_features.parquet``, a
table's ``cnv_*`` columns): without them both are refused with one line, never imputed.

Columns of the result: see :func:`methylclass.models.verdict.predict_frame` (plus ``file`` for IDAT inputs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, MethylclassError
from ..models.covariates import covariate_spec, encode_covariates, match_level
from ..pp.qc import qc_status
from .card import training_card
from .predict_inputs import classify_inputs

__all__ = ["Diagnosis", "Model", "load_model", "training_card"]

_CNV = "cnv_"

# ------------------------------------------------------------------------------------------ results
@dataclass
class Diagnosis:
    """What :meth:`Model.diagnose` found: the tidy ``predictions``, the model-input rows ``X`` of the samples
    that were predicted, and per-sample details for reports (``qc`` dict, ``cnv`` result)."""

    predictions: pd.DataFrame
    X: pd.DataFrame
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    bins: Any = None


def _failed_row(sample: str, reason: str, file: str | None = None) -> dict:
    return {"sample": sample, "status": "failed", "prediction": "", "reason": reason,
            "reason_detail": reason, "file": file or ""}


class Model:
    """A verified model bundle ready to diagnose new cases (:func:`load_model`)."""

    def __init__(self, bundle, *, manifest=None, controls: str | Path | None = None):
        self.bundle = bundle
        self.manifest = manifest
        self.controls = controls
        self._cnv_task = None
        self._manifest_cache: dict = {}

    # -- descriptive
    @property
    def path(self) -> Path:
        """The bundle folder."""
        return self.bundle.path

    @property
    def card(self) -> dict:
        """The model card (verified against the bundle's checksums)."""
        return self.bundle.card

    @property
    def classes(self) -> list[str]:
        """The trained classes."""
        return self.bundle.classes

    @property
    def estimator(self):
        """The fitted pipeline (for :func:`methylclass.tl.explain.explain`)."""
        return self.bundle.estimator

    def align(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` reindexed to the model's input columns."""
        return self.bundle.align(X)

    def __repr__(self) -> str:
        return f"Model({str(self.path)!r}, classes={self.classes})"

    # -- prediction
    def predict(self, inputs: Any, **options) -> pd.DataFrame:
        """One tidy row per input sample (module docstring); options as :meth:`diagnose`."""
        return self.diagnose(inputs, **options).predictions

    def diagnose(self, inputs: Any, *, manifest=None, controls: str | Path | None = None,
                 threshold: float | None = None, per_class: Mapping[str, float] | None = None,
                 alpha: float | None = None, ood_alpha: float | str | None = None,
                 max_missing: float | None = None, array: str | None = None,
                 covariates: Mapping[str, str] | None = None) -> Diagnosis:
        """Predict ``inputs`` and keep what a report needs. ``manifest``/``controls``: a manifest file (and its
        control table) for IDATs of an array without a built-in manifest. Decision options default to the
        bundle's (``conf/base.yaml`` ``decision``).

        A model trained with adjusted covariates (``card["covariates"]``) gets its ``cov_<name>`` columns built
        here: ``cov_array`` from the array detected when reading IDATs, a store's sample-table ``array`` column,
        a frame's own ``cov_array`` column, else ``array`` (tables); other covariates from ``covariates``
        (``{"material": "ffpe"}``, for every sample), else the sample-sheet / store column the model was trained
        on (or one named like the covariate), else a frame's ``cov_<name>`` column. What stays unknown gets no
        adjustment and a ``warning`` (:mod:`methylclass.models.covariates`)."""
        declared = self._declared_covariates(array, covariates)
        frames, qc, failed, details, missing = [], {}, [], {}, []
        for kind, source in classify_inputs(inputs):
            if kind == "missing":
                missing.append(f"'{source}' does not exist (not a file, a folder or an IDAT basename)")
                failed.append(_failed_row(source.name, missing[-1], str(source)))
            elif kind == "frame":
                frames.append(self._with_covariates(source, source, declared))
            elif kind == "table":
                frames.append(self._with_covariates(self._read_table(source), None, declared))
            elif kind == "store":
                X, q = self._read_store(source)
                frames.append(self._with_covariates(X, self._store_values(source, X.index), declared))
                qc.update(q)
            else:
                X, q, f, d = self._from_idats(source, manifest or self.manifest, controls or self.controls)
                # the sheet's columns, and the array each sample was read as (not a sheet's own Array column)
                values = pd.DataFrame([{**{k: v for k, v in (d.get(s, {}).get("meta") or {}).items()
                                           if str(k).lower() != "array"}, "array": d.get(s, {}).get("array")}
                                       for s in X.index], index=X.index)
                frames.append(self._with_covariates(X, values, declared, detected_array=True))
                qc.update(q)
                failed += f
                details.update(d)
        X = pd.concat(frames) if frames else pd.DataFrame()
        if missing and not len(X) and len(missing) == len(failed):
            raise DataError(missing[0])  # nothing to predict: the one-line error of a mistyped path
        if X.index.has_duplicates:
            dup = X.index[X.index.duplicated()].unique().tolist()
            raise DataError(f"predict: sample '{dup[0]}' is given more than once")
        parts = []
        if len(X):
            pred = self.bundle.predict(X, threshold=threshold, per_class=per_class, alpha=alpha,
                                       ood_alpha=ood_alpha, max_missing=max_missing, qc_status=qc)
            X, _ = encode_covariates(X, covariate_spec(self.card))  # the model-input codes (for explain)
            pred.insert(pred.columns.get_loc("qc_status") + 1, "file",
                        [details.get(s, {}).get("file", "") for s in pred["sample"]])
            parts.append(pred)
        if failed:
            parts.append(pd.DataFrame(failed))
        if not parts:
            raise DataError("predict: no samples in the input")
        out = pd.concat(parts, ignore_index=True)
        out["status"] = out["status"].fillna("failed")
        for col in ("prediction", "reason", "reason_detail", "top_classes", "prediction_set", "qc_status", "file",
                    "warning"):
            if col in out:
                out[col] = out[col].fillna("")
        return Diagnosis(predictions=out, X=X, details=details, bins=self._cnv()[0] if self._uses_cnv else None)

    def explain(self, X: pd.DataFrame, **kwargs):
        """Per-sample SHAP values (:func:`methylclass.tl.explain.explain`) of the model on ``X``."""
        from ..tl.explain import explain

        return explain(self, X, **kwargs)

    # -- covariates
    @property
    def covariates(self) -> dict[str, dict[str, float]]:
        """``{cov_<name>: {training level: code}}`` the model adjusts for (empty for none)."""
        return covariate_spec(self.card)

    def _declared_covariates(self, array: str | None, covariates: Mapping[str, str] | None) -> dict[str, str]:
        """``{cov_<name>: value}`` of the explicit options, checked: a covariate the model does not use, or an
        array name that is neither a known array nor a training level, is a ConfigError."""
        spec = self.covariates
        out: dict[str, str] = {}
        for name, value in (covariates or {}).items():
            col = f"cov_{str(name).strip().lower().removeprefix('cov_')}"
            if col == "cov_array":
                array = value if array is None else array
                continue
            if col not in spec:
                uses = ", ".join(c[4:] for c in spec) or "none"
                raise ConfigError(f"covariate '{name}': the model does not adjust for it (its covariates: {uses})")
            if not str(value).strip():
                raise ConfigError(f"covariate '{name}': empty value")
            out[col] = str(value).strip()
        if array is not None:
            text = str(array).strip()
            levels = spec.get("cov_array", {})
            if match_level(text, levels, array=True) is None:
                from ..io.manifest.registry import get_array

                try:
                    get_array(text)
                except MethylclassError:
                    known = f"; training arrays: {', '.join(levels)}" if levels else ""
                    raise ConfigError(f"array '{text}' is not a known array type{known}") from None
            out["cov_array"] = text
        return out

    def _covariate_column(self, col: str) -> list[str]:
        """Candidate sheet / store / frame columns holding covariate ``col``'s values."""
        info = (self.card.get("covariates") or {}).get(col) or {}
        return [c for c in (info.get("column"), col[4:], col) if c]

    def _with_covariates(self, X: pd.DataFrame, values: pd.DataFrame | None, declared: Mapping[str, str], *,
                         detected_array: bool = False) -> pd.DataFrame:
        """``X`` with one ``cov_<name>`` column (level names) per covariate of the model (see :meth:`diagnose`)."""
        spec = self.covariates
        if not spec:
            return X
        lower = {str(c).lower(): c for c in (values.columns if values is not None else [])}
        out = {}
        for col in spec:
            found = None
            for cand in self._covariate_column(col):
                if str(cand).lower() in lower:
                    found = values[lower[str(cand).lower()]].reindex(X.index)
                    break
            if col == "cov_array":
                have = found is not None and found.notna().any()
                if detected_array and have:  # the array the IDATs were read as: never overridden
                    out[col] = found.to_numpy(dtype=object)
                elif "cov_array" in declared:
                    out[col] = np.full(len(X), declared["cov_array"], dtype=object) if not have else \
                        found.where(found.notna(), declared["cov_array"]).to_numpy(dtype=object)
                elif have:
                    out[col] = found.to_numpy(dtype=object)
            elif col in declared:
                out[col] = np.full(len(X), declared[col], dtype=object)
            elif found is not None:
                out[col] = found.to_numpy(dtype=object)
        return X.assign(**out) if out else X

    def _store_values(self, path: Path, samples: pd.Index) -> pd.DataFrame:
        """A store's sample-table columns (``array``, sheet columns) of ``samples``."""
        from ..io.store import Store

        table = Store.open(path).samples
        return table.set_index(table["sample"].astype(str)).reindex(samples.astype(str)).set_axis(samples)

    # -- inputs
    @property
    def _uses_cnv(self) -> bool:
        return any(f.startswith(_CNV) for f in self.card["features"])

    def _input_cpgs(self) -> list[str]:
        """CpGs to read from an input: the model's and the OOD profile panel's."""
        cpgs = [f for f in self.card["features"] if not f.startswith(_CNV)]
        prof = self.bundle.components.get("ood")
        if hasattr(prof, "features_"):
            have = set(cpgs)
            cpgs += [str(f) for f in prof.features_ if str(f) not in have]
        return cpgs

    def _read_table(self, path: Path) -> pd.DataFrame:
        from ..io.betas_table import read_beta_table

        X, _ = read_beta_table(path, feature_blocks=(_CNV,) if self._uses_cnv else ())
        return X

    def _read_store(self, path: Path) -> tuple[pd.DataFrame, dict]:
        from ..io.store import Store, load_betas

        st = Store.open(path)
        ids = set(map(str, st.probe_ids()))
        probes = [f for f in self._input_cpgs() if f in ids]
        X = load_betas(st, probes=probes)
        if self._uses_cnv:
            from ..pp.cnv.features import read_cnv_features

            try:
                cnv = read_cnv_features(st.path)
            except DataError:
                raise DataError(f"'{path}': the model uses copy-number features and the store has none "
                                "(cnv_features.parquet); run `methylclass cnv --store` with the model's reference "
                                "panel, or predict from the IDATs") from None
            X = X.join(cnv.reindex(X.index))
        table = st.samples.set_index("sample")
        qc = {}
        if "qc_passed" in table:
            reasons = table["qc_reasons"] if "qc_reasons" in table else pd.Series("", index=table.index)
            qc = {str(s): qc_status(v, reasons.get(s)) for s, v in table["qc_passed"].dropna().items()}
        return X, qc

    def _cnv(self):
        """(bins, task, params) of the bundle's CNV panel (loaded once)."""
        if self._cnv_task is None:
            from ..pp.cnv.bins import Bins
            from ..pp.cnv.reference import CNVReference
            from ..pp.cnv.task import CNVTask

            arrays = self.bundle.arrays
            if "cnv_bins" not in arrays or "cnv_reference" not in arrays:
                raise DataError(f"'{self.path}': the model uses copy-number features but the bundle holds no CNV "
                                "reference panel; retrain it from a store analysed with `methylclass cnv --store`")
            bins, ref = Bins.load(arrays["cnv_bins"]), CNVReference.load(arrays["cnv_reference"])
            params = dict((self.card.get("preprocessing") or {}).get("cnv") or {})
            regions = None
            if params.get("input") == "store":
                from ..pp.cnv.sample import _focal_regions

                regions = _focal_regions("default", bool(params.get("cancer_genes")), bins.build)
                regions = regions.reset_index(drop=True)
            from ..pp.cnv.calls import CallThresholds
            from ..pp.cnv.options import CNVOptions
            from ..pp.cnv.segment import CBSParams

            opts = CNVOptions(method=params.get("method", "cbs"), cancer_genes=bool(params.get("cancer_genes")),
                              bin_summary=params.get("bin_summary"),
                              seg_params=None if not params.get("seg_params") else CBSParams(**params["seg_params"]),
                              **({"thresholds": CallThresholds(**params["thresholds"])}
                                 if params.get("thresholds") else {}))
            task = CNVTask(bins=bins, reference=ref, options=opts, regions=regions,
                           raw=params.get("input") == "store" and (self.card.get("preprocessing") or {}).get(
                               "method") == "raw")
            self._cnv_task = (bins, task, params)
        return self._cnv_task

    def _from_idats(self, source, manifest, controls):
        """Betas (+ CNV features) of IDAT samples through the ingestion kernel; failures as rows. A sample
        sheet naming several arrays is read one array group at a time (each with its own manifest)."""
        from .ingest import _prepare

        prep = self.card.get("preprocessing") or {}
        method = prep.get("method", "noob")
        options = dict(prep.get("method_options") or {})
        if isinstance(source, list):  # IDAT paths / basenames: discovery pairs them (problems become refs)
            from ..io.discover import find_samples
            from .ingest import refs_from_discovery

            source = refs_from_discovery(find_samples(source))
        from .ingest_mixed import MIXED

        trained_on = prep.get("array")
        if trained_on == MIXED:  # a model from a mixed store: each sample is read as the array it is
            trained_on = None
        _, groups = _prepare(source, None, manifest, None if manifest is not None else trained_on, controls)
        Xs, qc, failed, details = [], {}, [], {}
        for g in groups:
            X, q, f, d = self._from_group(g.refs, g.manifest, method, options)
            Xs.append(X)
            qc.update(q)
            failed += f
            details.update(d)
        return (Xs[0] if len(Xs) == 1 else pd.concat(Xs)), qc, failed, details

    def _from_group(self, refs, man, method: str, options: dict):
        """:meth:`_from_idats` for the samples of one array (one manifest)."""
        from ..io.raw_types import raw_signals_from_idats
        from ..pp.cnv.task import cnv_total
        from ..pp.kernel import run_kernel

        self._last_manifest = man  # for the chromosome / position / gene of the report's top CpGs
        key = id(man)
        if key not in self._manifest_cache:
            self._manifest_cache = {key: _probe_plan(man, self._input_cpgs())}
        names_kept, positions, replicated = self._manifest_cache[key]
        rows, names, qc, failed, details, cnv_rows = [], [], {}, [], {}, []
        for ref in refs:
            rec, ns = run_kernel(ref, man, method, options=options)
            file = str(ref.get("grn") or ref.get("red") or "")
            if ns is None:
                failed.append(_failed_row(rec["sample"], rec["reason"] or "unreadable", file))
                continue
            d = {"file": file, "qc": {k: v for k, v in rec.items() if str(k).startswith("qc_")},
                 "array": man.array, "meta": dict(ref.get("meta") or {})}
            if self._uses_cnv:
                _, task, params = self._cnv()
                try:
                    if params.get("input") == "idat_raw":
                        from ..io.discover import read_idat_pair

                        grn, red = read_idat_pair(ref["grn"])
                        total = cnv_total_raw(raw_signals_from_idats(grn, red, man, rec["sample"]))
                    else:
                        total = cnv_total(ns.meth, ns.unmeth, raw=method == "raw")
                    res = task.analyse(rec["sample"], total)
                except MethylclassError as exc:
                    failed.append(_failed_row(rec["sample"], f"copy-number analysis failed: {exc}", file))
                    continue
                cnv_rows.append(task.features(res))
                d["cnv"] = res
            rows.append(np.asarray(ns.beta, dtype=np.float32)[positions])
            names.append(rec["sample"])
            if rec.get("qc_passed") is not None:
                qc[rec["sample"]] = qc_status(rec["qc_passed"], rec.get("qc_reasons"))
            details[rec["sample"]] = d
        X = pd.DataFrame(np.vstack(rows) if rows else np.empty((0, len(names_kept)), np.float32),
                         index=pd.Index(names, name="sample"), columns=names_kept)
        if replicated:
            from ..io.canonical import collapse_replicate_columns

            X = collapse_replicate_columns(X, man)  # replicates → their CpG: mean of the non-missing values
        if cnv_rows:
            from ..pp.cnv.task import feature_frame

            X = X.join(feature_frame(cnv_rows).set_axis(X.index))
        return X, qc, failed, details


def _probe_plan(man, cpgs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Where the model's CpGs are among a manifest's probes: ``(probe_ids, positions, replicated)``. For a
    manifest with replicate probes (EPICv2: ``cg…_TC11``/``_TC21`` share one ``cpg_id``) every replicate of a
    model CpG is gathered and ``replicated`` is True: the caller collapses them to their CpG
    (:func:`methylclass.io.canonical.collapse_replicate_columns`)."""
    pid = man.probes["probe_id"].astype(str).to_numpy()
    cid = man.probes["cpg_id"].astype(str).to_numpy()
    want = pd.Index([str(c) for c in cpgs])
    if (pid == cid).all() or not pd.Index(pid).intersection(want).empty:
        pos = pd.Index(pid).get_indexer(want)
        return want.to_numpy()[pos >= 0], pos[pos >= 0], False
    sel = np.flatnonzero(want.get_indexer(cid) >= 0)
    return pid[sel], sel, True


def cnv_total_raw(raw) -> np.ndarray:
    """:func:`~methylclass.pp.cnv.task.raw_total` (the IDAT path of ``methylclass cnv``)."""
    from ..pp.cnv.task import raw_total

    return raw_total(raw)


def load_model(path: str | os.PathLike, *, trusted: Sequence[str] = (), key=None, manifest=None,
               controls: str | Path | None = None) -> Model:
    """Load and verify a model bundle (:func:`methylclass.models.load_bundle`) as a :class:`Model`.

    Parameters
    ----------
    path : str or Path
        The bundle folder (``methylclass train`` output).
    trusted : sequence of str
        Extra object types to allow in its skops files (only for bundles from a source you trust).
    key : bytes, str or Path, optional
        Verify the bundle's signature with this key (bytes or a key file; default ``$METHYLCLASS_BUNDLE_KEY``).
    manifest, controls : str or Path, optional
        Manifest file (and its control-probe table) for IDATs of an array without a built-in manifest.

    Returns
    -------
    Model
        ``model.predict(inputs)`` gives one tidy row per sample; ``model.explain(X)`` SHAP values.
    """
    from ..models.bundle import load_bundle

    return Model(load_bundle(path, trusted=trusted, key=key), manifest=manifest, controls=controls)
