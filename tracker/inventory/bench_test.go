package inventory

import (
	"context"
	"os"
	"testing"

	"github.com/porttracker/porttracker/tracker/db"
)

// upstreamRoot is where the developer notes put nats-server v2.14.5
// (plan/README.md); benchmarks that need it skip without it.
const upstreamRoot = "/tmp/up"

func needUpstream(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(upstreamRoot + "/server/filestore.go"); err != nil {
		b.Skipf("upstream tree not at %s: %v", upstreamRoot, err)
	}
}

// BenchmarkInventoryScan scans all of upstream server/ (~400k lines).
// Target: <= 3 s per scan on two cores.
func BenchmarkInventoryScan(b *testing.B) {
	needUpstream(b)
	for b.Loop() {
		res, err := Scan(context.Background(), upstreamRoot, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Lines), "lines")
	}
}

// BenchmarkInventoryRescan scans upstream and merges it against the committed
// porting.db, which must report no change. Target: <= 3 s.
func BenchmarkInventoryRescan(b *testing.B) {
	needUpstream(b)
	d := committedDB(b)
	up := Upstream{Module: "github.com/nats-io/nats-server/v2", Version: "v2.14.5", Commit: "d3bc0453384d00d37991b084263e59af828fa90d"}
	for b.Loop() {
		res, err := Scan(context.Background(), upstreamRoot, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		err = d.Write(context.Background(), func(tx *db.Tx) error {
			rep, err := Merge(tx, res, up)
			if err == nil && (!rep.Empty() || rep.Written) {
				b.Fatalf("rescan of v2.14.5 against porting.db: features %+v tests %+v meta %v", rep.Features, rep.Tests, rep.Meta)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallGraph builds the call graph plan apply uses.
func BenchmarkCallGraph(b *testing.B) {
	needUpstream(b)
	pkgs := []string{"server", "server/avl", "server/stree", "server/thw", "server/ats", "server/gsl"}
	for b.Loop() {
		if _, err := BuildCallGraph(context.Background(), upstreamRoot, pkgs); err != nil {
			b.Fatal(err)
		}
	}
}
