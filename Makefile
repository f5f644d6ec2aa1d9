# sslpipe: `make demo` and `make test` are the two quick-start commands.
# Both install what they need (Debian packages as root, the libtorch shim)
# and are idempotent.

SHELL := /bin/bash
GO ?= go
BIN := bin
GOTCH_COPY := third_party/gotch
GOFLAGS_TORCH ?=
TEST_TIMEOUT ?= 60m

# Packages that build without cgo and libtorch (everything that does not
# depend on gotch); computed after the shim exists.
PURE_PKGS = $(shell $(GO) list -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}' ./... | awk '!/github.com\/sugarme\/gotch/ {print $$1}')

.PHONY: all deps shim build test test-pure vet demo bench reproduce gpu-bundle clean

all: build

deps:
	@tools/install-deps.sh

$(BIN)/shimbuild: $(wildcard tools/shimbuild/*.go internal/shim/*.go internal/buildinfo/*.go) go.mod
	$(GO) build -o $@ ./tools/shimbuild

# Builds (or finds cached) libsslpipe_tch.so for the local libtorch and
# writes the gotch copy that links it.
shim: deps $(BIN)/shimbuild
	@$(BIN)/shimbuild -install -out-gotch $(GOTCH_COPY) >/dev/null

build: shim
	$(GO) build $(GOFLAGS_TORCH) -o $(BIN)/sslpipe-torch ./cmd/sslpipe
	CGO_ENABLED=0 $(GO) build -o $(BIN)/sslpipe ./cmd/sslpipe
	@echo "built $(BIN)/sslpipe (data commands, pure Go; JPEGs with libjpeg-turbo when libturbojpeg.so.0 is installed) and $(BIN)/sslpipe-torch (libtorch commands; $(BIN)/sslpipe runs it)"

vet: shim
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$bad" ]]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet ./...

# The pure-Go packages must build and pass with no libtorch at all.
test-pure:
	CGO_ENABLED=0 $(GO) test -count=1 $(PURE_PKGS) ./cmd/sslpipe

test: build vet test-pure
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

demo: build
	@scripts/demo.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchmem $(PURE_PKGS)

reproduce: build
	@scripts/reproduce.sh

gpu-bundle: build
	@scripts/gpu-bundle.sh

clean:
	rm -rf $(BIN) dist $(GOTCH_COPY)
