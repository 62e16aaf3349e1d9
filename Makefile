# The two commands of the README: `make demo` and `make test`. Both set up what is missing first.
.PHONY: demo test check setup setup-test lint bench accuracy i18n reliability site

demo:
	@bash scripts/setup.sh
	@.venv/bin/python scripts/demo.py

# the deployment twin of `make demo`: TLS Mosquitto with per-edge accounts and ACL, PostgreSQL, two central
# instances and an edge on loopback, then checks (docs/DEPLOY.md)
site:
	@bash scripts/setup.sh --test
	@.venv/bin/python scripts/site.py

test:
	@bash scripts/setup.sh --test
	@.venv/bin/ruff check .
	@.venv/bin/lint-imports --no-logo
	@.venv/bin/python -m pytest -q

# The fast lane while developing: lint, the import contracts, and every test not marked slow or browser.
check:
	@bash scripts/setup.sh --test
	@.venv/bin/ruff check .
	@.venv/bin/lint-imports --no-logo
	@.venv/bin/python -m pytest -q -m "not slow and not browser"

setup:
	@bash scripts/setup.sh

lint:
	@.venv/bin/ruff check .
	@.venv/bin/lint-imports --no-logo

bench:
	@bash scripts/setup.sh
	@for b in scripts/bench/*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

# event accuracy: the dev clips plus 8 clips made like them (made once, ~4 min; scoring ~1.5 min)
accuracy:
	@bash scripts/setup.sh
	@if ls var/synth-2/clip_*.json >/dev/null 2>&1; then \
	  .venv/bin/python scripts/synth_event_clips.py --out var/synth-2 --rescore --with-dev; \
	else \
	  .venv/bin/python scripts/synth_event_clips.py --out var/synth-2 --count 8 --seed 2 --score --with-dev; \
	fi

# translations: extract every marked string (babel.cfg: templates and Python) and update the catalogs in
# central/i18n/locale; then fill in the empty msgstr in the .po files (the .po is compiled when loaded)
i18n:
	@bash scripts/setup.sh
	@mkdir -p var/i18n
	@.venv/bin/pybabel -q extract -F babel.cfg --sort-output --no-location --project Doorline \
	  -o var/i18n/messages.pot .
	@.venv/bin/pybabel update -i var/i18n/messages.pot -d central/i18n/locale -l zh_CN --no-fuzzy-matching \
	  --ignore-obsolete --omit-header
	@.venv/bin/python -m central.i18n.check

# faults and attacks (issue 15): poison payloads, dead threads, spool on small disks, broker/central/edge kills,
# PostgreSQL stopped, an RTSP camera stopped, 1,000 simulated edges, hypothesis and schemathesis fuzzing with
# many more examples, the role matrix, the long runs; RELIABILITY.md is rendered from what they measured
# (about 25 min on a quiet 2-core machine)
RELIABILITY_TESTS = tests/transport/test_poison.py tests/transport/test_fuzz.py tests/transport/test_spool_disk.py \
	tests/transport/test_clock_skew.py tests/transport/test_evidence_disk_full.py \
	tests/transport/test_reliability_long.py tests/transport/test_resilience.py tests/transport/test_resilience_more.py \
	tests/transport/test_receipts.py tests/transport/test_spool_unwritable.py tests/transport/test_backpressure.py \
	tests/transport/test_ingest.py::test_prepare_stage_writes_evidence_once_and_the_writer_retries_what_it_could_not \
	tests/edge/test_cli.py::test_a_full_disk_for_local_files_does_not_stop_the_run_or_the_messages \
	tests/edge/test_sources.py::test_mjpeg_stream_that_stalls_is_reported_and_reconnected \
	tests/central/api/test_api_fuzz.py tests/central/api/test_hostile_inputs.py tests/central/api/test_role_matrix.py \
	tests/central/api/test_hardening.py tests/transport/test_postgres_restart.py tests/transport/test_rtsp_restart.py \
	tests/transport/test_fleet.py
reliability:
	@bash scripts/setup.sh --test
	@rm -rf var/reliability && mkdir -p var/reliability
	@DOORLINE_RELIABILITY_DIR=$(CURDIR)/var/reliability .venv/bin/python -m pytest -q -p no:cacheprovider \
	  --junitxml=var/reliability/junit.xml $(RELIABILITY_TESTS); echo $$? > var/reliability/exit-code
	@.venv/bin/python scripts/reliability_report.py var/reliability RELIABILITY.md
	@exit $$(cat var/reliability/exit-code)
