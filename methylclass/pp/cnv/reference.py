"""Reference fit (conumee ``CNV.fit``): query log2 intensity regressed on a panel of copy-neutral references.

For one query, ``y = log2(max(M + U, 1))`` over the fit probes is regressed (least squares, intercept) on the
log2 intensities of the references whose Pearson correlation with the query is < 0.99 (a reference that
correlates ≥ 0.99 is the query itself and is dropped, as conumee does). The probe log2 ratio is
``y − max(ŷ, 0)``; the noise metric is conumee's ``sqrt(mean(diff(ratio)²))`` along the genome.

Speed: the reference Gram matrix ``[1 X]ᵀ[1 X]`` is precomputed once per panel, so a query costs one
``(n_ref × n_probes) @ n_probes`` product for the correlations/normal equations plus one for ``ŷ``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._atomic import atomic_write
from ...errors import DataError
from .bins import Bins

#: fewer usable references than this is an error
MIN_REFERENCES = 3
#: fewer usable references than this triggers a warning (conumee recommends a panel of ≥ 16 normals)
RECOMMENDED_REFERENCES = 16
#: a query must share at least this fraction of the fit probes with the reference
MIN_SHARED_FRACTION = 0.5
REFERENCE_VERSION = 1


def log2_intensity(total: np.ndarray) -> np.ndarray:
    """``log2(max(I, 1))`` (conumee sets intensities < 1 to 1); NaN stays NaN (a missing probe)."""
    total = np.asarray(total, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.log2(np.where(total < 1, 1.0, total))


@dataclass
class FitResult:
    """Output of :func:`fit_reference` (arrays aligned to the fit probes)."""

    ratios: np.ndarray
    noise: float
    used_refs: np.ndarray
    coef: np.ndarray
    intercept: float
    correlations: np.ndarray
    n_shared: int


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Least-squares solution of the normal equations (pseudo-inverse guards collinear panels)."""
    sol, *_ = np.linalg.lstsq(gram, rhs, rcond=None)
    return sol


def fit_reference(query_log2: np.ndarray, ref_log2: np.ndarray, *, intercept: bool = True,
                  max_r: float = 0.99, sample: str = "query", gram: np.ndarray | None = None,
                  ref_sums: tuple[np.ndarray, np.ndarray] | None = None,
                  ref_names: list[str] | None = None) -> FitResult:
    """Fit one query against the references (rows of ``ref_log2``, columns aligned with ``query_log2``).

    Returns the probe log2 ratios (NaN where the query or a reference lacks the probe), the noise, the
    indices of the references used, their coefficients and the intercept. ``gram``/``ref_sums`` are
    precomputed statistics of a complete panel (see :class:`CNVReference`); they are used only when every
    probe is shared. Raises :class:`DataError` when fewer than half the probes are shared or fewer than
    three references remain after dropping those that correlate ≥ ``max_r`` with the query.
    """
    y_all = np.asarray(query_log2, dtype=np.float64)
    R = np.asarray(ref_log2, dtype=np.float64)
    if R.ndim != 2 or R.shape[1] != y_all.shape[0]:
        raise DataError(f"sample '{sample}': query has {y_all.shape[0]:,} probes but the reference matrix "
                        f"has shape {R.shape}")
    n_ref, n_probe = R.shape
    ok = np.isfinite(y_all)
    complete = bool(ok.all())
    n_shared = int(ok.sum())
    if n_shared < MIN_SHARED_FRACTION * n_probe or n_shared < 1000:
        raise DataError(f"sample '{sample}': only {n_shared:,} of {n_probe:,} CNV probes are present in the "
                        f"query (need ≥ {MIN_SHARED_FRACTION:.0%}); is the manifest/array right?")
    y = y_all if complete else y_all[ok]
    X = R if complete else R[:, ok]
    if complete and ref_sums is not None:
        sx, sxx = ref_sums
    else:
        sx = X.sum(axis=1, dtype=np.float64)
        sxx = None
    n = y.shape[0]
    xy = X @ y
    sy, syy = float(y.sum()), float(y @ y)
    if sxx is None:
        sxx = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    mx, my = sx / n, sy / n
    cov = xy / n - mx * my
    var_x = np.maximum(sxx / n - mx ** 2, 0)
    var_y = max(syy / n - my ** 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(var_x * var_y)
    use = np.flatnonzero(~(r >= max_r) & np.isfinite(r))
    if use.size < MIN_REFERENCES:
        names = ref_names or [str(i) for i in range(n_ref)]
        dropped = [names[i] for i in range(n_ref) if i not in set(use.tolist())]
        raise DataError(f"sample '{sample}': only {use.size} usable reference samples (need ≥ "
                        f"{MIN_REFERENCES}; dropped as identical to the query, r ≥ {max_r}: "
                        f"{', '.join(dropped) or 'none'})")
    if use.size < RECOMMENDED_REFERENCES:
        warnings.warn(f"sample '{sample}': CNV reference panel has {use.size} usable samples; conumee "
                      f"recommends ≥ {RECOMMENDED_REFERENCES} copy-neutral references", stacklevel=2)
    if complete and gram is not None:
        G = gram
    else:
        G = X @ X.T
    k = use.size
    if intercept:
        A = np.empty((k + 1, k + 1))
        A[0, 0] = n
        A[0, 1:] = A[1:, 0] = sx[use]
        A[1:, 1:] = G[np.ix_(use, use)]
        b = np.concatenate([[sy], xy[use]])
        beta = _solve(A, b)
        b0, coef = float(beta[0]), beta[1:]
    else:
        coef = _solve(G[np.ix_(use, use)], xy[use])
        b0 = 0.0
    coef_full = np.zeros(n_ref)
    coef_full[use] = coef
    pred = coef_full @ X + b0
    ratio = y - np.maximum(pred, 0.0)
    if complete:
        ratios = ratio
    else:
        ratios = np.full(n_probe, np.nan)
        ratios[ok] = ratio
    noise = float(np.sqrt(np.mean(np.diff(ratio) ** 2))) if ratio.size > 1 else float("nan")
    return FitResult(ratios=ratios, noise=noise, used_refs=use, coef=coef, intercept=b0,
                     correlations=r, n_shared=n_shared)


@dataclass
class CNVReference:
    """A panel of copy-neutral references: log2 intensities over a bin set's fit probes.

    Held as float64 in memory (the regression sums over ~470,000 probes); saved as float32.

    ``probe_key`` ties the panel to the fit probes of :class:`~methylclass.pp.cnv.bins.Bins`; probes that
    are missing (NaN) in any reference are dropped from the panel (``probe_mask`` marks the kept fit
    probes). The Gram matrix for the regression is precomputed lazily and kept with the object.
    """

    names: list[str]
    log2: np.ndarray
    probe_mask: np.ndarray
    probe_key: str
    array: str = ""
    build: str = ""
    meta: dict = field(default_factory=dict)
    _gram: np.ndarray | None = field(default=None, repr=False)
    _sums: tuple | None = field(default=None, repr=False)

    @property
    def n_references(self) -> int:
        """Number of reference samples."""
        return int(self.log2.shape[0])

    @classmethod
    def from_intensities(cls, intensities: np.ndarray, bins: Bins, names: list[str] | None = None,
                         *, meta: dict | None = None) -> CNVReference:
        """Build a panel from total intensities (``n_ref × n_manifest_probes``, aligned to the manifest rows
        ``bins`` was built from; or ``n_ref × bins.n_fit_probes`` already restricted to the fit probes)."""
        I = np.atleast_2d(np.asarray(intensities, dtype=np.float64))
        names = list(names) if names is not None else [f"ref{i + 1}" for i in range(I.shape[0])]
        if len(names) != I.shape[0]:
            raise DataError(f"reference panel: {I.shape[0]} intensity rows but {len(names)} names")
        if I.shape[1] != bins.n_fit_probes:
            if I.shape[1] <= int(bins.probe_index.max()):
                raise DataError(f"reference panel has {I.shape[1]:,} probes per sample; expected the "
                                f"manifest's rows or the {bins.n_fit_probes:,} CNV fit probes")
            I = I[:, bins.probe_index]
        L = log2_intensity(I)
        per_sample = np.isfinite(L).mean(axis=1)
        usable = per_sample >= MIN_SHARED_FRACTION
        bad = [n for n, u in zip(names, usable) if not u]
        L = L[usable]
        names = [n for n, u in zip(names, usable) if u]
        if L.shape[0] < MIN_REFERENCES:
            raise DataError(f"reference panel has {L.shape[0]} usable samples (need ≥ {MIN_REFERENCES})"
                            + (f"; unusable (most CNV probes missing): {', '.join(bad)}" if bad else ""))
        mask = np.isfinite(L).all(axis=0)
        return cls(names=names, log2=np.ascontiguousarray(L[:, mask], dtype=np.float64), probe_mask=mask,
                   probe_key=bins.probe_key, array=bins.array, build=bins.build, meta=dict(meta or {}))

    def stats(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The panel's Gram matrix and (row sums, row sums of squares), computed once."""
        if self._gram is None:
            X = self.log2
            self._gram = X @ X.T
            self._sums = (X.sum(axis=1), np.einsum("ij,ij->i", X, X))
        return self._gram, self._sums

    def fit(self, query_total: np.ndarray, bins: Bins, *, sample: str = "query",
            intercept: bool = True) -> FitResult:
        """Fit a query (total intensities aligned to the manifest rows or to the fit probes).

        The returned ratios are aligned with ``bins``' fit probes (NaN for probes not in the panel).
        """
        if bins.probe_key != self.probe_key:
            raise DataError(f"sample '{sample}': the CNV reference was built for other probes/array "
                            f"({self.array}, key {self.probe_key}) than these bins ({bins.array}, "
                            f"key {bins.probe_key})")
        q = np.asarray(query_total, dtype=np.float64)
        if q.shape[0] != bins.n_fit_probes:
            if q.shape[0] <= int(bins.probe_index.max()):
                raise DataError(f"sample '{sample}': {q.shape[0]:,} intensities do not match the manifest "
                                f"the CNV bins were built from")
            q = q[bins.probe_index]
        y = log2_intensity(q)[self.probe_mask]
        gram, sums = self.stats()
        res = fit_reference(y, self.log2, intercept=intercept, sample=sample, gram=gram, ref_sums=sums,
                            ref_names=self.names)
        if not self.probe_mask.all():
            full = np.full(bins.n_fit_probes, np.nan)
            full[self.probe_mask] = res.ratios
            res.ratios = full
        return res

    # -- persistence ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the panel as npz (temporary name, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"names": self.names, "probe_key": self.probe_key, "array": self.array, "build": self.build,
                "meta": self.meta, "version": REFERENCE_VERSION}
        atomic_write(path, lambda fh: np.savez(fh, meta=np.array(json.dumps(meta)), log2=self.log2.astype(np.float32),
                         probe_mask=self.probe_mask), binary=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CNVReference:
        """Read a panel written by :meth:`save`."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                log2, mask = z["log2"].astype(np.float64), z["probe_mask"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"CNV reference '{path}' cannot be read: {exc}") from None
        if meta.get("version") != REFERENCE_VERSION:
            raise DataError(f"CNV reference '{path}' has version {meta.get('version')}, expected "
                            f"{REFERENCE_VERSION}")
        return cls(names=list(meta["names"]), log2=log2, probe_mask=mask, probe_key=meta["probe_key"],
                   array=meta.get("array", ""), build=meta.get("build", ""), meta=meta.get("meta", {}))


def reference_cache_key(files: list[str | Path], bins: Bins, extra: str = "") -> str:
    """Cache key of a panel built from ``files``: their paths, sizes and modification times + the bins."""
    h = hashlib.sha256(bins.probe_key.encode() + extra.encode())
    for f in sorted(str(Path(p).resolve()) for p in files):
        st = os.stat(f)
        h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]
