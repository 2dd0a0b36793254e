package inventory

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

func TestResolve(t *testing.T) {
	d := newTestDB(t)
	mergeTree(t, d, fixture("basic"), Upstream{Module: "example.com/fixture"}, true)
	repo := writeTree(t, map[string]string{
		"go.mod":              "module example.com/port\n",
		"store/block.go":      "package store\n\ntype Block struct{ n int }\n\n// Grow is ported.\nfunc (b *Block) Grow(by int) { b.n += by }\n\nfunc newBlock(n int) *Block { return &Block{n} }\n\nfunc init() {}\n",
		"store/tree.go":       "package store\n\ntype Tree[T any] struct{}\n\nfunc (t Tree[T]) Insert(v T) {}\n",
		"store/block_test.go": "package store\n\nimport \"testing\"\n\nfunc TestBlockGrow(t *testing.T) { newBlock(1).Grow(1) }\n",
		"store/sub/sub.go":    "package sub\n\nfunc Helper() int { return 42 }\n",
		"store/broken.go":     "package store\n\nfunc (",
	})
	idx, err := IndexTargets(repo, "./store/...")
	if err != nil {
		t.Fatal(err)
	}
	// A target mapped by hand survives resolve.
	err = d.Write(context.Background(), func(tx *db.Tx) error {
		items, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindFeature, Name: "Map"})
		if err != nil || len(items) != 1 {
			t.Fatalf("Map: %v %v", items, err)
		}
		return tx.SetItemTarget(items[0], "./store", "store.MapByHand")
	})
	if err != nil {
		t.Fatal(err)
	}
	var rep *ResolveReport
	err = d.Write(context.Background(), func(tx *db.Tx) error {
		rep, err = Resolve(tx, idx, DefaultPackageMap)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resolved != 5 || rep.Manual != 1 || !rep.Written {
		t.Errorf("report %+v, want 5 resolved, 1 manual kept", rep)
	}
	feats := itemsByName(t, d, tracker.KindFeature)
	tests := itemsByName(t, d, tracker.KindTest)
	cases := []struct {
		sym    string
		it     db.Item
		target string
		pkg    string
		loc    string
	}{
		{"pointer receiver", feats["(*Block).Grow"], "store.(*Block).Grow", "./store", "store/block.go:6"},
		{"function", feats["newBlock"], "store.newBlock", "./store", "store/block.go:8"},
		{"generic receiver, pointer-ness differs", feats["(*Tree[T]).Insert"], "store.Tree.Insert", "./store", "store/tree.go:5"},
		{"sub-package", feats["Helper"], "sub.Helper", "./store/sub", "store/sub/sub.go:3"},
		{"test", tests["TestBlockGrow"], "store.TestBlockGrow", "./store", "store/block_test.go:5"},
		{"not ported", feats["(Block).Len"], "", "", ""},
		{"init never resolves by name", feats["init"], "", "", ""},
		{"manual kept", feats["Map"], "store.MapByHand", "./store", ""},
	}
	for _, tc := range cases {
		t.Run(tc.sym, func(t *testing.T) {
			if tc.it.Target != tc.target || tc.it.TargetPkg != tc.pkg || tc.it.TargetLocation() != tc.loc {
				t.Errorf("%s: target %q pkg %q at %q, want %q %q %q", tc.it.Symbol(), tc.it.Target, tc.it.TargetPkg,
					tc.it.TargetLocation(), tc.target, tc.pkg, tc.loc)
			}
		})
	}

	src, err := FuncSource(filepath.Join(repo, feats["(*Block).Grow"].TargetFile), feats["(*Block).Grow"].TargetLine)
	if err != nil || !strings.HasPrefix(src, "// Grow is ported.\nfunc (b *Block) Grow") {
		t.Errorf("target source %q, %v", src, err)
	}
	up := feats["(*Block).Grow"]
	src, err = FuncSource(filepath.Join(fixture("basic"), up.File), up.StartLine)
	if err != nil || !strings.Contains(src, "b.n += by // comments never count") {
		t.Errorf("upstream source %q, %v", src, err)
	}
	if _, err := FuncSource(filepath.Join(fixture("basic"), up.File), up.StartLine+1); err == nil {
		t.Error("FuncSource found a function on a line that declares none")
	}

	// Nothing changed in the target: a second resolve writes nothing.
	err = d.Write(context.Background(), func(tx *db.Tx) error {
		again, err := Resolve(tx, idx, DefaultPackageMap)
		if err == nil && (again.Changed != 0 || again.Written) {
			t.Errorf("second resolve: %+v", again)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTargetPackage(t *testing.T) {
	for up, want := range map[string]string{"server": "./store", "server/avl": "./store/avl", "serverx": "", "other": ""} {
		if got := DefaultPackageMap.TargetPackage(up); got != want {
			t.Errorf("TargetPackage(%q) = %q, want %q", up, got, want)
		}
	}
}
