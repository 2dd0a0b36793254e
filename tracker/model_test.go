package tracker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseIDs(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []int64
		wantErr string
	}{
		{"single", "951", []int64{951}, ""},
		{"list", "951,952,953,954,971", []int64{951, 952, 953, 954, 971}, ""},
		{"range", "1,2,5-9", []int64{1, 2, 5, 6, 7, 8, 9}, ""},
		{"spaces", " 3 , 4-5 ", []int64{3, 4, 5}, ""},
		{"one-element range", "7-7", []int64{7}, ""},
		{"letters", "abc", nil, `"abc" is not a positive integer`},
		{"empty element", "1,,2", nil, "empty element"},
		{"trailing comma", "1,2,", nil, "empty element"},
		{"backwards range", "9-3", nil, `range "9-3" runs backwards`},
		{"empty", "", nil, "empty ID list"},
		{"zero", "0", nil, "not a positive integer"},
		{"negative", "-3", nil, "not a positive integer"},
		{"duplicate", "4,2-4", nil, "ID 4 listed twice"},
		{"half range", "5-", nil, "not a positive integer"},
		{"huge range", "1-999999999", nil, "too large"},
		{"float", "1.5", nil, "not a positive integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseIDs(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, ErrUsage) {
					t.Fatalf("ParseIDs(%q) = %v, %v; want usage error containing %q", c.in, got, err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ParseIDs(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
}

func TestParseIDsCapsTotal(t *testing.T) {
	// Many small ranges that together exceed the cap.
	var parts []string
	for i := 0; i < 3; i++ {
		lo := i*60000 + 1
		parts = append(parts, itoa(lo)+"-"+itoa(lo+59999))
	}
	if _, err := ParseIDs(strings.Join(parts, ",")); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("ParseIDs of 180000 IDs: %v; want the cap error", err)
	}
}

func itoa(i int) string { return FormatIDs([]int64{int64(i)}) }

func TestParseID(t *testing.T) {
	if id, err := ParseID("15"); err != nil || id != 15 {
		t.Fatalf("ParseID(15) = %d, %v", id, err)
	}
	for _, bad := range []string{"", "x", "0", "-1", "1,2"} {
		if _, err := ParseID(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("ParseID(%q) error %v, want usage error", bad, err)
		}
	}
}

func TestFormatIDs(t *testing.T) {
	cases := map[string][]int64{
		"":           nil,
		"7":          {7},
		"1-3,7":      {1, 2, 3, 7},
		"1,3,5-6,10": {1, 3, 5, 6, 10},
	}
	for want, in := range cases {
		if got := FormatIDs(in); got != want {
			t.Errorf("FormatIDs(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, s := range Statuses {
		got, err := ParseStatus(string(s))
		if err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"done", "n/a", "Verified", ""} {
		if _, err := ParseStatus(bad); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "deferred, stub, complete, verified, n_a") {
			t.Errorf("ParseStatus(%q) error %v; want usage error listing the statuses", bad, err)
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"feature": KindFeature, "tests": KindTest, "Features": KindFeature} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseKind("batch"); !errors.Is(err, ErrUsage) {
		t.Errorf("ParseKind(batch) error %v", err)
	}
	if KindTest.Plural() != "tests" {
		t.Errorf("Plural = %q", KindTest.Plural())
	}
}

func TestTransitions(t *testing.T) {
	cases := []struct {
		from, to        Status
		gated, promoted bool
	}{
		{StatusDeferred, StatusComplete, true, true},
		{StatusStub, StatusVerified, true, true},
		{StatusComplete, StatusVerified, true, true},
		{StatusNA, StatusComplete, true, true},
		{StatusVerified, StatusComplete, false, false}, // demotion needs no gate
		{StatusComplete, StatusComplete, false, false},
		{StatusDeferred, StatusStub, false, true},
		{StatusVerified, StatusDeferred, false, false},
		{StatusStub, StatusNA, false, false},
	}
	for _, c := range cases {
		if got := Gated(c.from, c.to); got != c.gated {
			t.Errorf("Gated(%s, %s) = %v, want %v", c.from, c.to, got, c.gated)
		}
		if got := IsPromotion(c.from, c.to); got != c.promoted {
			t.Errorf("IsPromotion(%s, %s) = %v, want %v", c.from, c.to, got, c.promoted)
		}
	}
	for s, want := range map[Status][3]bool{ // ported, done, needs reason
		StatusDeferred: {false, false, true},
		StatusStub:     {true, false, false},
		StatusComplete: {true, false, false},
		StatusVerified: {true, true, false},
		StatusNA:       {false, true, true},
	} {
		if got := [3]bool{s.Ported(), s.Done(), s.NeedsReason()}; got != want {
			t.Errorf("%s: ported/done/needsReason = %v, want %v", s, got, want)
		}
	}
}

func TestNoEvidenceGatekeeperRefusesHonestly(t *testing.T) {
	v, err := NoEvidenceGatekeeper{}.Check(context.Background(), KindFeature, []int64{951, 952}, StatusComplete)
	if err != nil || len(v) != 2 {
		t.Fatalf("Check = %v, %v", v, err)
	}
	if v[0].OK || v[0].ID != 951 || !reflect.DeepEqual(v[0].Missing, []string{"build", "stub"}) ||
		v[0].Detail != "no build/stub evidence: run porttracker evidence run --features 951" {
		t.Errorf("verdict = %+v", v[0])
	}
	v, _ = NoEvidenceGatekeeper{}.Check(context.Background(), KindTest, []int64{368}, StatusVerified)
	if v[0].OK || v[0].Detail != "no build/stub/test/gut evidence: run porttracker evidence run --tests 368" {
		t.Errorf("verified verdict = %+v", v[0])
	}
	v, _ = NoEvidenceGatekeeper{}.Check(context.Background(), KindTest, []int64{1}, StatusStub)
	if !v[0].OK {
		t.Errorf("ungated status refused: %+v", v[0])
	}
}

func TestErrors(t *testing.T) {
	r := &RefusedError{Msg: "refused", Problems: []string{"a", "b"}}
	if !errors.Is(r, ErrRefused) || r.Error() != "refused:\n  a\n  b" {
		t.Errorf("RefusedError = %q", r.Error())
	}
	if e := Refusedf("batch %d", 3); !errors.Is(e, ErrRefused) || e.Error() != "batch 3" {
		t.Errorf("Refusedf = %v", e)
	}
	if e := Usagef("bad %s", "x"); !errors.Is(e, ErrUsage) || e.Error() != "bad x" {
		t.Errorf("Usagef = %v", e)
	}
	if (ItemRef{KindFeature, 3}).String() != "feature 3" {
		t.Errorf("ItemRef.String")
	}
}
