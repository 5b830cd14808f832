# Sluice developer entry points. The two a newcomer needs: `make demo` and `make test`.
PY := .venv/bin/python
KAFKA := infra/kafka/kafka.sh
TRITON := infra/triton/triton.sh

.PHONY: setup demo test test-unit test-integration kafka-up kafka-down kafka-status kafka-logs topics \
        topics-verify up down faults contracts contracts-check compose-check bench eval clean \
        triton-up triton-down triton-status triton-logs models secure-up secure-down secure-compose-prep

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

faults: setup     ## long fault-injection suite: kill -9 each service twice, broker restart, Triton down 60 s
	@SLUICE_FAULTS=long $(PY) -m pytest tests/e2e/test_faults.py -q -s

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

# Secure profile (README "Security profile"): SASL_SSL + SCRAM-SHA-512 + ACLs, its own broker and data.
SECURE_KAFKA := SLUICE_KAFKA_SECURITY=sasl_ssl SLUICE_KAFKA_PORT=19192 SLUICE_KAFKA_DATA_DIR=$(CURDIR)/.data/kafka-secure $(KAFKA)
SECURE_ADMIN := SLUICE_BOOTSTRAP_SERVERS=127.0.0.1:19192 SLUICE_SECURITY_PROTOCOL=SASL_SSL SLUICE_SASL_USERNAME=admin \
                SLUICE_SASL_PASSWORD_FILE=.data/security/secrets/admin.password SLUICE_SSL_CAFILE=.data/security/certs/ca.pem

secure-up: setup  ## certificates, passwords, SASL_SSL broker on 127.0.0.1:19192, topics and ACLs (as admin)
	@$(SECURE_KAFKA) start
	@$(SECURE_ADMIN) $(PY) -m services.runtime.cli topics bootstrap
	@$(SECURE_ADMIN) $(PY) -m services.runtime.cli acls apply

secure-down:
	@$(SECURE_KAFKA) stop

secure-compose-prep: ## certificates and passwords in .data/security for docker-compose.secure.yml
	@$(KAFKA) credentials

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
	@$(PY) infra/compose/validate_secure.py

BENCH_STAMP := .venv/.bench-extra-installed

$(BENCH_STAMP): pyproject.toml
	$(PY) -m pip install -q -e ".[bench]"
	@touch $@

bench: setup $(BENCH_STAMP)  ## benchmark suite -> infra/bench/RESULTS.md + plots (BENCH_ARGS=--quick: 3-5 min smoke)
	@$(PY) infra/bench/suite.py $(BENCH_ARGS)

eval: setup       ## quality tables: guardrails per check, drift detectors vs river, drift on generated traffic
	@$(PY) -m infra.guardrails.evaluate
	@$(PY) -m infra.drift.evaluate --quick
	@$(PY) -m infra.drift.traffic_check --turns 20000 --windows 5 --seeds 1

clean:            ## remove local state (Kafka data, service state); keeps venv and jar cache
	@$(TRITON) stop || true
	@$(KAFKA) stop || true
	rm -rf .data
