package evidence

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestFingerprints(t *testing.T) {
	dir := copyTree(t, filepath.Join("testdata", "cheats"))
	m, err := OpenModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pkgs := []string{"./honest", "./app", "./cheat"}
	before, err := m.Fingerprints(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 || before["./honest"] == before["./app"] {
		t.Fatalf("fingerprints %v", before)
	}
	again, _ := m.Fingerprints(ctx, pkgs)
	for p := range before {
		if again[p] != before[p] {
			t.Errorf("%s: fingerprint not stable", p)
		}
	}

	edit := func(rel, text string) map[string]string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, rel), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(text)
		f.Close()
		got, err := m.Fingerprints(ctx, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	changed := func(a, b map[string]string) (out []string) {
		for _, p := range pkgs {
			if a[p] != b[p] {
				out = append(out, p)
			}
		}
		return out
	}
	cases := []struct {
		name, file, text string
		want             []string
	}{
		// honest's code: honest and app (which imports it) are stale.
		{"dependency source", "honest/stats.go", "\n// edited\n", []string{"./honest", "./app"}},
		// A test file belongs to its own package's evidence only.
		{"test file", "honest/honest_test.go", "\n// edited\n", []string{"./honest"}},
		// The assertion package app's tests import.
		{"test dependency", "check/check.go", "\n// edited\n", []string{"./app"}},
		{"testdata", "cheat/testdata/input.txt", "data", []string{"./cheat"}},
		{"go.mod", "go.mod", "\n// edited\n", []string{"./honest", "./app", "./cheat"}},
		{"unrelated package", "gates/gates.go", "\n// edited\n", nil},
	}
	cur := before
	for _, c := range cases {
		next := edit(c.file, c.text)
		got := changed(cur, next)
		if len(got) != len(c.want) {
			t.Errorf("%s: stale %v, want %v", c.name, got, c.want)
		} else {
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("%s: stale %v, want %v", c.name, got, c.want)
				}
			}
		}
		cur = next
	}

	if CombineFingerprints("a", "b") != CombineFingerprints("b", "a", "a") || CombineFingerprints("a") != "a" {
		t.Error("CombineFingerprints is not order- and duplicate-free")
	}
}
