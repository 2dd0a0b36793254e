package evidence

import (
	"regexp"
	"strings"
	"testing"
)

func TestStubScanFeatures(t *testing.T) {
	m := cheatsModule(t)
	cases := []struct {
		name     string
		symbol   string
		upstream string // upstream key, "" for none
		want     Verdict
		detail   string
	}{
		{"empty body", "cheat.(*Counter).Reset", "Counter.Reset", Fail, "empty body"},
		{"empty body without upstream", "cheat.(*Counter).Reset", "", Fail, "empty body"},
		{"panic not implemented", "cheat.Mean", "Mean", Fail, "body only panics"},
		{"zero-value return", "cheat.Median", "Median", Fail, "body only returns zero values"},
		{"zero-value return without upstream", "cheat.Median", "", Fail, "body only returns zero values"},
		{"TODO marker", "cheat.Abs", "Abs", Fail, `"TODO" marker in a comment`},
		{"constant where upstream computes", "cheat.Count", "Count", Fail, "constants where upstream computes"},
		{"PLACEHOLDER marker", "cheat.Placeholder", "", Fail, `"PLACEHOLDER" marker`},
		{"not implemented in a string", "cheat.NotDone", "", Fail, `"not implemented" marker in a string`},
		{"missing symbol", "cheat.Nope", "", Missing, "missing symbol"},
		{"missing method", "cheat.(*Counter).Nope", "", Missing, "missing symbol"},
		{"trivial like upstream: empty", "cheat.(*Counter).Close", "Counter.Close", Pass, "as upstream's"},
		{"trivial like upstream: constant", "cheat.Version", "Version", Pass, "as upstream's"},
		{"constant without upstream", "cheat.Version", "", Pass, "no upstream body"},
		{"honest Reset", "honest.(*Counter).Reset", "Counter.Reset", Pass, "computes"},
		{"honest Mean", "honest.Mean", "Mean", Pass, "computes"},
		{"honest Median", "honest.Median", "Median", Pass, "computes"},
		{"honest Abs", "honest.Abs", "Abs", Pass, "computes"},
		{"honest Count", "honest.Count", "Count", Pass, "computes"},
		{"honest Close", "honest.(*Counter).Close", "Counter.Close", Pass, "as upstream's"},
		{"honest Value reads the receiver", "honest.(*Counter).Value", "Counter.Value", Pass, "computes"},
		{"generic receiver", "honest.(*Stack[T]).Pop", "", Pass, "computes"},
		{"generic receiver, value form", "honest.Stack.Len", "", Pass, "computes"},
		{"named results", "honest.Divmod", "", Pass, "computes"},
	}
	var targets []Target
	for _, c := range cases {
		sym, err := ParseSymbol(c.symbol)
		if err != nil {
			t.Fatal(err)
		}
		tg := Target{Kind: Feature, Pkg: "./" + sym.Pkg, Symbol: c.symbol}
		if c.upstream != "" {
			tg.Upstream = upstreamDecl(t, c.upstream)
		}
		targets = append(targets, tg)
	}
	res, err := m.StubScan(targets, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := res[i]
			if r.Verdict != c.want {
				t.Errorf("%s: verdict %s (%s), want %s", c.symbol, r.Verdict, r.Detail, c.want)
			}
			mustContain(t, "detail", r.Detail, c.detail)
			if r.Verdict != Missing && (r.File == "" || r.Line == 0) {
				t.Errorf("no location: %+v", r)
			}
		})
	}
}

func TestStubScanTests(t *testing.T) {
	m := cheatsModule(t)
	cases := []struct {
		symbol string
		want   Verdict
		detail string
	}{
		{"cheat.TestSumNoAssert", Fail, "no assertion reached"},
		{"cheat.TestMeanSkipped", Fail, "skipped unconditionally"},
		{"cheat.TestEmpty", Fail, "empty test body"},
		{"cheat.TestTodo", Fail, `"FIXME" marker`},
		{"cheat.TestHelperWithoutAssert", Fail, "no assertion reached"},
		{"cheat.TestSkipAfterAssert", Pass, "asserts"},
		{"cheat.TestConditionalSkip", Pass, "asserts"},
		{"cheat.TestScale", Pass, "asserts"}, // asserts, on the wrong thing: the gut check's job
		{"cheat.TestMissing", Missing, "missing symbol"},
		{"honest.TestCounter", Pass, "asserts"},         // harness holding t
		{"honest.TestSum", Pass, "asserts"},             // generic helper
		{"honest.TestStats", Pass, "asserts"},           // t.Run closures
		{"honest.TestScale", Pass, "asserts"},           // helper chain
		{"honest.TestClose", Pass, "asserts"},           // named func passed to t.Run
		{"app.TestTotal", Fail, "no assertion reached"}, // check.Equal is another package...
		{"gates.TestSubtests", Pass, "asserts"},
	}
	var targets []Target
	for _, c := range cases {
		sym, _ := ParseSymbol(c.symbol)
		targets = append(targets, Target{Kind: Test, Pkg: "./" + sym.Pkg, Symbol: c.symbol})
	}
	res, err := m.StubScan(targets, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if res[i].Verdict != c.want {
			t.Errorf("%s: verdict %s (%s), want %s", c.symbol, res[i].Verdict, res[i].Detail, c.want)
		}
		mustContain(t, c.symbol+" detail", res[i].Detail, c.detail)
	}

	// ...unless configured as an assertion package, as testify is by default.
	res, err = m.StubScan(targets[len(targets)-2:len(targets)-1], &StubOptions{AssertPackages: []string{"cheats/check"}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != Pass {
		t.Errorf("app.TestTotal with cheats/check as assertion package: %s (%s)", res[0].Verdict, res[0].Detail)
	}
}

func TestStubScanCustomMarkers(t *testing.T) {
	m := cheatsModule(t)
	targets := []Target{{Kind: Feature, Pkg: "./honest", Symbol: "honest.Next"}}
	res, err := m.StubScan(targets, &StubOptions{CommentMarkers: regexp.MustCompile(`hollowed`)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Verdict != Fail {
		t.Fatalf("custom marker in the doc comment not found: %+v", res[0])
	}
	mustContain(t, "detail", res[0].Detail, `"hollowed" marker`)
}

func TestListTests(t *testing.T) {
	m := cheatsModule(t)
	got, err := m.ListTests("./gates")
	if err != nil {
		t.Fatal(err)
	}
	want := "TestAfterPanic TestExit0 TestFail TestHang TestPanics TestPass TestSkip TestSubtests TestSubtestsPass"
	if strings.Join(got, " ") != want {
		t.Errorf("ListTests = %v, want %s", got, want)
	}
}
