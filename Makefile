# The two commands of the README: `make demo` and `make test`. Both set up what is missing first.
.PHONY: demo test setup setup-test lint bench

demo:
	@bash scripts/setup.sh
	@.venv/bin/python scripts/demo.py

test:
	@bash scripts/setup.sh --test
	@.venv/bin/ruff check .
	@.venv/bin/python -m pytest -q

setup:
	@bash scripts/setup.sh

lint:
	@.venv/bin/ruff check .

bench:
	@bash scripts/setup.sh
	@for b in scripts/bench/*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done
