"""Run configurations: ``conf/`` YAML groups composed into one validated, resolved config (a plain dict).

Layout (lightning-hydra style, without Hydra)::

    conf/base.yaml              defaults of every run; its ``defaults:`` block picks one file per group
    conf/data/<name>.yaml       a labelled beta table (path, label/sample columns, orientation)
    conf/cv/<name>.yaml         outer/inner folds, repeats, rare-class policy
    conf/model/<name>.yaml      a registry model (``estimator``), its pipeline options and parameters
    conf/experiment/<name>.yaml a *delta* on the defaults: its ``defaults:`` re-picks groups, every other key
                                is deep-merged into the composed config

Order of precedence (last wins): base.yaml → group files → experiment → ``--config FILE`` (also a delta) →
``key.path=value`` overrides. Strings may use ``${data_dir}``, ``${cache_dir}``, ``${conf_dir}`` and
``${env:NAME}``. Unknown keys, unknown group files and unknown model names raise
:class:`~methylclass.errors.ConfigError` naming the file and the key. :func:`save_config` writes the resolved
config of a run next to its results.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ._atomic import atomic_write
from .errors import ConfigError

GROUPS = ("data", "cv", "model", "experiment")
CONF_ENV = "METHYLCLASS_CONF"
_REPO_CONF = Path(__file__).resolve().parent.parent / "conf"
_INTERP = re.compile(r"\$\{([^}]+)\}")

# ------------------------------------------------------------------------------------------------- schema
# A spec is: a dict (allowed keys → spec), a tuple of allowed types, a list of allowed values (choice),
# ANY (free mapping, checked elsewhere) or a MapOf(spec) (any key, each value following spec).
ANY = object()
NUM = (int, float)
OPT_STR = (str, type(None))


class MapOf:
    """Schema node: a mapping with free keys whose values follow ``spec``."""

    def __init__(self, spec: Any):
        self.spec = spec


_PIPELINE_FALLBACK = ("select", "n_features", "balance", "calibrate")

MODEL_SPEC = {"estimator": (str,), "label": (str,), "description": (str,), "pipeline": ANY, "params": ANY,
              "search": ANY}
SCHEMA: dict[str, Any] = {
    "defaults": {"data": OPT_STR, "cv": OPT_STR, "models": (list,)},
    "experiment": {"name": (str,), "description": (str,), "seed": (int,), "out_dir": (str,),
                   "n_jobs": (int,), "backend": ["local", "spark"], "master": OPT_STR},
    "data": {"name": (str,), "description": (str,), "betas": OPT_STR, "store": OPT_STR,
             "label_column": OPT_STR, "sample_column": OPT_STR, "labels": OPT_STR,
             "orientation": ["auto", "samples_x_cpgs", "cpgs_x_samples"], "groups_column": OPT_STR,
             "feature_blocks": (list, type(None)), "exclude_classes": (list, type(None)), "producer": OPT_STR,
             "join": ["inner", "outer", None], "common_probes": (list, str, type(None)),
             "taxonomy": (str, dict, type(None)), "family_column": OPT_STR, "covariates": (dict, type(None)),
             "sex_chromosomes": ["drop", "keep", None], "array_covariate": (bool, type(None))},
    "cv": {"name": (str,), "description": (str,), "outer": (int,), "inner": (int, type(None)),
           "repeats": (int,), "rare": ["refuse", "merge", "drop"], "rare_label": (str,)},
    "pipeline": ANY,
    "models": MapOf(MODEL_SPEC),
    "decision": {"threshold": NUM, "class_thresholds": (dict, type(None)), "coverage": NUM, "min_coverage": NUM,
                 "conformal": ["split", "class_conditional", None], "family_threshold": (int, float, type(None))},
    "report": {"title": (str,), "n_bins": (int,), "formats": (list,), "criteria": (dict, type(None)),
               "criteria_min_models": (int,), "bootstrap": (int,)},
    "store": {"sex_chromosomes": ["drop", "keep"], "array_covariate": (bool,)},
    "train": {"ood_k": (int,)},
    "predict": {"ood_alpha": (str, int, float), "max_missing_fraction": NUM},
    "understand": {"explain": (bool, list, type(None)), "max_evals": (int, type(None)),
                   "embed": (list, type(None)), "embed_features": (int,)},
    "explain": {"top": (int,), "plot_top": (int,)},
    "panel": {"rankings": (list,), "models": (list,), "sizes": (list,), "prefilter": (int,), "outer": (int,),
              "calibrate": ["ridge", "sigmoid", "isotonic", None], "tolerance": NUM, "seed": (int,)},
    "embed": {"methods": (list,), "n_features": (int,)},
    "meta": ANY,
}


def conf_dir(path: str | Path | None = None) -> Path:
    """The configuration folder: ``path``, ``$METHYLCLASS_CONF``, ``conf/`` of the repository (a source
    checkout or editable install) or the copy a wheel installs under ``<prefix>/share/methylclass/conf``."""
    if path:
        cand = Path(path)
    elif os.environ.get(CONF_ENV):
        cand = Path(os.environ[CONF_ENV])
    else:
        installed = Path(sys.prefix) / "share" / "methylclass" / "conf"
        cand = _REPO_CONF if (_REPO_CONF / "base.yaml").is_file() or not installed.is_dir() else installed
    if not (cand / "base.yaml").is_file():
        raise ConfigError(f"configuration folder '{cand}' has no base.yaml (set {CONF_ENV} or --conf-dir)")
    return cand


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping; an empty file is ``{}``; anything else raises ConfigError naming the file."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file '{path}' is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not a text (UTF-8 YAML) file") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file '{path}' is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping, not {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``delta``, recursively for mappings (lists and scalars are replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in delta.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check(node: Any, spec: Any, where: str, source: str) -> None:
    if spec is ANY:
        if node is not None and not isinstance(node, Mapping):
            raise ConfigError(f"{source}: '{where}' must be a mapping, not {type(node).__name__}")
        return
    if isinstance(spec, MapOf):
        if not isinstance(node, Mapping):
            raise ConfigError(f"{source}: '{where}' must be a mapping, not {type(node).__name__}")
        for k, v in node.items():
            _check(v, spec.spec, f"{where}.{k}", source)
        return
    if isinstance(spec, dict):
        if not isinstance(node, Mapping):
            raise ConfigError(f"{source}: '{where}' must be a mapping, not {type(node).__name__}")
        for k, v in node.items():
            if k not in spec:
                raise ConfigError(f"{source}: unknown key '{where + '.' if where else ''}{k}'; allowed: "
                                  f"{', '.join(sorted(spec))}")
            _check(v, spec[k], f"{where}.{k}" if where else str(k), source)
        return
    if isinstance(spec, list):
        if node not in spec:
            raise ConfigError(f"{source}: '{where}' is {node!r}; choose one of {', '.join(map(str, spec))}")
        return
    if isinstance(node, bool) and bool not in spec:  # YAML yes/no is not a number
        raise ConfigError(f"{source}: '{where}' must be {'/'.join(t.__name__ for t in spec)}, not a boolean")
    if not isinstance(node, spec):
        raise ConfigError(f"{source}: '{where}' must be {'/'.join(t.__name__ for t in spec)}, "
                          f"not {type(node).__name__} ({node!r})")


def _group_file(root: Path, group: str, name: str) -> Path:
    path = root / group / f"{name}.yaml"
    if not path.is_file():
        avail = sorted(p.stem for p in (root / group).glob("*.yaml"))
        raise ConfigError(f"no {group} config '{name}' (looked for '{path}'); available: {', '.join(avail)}")
    return path


def pipeline_options() -> tuple[str, ...]:
    """Keyword options of ``methylclass.models.make_pipeline`` a config may set (not the CV/seed ones)."""
    try:
        from .models import make_pipeline  # type: ignore[attr-defined]
    except ImportError:
        return _PIPELINE_FALLBACK
    params = inspect.signature(make_pipeline).parameters
    skip = {"model", "name", "inner_cv", "random_state", "n_jobs"}
    return tuple(k for k, p in params.items() if k not in skip and p.kind is p.KEYWORD_ONLY)


def registry_models() -> list[str]:
    """Names in the model registry (``methylclass.models``)."""
    from .models.registry import available_models

    return available_models()


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key.path=value (e.g. cv.outer=3)")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override '{item}': value is not valid YAML: {exc}") from None
    return [k for k in key.strip().split(".") if k], value


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for key in reversed(path):
        out = {key: out}
    return out


def _interpolate(node: Any, variables: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, variables) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, variables) for v in node]
    if not isinstance(node, str) or "${" not in node:
        return node

    def sub(m: re.Match) -> str:
        name = m.group(1).strip()
        if name.startswith("env:"):
            val = os.environ.get(name[4:])
            if val is None:
                raise ConfigError(f"'{node}': environment variable {name[4:]} is not set")
            return val
        if name not in variables:
            raise ConfigError(f"'{node}': unknown variable ${{{name}}}; known: "
                              f"{', '.join('${' + v + '}' for v in variables)}, ${{env:NAME}}")
        val = variables[name]
        return str(val() if callable(val) else val)
    return _INTERP.sub(sub, node)


def _variables(root: Path) -> dict[str, Any]:
    from .paths import cache_dir, data_dir

    return {"data_dir": lambda: data_dir(), "cache_dir": lambda: cache_dir(), "conf_dir": root}


def load_config(experiment: str | None = None, *, config_file: str | Path | None = None,
                overrides: Iterable[str] = (), conf: str | Path | None = None) -> dict[str, Any]:
    """Compose, validate and resolve a run configuration.

    The dict saved by :func:`save_config` loads again as ``config_file`` and gives the same run.

    Parameters
    ----------
    experiment : str, optional
        Names ``conf/experiment/<name>.yaml``.
    config_file : str or Path, optional
        Any YAML file applied as a further delta (a complete config works too).
    overrides : iterable of str
        ``key.path=value`` strings (YAML values, e.g. ``cv.outer=3``, ``defaults.models=[rf,svm]``).
    conf : str or Path, optional
        The configuration folder (default: ``$METHYLCLASS_CONF``, the repository's ``conf/`` or the installed
        copy; see :func:`conf_dir`).

    Returns
    -------
    dict
        A plain dict with sections ``defaults`` (the group choices), ``experiment, data, cv, pipeline, models,
        decision, report, meta`` (and any others present); every model entry carries its fully merged
        ``pipeline`` options.

    Raises
    ------
    ConfigError
        An invalid layer or override, a model listed twice, or an unknown model configured.
    """
    root = conf_dir(conf)
    base_path = root / "base.yaml"
    layers: list[tuple[str, dict[str, Any]]] = [(str(base_path), read_yaml(base_path))]
    if experiment:
        path = _group_file(root, "experiment", experiment)
        layers.append((str(path), read_yaml(path)))
    if config_file:
        layers.append((str(config_file), read_yaml(config_file)))
    ov_delta: dict[str, Any] = {}
    for item in overrides:
        path_keys, value = _parse_override(item)
        ov_delta = deep_merge(ov_delta, _nest(path_keys, value))
    if ov_delta:
        layers.append(("command-line overrides", ov_delta))
    for source, layer in layers:
        _check(layer, SCHEMA, "", source)

    defaults: dict[str, Any] = {}
    for _, layer in layers:
        defaults = deep_merge(defaults, layer.get("defaults") or {})
    cfg: dict[str, Any] = {}
    files = [str(base_path)]
    for group in ("data", "cv"):
        name = defaults.get(group)
        if name:
            path = _group_file(root, group, name)
            block = read_yaml(path)
            _check({group: block}, SCHEMA, "", str(path))
            cfg[group] = {"name": name, **block}
            files.append(str(path))
    model_names = list(defaults.get("models") or [])
    if len(set(model_names)) != len(model_names):
        raise ConfigError(f"defaults.models lists a model twice: {model_names}")
    models: dict[str, Any] = {}
    for name in model_names:
        if not isinstance(name, str):
            raise ConfigError(f"defaults.models must list model names, not {name!r}")
        path = root / "model" / f"{name}.yaml"
        if path.is_file():
            block = read_yaml(path)
            _check(block, MODEL_SPEC, f"models.{name}", str(path))
            files.append(str(path))
        else:
            block = {}
        models[name] = block
    cfg["models"] = models
    ignored: list[str] = []
    for source, layer in layers:
        delta = {k: v for k, v in layer.items() if k != "defaults"}
        if delta.get("models"):
            for name in list(delta["models"]):
                if name in models:
                    continue
                if name not in registry_models() and not (root / "model" / f"{name}.yaml").is_file() \
                        and "estimator" not in (delta["models"][name] or {}):
                    raise ConfigError(f"{source}: configures unknown model '{name}' (not in the registry, no "
                                      f"conf/model/{name}.yaml, no estimator given)")
                ignored.append(name)  # configured but not selected for this run
            delta["models"] = {k: v for k, v in delta["models"].items() if k in models}
        cfg = deep_merge(cfg, delta)
        if source != "command-line overrides" and source != str(base_path):
            files.append(source)
    cfg = _interpolate(cfg, _variables(root))
    cfg.setdefault("meta", {})
    cfg["meta"].update({"conf_dir": str(root), "files": files, "overrides": list(overrides),
                        "unselected_models": sorted(set(ignored))})
    cfg["defaults"] = {**defaults, "models": model_names}  # a saved config re-runs as --config FILE
    cfg = resolve_models(cfg, source=" → ".join(s for s, _ in layers))
    order = ["defaults", "experiment", "data", "cv", "pipeline", "models", "decision", "report", "train", "predict",
             "meta"]
    return {k: cfg[k] for k in order + [k for k in cfg if k not in order] if k in cfg}


def resolve_models(cfg: dict[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Fill each model's ``estimator`` (default: its name) and merged ``pipeline``; check both against the
    model registry and ``make_pipeline``'s options. Returns ``cfg`` (modified in place)."""
    from .models.registry import build_model

    known = registry_models()
    options = set(pipeline_options())
    top = cfg.get("pipeline") or {}
    _check_pipeline(top, options, "pipeline", source)
    if not cfg.get("models"):
        raise ConfigError(f"{source}: no model selected (defaults.models is empty)")
    for name, block in cfg["models"].items():
        block = dict(block or {})
        est = block.setdefault("estimator", name)
        if est not in known:
            raise ConfigError(f"{source}: model '{name}' uses unknown estimator '{est}'; registry models: "
                              f"{', '.join(known)}; conf/model files define the others")
        block["pipeline"] = deep_merge(top, block.get("pipeline") or {})
        _check_pipeline(block["pipeline"], options, f"models.{name}.pipeline", source)
        block["params"] = dict(block.get("params") or {})
        block.setdefault("label", name)
        try:  # instantiating is cheap and rejects parameters the factory does not know
            build_model(est, **block["params"])
        except ConfigError as exc:
            raise ConfigError(f"{source}: models.{name}.params: {exc}") from None
        if block.get("search"):
            from .models.tuning import check_search

            try:
                check_search(block["search"])
            except ConfigError as exc:
                raise ConfigError(f"{source}: models.{name}.search: {exc}") from None
        cfg["models"][name] = block
    return cfg


def _check_pipeline(block: Mapping[str, Any], options: set[str], where: str, source: str) -> None:
    unknown = sorted(set(block) - options)
    if unknown:
        raise ConfigError(f"{source}: unknown option(s) {unknown} in '{where}'; make_pipeline accepts: "
                          f"{', '.join(sorted(options))}")


def save_config(cfg: Mapping[str, Any], path: str | Path) -> Path:
    """Write the resolved config as YAML (temp file + rename)."""
    return atomic_write(path, lambda fh: yaml.safe_dump(_plain(cfg), fh, sort_keys=False, allow_unicode=True))


def _plain(node: Any) -> Any:
    """YAML-safe copy (tuples → lists, paths → str, numpy scalars → Python)."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if isinstance(node, Path):
        return str(node)
    if hasattr(node, "item") and callable(node.item):
        return node.item()
    return node


# ------------------------------------------------------------------------------------------------- settings
@functools.lru_cache(maxsize=4)
def _default_config(conf: str | None) -> dict[str, Any]:
    return load_config(conf=conf)


def setting(cfg: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` (e.g. ``"decision.threshold"``) of a resolved config.

    Parameters
    ----------
    cfg : mapping
        A config from :func:`load_config` (possibly edited, or built by hand).
    path : str
        Dotted key path.

    Returns
    -------
    object
        ``cfg``'s value (None included); when ``cfg`` lacks the key, the default of ``conf/`` (base.yaml and
        the default groups) — so a default is written only in ``conf/``, never again in code.
    """
    keys = path.split(".")
    node: Any = cfg
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            break
        node = node[key]
    else:
        return node
    node = _default_config(None)
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            raise ConfigError(f"no setting '{path}' in the configuration or in conf/base.yaml")
        node = node[key]
    return copy.deepcopy(node)
