#!/usr/bin/env bash
# Rebuild porting.db from scratch out of an upstream nats-server checkout:
# db init, inventory scan, plan apply, inventory resolve, db vacuum.
#
#   scripts/rebuild-db.sh UPSTREAM_DIR [DB]
#
# UPSTREAM_DIR is the upstream module root (it holds go.mod and server/), e.g.
#   git --git-dir=/path/to/nats-server.git archive v2.14.5 | tar x -C /tmp/up
# DB defaults to porting.db; a relative DB is taken from the repository root.
# An existing DB is replaced. Set PORTTRACKER to a prebuilt binary to skip the
# build.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
	echo "usage: $0 UPSTREAM_DIR [DB]" >&2
	exit 2
fi
upstream=$1
root=$(cd "$(dirname "$0")/.." && pwd)
db=${2:-porting.db} # relative paths are taken from the repository root

version=v2.14.5
commit=d3bc0453384d00d37991b084263e59af828fa90d

if [[ ! -f $upstream/go.mod || ! -d $upstream/server ]]; then
	echo "$0: $upstream is not an upstream nats-server tree (no go.mod or server/)" >&2
	exit 2
fi

cd "$root"
if [[ -z ${PORTTRACKER:-} ]]; then
	bin=$(mktemp -d)/porttracker
	trap 'rm -rf "$(dirname "$bin")"' EXIT
	go build -o "$bin" ./cmd/porttracker
	PORTTRACKER=$bin
fi
pt() { PORTTRACKER_ACTOR=${PORTTRACKER_ACTOR:-rebuild-db} "$PORTTRACKER" --db "$db" "$@"; }

rm -f "$db" "$db-wal" "$db-shm"
pt db init
pt inventory scan "$upstream" --version "$version" --commit "$commit" --execute
pt inventory plan apply plan/storage.json --upstream "$upstream" --execute
pt inventory resolve --target ./store/... --execute
pt db vacuum
pt db check
