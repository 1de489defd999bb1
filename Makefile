# mcpapi — everyday commands. `make run` and `make test` need only Go.
GO      ?= go
ADDR    ?= 127.0.0.1:8080
PKGS    := ./...
# The developer tools (oapi-codegen, ogen, golangci-lint) are pinned in a module of their own,
# tools/go.mod, so that the product module requires only what the binary and its tests need.
TOOL    := $(GO) tool -modfile=tools/go.mod

.PHONY: run build test test-race fuzz generate check-generated vet fmt lint bench lint-spec sdk-check walkthrough

## run: serve on the embedded SQLite database (./data/mcpapi.db) at $(ADDR), with the sandbox
## upstreams of the embedded integrations (--sandbox)
run: data/secret.key
	MCPAPI_SECRET_KEY=$$(cat data/secret.key) $(GO) run ./cmd/mcpapi serve --addr $(ADDR) --sandbox

# The key that seals integrated accounts' upstream credentials, made once for `make run`.
data/secret.key:
	@mkdir -p -m 700 data && umask 077 && head -c 32 /dev/urandom | base64 > $@

build:
	$(GO) build -o bin/mcpapi ./cmd/mcpapi

## test: all tests; PostgreSQL is used when reachable at TEST_DATABASE_URL. The last line says
## whether the PostgreSQL tests ran, on which server, or why not (store/storetest writes a report).
test:
	@report=$$(mktemp); \
	MCPAPI_TEST_PG_REPORT=$$report $(GO) test $(TEST_FLAGS) -count=1 $(PKGS); rc=$$?; \
	if grep -q '^ran ' $$report; then \
	  echo "PostgreSQL tests: ran on $$(grep '^ran ' $$report | head -n 1 | cut -d' ' -f2-) ($$(grep -c '^ran ' $$report) test binaries)"; \
	elif grep -q '^skipped ' $$report; then \
	  echo "PostgreSQL tests: SKIPPED, $$(grep '^skipped ' $$report | head -n 1 | cut -d' ' -f2-) (set MCPAPI_TEST_REQUIRE_POSTGRES=1 to fail instead)"; \
	else echo "PostgreSQL tests: none asked for PostgreSQL (did the build fail?)"; fi; \
	rm -f $$report; exit $$rc

## test-race: the same with the race detector (needs gcc), ending with the same PostgreSQL line
test-race:
	@CGO_ENABLED=1 $(MAKE) --no-print-directory test TEST_FLAGS=-race

## fuzz: each fuzz target of server/fuzz_test.go for $(FUZZTIME), one after another (their seeds
## alone run in `make test`); a failing input is written to server/testdata/fuzz/
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzPatchMcpServer$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzCreateMcpServer$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzCreateIntegratedAccount$$' -fuzztime $(FUZZTIME) ./server/

## generate: regenerate gen/ from openapi.yaml: the models once (gen/model), and the Echo strict
## server (gen/api) and the Go client (gen/client) on them
generate:
	$(TOOL) oapi-codegen -config gen/model/oapi-codegen.yaml openapi.yaml
	$(TOOL) oapi-codegen -config gen/api/oapi-codegen.yaml openapi.yaml
	$(TOOL) oapi-codegen -config gen/client/oapi-codegen.yaml openapi.yaml

## check-generated: fail when gen/ is not what openapi.yaml generates
check-generated: generate
	@git diff --exit-code --stat -- gen/ || { echo "gen/ is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked files"; exit 1; }

vet:
	$(GO) vet $(PKGS)

## lint: golangci-lint (pinned in tools/go.mod) with .golangci.yml on the product module; gen/ is excluded
lint:
	$(TOOL) golangci-lint run $(PKGS)

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '^gen/')

## lint-spec: lint openapi.yaml with Spectral and Redocly CLI (needs node and npm, not Go); any
## warning or error fails. The linters are pinned in tools/spec-lint/package-lock.json.
SPEC_LINT := tools/spec-lint
SPEC      ?= openapi.yaml
SPEC_LINT_ENV := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SCARF_ANALYTICS=false
lint-spec: $(SPEC_LINT)/node_modules/.installed
	$(SPEC_LINT_ENV) $(SPEC_LINT)/node_modules/.bin/spectral lint --ruleset $(SPEC_LINT)/.spectral.yaml --fail-severity=warn $(SPEC)
	@echo '$(SPEC_LINT)/node_modules/.bin/redocly lint --config $(SPEC_LINT)/redocly.yaml $(SPEC)'
	@out=$$($(SPEC_LINT_ENV) $(SPEC_LINT)/node_modules/.bin/redocly lint --config $(SPEC_LINT)/redocly.yaml \
	    --format=stylish --max-problems=1000 $(SPEC) 2>&1); rc=$$?; printf '%s\n' "$$out"; \
	  test $$rc -eq 0 || exit $$rc; \
	  if printf '%s\n' "$$out" | grep -Eq '^ *[0-9]+:[0-9]+ +warning |You have [0-9]+ warnings?'; then \
	    echo 'lint-spec: Redocly reported warnings, and warnings fail'; exit 1; fi

# (Re)install the pinned linters only when node_modules is missing or the lock file changed.
$(SPEC_LINT)/node_modules/.installed: $(SPEC_LINT)/package.json $(SPEC_LINT)/package-lock.json
	SCARF_ANALYTICS=false npm ci --prefix $(SPEC_LINT) --ignore-scripts --no-audit --no-fund
	@touch $@

## sdk-check: the generator matrix: oapi-codegen, ogen, openapi-typescript + openapi-fetch and
## @hey-api/openapi-ts make an SDK from openapi.yaml with default settings, and a flow program per
## SDK runs against a real `mcpapi serve`; then examples/walkthrough.sh (the README's walk-through)
## runs too. Needs Go, Node.js >= 20.19 with npm, curl and jq. See tools/sdk-check/README.md.
SDK_CHECK := tools/sdk-check
sdk-check: $(SDK_CHECK)/node_modules/.installed
	bash $(SDK_CHECK)/run

$(SDK_CHECK)/node_modules/.installed: $(SDK_CHECK)/package.json $(SDK_CHECK)/package-lock.json
	SCARF_ANALYTICS=false npm ci --prefix $(SDK_CHECK) --ignore-scripts --no-audit --no-fund
	@touch $@

## walkthrough: the README's walk-through against a running server (`make run`); TOKEN=… is needed
walkthrough:
	API=http://$(ADDR) TOKEN='$(TOKEN)' bash examples/walkthrough.sh

## bench: mcpapi serve vs. a bare net/http+pgx floor vs. pgbench on a fresh PostgreSQL database
## (~20 min; BENCH_FLAGS="--quick" for a smoke run; see README "Performance")
BENCH_FLAGS ?=
bench:
	$(GO) run ./cmd/mcpapi-bench $(BENCH_FLAGS)
