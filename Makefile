# methylclass — every target is a thin call to the CLI or to pytest. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
MC := $(VENV)/bin/methylclass
STAMP := $(VENV)/.installed
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYTHONHASHSEED ?= 0

.DEFAULT_GOAL := help
.PHONY: help setup test test-all demo benchmark benchmark-full bench bench-preprocess bench-ingest bench-cnv \
        bench-normalize bench-cnv-spark bench-predict methylprep-parity lint clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (methylclass needs Python 3.11+)"; exit 1; }
	@command -v java >/dev/null || echo "warning: java not found; Spark steps need Java 17"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## build .venv and install methylclass with its dev extras

test: $(STAMP) ## run the test suite (what CI runs)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -m "not slow" -n 2 --dist loadfile

test-all: $(STAMP) ## run every test, slow ones included
	$(PY) -m pytest -q

demo: $(STAMP) ## run the main job on the embedded default data and write a report under demo_out/
	$(MC) demo --out demo_out

benchmark: $(STAMP) ## nested CV of all five models on the real MB set and a simulated cohort (HTML reports in runs/)
	$(PY) pipelines/benchmark.py

benchmark-full: $(STAMP) ## the model benchmark with larger settings
	$(PY) pipelines/benchmark.py --full

bench: $(STAMP) ## slow scale tests + every speed/memory benchmark script (numbers to results/)
	$(PY) -m pytest -q -m slow
	$(PY) pipelines/bench_manifest.py
	$(PY) pipelines/methylprep_reference/bench_normalize.py
	$(PY) pipelines/bench_cnv.py
	$(PY) pipelines/bench_cnv_spark.py
	$(PY) pipelines/bench_simulate.py --samples 20 --jobs 2
	$(PY) pipelines/bench_models.py
	$(PY) pipelines/bench_preprocess.py
	$(PY) pipelines/bench_predict.py

bench-preprocess: $(STAMP) ## methylclass raw/illumina/noob vs methylprep vs mepylome, and Spark ingestion at scale
	$(PY) pipelines/bench_preprocess.py

bench-ingest: $(STAMP) ## Spark ingestion of 100/500/1,000 simulated 450k samples: wall time and peak RSS
	$(PY) pipelines/bench_ingest.py --sizes 100,500,1000 --array HM450

bench-cnv: $(STAMP) ## per-sample CNV time on a 450k-size sample
	$(PY) pipelines/bench_cnv.py

bench-cnv-spark: $(STAMP) ## CNV of stored 450k samples on Spark vs in-process, driver memory
	$(PY) pipelines/bench_cnv_spark.py

bench-predict: $(STAMP) ## warm one-sample 450k prediction from IDATs (read, normalise, CNV, classify, explain)
	$(PY) pipelines/bench_predict.py

bench-normalize: $(STAMP) ## per-sample normalisation kernels on a 450k-size sample
	$(PY) pipelines/methylprep_reference/bench_normalize.py

methylprep-parity: $(STAMP) ## noob betas vs the unmodified methylprep 1.7.1 (its own venv)
	$(PY) pipelines/methylprep_reference/parity.py

lint: $(STAMP) ## static checks: ruff and the import-layering contracts of pyproject.toml (lint-imports)
	$(VENV)/bin/ruff check methylclass tests pipelines
	$(VENV)/bin/lint-imports --no-cache

clean: ## remove build artefacts and run outputs (keeps .venv)
	rm -rf build dist *.egg-info .pytest_cache runs demo_out results spark-warehouse
