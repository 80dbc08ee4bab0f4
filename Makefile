# The two commands: `make up` runs the platform, `make test` runs every check.
.PHONY: up hub test setup lint bench

up:            ## set up (if needed) and start the whole local platform
	bash scripts/setup.sh
	.venv/bin/mlplat up $(ARGS)

hub:           ## set up (if needed) and start MLflow, Spark and a local multi-user JupyterHub
	bash scripts/setup.sh
	.venv/bin/mlplat hub $(ARGS)

test:          ## set up (if needed) and run linters + the whole test suite
	bash scripts/setup.sh --test
	bash scripts/test.sh $(ARGS)

setup:
	bash scripts/setup.sh --test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports && .venv/bin/deptry .
	cd labextension && npm run lint

bench:         ## every goal of benchmarks/README.md (each prints ratios against its own baseline; a missed goal does not stop the rest)
	-.venv/bin/python benchmarks/kernel_start.py
	-.venv/bin/python benchmarks/spark_attach.py
	-.venv/bin/python benchmarks/catalog_search.py
	-.venv/bin/python benchmarks/completion.py
	-.venv/bin/python benchmarks/large_artifact.py
	-.venv/bin/python benchmarks/quality_check.py
	-.venv/bin/python benchmarks/log_metric.py
	-.venv/bin/python benchmarks/memory.py
	-.venv/bin/python benchmarks/hub_login.py
	-.venv/bin/python benchmarks/deploy_local.py
	-.venv/bin/python benchmarks/gateway_canary.py
	-.venv/bin/python benchmarks/batch_predict.py
	-.venv/bin/python benchmarks/load.py
	-.venv/bin/python benchmarks/search.py
	-.venv/bin/python benchmarks/lineage_overhead.py
	-.venv/bin/python benchmarks/report_generation.py
	-.venv/bin/python benchmarks/tuning.py
	-.venv/bin/python benchmarks/pipelines_scheduler.py
	-.venv/bin/python benchmarks/pipelines_first_run.py
