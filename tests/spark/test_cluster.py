"""A real Spark standalone cluster (one master, one worker on 127.0.0.1) against the single-machine paths.

The cluster is started with pyspark's own launcher (``$SPARK_HOME/bin/spark-class``, nothing downloaded) on
free ports and stopped whatever happens (process groups, killed at teardown and at interpreter exit). The
cluster jobs run in a separate process (the CLI), because this test process may already hold the embedded
``local[2]`` session of the other Spark tests and a process has one SparkContext.

References: the ``--local`` runs of the same commands on the same inputs (no Spark at all). Stores, CNV
features and the benchmark's out-of-fold probabilities must be identical bit for bit (same kernels, same
seeds per fold; only the place where they run differs).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.cli import main
from methylclass.io.store import Store, load_betas
from methylclass.pp.cnv import read_cnv_features

pytestmark = pytest.mark.spark
FIELDS = ("beta", "detection_p", "meth", "unmeth")
BENCH = ["--models", "logreg,rf", "--set", "models.rf.params.n_estimators=40", "--outer", "3", "--inner", "2",
         "--seed", "3", "--no-progress"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process group (master, worker and the executors/Python workers it launched), give them
    10 s, then SIGKILL whatever is left of each group."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # stragglers of the group (an executor JVM, a Python daemon)
        except ProcessLookupError:
            pass
        p.wait(timeout=10)
    for _ in range(50):  # killed members are reaped by init; wait until the groups are empty
        alive = False
        for p in procs:
            try:
                os.killpg(p.pid, 0)
                alive = True
            except ProcessLookupError:
                pass
        if not alive:
            return
        time.sleep(0.1)


class Cluster:
    """A standalone master + one worker (1 core, 2 GiB) of pyspark's launcher, on loopback free ports."""

    def __init__(self, root: Path):
        import pyspark

        self.root = root
        self.spark_home = Path(pyspark.__file__).parent
        self.port = _free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, "SPARK_HOME": str(self.spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
                    "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
                    "SPARK_WORKER_DIR": str(root / "work"), "SPARK_LOCAL_DIRS": str(root / "local"),
                    # no REST submission server: its fixed port 6066 would clash with other clusters
                    "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"}
        self.env.pop("SPARK_CONF_DIR", None)

    def _launch(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([str(self.spark_home / "bin" / "spark-class"), *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def start(self) -> Cluster:
        atexit.register(self.stop)
        self._launch("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                "--port", str(self.port), "--webui-port", str(_free_port())])
        self._launch("worker", ["org.apache.spark.deploy.worker.Worker", self.url, "--host", "127.0.0.1",
                                "--cores", "1", "--memory", "2g", "--webui-port", str(_free_port())])
        return self

    def wait(self, timeout: float = 90.0) -> str:
        """Block until the worker is registered with the master; returns the master URL."""
        deadline = time.monotonic() + timeout
        log = self.root / "worker.log"
        while time.monotonic() < deadline:
            if log.is_file() and b"Successfully registered with master" in log.read_bytes():
                return self.url
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                break
            time.sleep(0.3)
        text = "\n".join((self.root / f"{n}.log").read_text(errors="replace")[-2000:]
                         for n in ("master", "worker") if (self.root / f"{n}.log").is_file())
        pytest.fail(f"Spark standalone cluster did not come up:\n{text}", pytrace=False)

    def stop(self) -> None:
        _stop(self.procs)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The cluster, launched now (the JVMs boot while the inputs are simulated); stopped at the end."""
    c = Cluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield c
    finally:
        c.stop()
        assert all(p.poll() is not None for p in c.procs)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, data_dir):
    """A simulated 20k-probe cohort (6 normals + 4 tumours with +7/−10) and a small labelled beta table."""
    from methylclass.simulate.cohort import SimulationConfig, simulate_cohort

    root = tmp_path_factory.mktemp("cluster_inputs")
    sim = simulate_cohort(root / "sim", SimulationConfig(
        manifest="synthetic", n_probes=20_000, classes=1, n_per_class=4, n_normals=6,
        cnv=["F1_A=+7,-10,EGFR:amp"], cnv_penetrance=1.0, sample_cnv_rate=0.0, purity=(0.85, 0.95),
        low_quality_fraction=0.0, seed=11))
    frame = pd.read_csv(data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz")
    cpgs = [c for c in frame.columns if c.startswith("cg")][:120]
    table = root / "mb.csv"
    frame[["GSM", *cpgs, "subgroup"]].groupby("subgroup", group_keys=False).head(15).to_csv(table, index=False)
    probes, controls = sim.manifest_files
    return {"sheet": sim.samplesheet, "probes": probes, "controls": controls, "table": table,
            "normals": sim.samples.loc[sim.samples["is_normal"], "sample"].tolist()}


def _preprocess(inputs, store: Path, backend: list[str]) -> list[str]:
    return ["preprocess", str(inputs["sheet"]), "--manifest", str(inputs["probes"]), "--controls",
            str(inputs["controls"]), "--dye-bias", "none", "--out", str(store), *backend]


def _cnv(store: Path, backend: list[str]) -> list[str]:
    return ["cnv", "--from-store", str(store), "--normals-group", "normal", "--no-plot", *backend]


def _benchmark(inputs, runs: Path, backend: list[str]) -> list[str]:
    return ["benchmark", "--betas", str(inputs["table"]), "--label-column", "subgroup", "--out-dir", str(runs),
            *BENCH, *backend]


@pytest.fixture(scope="module")
def runs(cluster, inputs, tmp_path_factory):
    """The same three commands on the cluster, in one CLI subprocess (one driver JVM for the three jobs), and
    — while that driver starts its JVM and waits on the executor — the local reference runs in this process
    (no Spark); the subprocess is killed if anything here fails."""
    root = tmp_path_factory.mktemp("cluster_runs")
    local, remote = root / "local", root / "cluster"
    url = cluster.wait()
    jobs = [_preprocess(inputs, remote / "store", ["--master", url]), _cnv(remote / "store", ["--master", url]),
            _benchmark(inputs, remote / "runs", ["--backend", "spark", "--master", url])]
    script = ("import sys\nfrom methylclass.cli import main\n"
              f"for argv in {jobs!r}:\n"
              "    status = main(argv)\n"
              "    if status:\n"
              "        sys.exit(f'{argv[0]} exited with {status}')\n")
    t0 = time.perf_counter()
    with open(root / "driver.out", "w+") as out, open(root / "driver.err", "w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", script], env=cluster.env, cwd=root, stdout=out,
                                stderr=err, text=True)
        try:
            assert main(_preprocess(inputs, local / "store", ["--local"])) == 0
            assert main(_cnv(local / "store", ["--local"])) == 0
            assert main(_benchmark(inputs, local / "runs", ["--n-jobs", "1"])) == 0
            proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert proc.returncode == 0, stderr[-3000:]
    return {"local": local, "cluster": remote, "stdout": stdout, "stderr": stderr,
            "seconds": time.perf_counter() - t0, "url": url}


def test_cluster_store_equals_local_store(runs):
    """`preprocess --master spark://…` stores the same samples with bit-identical betas, detection p-values
    and intensities as `preprocess --local`, and the jobs really ran on the cluster's executor."""
    a, b = runs["local"] / "store", runs["cluster"] / "store"
    names = Store.open(a).ok_samples
    assert len(names) == 10 and sorted(names) == sorted(Store.open(b).ok_samples)
    for field in FIELDS:
        x, y = load_betas(a, names, field=field), load_betas(b, names, field=field)
        assert x.shape == (10, 20_000) and np.array_equal(x.to_numpy(), y.to_numpy(), equal_nan=True), field


def test_cluster_cnv_features_equal_local(runs):
    """`cnv --from-store … --master spark://…` writes the same CNV feature table as `--local`."""
    a = read_cnv_features(runs["local"] / "store")
    b = read_cnv_features(runs["cluster"] / "store")
    assert len(a) == 4 and a.shape[1] > 10
    assert list(a.index) == list(b.index) and list(a.columns) == list(b.columns)
    assert np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True)


def test_cluster_benchmark_equals_local_backend(runs):
    """`benchmark --backend spark --master spark://…` gives the local backend's out-of-fold probabilities and
    metrics exactly (timings aside)."""
    a, b = runs["local"] / "runs" / "default" / "latest", runs["cluster"] / "runs" / "default" / "latest"
    for model in ("logreg", "rf"):
        assert (a / "oof" / f"{model}.csv").read_bytes() == (b / "oof" / f"{model}.csv").read_bytes(), model
    ma, mb = (pd.read_csv(p / "metrics.csv", index_col="model") for p in (a, b))
    keep = [c for c in ma.columns if "seconds" not in c]
    assert len(keep) > 5
    pd.testing.assert_frame_equal(ma[keep], mb[keep], check_exact=True)


def test_jobs_ran_on_the_worker_and_the_cluster_stops(runs, cluster):
    """The worker launched an executor for the cluster runs (the jobs did not run in the driver), and
    stopping kills the master and worker process groups: no JVM is left behind."""
    apps = sorted(p for p in (cluster.root / "work").glob("app-*") if p.is_dir())
    assert len(apps) == 1, apps  # one driver process, one application, three jobs
    assert f"Asked to launch executor {apps[0].name}" in (cluster.root / "worker.log").read_text()
    cluster.stop()
    for p in cluster.procs:
        assert p.poll() is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(p.pid, 0)
