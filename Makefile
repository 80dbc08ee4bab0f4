# The two commands: `make up` runs the platform, `make test` runs every check.
.PHONY: up test setup lint bench

up:            ## set up (if needed) and start the whole local platform
	bash scripts/setup.sh
	.venv/bin/mlplat up $(ARGS)

test:          ## set up (if needed) and run linters + the whole test suite
	bash scripts/setup.sh --test
	bash scripts/test.sh $(ARGS)

setup:
	bash scripts/setup.sh --test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
	cd labextension && npm run lint

bench:         ## speed goals: each script prints ratios against a baseline of the same run
	.venv/bin/python benchmarks/kernel_start.py
	.venv/bin/python benchmarks/large_artifact.py
	.venv/bin/python benchmarks/spark_attach.py
	.venv/bin/python benchmarks/catalog_search.py
