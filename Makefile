# pilotlight — make targets. Downloads and builds are cached under
# ~/.cache/pilotlight (PILOTLIGHT_CACHE_DIR), never in the repository.
GO      ?= go
BIN     := bin/pilotlight
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: all deps build test test-short lab lab-down bench fuzz lint clean

all: build

## deps: fetch DynamoDB Local and build versitygw into the cache (once)
deps:
	$(GO) run ./cmd/pilotlight lab fetch

FUNCTIONS := app healthcheck failovercontroller

## build: build the CLI and the functions (bootstrap, this machine's arch) into bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/pilotlight
	@for f in $(FUNCTIONS); do \
	  CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o bin/functions/$$f/bootstrap ./lambda/$$f || exit 1; \
	done

## test: vet, gofmt, and every test (with the race detector) against real lab servers
test: deps lint
	$(GO) test -race -count=1 ./...

## test-short: unit tests only, no servers
test-short:
	$(GO) test -short ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

## lab: start the local two-region lab in the background
lab: build
	$(BIN) lab up

lab-down:
	$(BIN) lab down

## bench: lab start-up and replication lag benchmarks (results as a table)
bench: deps build
	$(GO) run ./bench/lab

## fuzz: run each fuzz target for a while
fuzz:
	$(GO) test -run XXX -fuzz FuzzParseDotenv -fuzztime 30s ./internal/config

clean:
	rm -rf bin
