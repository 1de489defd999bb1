# mcpapi — everyday commands. `make run` and `make test` need only Go.
GO      ?= go
ADDR    ?= 127.0.0.1:8080
PKGS    := ./...

.PHONY: run build test test-race generate check-generated vet fmt bench

## run: serve on the embedded SQLite database (./data/mcpapi.db) at $(ADDR)
run:
	$(GO) run ./cmd/mcpapi serve --addr $(ADDR)

build:
	$(GO) build -o bin/mcpapi ./cmd/mcpapi

## test: all tests; PostgreSQL is used when reachable at TEST_DATABASE_URL
test:
	$(GO) test -count=1 $(PKGS)

## test-race: the same with the race detector (needs gcc)
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(PKGS)

## generate: regenerate gen/ from openapi.yaml
generate:
	$(GO) tool oapi-codegen -config gen/api/oapi-codegen.yaml openapi.yaml
	$(GO) tool oapi-codegen -config gen/client/oapi-codegen.yaml openapi.yaml

## check-generated: fail when gen/ is not what openapi.yaml generates
check-generated: generate
	@git diff --exit-code --stat -- gen/ || { echo "gen/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked files"; exit 1; }

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '^gen/')
