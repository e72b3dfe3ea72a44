# pilotlight — make targets. Downloads and builds are cached under
# ~/.cache/pilotlight (PILOTLIGHT_CACHE_DIR), never in the repository.
GO      ?= go
BIN     := bin/pilotlight
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all deps build package drill chaos test test-short lab lab-down bench bench-lab bench-drill bench-data fuzz lint clean

all: build

## deps: fetch DynamoDB Local and build versitygw into the cache (once)
deps:
	$(GO) run ./cmd/pilotlight lab fetch

FUNCTIONS := app healthcheck failovercontroller datavalidator backupmanager

## build: build the CLI and the functions (bootstrap, this machine's arch) into bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pilotlight
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o bin/functions/$$f/bootstrap ./lambda/$$f || exit 1; \
	done

## package: the functions for Lambda (linux/arm64), zipped reproducibly, into dist/
package: build
	$(BIN) package

## drill: the main job — fetch and build what is missing, start the lab, run a region-outage drill, print RTO/RPO
drill: deps build
	$(BIN) drill

## chaos: every drill scenario in turn on the lab, then one table (scenario, expected, observed, RTO, RPO, split brain, failback loss, pass)
chaos: deps build
	$(BIN) drill --scenario all --fault-for 10s

## test: vet, gofmt, and every test (with the race detector) against real lab servers
# -p 1: each package starts a lab of its own; on a 2-core machine they are
# steadier one at a time. The drill package runs every chaos scenario.
test: deps build lint
	$(GO) test -race -count=1 -p 1 -timeout 45m ./...

## test-short: unit tests only, no servers
test-short:
	$(GO) test -short ./...

## lint: go vet, gofmt, and cfn-lint over every CloudFormation template
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@scripts/cfn-lint.sh

## lab: start the local two-region lab in the background
lab: build
	$(BIN) lab up

lab-down:
	$(BIN) lab down

## bench: five lab drills (RTO against the detection floor), the lab and the data-integrity benchmarks
bench: bench-drill bench-lab bench-data

bench-drill: deps build
	$(GO) run ./bench/drill

bench-lab: deps build
	$(GO) run ./bench/lab

bench-data: deps
	$(GO) run ./bench/data

## fuzz: run every fuzz target in the module (go test -list finds them) for FUZZTIME each
FUZZTIME ?= 30s
fuzz:
	@set -e; for p in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz' || true); do \
			echo "== $$p $$f"; \
			$(GO) test -run XXX -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$p; \
		done; \
	done

clean:
	rm -rf bin
