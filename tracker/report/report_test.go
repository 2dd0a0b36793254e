package report

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/internal/seed"
)

func openSeeded(t *testing.T) *db.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "porting.db")
	if err := seed.Small(path); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSummarize(t *testing.T) {
	d := openSeeded(t)
	s, err := Summarize(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	f := s.Kind(tracker.KindFeature)
	if f.Total != 15 || f.Honest.Stub != 5 || f.Honest.Verified != 1 || f.Override.Verified != 1 || f.Honest.NA != 1 ||
		f.NotPlanned != 6 || f.Honest.Total()+f.Override.Total() != f.Total {
		t.Errorf("feature totals %+v", f)
	}
	if k := s.Kind("nothing"); k.Total != 0 {
		t.Errorf("unknown kind %+v", k)
	}
	if len(s.Batches) != 4 || s.Batches[2].ID != 15 || s.Batches[2].Features.Total != 6 || s.Batches[0].Features.Done != 3 ||
		s.Batches[0].Features.Overrides != 1 || s.Batches[0].Tests.Done != 1 {
		t.Errorf("batches %+v", s.Batches)
	}
	if s.AuditHead.ID == 0 || s.Meta["upstream_version"] != "v2.14.5" {
		t.Errorf("head %+v meta %v", s.AuditHead, s.Meta)
	}
	if err := s.AddStale(context.Background(), d, nil); err != nil || s.StaleChecked {
		t.Errorf("nil counter: %v %v", err, s.StaleChecked)
	}
}

func TestStatusCountsGet(t *testing.T) {
	var c StatusCounts
	for i, st := range tracker.Statuses {
		c.add(st, int64(i+1))
	}
	for i, st := range tracker.Statuses {
		if c.Get(st) != int64(i+1) {
			t.Errorf("Get(%s) = %d", st, c.Get(st))
		}
	}
	if c.Get("bogus") != 0 || c.Total() != 15 {
		t.Errorf("Get(bogus) = %d, Total = %d", c.Get("bogus"), c.Total())
	}
}

func TestMarkdownHelpers(t *testing.T) {
	if got := mdCell("a|b\nc`d"); got != `a\|b c'd` {
		t.Errorf("mdCell = %q", got)
	}
	if got := countIDs([]int64{1, 2, 3, 9}); got != "4: 1-3,9" {
		t.Errorf("countIDs = %q", got)
	}
	if countIDs(nil) != "-" || orDash("") != "-" || batchRef(0) != "" || batchRef(4) != "4" || symbol("*T", "m") != "(*T).m" {
		t.Error("small helpers")
	}
}

func TestWriteMarkdownEmptyDatabase(t *testing.T) {
	d, err := db.Create(filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, det, err := Collect(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, s, det); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No batches yet.", "Deferred and in no batch: 0 features, 0 tests.", "## Overrides\n\nNone."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}
