# hdscale: make demo (cluster + install + demo namespaces), make test (what CI runs).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
TAG         ?= dev
IMAGE       ?= hdscale/hdscale:$(TAG)
FAKE_IMAGE  ?= hdscale/fakeruntime:$(TAG)
KUBECONFIG_E2E := $(CURDIR)/.cluster/kubeconfig
# The version the binaries report (--version, hdscale_build_info): VERSION
# when given (make release VERSION=x.y.z), else git describe.
BUILD_VERSION ?= $(if $(VERSION),$(VERSION),$(shell git describe --tags --always --dirty 2>/dev/null || echo dev))
# Count-based fuzz budgets: a duration (-fuzztime=10s) races Go's fuzz
# coordinator deadline on a loaded 2-core machine (golang/go#75804).
FUZZTIME    ?= 20000x
FUZZLONG    ?= 10000000x
# make fuzz-long: which packages carry coverage counters (focused: hdscale and
# the libraries the inputs flow through, via e2e/tools/fuzz-instrument.sh;
# all: everything the test binary links), how long a new input is minimised
# (0: not at all), and how many workers fuzz (default: one per CPU).
FUZZ_INSTRUMENT ?= focused
FUZZLONG_MINIMIZE ?= 0
FUZZLONG_PARALLEL ?= $(shell nproc 2>/dev/null || echo 1)
# fuzz-long builds and keeps its corpus in a Go cache of its own: the
# thousands of inputs a long run adds would otherwise be replayed by every
# bounded `make fuzz` in make test (minutes of baseline coverage).
FUZZLONG_GOCACHE ?= $(HOME)/.cache/hdscale/gocache-fuzz-long
SOAK_MINUTES ?= 30
FUZZ_TARGETS := \
	./internal/policy:FuzzParseAnnotation \
	./webhook:FuzzMutate \
	./webhook:FuzzImageRepository \
	./webhook:FuzzDecodePod \
	./webhook:FuzzMatchConditions \
	./webhook:FuzzValidateNamespace \
	./webhook:FuzzParseConfig \
	./extender:FuzzDecodeArgs \
	./extender:FuzzDecide \
	./certs:FuzzDecodeSecret
TOOLS := e2e/tools

.PHONY: help
help: ## show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build the static binaries into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w -X github.com/hdscale/hdscale/internal/version.Version=$(BUILD_VERSION)' -o bin/ ./cmd/webhook ./cmd/extender ./cmd/kubectl-hdscale ./e2e/fakeruntime ./e2e/probe

.PHONY: plugin
plugin: ## install the kubectl plugin (kubectl hdscale) into $(GOBIN) or ~/go/bin
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags='-X github.com/hdscale/hdscale/internal/version.Version=$(BUILD_VERSION)' ./cmd/kubectl-hdscale
	@echo "installed kubectl-hdscale into $$($(GO) env GOBIN || true)$$( [ -n "$$($(GO) env GOBIN)" ] || echo "$$($(GO) env GOPATH)/bin"); put it on PATH, then: kubectl hdscale status"

.PHONY: images
images: build ## build the hdscale, fake runtime and scheduler images (no registry needed)
	bash $(TOOLS)/docker-up.sh
	docker build -q -t $(IMAGE) -f Dockerfile . >/dev/null
	docker build -q -t $(FAKE_IMAGE) -f e2e/fakeruntime/Dockerfile bin >/dev/null
	bash $(TOOLS)/scheduler-image.sh
	@echo "built $(IMAGE) $(FAKE_IMAGE)"

.PHONY: unit
unit: ## unit tests (race detector on)
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

.PHONY: vet
vet: ## go vet and gofmt
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt: $$bad"; exit 1; fi

.PHONY: fuzz
fuzz: ## run every fuzz target for a bounded number of executions
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) -parallel=1 $$pkg; done

.PHONY: fuzz-long
fuzz-long: ## every fuzz target for FUZZLONG executions each (default 10000000x), summaries in _out/fuzz-long.log (not part of make test)
	@case "$(FUZZ_INSTRUMENT)" in focused) toolexec="-toolexec=$(CURDIR)/$(TOOLS)/fuzz-instrument.sh";; all) toolexec=;; \
	  *) echo "FUZZ_INSTRUMENT must be focused or all, not $(FUZZ_INSTRUMENT)"; exit 2;; esac; \
	mkdir -p _out/fuzz-long; log=_out/fuzz-long.log; failed=0; \
	echo "# make fuzz-long FUZZLONG=$(FUZZLONG) FUZZ_INSTRUMENT=$(FUZZ_INSTRUMENT) FUZZLONG_MINIMIZE=$(FUZZLONG_MINIMIZE) FUZZLONG_PARALLEL=$(FUZZLONG_PARALLEL) FUZZLONG_GOCACHE=$(FUZZLONG_GOCACHE), $$(git rev-parse --short HEAD 2>/dev/null || echo no-git), $$(date -u +%FT%TZ), $$($(GO) version); seconds are wall time incl. build" | tee -a $$log; \
	printf '%-36s %11s %7s %8s %8s  %s\n' target execs seconds execs/s new result | tee -a $$log; \
	for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; out=_out/fuzz-long/$$fn.log; start=$$(date +%s); rc=0; \
	  GOCACHE=$(FUZZLONG_GOCACHE) $(GO) test $$toolexec -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZLONG) -fuzzminimizetime=$(FUZZLONG_MINIMIZE) -parallel=$(FUZZLONG_PARALLEL) $$pkg >$$out 2>&1 || rc=$$?; \
	  secs=$$(( $$(date +%s) - start )); last=$$(grep '^fuzz: elapsed' $$out | tail -n 1 || true); \
	  execs=$$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$$last"); new=$$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$$last"); \
	  result=ok; if [ $$rc -ne 0 ]; then failed=1; \
	    result="FAIL $$(grep -m 1 -o 'Failing input written to .*' $$out || grep -m 1 -e '--- FAIL' -e 'panic:' $$out || echo "exit $$rc")"; fi; \
	  printf '%-36s %11s %7s %8s %8s  %s (output: %s)\n' "$$t" "$${execs:-0}" "$$secs" "$$(( $${execs:-0} / (secs > 0 ? secs : 1) ))" "$${new:-0}" "$$result" "$$out" | tee -a $$log; \
	done; exit $$failed

.PHONY: soak
soak: ## pod churn on the e2e cluster for SOAK_MINUTES (default 30; needs cluster-up + deploy; not part of make test)
	@mkdir -p _out
	$(GO) test -tags e2e -count=1 -timeout $$(( $(SOAK_MINUTES) + 20 ))m -v ./e2e/ -run '^TestSoak$$' -args -kubeconfig=$(KUBECONFIG_E2E) -soak=$(SOAK_MINUTES)m 2>&1 | tee _out/soak.log

.PHONY: cluster-up
cluster-up: ## local kind cluster "hdscale" (offline node image if needed) + metrics-server
	bash $(TOOLS)/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## delete the local cluster
	bash $(TOOLS)/cluster-down.sh

.PHONY: deploy
deploy: images ## load images into the cluster, kubectl apply -k, wait until ready
	bash $(TOOLS)/deploy.sh $(IMAGE) $(FAKE_IMAGE)

.PHONY: helm-e2e
helm-e2e: images ## the Helm path: helm lint, helm install (default values), the install and pattern groups, helm uninstall leaves nothing (needs cluster-up; make deploy reinstalls with kustomize)
	@mkdir -p _out
	bash $(TOOLS)/deploy.sh --helm $(IMAGE) $(FAKE_IMAGE)
	helm=$$(bash $(TOOLS)/helm.sh) && $(GO) test -tags e2e -count=1 -timeout 20m -v ./e2e/ -run '^(TestInstall|TestPatterns|TestUninstall)$$' \
	  -args -kubeconfig=$(KUBECONFIG_E2E) -install=helm -helm=$$helm -uninstall 2>&1 | tee _out/helm-e2e.log

.PHONY: release-e2e
release-e2e: ## the release file on the e2e cluster: make release RELEASE_IMAGES=1, load the tarballs, kubectl apply -f, install + pattern groups, kubectl delete -f
	bash $(TOOLS)/release-e2e.sh

.PHONY: demo
demo: cluster-up deploy ## the main job: cluster, hdscale, demo namespaces per pattern, placement table
	bash $(TOOLS)/demo.sh

.PHONY: e2e
e2e: ## e2e suite against .cluster/kubeconfig (needs cluster-up + deploy)
	@mkdir -p _out
	$(GO) test -tags e2e -count=1 -timeout 50m -v ./e2e/ -args -kubeconfig=$(KUBECONFIG_E2E) 2>&1 | tee _out/e2e.log

.PHONY: test
test: ## what CI runs, each phase timed: vet, unit (race), bounded fuzz, cluster-up, helm-e2e, deploy, e2e
	@bash $(TOOLS)/timed.sh vet unit fuzz cluster-up helm-e2e deploy e2e

.PHONY: check
check: ## the fast part of test (no cluster): vet, unit (race), bounded fuzz
	@bash $(TOOLS)/timed.sh vet unit fuzz

.PHONY: bench
bench: ## benchmarks; results and commands in docs/benchmarks.md
	bash $(TOOLS)/bench.sh

# Helm chart (manifests/helm/hdscale) and release artefacts. The helm CLI is
# built from the helm.sh/helm/v4 version go.mod pins, into ~/.cache/hdscale/bin.
HELM_CHART := manifests/helm/hdscale

.PHONY: helm
helm: ## build the helm CLI (version pinned in go.mod) into ~/.cache/hdscale/bin; prints its path
	@bash $(TOOLS)/helm.sh

.PHONY: helm-lint
helm-lint: ## helm lint --strict of the chart manifests/helm/hdscale
	@helm=$$(bash $(TOOLS)/helm.sh) && $$helm lint --strict $(HELM_CHART)

.PHONY: release
release: ## dist/: hdscale-VERSION.yaml, chart hdscale-VERSION.tgz, SHA256SUMS (make release VERSION=x.y.z; RELEASE_IMAGES=1 adds image tarballs)
	@bash $(TOOLS)/release.sh "$(VERSION)"

.PHONY: clean
clean:
	rm -rf bin _out
