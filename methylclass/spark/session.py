"""The Spark session helper: an embedded, quiet, loopback-only local master by default.

Nothing has to be installed beyond ``pyspark`` (and Java 17): ``get_spark()`` starts an in-process local
master. ``master="spark://host:7077"`` or ``"yarn"`` is passed to Spark unchanged.

Settings that must be right before the JVM starts (and why):

* ``PYSPARK_PYTHON`` / ``PYSPARK_DRIVER_PYTHON`` = the running interpreter, otherwise Python workers run the
  system ``python3``, which lacks this environment's packages;
* ``SPARK_LOCAL_IP=127.0.0.1`` for a local master: Spark binds to loopback only (and stops warning about the
  host name);
* ``spark.driver.memory``: read only when the JVM starts, i.e. at the first ``getOrCreate()`` of the process.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: the Spark settings every methylclass session gets (overridable through ``conf``)
DEFAULT_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.worker.reuse": "true",
    "spark.sql.session.timeZone": "UTC",
    # a task is a few samples: a failed task is a bug or a lost executor, not bad input (bad input is
    # recorded per sample), so retrying it a little is right, forever is not (spark.jobs then re-runs a
    # dead task's samples one per task to isolate the culprit)
    "spark.task.maxFailures": "2",
}


_LOG4J2 = """\
# written by methylclass: Spark and its libraries log errors only. pyspark announces ("Setting default
# log level to ...") when the level configured for org.apache.spark differs from the root's: keep them equal.
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.spark.name = org.apache.spark
logger.spark.level = error
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
logger.sparkproject.name = org.sparkproject
logger.sparkproject.level = error
logger.netty.name = io.netty
logger.netty.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""


def _log4j_options() -> str:
    """JVM option pointing log4j2 at a quiet configuration kept in the methylclass cache."""
    from ..paths import cache_dir

    path = cache_dir() / "spark" / "log4j2.properties"
    if not path.is_file() or path.read_text() != _LOG4J2:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(_LOG4J2)
        os.replace(tmp, path)
    return f"-Dlog4j2.configurationFile=file:{path}"


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith(("local[", "local-cluster"))


def get_spark(master: str | None = None, *, driver_memory: str = "2g", app_name: str = "methylclass",
              conf: dict[str, str] | None = None) -> SparkSession:
    """Return a Spark session (creating it on first call in the process).

    When a session already exists in this process it is returned as is (Spark cannot change the master or the
    driver memory of a running JVM).

    Parameters
    ----------
    master : str, optional
        Defaults to ``$METHYLCLASS_SPARK_MASTER`` or ``local[*]`` (an embedded master using every core). Remote
        masters (``spark://…``, ``yarn``, ``k8s://…``) are passed through unchanged.
    driver_memory : str
        ``spark.driver.memory``.
    app_name : str
        The Spark application name.
    conf : dict of str to str, optional
        Adds or overrides Spark settings.

    Returns
    -------
    SparkSession
        The active session.

    Raises
    ------
    ConfigError
        An invalid master, pyspark missing, or Spark cannot start (e.g. no Java).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is a hard dependency
        raise ConfigError("pyspark is not installed; install methylclass with its dependencies") from None
    master = master or os.environ.get("METHYLCLASS_SPARK_MASTER") or "local[*]"
    if not isinstance(master, str) or not master.strip():
        raise ConfigError(f"invalid Spark master {master!r}; use local[*], spark://HOST:PORT or yarn")
    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    if _is_local(master):
        # local workers are forked from this process's machine: they must run this very interpreter
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    else:  # a cluster may need its own interpreter path: respect the user's setting
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = dict(DEFAULT_CONF)
    settings["spark.driver.memory"] = driver_memory
    if _is_local(master):
        settings["spark.driver.host"] = "127.0.0.1"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
    user = {str(k): str(v) for k, v in (conf or {}).items()}
    quiet = _log4j_options()
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        settings[key] = f"{quiet} {user.pop(key, '')}".strip()
    settings.update(user)

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - JVM missing, bad master URL: one clear line, no Java trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot start Spark (master {master}): {first}; is Java 17 installed "
                          "and on PATH?") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stop_spark() -> None:
    """Stop the active Spark session of this process, if any."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
