# One image for every Sluice service: the service is picked by the command,
# e.g. `sluice run ingestion` or `sluice topics bootstrap` (see docker-compose.yml).
# No HEALTHCHECK here on purpose: each service's readiness probe lives in compose.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid sluice --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin sluice

WORKDIR /app

# pyproject.toml names README.md as the package readme, which the build reads.
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY services/ services/
COPY contracts/ contracts/

RUN pip install --no-cache-dir . \
 && rm -rf build ./*.egg-info

# The installed package lives in site-packages, away from the repo layout, so point the
# runtime at the topic, model and policy contracts explicitly.
ENV SLUICE_CONTRACT_PATH=/app/contracts/topics.yaml \
    SLUICE_INFERENCE_MODEL_CONTRACTS_DIR=/app/contracts/models \
    SLUICE_GUARDRAILS_MODEL_CONTRACTS_DIR=/app/contracts/models \
    SLUICE_GUARDRAILS_POLICY_PATH=/app/contracts/policies/guardrails.yaml \
    SLUICE_FEEDBACK_MODEL_CONTRACTS_DIR=/app/contracts/models \
    SLUICE_DRIFT_MODEL_CONTRACTS_DIR=/app/contracts/models \
    SLUICE_STATE_DIR=/tmp/sluice-state

# numeric so that runtimes enforcing runAsNonRoot can verify it (10001 = sluice)
USER 10001:10001

ENTRYPOINT ["sluice"]
