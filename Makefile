# Sluice developer entry points. The two a newcomer needs: `make demo` and `make test`.
PY := .venv/bin/python
KAFKA := infra/kafka/kafka.sh
TRITON := infra/triton/triton.sh

.PHONY: setup demo test test-unit test-integration kafka-up kafka-down kafka-status kafka-logs topics \
        topics-verify up down contracts contracts-check compose-check bench eval clean \
        triton-up triton-down triton-status triton-logs models

setup:            ## venvs + dependencies + Kafka jars + Triton, models and model repository (idempotent)
	@bash infra/setup.sh

demo: setup       ## Kafka + Triton + all services + sample traffic, with a live view; stops what it started
	@$(PY) infra/demo.py

test: setup       ## every test: unit, contracts, compose, and integration on a real broker the tests start
	@$(PY) -m pytest tests -q

test-unit: setup
	@$(PY) -m pytest tests/unit -q

test-integration: setup
	@$(PY) -m pytest tests/integration -q

kafka-up: setup   ## start the local broker (127.0.0.1:19092), data kept in .data/kafka
	@$(KAFKA) start

kafka-down:
	@$(KAFKA) stop

kafka-status:
	@$(KAFKA) status

kafka-logs:
	@$(KAFKA) logs 100

triton-up: setup  ## start Triton on the CPU (gRPC 127.0.0.1:18001); SLUICE_TRITON_INSTANCE_KIND=gpu for GPUs
	@$(TRITON) start

triton-down:
	@$(TRITON) stop

triton-status:
	@$(TRITON) status

triton-logs:
	@$(TRITON) logs 100

models: setup     ## rebuild the models whose inputs changed and re-assemble the Triton model repository
	@$(PY) -m infra.models.build

topics: setup     ## create or verify every topic of contracts/topics.yaml
	@$(PY) -m services.runtime.cli topics bootstrap

topics-verify: setup
	@$(PY) -m services.runtime.cli topics verify

up: setup         ## Kafka + topics + services in the background (logs in .data/services)
	@$(PY) infra/demo.py --up

down:             ## stop background services and Kafka
	@$(PY) infra/demo.py --down

contracts: setup  ## regenerate contracts/schemas, contracts/examples and the README topic table
	@$(PY) -m schemas.contracts generate

contracts-check: setup
	@$(PY) -m schemas.contracts check

compose-check: setup
	@$(PY) infra/compose/validate.py

bench: setup      ## ingestion vs bare aiokafka passthrough, same broker, same run
	@$(PY) infra/bench/ingestion_bench.py

eval: setup       ## quality tables: guardrails per check, drift detectors vs river, drift on generated traffic
	@$(PY) -m infra.guardrails.evaluate
	@$(PY) -m infra.drift.evaluate --quick
	@$(PY) -m infra.drift.traffic_check --turns 20000 --windows 5 --seeds 1

clean:            ## remove local state (Kafka data, service state); keeps venv and jar cache
	@$(TRITON) stop || true
	@$(KAFKA) stop || true
	rm -rf .data
