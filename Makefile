# gpu-fleet developer and CI entry points. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= prod
OUT    ?= out/$(STACK)

.PHONY: venv tools plan check render test reference bench bench-live clean local-up local-down

$(BIN)/gpufleet: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/gpufleet

## The main job on the embedded default: the offline plan (and policy verdicts) of a stack.
plan: venv
	$(BIN)/gpufleet plan --stack $(STACK)

check: venv
	$(BIN)/gpufleet check --stack $(STACK)

render: venv
	$(BIN)/gpufleet render --stack $(STACK) --out $(OUT) --clean

## The whole test suite.
test: venv
	$(BIN)/python -m pytest

## The pinned integration-test tools (Pulumi CLI and language host, Kubernetes provider, etcd,
## kube-apiserver, kube-controller-manager, kube-scheduler, kwok), built from Go modules into a cache
## outside the repo, one cache entry per tool. `make test` runs this build itself, beside the unit tests.
tools:
	tools/build.sh

## The local stack for real: pinned tools (tools/build.sh), the simulated cluster (scripts/local-cluster),
## `pulumi up --refresh --stack local` with a file backend under .state/ (the local stack holds no secrets; its
## passphrase matches the salt in stacks/Pulumi.local.yaml). State files are private to the user (umask 077).
## --refresh: the cluster may have changed under the state (a `scripts/local-cluster reset` empties it).
LOCAL_PULUMI = umask 077; PATH="$$(tools/build.sh | tail -n 1):$$PATH" PULUMI_BACKEND_URL="file://$(CURDIR)/.state/pulumi" \
	PULUMI_HOME="$(CURDIR)/.state/pulumi-home" PULUMI_CONFIG_PASSPHRASE="$${PULUMI_CONFIG_PASSPHRASE-gpufleet-local}" \
	PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true pulumi

local-up: venv
	scripts/local-cluster start
	mkdir -p .state/pulumi && chmod -R go-rwx .state
	$(LOCAL_PULUMI) stack select --create local --non-interactive
	$(LOCAL_PULUMI) up --refresh --yes --stack local --non-interactive

local-down:
	if scripts/local-cluster status >/dev/null; then $(LOCAL_PULUMI) destroy --yes --stack local --non-interactive; fi
	scripts/local-cluster stop

reference: venv
	$(BIN)/python -m gpufleet.config_reference > docs/config-reference.md

bench: venv
	$(BIN)/python -m benchmarks.run

## The simulated fleet for real (300 GPU nodes, 150 tenants): up and destroy against the engine's own floor.
bench-live: venv
	$(BIN)/python -m benchmarks.live

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis *.egg-info
