package stree

import (
	"strings"
	"testing"
)

// Not upstream's: upstream has no test of Dump.
func TestSubjectTreeDump(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		var sb strings.Builder
		NewSubjectTree[int]().Dump(&sb)
		require_Equal(t, sb.String(), "EMPTY\n\n")
	})

	t.Run("nested", func(t *testing.T) {
		st := NewSubjectTree[int]()
		st.Insert(b("foo.bar.A"), 1)
		st.Insert(b("foo.bar.B"), 2)
		st.Insert(b("foo.baz"), 3)
		st.Insert(b("foo.bar"), 4)
		var sb strings.Builder
		st.Dump(&sb)
		// Children appear in their slot order, which follows insertion.
		want := strings.Join([]string{
			`-- NODE4 Prefix: "foo.ba"`,
			`  |__ NODE4 Prefix: "r"`,
			`    |__ NODE4 Prefix: "."`,
			`      |__ LEAF: Suffix: "B" Value: 2`,
			`      |__ LEAF: Suffix: "A" Value: 1`,
			`    |__ LEAF: Suffix: "" Value: 4`,
			`  |__ LEAF: Suffix: "z" Value: 3`,
			``,
			``,
		}, "\n")
		require_Equal(t, sb.String(), want)
	})

	t.Run("structValues", func(t *testing.T) {
		type state struct{ Msgs, First uint64 }
		st := NewSubjectTree[state]()
		st.Insert(b("orders"), state{Msgs: 2, First: 7})
		var sb strings.Builder
		st.Dump(&sb)
		require_Equal(t, sb.String(), "-- LEAF: Suffix: \"orders\" Value: {Msgs:2 First:7}\n\n")
	})

	t.Run("kinds", func(t *testing.T) {
		for _, tc := range []struct {
			children int
			kind     string
		}{{5, "NODE10"}, {11, "NODE16"}, {17, "NODE48"}, {49, "NODE256"}} {
			st := NewSubjectTree[int]()
			insertAll(t, st, letters("x.", tc.children)...)
			var sb strings.Builder
			st.Dump(&sb)
			lines := strings.Split(sb.String(), "\n")
			require_Equal(t, lines[0], `-- `+tc.kind+` Prefix: "x."`)
			require_Equal(t, len(lines), tc.children+3)
			for _, line := range lines[1 : tc.children+1] {
				require_True(t, strings.HasPrefix(line, `  |__ LEAF: Suffix: "`))
			}
		}
	})
}

func TestDumpPre(t *testing.T) {
	for depth, want := range []string{"-- ", "  |__ ", "    |__ ", "      |__ "} {
		require_Equal(t, dumpPre(depth), want)
	}
}

func TestNodeKinds(t *testing.T) {
	for _, tc := range []struct {
		n    node
		want string
	}{
		{newLeaf(b("x"), 1), "LEAF"},
		{newNode4(nil), "NODE4"},
		{newNode10(nil), "NODE10"},
		{newNode16(nil), "NODE16"},
		{newNode48(nil), "NODE48"},
		{newNode256(nil), "NODE256"},
	} {
		require_Equal(t, tc.n.kind(), tc.want)
	}
}
