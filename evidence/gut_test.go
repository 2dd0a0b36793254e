package evidence

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func gutTarget(symbol string, tests ...string) GutTarget {
	sym, err := ParseSymbol(symbol)
	if err != nil {
		panic(err)
	}
	gt := GutTarget{Target: Target{Kind: Feature, Pkg: "./" + sym.Pkg, Symbol: symbol}}
	for _, tn := range tests {
		pkg, name, _ := strings.Cut(tn, ".")
		gt.Tests = append(gt.Tests, TestRef{Pkg: "./" + pkg, Name: name})
	}
	return gt
}

func TestGutCheckSchemata(t *testing.T) {
	m := cheatsModule(t)
	cases := []struct {
		target GutTarget
		want   Verdict
		detail string
	}{
		{gutTarget("honest.Sum", "honest.TestSum", "app.TestTotal"), Pass, "caught by"},
		{gutTarget("honest.Mean", "honest.TestStats"), Pass, "caught by TestStats"},
		{gutTarget("honest.Median", "honest.TestStats"), Pass, "caught by TestStats"},
		{gutTarget("honest.Abs", "honest.TestAbsCount"), Pass, "caught by TestAbsCount"},
		{gutTarget("honest.(*Counter).Reset", "honest.TestCounter"), Pass, "caught by TestCounter"},
		{gutTarget("honest.(*Counter).Value", "honest.TestCounter", "honest.TestClose"), Pass, "caught by"},
		{gutTarget("honest.Divmod", "honest.TestDivmodMinMax"), Pass, "caught by TestDivmodMinMax"},
		{gutTarget("honest.MinMax", "honest.TestDivmodMinMax"), Pass, "caught by TestDivmodMinMax"},
		{gutTarget("honest.Describe", "honest.TestDescribe"), Pass, "caught by TestDescribe"},
		{gutTarget("honest.(*Stack[T]).Pop", "honest.TestStack"), Pass, "caught by TestStack"},
		{gutTarget("honest.Version", "honest.TestVersion"), Pass, "caught by TestVersion"},
		// Hollowed, Next returns 0 forever: the mutant hangs and is killed.
		{gutTarget("honest.Next", "honest.TestNext"), Pass, "caught by TestNext"},
		// The test asserts on something Scale does not affect.
		{gutTarget("cheat.Scale", "cheat.TestScale"), Fail, "survived: TestScale pass"},
		// A body that does nothing has no mutant to catch.
		{gutTarget("honest.(*Counter).Close", "honest.TestClose"), Fail, "equivalent mutant"},
		{gutTarget("honest.Clamp"), Missing, "no linked tests"},
		{gutTarget("honest.Nope", "honest.TestSum"), Missing, "missing symbol"},
		// The linked test fails without any mutant: inconclusive.
		{gutTarget("gates.Double", "gates.TestFail"), Error, "baseline: TestFail failed"},
		{gutTarget("cheat.(*Counter).Add", "cheat.TestNoSuchTest"), Error, "never ran"},
	}
	var targets []GutTarget
	for _, c := range cases {
		targets = append(targets, c.target)
	}
	var progress atomic.Int32
	start := time.Now()
	res, err := m.GutCheck(context.Background(), targets, &GutOptions{
		Jobs:         2,
		TimeoutSlack: 2 * time.Second,
		Progress:     func(done, total int, r *GutResult) { progress.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d features in %s", len(targets), time.Since(start))
	for i, c := range cases {
		r := res[i]
		if r.Verdict != c.want {
			t.Errorf("%s: %s (%s), want %s\n%s", c.target.Target.Symbol, r.Verdict, r.Detail, c.want, r.Log)
			continue
		}
		mustContain(t, c.target.Target.Symbol+" detail", r.Detail, c.detail)
		if r.Verdict == Pass || r.Verdict == Fail && strings.HasPrefix(r.Detail, "survived") {
			mustContain(t, c.target.Target.Symbol+" log", string(r.Log), "schemata")
			if len(r.Commands) < 2 {
				t.Errorf("%s: commands %q", c.target.Target.Symbol, r.Commands)
			}
		}
	}
	if got := int(progress.Load()); got != len(targets) {
		t.Errorf("progress called %d times, want %d", got, len(targets))
	}
}

func TestGutCheckReplace(t *testing.T) {
	m := cheatsModule(t)
	for _, c := range []struct {
		target GutTarget
		want   Verdict
	}{
		// Describe's mutant only compiles if fmt becomes a blank import.
		{gutTarget("honest.Describe", "honest.TestDescribe"), Pass},
		{gutTarget("cheat.Scale", "cheat.TestScale"), Fail},
	} {
		res, err := m.GutCheck(context.Background(), []GutTarget{c.target}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := res[0]
		if r.Verdict != c.want {
			t.Errorf("%s: %s (%s), want %s\n%s", c.target.Target.Symbol, r.Verdict, r.Detail, c.want, r.Log)
		}
		mustContain(t, "log", string(r.Log), "body replaced")
	}
}
