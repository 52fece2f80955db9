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
.PHONY: help setup test test-all demo benchmark benchmark-full benchmark-heidelberg bench bench-arrays \
        bench-preprocess bench-preprocess-quick bench-ingest bench-cnv \
        bench-normalize bench-cnv-spark bench-predict methylprep-parity lint clean understand understand-fast \
        notebooks bench-shap

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

benchmark: $(STAMP) ## tuned zoo + ensembles under nested CV (MB set, simulated cohort), ablations, families/FFPE numbers
	$(PY) pipelines/benchmark.py
	$(PY) pipelines/benchmark.py --ablations
	$(PY) pipelines/bench_families_material.py

benchmark-full: $(STAMP) ## larger settings: MB set (mb_full) + the Heidelberg-size simulated cohort (2,801 x 91 classes)
	$(PY) pipelines/benchmark.py --full
	$(PY) pipelines/benchmark.py --full --ablations

benchmark-heidelberg: $(STAMP) ## only the Heidelberg-size benchmark (five models, nested 5x3, <= 60 min target)
	$(PY) pipelines/benchmark.py --full --only simulated

understand: $(STAMP) ## embeddings, CpG panels and SHAP on the real MB set + a simulated cohort (HTML in understand_out/)
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-.cache/numba} $(PY) pipelines/understand.py --out understand_out

understand-fast: $(STAMP) ## the same with small settings (a few minutes)
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-.cache/numba} $(PY) pipelines/understand.py --fast --out understand_out

notebooks: $(STAMP) ## run the notebooks in full and write HTML copies to notebooks/html/
	mkdir -p notebooks/html
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-.cache/numba} $(VENV)/bin/jupyter nbconvert --to html --execute \
	    --ExecutePreprocessor.timeout=3600 --output-dir notebooks/html notebooks/*.ipynb

bench-shap: $(STAMP) ## global SHAP on 500 × 10,000 CpGs for rf / xgb / logreg (results/bench_shap.json)
	$(PY) pipelines/bench_shap.py

bench: $(STAMP) ## slow scale tests + every speed/memory benchmark script (numbers to results/)
	$(PY) -m pytest -q -m slow
	$(PY) pipelines/bench_manifest.py
	$(PY) pipelines/methylprep_reference/bench_normalize.py
	$(PY) pipelines/bench_cnv.py
	$(PY) pipelines/bench_cnv_spark.py
	$(PY) pipelines/bench_simulate.py --samples 20 --jobs 2
	$(PY) pipelines/bench_models.py
	$(PY) pipelines/bench_preprocess.py
	$(PY) pipelines/bench_shap.py
	$(PY) pipelines/bench_predict.py

bench-arrays: $(STAMP) ## mixed-array store vs single-array nested CV; 450k model on EPICv2 samples, accuracy vs coverage
	$(PY) pipelines/mixed_cohort_cv.py
	$(PY) pipelines/cross_array_coverage.py


bench-preprocess: $(STAMP) ## methylclass raw/illumina/noob vs methylprep vs mepylome, and Spark ingestion at scale
	$(PY) pipelines/bench_preprocess.py

bench-preprocess-quick: $(STAMP) ## the user's call path (read_raw + normalize noob) vs mepylome, 3 alternated rounds
	$(PY) pipelines/bench_preprocess.py --quick

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
