# porttracker: the tracker CLI and the store port it tracks.
GO ?= go

.PHONY: build test bench report lint

# bin/porttracker (bin/ is ignored by git).
build:
	$(GO) build -o bin/porttracker ./cmd/porttracker

# The README's test command (what .ci/run runs).
test:
	$(GO) test ./...

# Every benchmark: the tracker's on a generated 100,000-feature / 200,000-test
# database, the gates', the store's (named like upstream's, to compare side by
# side) and its data structures'. Narrow it with PKGS=./store/... or BENCH=regex.
PKGS ?= ./...
BENCH ?= .
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(PKGS)

# db check, then reports/current.md.
report:
	./reports/generate-report.sh

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
