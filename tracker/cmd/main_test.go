package cmd

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/internal/seed"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// The test binary doubles as porttracker and as a load worker, so the
// process tests need no separate build: they re-exec os.Args[0] with
// envRole set.
const (
	envRole       = "PORTTRACKER_TEST_ROLE"
	roleCLI       = "cli"    // behave exactly like the porttracker binary
	roleWorker    = "worker" // run many updates, one command per update
	envWorkerArgs = "PORTTRACKER_TEST_WORKER"
)

var keepDB = flag.Bool("keepdb", false, "keep test databases and print their paths")

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case roleCLI:
		os.Exit(Run())
	case roleWorker:
		os.Exit(runWorker())
	}
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// runWorker makes 50 status updates on its own items, one porttracker
// command (open, plan, write, close) per update, like a script would.
// PORTTRACKER_TEST_WORKER is "dbpath,firstID". Exit 0 only if every
// update succeeded.
func runWorker() int {
	dbPath, first, ok := strings.Cut(os.Getenv(envWorkerArgs), ",")
	if !ok {
		fmt.Fprintln(os.Stderr, "worker: bad", envWorkerArgs)
		return 2
	}
	ios := iostreams.System()
	for i := 0; i < 50; i++ {
		var firstID int
		fmt.Sscan(first, &firstID)
		id := firstID + i%5
		status, reason := "n_a", "needs a running server"
		if (i/5)%2 == 1 {
			status, reason = "deferred", fmt.Sprintf("round %d", i)
		}
		args := []string{"feature", "update", fmt.Sprint(id), "--status", status, "--reason", reason, "--db", dbPath, "--execute"}
		if code := Main(args, ios, os.Getenv); code != 0 {
			fmt.Fprintf(os.Stderr, "worker: update %d of feature %d exited %d\n", i, id, code)
			return code
		}
	}
	return 0
}

// testDir returns a per-test directory (kept with -keepdb).
func testDir(t testing.TB) string {
	t.Helper()
	if !*keepDB {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "porttracker-cmd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keeping %s", dir)
	return dir
}

// smallDB seeds the fixture database and returns its path.
func smallDB(t testing.TB) string {
	t.Helper()
	path := filepath.Join(testDir(t), "porting.db")
	if err := seed.Small(path); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return path
}

// testRun is one in-process porttracker invocation.
type testRun struct {
	code   int
	stdout string
	stderr string
}

// runOpts tune an in-process run.
type runOpts struct {
	tty        bool
	gatekeeper tracker.Gatekeeper
	env        map[string]string
	stale      map[tracker.Kind]int64 // non-nil: wire a StaleCounter returning this
}

func run(t testing.TB, args ...string) testRun {
	t.Helper()
	return runWith(t, runOpts{}, args...)
}

func runWith(t testing.TB, o runOpts, args ...string) testRun {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(o.tty)
	env := map[string]string{"USER": "tester"}
	for k, v := range o.env {
		env[k] = v
	}
	f := NewFactory(ios, func(k string) string { return env[k] }, append([]string{"porttracker"}, args...))
	f.Now = func() time.Time { return time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC) }
	if o.gatekeeper != nil {
		gk := o.gatekeeper
		f.Gatekeeper = func(*db.DB) (tracker.Gatekeeper, error) { return gk, nil }
	}
	if o.stale != nil {
		f.StaleCounts = func(context.Context, *db.DB) (map[tracker.Kind]int64, error) { return o.stale, nil }
	}
	code := Execute(f, args)
	return testRun{code: code, stdout: out.String(), stderr: errOut.String()}
}

// dump renders the whole database (every table) for before/after checks.
func dump(t testing.TB, path string) string {
	t.Helper()
	d, err := db.Open(path)
	if err != nil {
		t.Fatalf("open %s for dump: %v", path, err)
	}
	defer d.Close()
	s, err := d.Dump(context.Background())
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return s
}

func checkDB(t testing.TB, path string) {
	t.Helper()
	d, err := db.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer d.Close()
	problems, err := d.Check(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatalf("db check: %v %q", err, problems)
	}
}

// itemStatus reads one item's status, reason and override flag.
func itemStatus(t testing.TB, path string, kind tracker.Kind, id int64) db.Item {
	t.Helper()
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var it db.Item
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		it, err = tx.GetItem(kind, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// allowGatekeeper passes every item, citing evidence row 7.
type allowGatekeeper struct{ calls int }

func (g *allowGatekeeper) Check(_ context.Context, _ tracker.Kind, ids []int64, _ tracker.Status) ([]tracker.GateVerdict, error) {
	g.calls++
	out := make([]tracker.GateVerdict, len(ids))
	for i, id := range ids {
		out[i] = tracker.GateVerdict{ID: id, OK: true, Detail: "all gates pass", EvidenceIDs: []int64{7}}
	}
	return out, nil
}

// failingGatekeeper cannot run its gates at all.
type failingGatekeeper struct{}

func (failingGatekeeper) Check(context.Context, tracker.Kind, []int64, tracker.Status) ([]tracker.GateVerdict, error) {
	return nil, errors.New("go toolchain not found")
}

// sqlOpenRaw opens any SQLite file without the tracker's checks.
func sqlOpenRaw(path string) (*sql.DB, error) { return sql.Open("sqlite", path) }
