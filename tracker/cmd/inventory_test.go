package cmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

func invSorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// invRun runs porttracker with args against dbPath and returns the exit
// code, stdout and stderr.
func invRun(t *testing.T, dbPath string, args ...string) (int, string, string) {
	t.Helper()
	return invRunTTY(t, dbPath, false, args...)
}

// invRunTTY is invRun with stdout on a terminal or not.
func invRunTTY(t *testing.T, dbPath string, tty bool, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(tty)
	getenv := func(k string) string {
		switch k {
		case EnvDB:
			return dbPath
		case EnvActor:
			return "inventory-test"
		}
		return ""
	}
	f := NewFactory(ios, getenv, append([]string{"porttracker"}, args...))
	code := Execute(f, args)
	return code, out.String(), errOut.String()
}

func invFixture(name string) string {
	return filepath.Join("..", "inventory", "testdata", name)
}

func invMustRun(t *testing.T, dbPath string, args ...string) string {
	t.Helper()
	code, out, errOut := invRun(t, dbPath, args...)
	if code != 0 {
		t.Fatalf("porttracker %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out
}

func TestInventoryScanAndDriftOnFixtureTrees(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "porting.db")
	invMustRun(t, dbPath, "db", "init")

	out := invMustRun(t, dbPath, "inventory", "scan", invFixture("v1"), "--version", "v1")
	if !strings.Contains(out, "features\t6\t0\t0\t0\t0\t0\t0") || !strings.Contains(out, "dry run: nothing written") {
		t.Fatalf("dry run output:\n%s", out)
	}
	out = invMustRun(t, dbPath, "inventory", "scan", invFixture("v1"), "--version", "v1", "--execute")
	if !strings.Contains(out, `meta upstream_module: "" -> "example.com/fixture"`) || !strings.HasSuffix(out, "written\n") {
		t.Fatalf("execute output:\n%s", out)
	}
	out = invMustRun(t, dbPath, "inventory", "scan", invFixture("v1"), "--version", "v1", "--execute")
	if !strings.Contains(out, "no change: nothing to write") {
		t.Fatalf("rescan of the same tree:\n%s", out)
	}
	var scan map[string]any
	out = invMustRun(t, dbPath, "inventory", "scan", invFixture("v1"), "--json")
	if err := json.Unmarshal([]byte(out), &scan); err != nil {
		t.Fatalf("scan --json: %v\n%s", err, out)
	}
	var keys []string
	for k := range scan {
		keys = append(keys, k)
	}
	if got := strings.Join(invSorted(keys), ","); got != "broken,changes,dir,features,files,lines,meta,scan_ms,tests,written" {
		t.Errorf("scan --json fields %s", got)
	}

	// Port (*store).Store (feature 1) to stub, then upstream changes its body.
	invMustRun(t, dbPath, "inventory", "drift") // works on an empty drift list
	setStub(t, dbPath, 1)
	out = invMustRun(t, dbPath, "inventory", "scan", invFixture("v2"), "--version", "v2", "--execute")
	for _, want := range []string{"features\t1\t4\t1\t1\t0\t1\t1", "drift    feature 1      (*store).Store", "removed  feature 3      oldName"} {
		if !strings.Contains(out, want) {
			t.Errorf("v2 scan output lacks %q:\n%s", want, out)
		}
	}

	out = invMustRun(t, dbPath, "inventory", "drift")
	fields := strings.Split(strings.TrimSpace(out), "\t")
	if len(fields) != 7 || fields[0] != "feature" || fields[1] != "1" || fields[2] != "(*store).Store" ||
		fields[3] != "server/a.go:6" || fields[4] == fields[5] || fields[6] != "stub" {
		t.Fatalf("drift (piped layout) = %q", out)
	}
	if code, out, _ := invRunTTY(t, dbPath, true, "inventory", "drift"); code != 0 ||
		!strings.Contains(out, "OLD HASH") || !strings.Contains(out, "(*store).Store") || !strings.Contains(out, "│") {
		t.Errorf("drift (terminal layout): exit %d\n%s", code, out)
	}
	var rows []map[string]any
	out = invMustRun(t, dbPath, "inventory", "drift", "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("drift --json: %v\n%s", err, out)
	}
	keys = nil
	for k := range rows[0] {
		keys = append(keys, k)
	}
	if got := strings.Join(invSorted(keys), ","); got != "id,kind,location,new_hash,old_hash,removed,status,symbol" {
		t.Errorf("drift --json fields %s", got)
	}
	if rows[0]["old_hash"] == rows[0]["new_hash"] || rows[0]["location"] != "server/a.go:6" {
		t.Errorf("drift row %v", rows[0])
	}
}

func setStub(t *testing.T, dbPath string, id int64) {
	t.Helper()
	d, err := db.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Write(context.Background(), func(tx *db.Tx) error {
		it, err := tx.GetItem(tracker.KindFeature, id)
		if err != nil {
			return err
		}
		return tx.SetItemStatus(it, db.StatusChange{To: tracker.StatusStub})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestInventoryScanErrors(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "porting.db")
	invMustRun(t, dbPath, "db", "init")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing dir", []string{"inventory", "scan", invFixture("nope")}, 1, "upstream directory"},
		{"no go files", []string{"inventory", "scan", invFixture("empty")}, 1, "no Go files"},
		{"no dir argument", []string{"inventory", "scan"}, 2, "needs the upstream directory"},
		{"plan without upstream", []string{"inventory", "plan", "apply", invFixture("plans/basic.json")}, 2, "needs the scanned upstream tree"},
		{"missing database", []string{"inventory", "drift", "--db", filepath.Join(t.TempDir(), "none.db")}, 3, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := invRun(t, dbPath, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tc.code, tc.want)
			}
		})
	}
}

func TestInventoryPlanApplyAndResolveCommands(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "porting.db")
	invMustRun(t, dbPath, "db", "init")
	invMustRun(t, dbPath, "inventory", "scan", invFixture("basic"), "--execute")
	args := []string{"inventory", "plan", "apply", invFixture("plans/basic.json"), "--upstream", invFixture("basic"), "--list"}
	out := invMustRun(t, dbPath, args...)
	for _, want := range []string{"1\tBlocks\t[]\t3\t1", "2\tTrees\t[1]\t4\t0", "n_a 1: describes blocks in text",
		"TestTree (TestTree calls describe)", "dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan apply output lacks %q:\n%s", want, out)
		}
	}
	out = invMustRun(t, dbPath, append(args, "--execute")...)
	if !strings.HasSuffix(out, "written\n") {
		t.Errorf("plan apply --execute:\n%s", out)
	}
	out = invMustRun(t, dbPath, append(args, "--execute")...)
	if !strings.Contains(out, "no change") {
		t.Errorf("second plan apply:\n%s", out)
	}
	// This repository has no ./store/Block: resolve finds nothing to map in
	// the fixture but still records target_pkg for batched items.
	out = invMustRun(t, dbPath, "inventory", "resolve", "--repo", ".", "--target", "./tracker/inventory/testdata/basic/server/...")
	if !strings.Contains(out, "dry run") {
		t.Errorf("resolve output:\n%s", out)
	}
}

func TestFeatureShowSource(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "porting.db")
	invMustRun(t, dbPath, "db", "init")
	invMustRun(t, dbPath, "inventory", "scan", invFixture("basic"), "--execute")
	// Feature 5 is (*Block).Grow, server/store.go:10 (IDs follow file order).
	out := invMustRun(t, dbPath, "feature", "show", "5", "--source", "--upstream", invFixture("basic"))
	for _, want := range []string{"Upstream source (server/store.go:10)", "func (b *Block) Grow(by int) {\n\tb.n += by // comments never count\n}",
		"Target source (-)", "not resolved"} {
		if !strings.Contains(out, want) {
			t.Errorf("feature show --source lacks %q:\n%s", want, out)
		}
	}
	out = invMustRun(t, dbPath, "feature", "show", "5", "--source")
	if !strings.Contains(out, "pass --upstream DIR or set "+EnvUpstream) {
		t.Errorf("without an upstream tree:\n%s", out)
	}
	if code, _, errOut := invRun(t, dbPath, "feature", "show", "5", "--source", "--json"); code != 2 || !strings.Contains(errOut, "--source") {
		t.Errorf("--source --json: exit %d %q, want a usage error", code, errOut)
	}
}
