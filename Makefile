# Elevate's build and test entry points. `make test` sets up what it needs by itself.
.PHONY: all build generate test lint deps check-generated bench fuzz

all: build

build: generate
	CGO_ENABLED=0 go build -o elevate .

# templ components, the Tailwind CSS bundle and the vendored htmx; the results are committed.
generate: node_modules/.installed
	go tool templ generate -log-level error
	npx tailwindcss -i static/css/input.css -o static/css/app.css --minify 2>/dev/null
	cp node_modules/htmx.org/dist/htmx.min.js static/js/htmx.min.js

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps:
	./scripts/ensure-services.sh

# Fails when generated files are stale, then runs gofmt, go vet, staticcheck and every test with -race.
# The timeout only stops a hung package: the slowest ones take 5-7 minutes on two quiet cores
# and more than twice that on a busy machine. go test runs packages in the order named, one per
# core at a time: the three longest (web, the browser tests, the store) come first, so none of them
# runs alone at the end while the other cores wait.
test: deps
	./scripts/check-generated.sh
	./scripts/lint.sh
	go test -race -count=1 -timeout 30m ./web ./test/e2e ./internal/store ./...

lint:
	./scripts/lint.sh

# Measures cold start, the check API, the inbox, audit search and export, approvals, workflows
# (on one process and on two replicas) and memory against references measured in the same run,
# on PostgreSQL and then on SQLite, each loaded with the same data; prints one table with each
# row's two databases one under the other and writes it to bench/results-<time>.txt (about ten
# minutes). Then the Go benchmarks, once each: mail delivery through the outbox beside a plain
# SMTP client. Not part of `make test`.
# ELEVATE_BENCH_ROWS=check,audit-search (groups: start, check, inbox, page, audit-search, export,
# approval, flows, steady) runs only those rows, loads only what they read, skips the Go
# benchmarks and writes its table to the temporary directory; ELEVATE_BENCH_DATABASES=sqlite
# (postgres, sqlite) measures only those databases, and also writes to the temporary directory.
bench: deps
	go run ./bench
	if [ -z "$$ELEVATE_BENCH_ROWS" ] || [ "$$ELEVATE_BENCH_ROWS" = all ]; then go test -run '^$$' -bench . -benchtime 1x ./...; fi

# Runs each fuzz target for FUZZTIME (default 20s). Their seed corpora run in `make test`.
FUZZTIME ?= 20s
fuzz:
	go test ./internal/pam -run '^$$' -fuzz '^FuzzParseDuration$$' -fuzztime $(FUZZTIME)
	go test ./internal/pam -run '^$$' -fuzz '^FuzzParseScopeTypeAndTaskKey$$' -fuzztime $(FUZZTIME)
	go test ./internal/audit -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME)
	go test ./internal/audit -run '^$$' -fuzz '^FuzzCSVExport$$' -fuzztime $(FUZZTIME)
	go test ./internal/mail -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME)
	go test ./web -run '^$$' -fuzz '^FuzzRequestForm$$' -fuzztime $(FUZZTIME)
	go test ./web -run '^$$' -fuzz '^FuzzPolicyForm$$' -fuzztime $(FUZZTIME)
