package evidence

import "testing"

func TestParseSymbol(t *testing.T) {
	cases := []struct {
		in   string
		want Symbol
		key  string
	}{
		{"store.compactBlocks", Symbol{Pkg: "store", Name: "compactBlocks"}, "compactBlocks"},
		{"store.TestFileStoreCompact", Symbol{Pkg: "store", Name: "TestFileStoreCompact"}, "TestFileStoreCompact"},
		{"store.(*msgBlock).compact", Symbol{Pkg: "store", Recv: "msgBlock", Ptr: true, Name: "compact"}, "msgBlock.compact"},
		{"avl.SequenceSet.Size", Symbol{Pkg: "avl", Recv: "SequenceSet", Name: "Size"}, "SequenceSet.Size"},
		{"stree.(*SubjectTree[T]).Insert", Symbol{Pkg: "stree", Recv: "SubjectTree", TypeParams: []string{"T"}, Ptr: true, Name: "Insert"}, "SubjectTree.Insert"},
		{"x.(*Map[K, V]).Get", Symbol{Pkg: "x", Recv: "Map", TypeParams: []string{"K", "V"}, Ptr: true, Name: "Get"}, "Map.Get"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSymbol(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != c.in {
				t.Errorf("String() = %q, want %q", got.String(), c.in)
			}
			if got.Key() != c.key {
				t.Errorf("Key() = %q, want %q", got.Key(), c.key)
			}
			if got.Pkg != c.want.Pkg || got.Recv != c.want.Recv || got.Ptr != c.want.Ptr || got.Name != c.want.Name ||
				len(got.TypeParams) != len(c.want.TypeParams) {
				t.Errorf("ParseSymbol = %+v, want %+v", got, c.want)
			}
		})
	}
	for _, bad := range []string{"", "store", "store.", ".x", "store.(*x.y", "store.(*x)", "store.(*x).", "store.a b"} {
		if _, err := ParseSymbol(bad); err == nil {
			t.Errorf("ParseSymbol(%q) accepted", bad)
		}
	}
	a, _ := ParseSymbol("store.(*msgBlock).compact")
	b, _ := ParseSymbol("store_test.msgBlock.compact")
	if !a.SameDecl(b) {
		t.Error("SameDecl ignores pointer-ness and _test")
	}
}
