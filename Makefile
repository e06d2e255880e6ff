# ordersaga-operator Makefile. "make help" lists the targets.

# Image of the manager for docker-build and deploy.
IMG ?= ghcr.io/ordersaga/ordersaga-operator:dev

# Kubernetes version of the envtest control plane (kube-apiserver, etcd, kubectl).
ENVTEST_K8S_VERSION ?= 1.37.2
# Tools pinned in hack/tools/go.mod, run through "go tool".
GO_TOOL = go tool -modfile=hack/tools/go.mod
CONTROLLER_GEN = $(GO_TOOL) controller-gen
KUSTOMIZE = $(GO_TOOL) kustomize
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT = go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
KUBECTL ?= kubectl
# Broker of "make run": the local RabbitMQ that hack/ensure-rabbitmq.sh provides.
BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672/
CONTAINER_TOOL ?= docker
# Extra flags for go test, for example GO_TEST_FLAGS="-run TestController -v".
GO_TEST_FLAGS ?=
# The participant SDK is a Go module of its own, nested in this repository:
# the root module's "./..." does not reach it, so every Go target runs in
# both modules.
SDK_DIR = sdk

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and the manager's ClusterRole from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify-generated
verify-generated: ## Fail if "make manifests generate" changes any generated file.
	hack/verify-generated.sh

.PHONY: fmt
fmt: ## Run go fmt on the operator and the SDK module.
	go fmt ./...
	cd $(SDK_DIR) && go fmt ./...

.PHONY: vet
vet: ## Run go vet on the operator and the SDK module.
	go vet ./...
	cd $(SDK_DIR) && go vet ./...

.PHONY: lint
lint: ## Run golangci-lint on the operator and the SDK module.
	$(GOLANGCI_LINT) run
	cd $(SDK_DIR) && $(GOLANGCI_LINT) run --config ../.golangci.yml

.PHONY: lint-fix
lint-fix: ## Run golangci-lint on both modules and apply its fixes.
	$(GOLANGCI_LINT) run --fix
	cd $(SDK_DIR) && $(GOLANGCI_LINT) run --config ../.golangci.yml --fix

.PHONY: test
test: envtest broker postgres verify-generated vet ## Run every test of both modules against envtest, the local RabbitMQ and PostgreSQL, then the demo non-interactively.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" go test -p 1 -count=1 $(GO_TEST_FLAGS) ./... -coverprofile cover.out
	cd $(SDK_DIR) && go test -p 1 -count=1 $(GO_TEST_FLAGS) ./... -coverprofile ../cover-sdk.out
	$(MAKE) --no-print-directory demo DEMO_EXIT=1

# Load of the fault-injection suite under make test-chaos: sagas per run and
# runs per scenario. make test runs it too, with 16 sagas and one run.
CHAOS_SAGAS ?= 100
CHAOS_REPEAT ?= 3

.PHONY: test-chaos
test-chaos: envtest broker ## Run the fault-injection suite under full load; the table goes to chaos-report.md.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" CHAOS_SAGAS=$(CHAOS_SAGAS) CHAOS_REPEAT=$(CHAOS_REPEAT) \
		CHAOS_REPORT="$(CURDIR)/chaos-report.md" go test -count=1 -timeout 60m -v ./test/chaos/ -ginkgo.v
	@cat chaos-report.md

FUZZ_TIME ?= 30s

.PHONY: fuzz
fuzz: ## Fuzz the reply decoder and the state machine's reply handling (FUZZ_TIME each).
	cd $(SDK_DIR) && go test -run xxx -fuzz FuzzDecodeReply -fuzztime $(FUZZ_TIME) ./protocol/
	go test -run xxx -fuzz FuzzReplyHandling -fuzztime $(FUZZ_TIME) ./internal/saga/

# Load of make bench: sagas of the throughput run, sagas held in flight;
# for the memory run, finished sagas and sagas in flight beside them.
BENCH_SAGAS ?= 1000
BENCH_IN_FLIGHT ?= 10000
BENCH_FINISHED ?= 50000
BENCH_MEMORY_IN_FLIGHT ?= 1000
# BASELINE=<git ref> runs that ref's operator turn about with this tree's, so
# that a change is judged as a ratio within one run; BENCH_ARGS passes more
# flags to the bench (go run ./test/bench -h lists them).
BASELINE ?=
BENCH_ARGS ?=

.PHONY: bench
bench: envtest broker ## Measure saga throughput, latency and footprint against the machine's ceiling (bench-results.json); BASELINE=<ref> compares with another ref's operator in the same run.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" go run ./test/bench -sagas $(BENCH_SAGAS) -in-flight $(BENCH_IN_FLIGHT) \
		-finished $(BENCH_FINISHED) -memory-in-flight $(BENCH_MEMORY_IN_FLIGHT) -out bench-results.json \
		$(if $(BASELINE),-baseline $(BASELINE)) $(BENCH_ARGS)

##@ Demo

# DEMO_EXIT=1 runs the demo without waiting for Ctrl-C: it exits 0 only if
# every sample saga reached its expected phase.
DEMO_EXIT ?=

.PHONY: demo
demo: envtest broker ## Run the operator and sample services on a local control plane and apply the samples.
	KUBEBUILDER_ASSETS="$$(hack/setup-envtest.sh)" DEMO_EXIT="$(DEMO_EXIT)" go run ./cmd/demo

##@ Build

.PHONY: build
build: ## Build the manager, the sample services and the kubectl saga plugin into bin/.
	go build -o bin/manager ./cmd
	go build -o bin/sample-services ./cmd/sample-services
	go build -o bin/kubectl-saga ./cmd/kubectl-saga
	install -m 0755 cmd/kubectl-saga/kubectl_complete-saga bin/

.PHONY: run
run: ## Run the manager against the cluster of the current kubeconfig and the local broker.
	go run ./cmd --broker-url="$(BROKER_URL)" --metrics-bind-address=:8080 --metrics-secure=false

.PHONY: docker-build
docker-build: ## Build the manager image.
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: build-installer
build-installer: manifests ## Render the whole operator into dist/install.yaml.
	mkdir -p dist
	$(KUSTOMIZE) build config/default | sed 's|image: controller:latest|image: $(IMG)|' > dist/install.yaml

##@ Deployment

ignore-not-found ?= false

.PHONY: install
install: manifests ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: manifests ## Remove the CRD from the cluster (ignore-not-found=true to ignore missing objects).
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests ## Deploy the operator (image IMG) into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/default | sed 's|image: controller:latest|image: $(IMG)|' | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the cluster (ignore-not-found=true to ignore missing objects).
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

.PHONY: envtest
envtest: ## Provide kube-apiserver, etcd and kubectl for envtest (cached; built from source if it must).
	@hack/setup-envtest.sh >/dev/null

.PHONY: broker
broker: ## Make sure RabbitMQ accepts connections on 127.0.0.1:5672 (start or install it if needed).
	@hack/ensure-rabbitmq.sh

.PHONY: postgres
postgres: ## Make sure PostgreSQL lets the tests in on 127.0.0.1:5432 (start or install it if needed).
	@hack/ensure-postgres.sh
