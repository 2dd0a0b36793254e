# porttracker: the tracker CLI and the store port it tracks.
GO ?= go

.PHONY: build test bench report lint

# bin/porttracker (bin/ is ignored by git).
build:
	$(GO) build -o bin/porttracker ./cmd/porttracker

# The README's test command (what .ci/run runs).
test:
	$(GO) test ./...

# Tracker benchmarks on a generated 100,000-feature / 200,000-test database.
bench:
	$(GO) test -run '^$$' -bench . ./tracker/...

# db check, then reports/current.md.
report:
	./reports/generate-report.sh

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
