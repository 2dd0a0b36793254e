package evidence

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestCoverageLinks(t *testing.T) {
	m := cheatsModule(t)
	tests := []TestRef{
		{Pkg: "./honest", Name: "TestSum"},
		{Pkg: "./honest", Name: "TestStats"},
		{Pkg: "./honest", Name: "TestCounter"},
		{Pkg: "./honest", Name: "TestStack"},
		{Pkg: "./app", Name: "TestTotal"},
		{Pkg: "./honest", Name: "TestNoSuchTest"},
		{Pkg: "./cheat", Name: "TestScale"},
	}
	rep, err := m.CoverageLinks(context.Background(), tests, []string{"./honest", "./cheat"}, &LinkOptions{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"honest.Sum"},
		{"honest.Mean", "honest.Median", "honest.Sum"},
		{"honest.(*Counter).Add", "honest.(*Counter).Reset", "honest.(*Counter).Value"},
		{"honest.(*Stack[T]).Len", "honest.(*Stack[T]).Pop", "honest.(*Stack[T]).Push"},
		{"honest.Sum"}, // from another package
		nil,
		{"cheat.Scale"},
	}
	for i, r := range rep.Results {
		if r.Test != tests[i] {
			t.Errorf("result %d is for %v", i, r.Test)
		}
		if i == 5 {
			if r.Verdict != Missing {
				t.Errorf("%s: %s (%s), want missing", r.Test.Name, r.Verdict, r.Detail)
			}
			continue
		}
		if r.Verdict != Pass || r.TestVerdict != Pass {
			t.Errorf("%s: %s/%s (%s)\n%s", r.Test.Name, r.Verdict, r.TestVerdict, r.Detail, r.Log)
		}
		var got []string
		for _, f := range r.Features {
			got = append(got, f.Symbol)
			if pkg := "./" + f.Symbol[:strings.Index(f.Symbol, ".")]; f.Pkg != pkg {
				t.Errorf("%s: package %s, want %s", f.Symbol, f.Pkg, pkg)
			}
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("%s covers %q, want %q", r.Test.Name, got, want[i])
		}
	}
	byFeature := FeatureLinks(rep.Results)
	if got := byFeature[FuncRef{"./honest", "honest.Sum"}]; len(got) != 3 {
		t.Errorf("honest.Sum linked to %v, want TestSum, TestStats and app's TestTotal", got)
	}
	// A feature no test exercises has no links: it cannot be verified.
	if got := byFeature[FuncRef{"./honest", "honest.Clamp"}]; len(got) != 0 {
		t.Errorf("honest.Clamp linked to %v", got)
	}
	if len(rep.Commands) != 6 { // compile + baseline for each of three test packages
		t.Errorf("shared commands %q", rep.Commands)
	}
}
