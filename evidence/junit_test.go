package evidence

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadJUnit(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "junit", "dotnet.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	results, err := ReadJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 5 {
		t.Fatalf("%d results, want 5 (nested suites included): %+v", len(results), results)
	}
	got := MatchResults(results, []string{
		"Store.Tests.SequenceSetTests.Basics",
		"Store.Tests.SequenceSetTests.Insert",
		"Store.Tests.SequenceSetTests.Delete",
		"Store.Tests.FileStoreTests.Compact",
		"Store.Tests.FileStoreTests.Purge",
		"Store.Tests.FileStoreTests.Missing",
	})
	want := []struct {
		verdict Verdict
		detail  string
	}{
		{Pass, "passed"},
		{Fail, "failed: Assert.Equal() Failure"},
		{Skip, "skipped: needs the fixture"},
		{Fail, "error: System.NotImplementedException"},
		{Pass, "passed"},
		{Missing, "no result"},
	}
	for i, w := range want {
		if got[i].Verdict != w.verdict {
			t.Errorf("%s: %s, want %s", got[i].Name, got[i].Verdict, w.verdict)
		}
		mustContain(t, got[i].Name+" detail", got[i].Detail, w.detail)
	}
	if got[1].Elapsed != 250*time.Millisecond {
		t.Errorf("Insert elapsed %s", got[1].Elapsed)
	}
	mustContain(t, "Insert output", got[1].Output, "inserting 3 values")

	if _, err := ReadJUnit(strings.NewReader("<html/>")); err == nil {
		t.Error("a non-JUnit document was accepted")
	}
	single, err := ReadJUnit(strings.NewReader(`<testsuite><testcase name="A"/></testsuite>`))
	if err != nil || len(single) != 1 || single[0].Name != "A" {
		t.Errorf("single-suite report: %+v, %v", single, err)
	}
}

func TestScanText(t *testing.T) {
	re, err := CompileStubPatterns(`NotImplementedException|TODO|PLACEHOLDER`)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "dotnet", "SequenceSet.cs")
	all, err := ScanText(path, 1, 0, re)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Line != 14 || all[0].Match != "NotImplementedException" || all[1].Line != 19 || all[1].Match != "TODO" {
		t.Fatalf("findings %+v", all)
	}
	// The item's region only: Insert (lines 7-10) is clean.
	insert, err := ScanText(path, 7, 10, re)
	if err != nil || len(insert) != 0 {
		t.Errorf("Insert region: %+v, %v", insert, err)
	}
	for _, bad := range []string{"", "(", "a|"} {
		if _, err := CompileStubPatterns(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestCompressRoundTrip(t *testing.T) {
	log := []byte(strings.Repeat("=== RUN   TestFileStoreCompact\n--- PASS: TestFileStoreCompact (0.01s)\n", 500))
	c := Compress(log)
	if len(c) >= len(log)/10 {
		t.Errorf("compressed %d -> %d bytes", len(log), len(c))
	}
	back, err := Decompress(c)
	if err != nil || string(back) != string(log) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := Decompress([]byte("not zstd")); err == nil {
		t.Error("garbage decompressed")
	}
	empty, err := Decompress(Compress(nil))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty round trip: %q %v", empty, err)
	}
}
