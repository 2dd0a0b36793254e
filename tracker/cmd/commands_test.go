package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// TestIssueCommandLines runs the command lines our users script, exactly as
// written, against a seeded porting.db in the working directory. Until the
// evidence gates land, moves into complete and verified must be refused
// honestly and write nothing.
func TestIssueCommandLines(t *testing.T) {
	path := smallDB(t)
	t.Chdir(filepath.Dir(path))
	cases := []struct {
		line       string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErr    []string // substrings of stderr
		writesNone bool
	}{
		{`porttracker batch show 15 --db porting.db`, 0,
			[]string{"batch 15  MsgBlock + ConsumerFileStore", "14 FileStore Write/Lifecycle (complete)", "6 total: deferred 1, stub 5",
				"951\t(*msgBlock).compact\tstub\tserver/filestore.go:5100\tstore.(*msgBlock).compact\tstore/block.go:510",
				"Tests that exercise this batch", "400\tTestFileStoreMsgBlockScan"}, nil, true},
		{`porttracker batch ready --db porting.db`, 0, []string{"15\tMsgBlock + ConsumerFileStore\tpending\t14\t0/6\t0/2\t0"}, nil, true},
		{`porttracker batch start 15 --db porting.db`, 0, []string{"batch 15 MsgBlock + ConsumerFileStore: pending -> started"},
			[]string{"dry run"}, true},
		{`porttracker feature show 951 --db porting.db`, 0,
			[]string{"feature 951  (*msgBlock).compact", "server/filestore.go:5100-5120", "func (mb *msgBlock) compact() error",
				"store/block.go:510", "368\tTestFileStoreCompact\tstub\tcoverage", "400\tTestFileStoreMsgBlockScan\tdeferred\tstatic",
				"\tseed\tstatus\tdeferred\tstub"}, nil, true},
		{`porttracker feature batch-update --ids "951,952,953,954,971" --set-status complete --db porting.db --execute`, 1,
			[]string{"951\t(*msgBlock).compact\tstub\tcomplete\trefused"},
			[]string{"refused, nothing written: 5 problem(s)", "no build/stub evidence: run porttracker evidence run --features 951",
				"feature 971 (*consumerFileStore).Update: no build/stub evidence"}, true},
		{`porttracker feature update 1259 --status deferred --db porting.db --override "blocked: requires <dependency> for non-stub implementation"`, 0,
			[]string{"1259\t(*consumerFileStore).encryptState\tdeferred\tdeferred\toverride"}, []string{"dry run: would update 1 features"}, true},
		{`porttracker test batch-update --ids "368,373" --set-status verified --db porting.db --execute`, 1, nil,
			[]string{"no build/stub/test/gut evidence: run porttracker evidence run --tests 368"}, true},
		{`porttracker report summary --db porting.db`, 0,
			[]string{"features\t15\t7\t5\t0\t1\t1\t1\t6", "13\tFileStore Read/Query\tcomplete\t-\t3/3\t1/1\t1"}, nil, true},
		{`porttracker batch complete 15 --db porting.db`, 1, nil,
			[]string{"cannot complete batch 15", "batch 15 is not started", "1 feature(s) still deferred: 1259", "5 feature(s) still stub: 951-954,971"}, true},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			args := splitCommandLine(t, c.line)[1:]
			before := dump(t, path)
			r := run(t, args...)
			if r.code != c.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.wantCode, r.stdout, r.stderr)
			}
			for _, s := range c.wantOut {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range c.wantErr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if after := dump(t, path); c.writesNone && after != before {
				t.Errorf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	checkDB(t, path)
}

// splitCommandLine splits like a shell for the simple quoting used above.
func splitCommandLine(t *testing.T, line string) []string {
	t.Helper()
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote, have = !inQuote, true
		case r == ' ' && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQuote {
		t.Fatalf("unbalanced quotes in %q", line)
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

func TestSplitCommandLine(t *testing.T) {
	got := splitCommandLine(t, `a --ids "1,2" --x "two words" ""`)
	want := []string{"a", "--ids", "1,2", "--x", "two words", ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

// TestBadInputLeavesDatabaseUntouched: every bad input gets a clear error,
// the documented exit code, and a byte-for-byte identical database dump.
func TestBadInputLeavesDatabaseUntouched(t *testing.T) {
	cases := []struct {
		name    string
		setup   [][]string // commands run (and required to succeed) before the dump
		args    []string
		code    int
		wantErr string
	}{
		{"ids letters", nil, []string{"feature", "batch-update", "--ids", "abc", "--set-status", "stub", "--execute"}, 2, `"abc" is not a positive integer`},
		{"ids empty element", nil, []string{"feature", "batch-update", "--ids", "1,,2", "--set-status", "stub", "--execute"}, 2, "empty element"},
		{"ids backwards range", nil, []string{"feature", "batch-update", "--ids", "9-3", "--set-status", "stub", "--execute"}, 2, `range "9-3" runs backwards`},
		{"16 ids", nil, []string{"feature", "batch-update", "--ids", "951-954,960-965,100-102,971,1259,1", "--set-status", "n_a", "--reason", "x", "--execute"}, 1,
			"16 IDs given, the policy allows at most 15"},
		{"unknown id among known", nil, []string{"feature", "batch-update", "--ids", "951,952,99999", "--set-status", "n_a", "--reason", "x", "--execute"}, 1,
			"unknown feature ID(s): 99999"},
		{"unknown single id", nil, []string{"feature", "update", "424242", "--status", "n_a", "--reason", "x", "--execute"}, 1, "unknown feature ID(s): 424242"},
		{"invalid status", nil, []string{"feature", "batch-update", "--ids", "951", "--set-status", "done", "--execute"}, 2,
			`invalid status "done": want one of deferred, stub, complete, verified, n_a`},
		{"deferred without reason", nil, []string{"feature", "update", "951", "--status", "deferred", "--execute"}, 2, "moving to deferred needs --reason"},
		{"n_a without reason", nil, []string{"test", "batch-update", "--ids", "368,373", "--set-status", "n_a", "--execute"}, 2, "moving to n_a needs --reason"},
		{"empty override", nil, []string{"feature", "update", "951", "--status", "complete", "--override", "", "--execute"}, 2, "--override needs a reason"},
		{"reason and override", nil, []string{"feature", "update", "951", "--status", "n_a", "--reason", "a", "--override", "b", "--execute"}, 2, "not both"},
		{"update without status", nil, []string{"feature", "update", "951", "--execute"}, 2, "update needs --status"},
		{"update bad id", nil, []string{"feature", "update", "x1", "--status", "stub"}, 2, `invalid ID "x1"`},
		{"complete refused by gate", nil, []string{"feature", "update", "951", "--status", "complete", "--execute"}, 1, "no build/stub evidence"},
		{"stub without resolved target", nil, []string{"feature", "update", "960", "--status", "stub", "--execute"}, 1, "target not resolved"},
		{"start batch with open dependency", nil, []string{"batch", "start", "16", "--execute"}, 1,
			`depends on batch 15 "MsgBlock + ConsumerFileStore", which is pending`},
		{"start started batch", [][]string{{"batch", "start", "15", "--execute"}}, []string{"batch", "start", "15", "--execute"}, 1, "already started"},
		{"complete batch with deferred items", [][]string{{"batch", "start", "15", "--execute"}}, []string{"batch", "complete", "15", "--execute"}, 1,
			"1 feature(s) still deferred: 1259"},
		{"unknown batch", nil, []string{"batch", "show", "99"}, 1, "batch 99 does not exist"},
		{"batch id not a number", nil, []string{"batch", "show", "fifteen"}, 2, `invalid ID "fifteen"`},
		{"batch create duplicate name", nil, []string{"batch", "create", "--name", "Cluster", "--execute"}, 1, `a batch named "Cluster" already exists`},
		{"batch create unknown dependency", nil, []string{"batch", "create", "--name", "X", "--depends-on", "77", "--execute"}, 1, "dependency batch 77 does not exist"},
		{"assign already batched", nil, []string{"batch", "assign", "--batch", "16", "--features", "951,960", "--execute"}, 1, "feature 951 is already in batch 15"},
		{"move without reason", nil, []string{"batch", "move", "--features", "1259", "--to", "16", "--execute"}, 2, "needs --reason"},
		{"move into complete batch", nil, []string{"batch", "move", "--features", "1259", "--to", "13", "--reason", "x", "--execute"}, 1,
			"batch 13 is complete and only takes verified or n_a items"},
		{"map without target", nil, []string{"feature", "map", "951", "--execute"}, 2, "map needs --target"},
		{"unknown flag", nil, []string{"feature", "update", "951", "--statuz", "stub"}, 2, "unknown flag: --statuz"},
		{"unknown verb", nil, []string{"batch", "explode"}, 2, `unknown command "explode"`},
		{"extra argument", nil, []string{"report", "summary", "now"}, 2, "takes no arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := smallDB(t)
			for _, s := range c.setup {
				if r := run(t, append(s, "--db", path)...); r.code != 0 {
					t.Fatalf("setup %q exited %d: %s", s, r.code, r.stderr)
				}
			}
			before := dump(t, path)
			r := run(t, append(c.args, "--db", path)...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, c.code, r.stderr)
			}
			if !strings.Contains(r.stderr, c.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", c.wantErr, r.stderr)
			}
			if after := dump(t, path); after != before {
				t.Errorf("a refused command changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestUnusableDatabase: --db at a missing, corrupt, foreign or newer file is
// exit 3 with a clear message, and the file is neither created nor touched.
func TestUnusableDatabase(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.db")
	if err := os.WriteFile(corrupt, []byte(strings.Repeat("garbage!", 512)), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	makeSQLite(t, foreign, "PRAGMA application_id = 7", "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)")
	newer := smallDB(t)
	makeSQLite(t, newer, "PRAGMA user_version = 42")
	missing := filepath.Join(dir, "missing.db")

	commands := [][]string{
		{"report", "summary"},
		{"feature", "show", "951"},
		{"feature", "batch-update", "--ids", "951", "--set-status", "n_a", "--reason", "x", "--execute"},
		{"db", "check"},
		{"db", "vacuum"},
	}
	cases := []struct {
		name, path, want string
	}{
		{"missing", missing, "database file does not exist (create one with `porttracker db init"},
		{"corrupt", corrupt, "corrupt or not a SQLite database"},
		{"other application", foreign, "belongs to another application (application_id is 0x7"},
		{"newer schema", newer, "schema version 42, this binary knows up to"},
	}
	for _, c := range cases {
		for _, args := range commands {
			t.Run(c.name+"/"+strings.Join(args[:2], " "), func(t *testing.T) {
				before, _ := os.ReadFile(c.path)
				r := run(t, append(args, "--db", c.path)...)
				if r.code != ExitDatabase {
					t.Fatalf("exit %d, want 3\nstderr: %s", r.code, r.stderr)
				}
				if !strings.Contains(r.stderr, c.want) {
					t.Errorf("stderr lacks %q: %s", c.want, r.stderr)
				}
				after, _ := os.ReadFile(c.path)
				if string(before) != string(after) {
					t.Errorf("the refused file changed")
				}
			})
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a command created %s", missing)
	}
	// The env default is honoured too.
	r := runWith(t, runOpts{env: map[string]string{EnvDB: missing}}, "report", "summary")
	if r.code != ExitDatabase || !strings.Contains(r.stderr, missing) {
		t.Errorf("PORTTRACKER_DB not used: exit %d, %s", r.code, r.stderr)
	}
}

// makeSQLite runs statements against a raw SQLite file, bypassing the
// tracker (to build foreign or future files).
func makeSQLite(t *testing.T, path string, stmts ...string) {
	t.Helper()
	sqldb, err := sqlOpenRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	for _, s := range stmts {
		if _, err := sqldb.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestDBInit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	r := run(t, "db", "init", "--db", path)
	if r.code != 0 || !strings.Contains(r.stdout, "created "+path) {
		t.Fatalf("db init: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "db", "init", "--db", path)
	if r.code != ExitDatabase || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("second db init: %d %s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"db", "check"}, {"db", "migrate"}, {"db", "vacuum"}, {"report", "summary"}, {"batch", "list"}} {
		if r := run(t, append(args, "--db", path)...); r.code != 0 {
			t.Errorf("%v on a fresh db: exit %d %s", args, r.code, r.stderr)
		}
	}
	r = run(t, "db", "migrate", "--db", path)
	if v := db.LatestVersion(); !strings.Contains(r.stdout, fmt.Sprintf("schema version %d (latest %d)", v, v)) {
		t.Errorf("db migrate output %q", r.stdout)
	}
	r = run(t, "db", "check", "--db", path, "--json")
	var chk checkExport
	if err := json.Unmarshal([]byte(r.stdout), &chk); err != nil || !chk.OK || len(chk.Problems) != 0 {
		t.Errorf("db check --json = %q (%v)", r.stdout, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); !os.IsNotExist(err) {
			t.Errorf("%s left behind after the commands closed", suffix)
		}
	}
}

func TestDBCheckReportsTampering(t *testing.T) {
	path := smallDB(t)
	makeSQLite(t, path, "UPDATE items SET status = 'verified' WHERE kind = 'feature' AND id = 951")
	r := run(t, "db", "check", "--db", path)
	if r.code != ExitRefused || !strings.Contains(r.stderr, "feature 951 is verified but its audit history ends at stub") {
		t.Fatalf("db check after tampering: %d\n%s", r.code, r.stderr)
	}
	r = run(t, "db", "check", "--db", path, "--json")
	var chk checkExport
	if err := json.Unmarshal([]byte(r.stdout), &chk); err != nil || chk.OK || len(chk.Problems) != 1 {
		t.Fatalf("db check --json = %q", r.stdout)
	}
}

// jsonKeys lists the keys of a JSON object, or of the first element of an
// array of objects, sorted.
func jsonKeys(t *testing.T, out string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", out, err)
	}
	if arr, ok := v.([]any); ok {
		if len(arr) == 0 {
			t.Fatalf("empty JSON array, cannot check fields")
		}
		v = arr[0]
	}
	obj, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("JSON is not an object: %q", out)
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var itemFields = "batch_id body_hash end_line file id kind name override package ported_hash reason receiver removed signature " +
	"start_line status symkey target target_file target_line target_manual target_pkg drifted"

// TestJSONFields pins every read command's exported field list: scripts
// depend on these names, so a change must be deliberate.
func TestJSONFields(t *testing.T) {
	path := smallDB(t)
	sorted := func(s string) string {
		f := strings.Fields(s)
		sort.Strings(f)
		return strings.Join(f, " ")
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"feature", "list", "--batch", "15"}, itemFields},
		{[]string{"test", "list"}, itemFields},
		{[]string{"feature", "show", "951"}, itemFields + " batch links evidence history"},
		{[]string{"batch", "list"}, "id name state depends_on features tests"},
		{[]string{"batch", "ready"}, "id name state depends_on features tests"},
		{[]string{"batch", "show", "15"}, "batch dependencies feature_counts test_counts overrides features tests exercising_tests"},
		{[]string{"report", "summary"}, "meta kinds batches audit_head stale_checked"},
		{[]string{"db", "check"}, "ok problems"},
		{[]string{"version"}, "version schema_version go_version"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := run(t, append(c.args, "--db", path, "--json")...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := strings.Join(jsonKeys(t, r.stdout), " "); got != sorted(c.want) {
				t.Errorf("fields\n got: %s\nwant: %s", got, sorted(c.want))
			}
		})
	}
	// Nested shapes scripts read.
	r := run(t, "feature", "show", "951", "--db", path, "--json")
	var show struct {
		Links   []map[string]any `json:"links"`
		History []map[string]any `json:"history"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &show); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(show.Links[0]); got != "id source status symbol" {
		t.Errorf("links fields %q", got)
	}
	if got := keysOf(show.History[0]); got != "action actor argv at evidence_ids from id item_id kind override reason to" {
		t.Errorf("history fields %q", got)
	}
	r = run(t, "report", "summary", "--db", path, "--json")
	var sum struct {
		Kinds   []map[string]any `json:"kinds"`
		Batches []map[string]any `json:"batches"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(sum.Kinds[0]); got != "drifted honest kind not_planned override removed stale total" {
		t.Errorf("summary kind fields %q", got)
	}
	if got := keysOf(sum.Kinds[0]["honest"].(map[string]any)); got != "complete deferred n_a stub verified" {
		t.Errorf("status count fields %q", got)
	}
	if got := keysOf(sum.Batches[0]); got != "depends_on features id name state tests" {
		t.Errorf("summary batch fields %q", got)
	}
}

func keysOf(m map[string]any) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// TestLayouts: a terminal gets bordered tables with headers; a pipe gets
// tab-separated lines without decoration.
func TestLayouts(t *testing.T) {
	path := smallDB(t)
	for _, args := range [][]string{{"feature", "list", "--batch", "15"}, {"batch", "list"}, {"report", "summary"}, {"batch", "show", "15"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			tty := runWith(t, runOpts{tty: true}, append(args, "--db", path)...)
			piped := run(t, append(args, "--db", path)...)
			if tty.code != 0 || piped.code != 0 {
				t.Fatalf("exit %d/%d", tty.code, piped.code)
			}
			if !strings.Contains(tty.stdout, "│") || !strings.Contains(tty.stdout, "ID") && !strings.Contains(tty.stdout, "KIND") {
				t.Errorf("TTY layout has no table:\n%s", tty.stdout)
			}
			if strings.Contains(piped.stdout, "│") || strings.Contains(piped.stdout, "─") {
				t.Errorf("piped layout has table borders:\n%s", piped.stdout)
			}
			if !strings.Contains(piped.stdout, "\t") {
				t.Errorf("piped layout is not tab-separated:\n%s", piped.stdout)
			}
		})
	}
	r := runWith(t, runOpts{tty: true}, "feature", "list", "--batch", "15", "--db", path)
	if !strings.Contains(r.stdout, "6 features") {
		t.Errorf("TTY list lacks its count line:\n%s", r.stdout)
	}
}

func TestItemListFilters(t *testing.T) {
	path := smallDB(t)
	cases := []struct {
		args []string
		want string // IDs, comma-separated
	}{
		{[]string{"feature", "list", "--batch", "15"}, "951,952,953,954,971,1259"},
		{[]string{"feature", "list", "--status", "verified"}, "100,101"},
		{[]string{"feature", "list", "--name", "MSGBLOCK"}, "951,952,953,954"},
		{[]string{"feature", "list", "--name", "step96"}, "960,961,962,963,964,965"},
		{[]string{"test", "list", "--file", "filestore_test.go"}, "10,368,373,400"},
		{[]string{"test", "list", "--file", "server/filestore_test.go", "--batch", "15"}, "368,373"},
		{[]string{"test", "list", "--file", "other.go"}, ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := run(t, append(c.args, "--db", path, "--json")...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var items []db.Item
			if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range items {
				ids = append(ids, tracker.FormatIDs([]int64{it.ID}))
			}
			if got := strings.Join(ids, ","); got != c.want {
				t.Errorf("IDs %q, want %q", got, c.want)
			}
		})
	}
	if r := run(t, "feature", "list", "--status", "bogus", "--db", path); r.code != ExitUsage {
		t.Errorf("list --status bogus exit %d", r.code)
	}
	if r := run(t, "feature", "list", "--batch", "99", "--db", path); r.code != ExitRefused {
		t.Errorf("list --batch 99 exit %d", r.code)
	}
}

// TestFlagParsing checks flags reach the options without running anything.
func TestFlagParsing(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios, func(string) string { return "" }, nil)

	var upd *ItemUpdateOptions
	c := newCmdItemBatchUpdate(f, tracker.KindTest, func(o *ItemUpdateOptions) error { upd = o; return nil })
	c.SetArgs([]string{"--ids", "1,2,5-9", "--set-status", "n_a", "--reason", "server", "--execute"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if upd.Kind != tracker.KindTest || !reflect.DeepEqual(upd.IDs, []int64{1, 2, 5, 6, 7, 8, 9}) || upd.Status != tracker.StatusNA ||
		upd.Reason != "server" || !upd.Execute {
		t.Errorf("batch-update options %+v", upd)
	}

	var mv *BatchMoveOptions
	c = newCmdBatchMove(f, func(o *BatchMoveOptions) error { mv = o; return nil })
	c.SetArgs([]string{"--features", "3-4", "--tests", "9", "--to", "none", "--reason", "later"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if mv.BatchID != 0 || !reflect.DeepEqual(mv.Features, []int64{3, 4}) || !reflect.DeepEqual(mv.Tests, []int64{9}) || mv.Execute {
		t.Errorf("move options %+v", mv)
	}

	var cr *BatchCreateOptions
	c = newCmdBatchCreate(f, func(o *BatchCreateOptions) error { cr = o; return nil })
	c.SetArgs([]string{"--name", "X", "--depends-on", "13,14", "--id", "20"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if cr.ID != 20 || cr.Name != "X" || !reflect.DeepEqual(cr.DependsOn, []int64{13, 14}) {
		t.Errorf("create options %+v", cr)
	}

	var show *ItemShowOptions
	c = newCmdItemShow(f, tracker.KindFeature, func(o *ItemShowOptions) error { show = o; return nil })
	c.SetArgs([]string{"951", "--json"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if show.ID != 951 || !show.JSON {
		t.Errorf("show options %+v", show)
	}

	var mp *ItemMapOptions
	c = newCmdItemMap(f, tracker.KindFeature, func(o *ItemMapOptions) error { mp = o; return nil })
	c.SetArgs([]string{"7", "--target", "store.X", "--target-pkg", "./store"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if mp.ID != 7 || mp.Target != "store.X" || mp.TargetPkg != "./store" || mp.Execute {
		t.Errorf("map options %+v", mp)
	}
}

func TestFactoryEnvironment(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	env := map[string]string{EnvDB: "/x/p.db", "USER": "bob", EnvPauseInWrite: "250ms"}
	f := NewFactory(ios, func(k string) string { return env[k] }, []string{"porttracker"})
	if f.DBPath != "/x/p.db" || f.Actor != "bob" || f.PauseInWrite.Milliseconds() != 250 {
		t.Errorf("factory %+v", f)
	}
	env[EnvActor] = "ci"
	if f := NewFactory(ios, func(k string) string { return env[k] }, nil); f.Actor != "ci" {
		t.Errorf("PORTTRACKER_ACTOR ignored: %q", f.Actor)
	}
	if f := NewFactory(ios, func(string) string { return "" }, nil); f.Actor != "unknown" || f.DBPath != DefaultDBPath {
		t.Errorf("defaults: %q %q", f.Actor, f.DBPath)
	}
}

func TestRootHelpDocumentsExitCodes(t *testing.T) {
	r := run(t, "--help")
	for _, s := range []string{"Exit codes:", "0  ok", "1  refused", "2  usage error", "3  database missing"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("root --help lacks %q", s)
		}
	}
	if r.code != 0 {
		t.Errorf("--help exit %d", r.code)
	}
	r = run(t, "version")
	if !strings.HasPrefix(r.stdout, fmt.Sprintf("porttracker dev (schema %d,", db.LatestVersion())) {
		t.Errorf("version output %q", r.stdout)
	}
	r = run(t, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "porttracker") {
		t.Errorf("completion bash: %d", r.code)
	}
}

func TestExitCodeMapping(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{tracker.Refusedf("no"), 1},
		{tracker.Usagef("bad"), 2},
		{&db.OpenError{Path: "x", Kind: db.ErrCorrupt}, 3},
		{os.ErrPermission, 1},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
