#!/usr/bin/env bash
# Check porting.db, then regenerate reports/current.md from it. This is what CI
# runs and the path existing plans call. It works from any directory and exits
# non-zero (porttracker's exit code) when db check finds a problem, leaving the
# old report in place.
#
#   reports/generate-report.sh
#
# PORTTRACKER_DB picks another database (default: porting.db at the repository
# root); PORTTRACKER_REPORT_OUT another output file (default: reports/current.md).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
db=${PORTTRACKER_DB:-porting.db}
out=${PORTTRACKER_REPORT_OUT:-reports/current.md}

# Build once rather than `go run` twice: go run turns every failure into
# exit 1, and the exit codes (1 refused, 3 database unusable) matter here.
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
go build -o "$bin_dir/porttracker" ./cmd/porttracker

"$bin_dir/porttracker" db check --db "$db"
"$bin_dir/porttracker" report generate --db "$db" --out "$out"
