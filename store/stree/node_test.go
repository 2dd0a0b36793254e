package stree

import (
	"fmt"
	"testing"
)

func TestSubjectTreeNode48(t *testing.T) {
	var a, bb, c leaf[int]
	var n node48

	requireSlot := func(key byte, slot byte, want *leaf[int]) {
		t.Helper()
		require_Equal(t, n.key[key], slot)
		require_True(t, n.child[slot-1] != nil)
		require_Equal(t, n.child[slot-1].(*leaf[int]), want)
		found := n.findChild(key)
		require_True(t, found != nil)
		require_Equal(t, (*found).(*leaf[int]), want)
	}

	// Slots fill in order; key holds slot+1.
	for i, l := range []*leaf[int]{&a, &bb, &c} {
		n.addChild('A'+byte(i), l)
		require_Equal(t, len(n.children()), i+1)
		requireSlot('A'+byte(i), byte(i+1), l)
	}

	// Deleting A moves C (the last slot) into slot 1 and repoints its key.
	n.deleteChild('A')
	require_Equal(t, len(n.children()), 2)
	require_Equal(t, n.key['A'], 0)
	require_True(t, n.findChild('A') == nil)
	requireSlot('B', 2, &bb)
	requireSlot('C', 1, &c)
	require_True(t, n.child[2] == nil)

	var gotB, gotC bool
	visits := 0
	n.iter(func(child node) bool {
		visits++
		gotB = gotB || child == node(&bb)
		gotC = gotC || child == node(&c)
		return true
	})
	require_Equal(t, visits, 2)
	require_True(t, gotB)
	require_True(t, gotC)

	// Key byte 255 must survive grow and shrink (an off-by-one once lost it).
	n.addChild(255, &c)
	require_Equal(t, n.key[255], 3)
	grown := n.grow().(*node256)
	require_True(t, grown.findChild(255) != nil)
	shrunk := n.shrink().(*node16)
	require_True(t, shrunk.findChild(255) != nil)
}

func TestNode256Operations(t *testing.T) {
	n := newNode256(b("prefix"))
	require_Equal(t, n.path(), "prefix")
	require_False(t, n.isFull())
	require_True(t, n.findChild('a') == nil)

	n.addChild('a', newLeaf(b("suffix"), 42))
	child := n.findChild('a')
	require_True(t, child != nil)
	require_Equal(t, (*child).(*leaf[int]).value, 42)
	require_Equal(t, n.size, uint16(1))

	visits := 0
	n.iter(func(node) bool { visits++; return true })
	require_Equal(t, visits, 1)

	n.addChild('b', newLeaf(b("suffix2"), 43))
	n.addChild('c', newLeaf(b("suffix3"), 44))
	visits = 0
	n.iter(func(node) bool { visits++; return false })
	require_Equal(t, visits, 1)

	// children exposes every slot; only three are used.
	children := n.children()
	require_Equal(t, len(children), 256)
	used := 0
	for _, c := range children {
		if c != nil {
			used++
		}
	}
	require_Equal(t, used, 3)
	require_True(t, children['b'] != nil)

	require_Panics(t, "grow can not be called on node256", func() { n.grow() })
}

func TestNode256Shrink(t *testing.T) {
	n256 := newNode256(b("prefix"))
	for i := range 49 {
		n256.addChild(byte(i), newLeaf([]byte{byte(i)}, i))
	}
	require_Equal(t, n256.size, uint16(49))
	require_True(t, n256.shrink() == nil)

	n256.deleteChild(0)
	require_Equal(t, n256.size, uint16(48))
	// Deleting an empty slot changes nothing.
	n256.deleteChild(0)
	require_Equal(t, n256.size, uint16(48))

	shrunk, ok := n256.shrink().(*node48)
	require_True(t, ok)
	require_Equal(t, shrunk.numChildren(), uint16(48))
	for i := 1; i < 49; i++ {
		child := shrunk.findChild(byte(i))
		require_True(t, child != nil)
		require_Equal(t, (*child).(*leaf[int]).value, i)
	}
	require_True(t, shrunk.findChild(0) == nil)
}

func TestLeafPanicMethods(t *testing.T) {
	l := newLeaf(b("test"), 42)
	for _, tc := range []struct {
		name string
		call func()
	}{
		{"setPrefix", func() { l.setPrefix(b("prefix")) }},
		{"addChild", func() { l.addChild('a', nil) }},
		{"findChild", func() { l.findChild('a') }},
		{"grow", func() { l.grow() }},
		{"deleteChild", func() { l.deleteChild('a') }},
		{"shrink", func() { l.shrink() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require_Panics(t, tc.name+" called on leaf", tc.call)
		})
	}

	require_True(t, l.isLeaf())
	require_True(t, l.isFull())
	require_True(t, l.base() == nil)
	require_Equal(t, l.numChildren(), uint16(0))
	require_True(t, l.children() == nil)
	require_Equal(t, l.path(), "test")
	called := false
	l.iter(func(node) bool { called = true; return true })
	require_False(t, called)
}

func TestNodeIterMethods(t *testing.T) {
	for _, tc := range []struct {
		n        node
		children int
	}{
		{newNode4(b("prefix")), 2},
		{newNode10(b("prefix")), 5},
		{newNode16(b("prefix")), 8},
		{newNode48(b("prefix")), 12},
		{newNode256(b("prefix")), 30},
	} {
		t.Run(tc.n.kind(), func(t *testing.T) {
			for i := range tc.children {
				tc.n.addChild(byte('a'+i), newLeaf([]byte{byte('0' + i)}, i))
			}
			seen := map[int]bool{}
			tc.n.iter(func(child node) bool {
				seen[child.(*leaf[int]).value] = true
				return true
			})
			require_Equal(t, len(seen), tc.children)

			visits := 0
			tc.n.iter(func(node) bool { visits++; return false })
			require_Equal(t, visits, 1)
		})
	}
}

func TestNodeAddChildPanic(t *testing.T) {
	n4 := newNode4(b("prefix"))
	for i := range 4 {
		n4.addChild(byte('a'+i), newLeaf([]byte{byte('1' + i)}, i))
	}
	require_True(t, n4.isFull())
	require_Panics(t, "node4 full!", func() { n4.addChild('e', newLeaf(b("5"), 5)) })
}

func TestNodeAddChildPanicOthers(t *testing.T) {
	for _, tc := range []struct {
		n        node
		capacity int
	}{
		{newNode10(b("prefix")), 10},
		{newNode16(b("prefix")), 16},
		{newNode48(b("prefix")), 48},
	} {
		name := fmt.Sprintf("node%d", tc.capacity)
		t.Run(name, func(t *testing.T) {
			for i := range tc.capacity {
				tc.n.addChild(byte(i), newLeaf([]byte{byte(i)}, i))
			}
			require_True(t, tc.n.isFull())
			require_Panics(t, name+" full!", func() {
				tc.n.addChild(byte(tc.capacity), newLeaf(b("x"), tc.capacity))
			})
		})
	}
}

func TestNodeDeleteChildNotFound(t *testing.T) {
	for _, n := range []node{newNode4(b("p")), newNode10(b("p")), newNode16(b("p")), newNode48(b("p")), newNode256(b("p"))} {
		t.Run(n.kind(), func(t *testing.T) {
			n.addChild('a', newLeaf(b("1"), 1))
			n.addChild('b', newLeaf(b("2"), 2))
			n.deleteChild('z')
			n.deleteChild(255)
			require_Equal(t, n.numChildren(), uint16(2))
			require_True(t, n.findChild('a') != nil)
			require_True(t, n.findChild('b') != nil)
		})
	}
}

func TestNodeShrinkNotNeeded(t *testing.T) {
	for _, tc := range []struct {
		n        node
		children int // one more than the next size down holds
	}{
		{newNode10(b("prefix")), 5},
		{newNode16(b("prefix")), 11},
		{newNode48(b("prefix")), 17},
		{newNode256(b("prefix")), 49},
	} {
		t.Run(tc.n.kind(), func(t *testing.T) {
			for i := range tc.children {
				tc.n.addChild(byte(i), newLeaf([]byte{byte(i)}, i))
			}
			require_True(t, tc.n.shrink() == nil)
		})
	}
	// A node4 shrinks only to its last child.
	n4 := newNode4(b("prefix"))
	n4.addChild('a', newLeaf(b("1"), 1))
	n4.addChild('b', newLeaf(b("2"), 2))
	require_True(t, n4.shrink() == nil)
}

func TestNode48IterEarlyTermination(t *testing.T) {
	n48 := newNode48(b("prefix"))
	for i := range 10 {
		n48.addChild(byte(i), newLeaf([]byte{byte(i)}, i))
	}
	visits := 0
	n48.iter(func(node) bool { visits++; return false })
	require_Equal(t, visits, 1)
}

func TestNode10And16IterEarlyTermination(t *testing.T) {
	for _, tc := range []struct {
		n        node
		children int
		stopAt   int
	}{
		{newNode10(b("prefix")), 5, 2},
		{newNode16(b("prefix")), 8, 3},
	} {
		t.Run(tc.n.kind(), func(t *testing.T) {
			for i := range tc.children {
				tc.n.addChild(byte('a'+i), newLeaf([]byte{byte('0' + i)}, i))
			}
			visits := 0
			tc.n.iter(func(node) bool { visits++; return visits < tc.stopAt })
			require_Equal(t, visits, tc.stopAt)
		})
	}
}

func TestLeafIter(t *testing.T) {
	l := newLeaf(b("test"), 42)
	called := false
	l.iter(func(node) bool { called = true; return true })
	l.iter(func(node) bool { called = true; return false })
	var n node = l
	n.iter(func(node) bool { called = true; return true })
	require_False(t, called)
	require_True(t, l.match(b("test")))
	require_False(t, l.match(b("tes")))
	require_Equal(t, l.value, 42)
}

func TestDeleteChildEdgeCasesMore(t *testing.T) {
	for _, n := range []node{newNode4(b("p")), newNode10(b("p")), newNode16(b("p")), newNode48(b("p"))} {
		t.Run(n.kind(), func(t *testing.T) {
			for i, c := range []byte("abc") {
				n.addChild(c, newLeaf([]byte{c}, i))
			}
			// The last slot needs no swap.
			n.deleteChild('c')
			require_Equal(t, n.numChildren(), uint16(2))
			require_True(t, n.findChild('c') == nil)
			require_Equal(t, (*n.findChild('a')).(*leaf[int]).value, 0)
			require_Equal(t, (*n.findChild('b')).(*leaf[int]).value, 1)
			require_Equal(t, len(n.children()), 2)
		})
	}
}

// Not upstream's. Every inner node kind against the same contract, so
// each kind's own methods are observed: add up to capacity, find, list,
// delete from the middle (which moves another child), grow and shrink.
func TestInnerNodeKindsContract(t *testing.T) {
	for _, tc := range []struct {
		make       func(prefix []byte) node
		kind       string
		capacity   int    // children it holds before isFull
		grownKind  string // kind after grow, "" when it cannot grow
		shrinkAt   int    // size at which shrink returns a smaller node
		shrunkKind string
	}{
		{func(p []byte) node { return newNode4(p) }, "NODE4", 4, "NODE10", 1, "LEAF"},
		{func(p []byte) node { return newNode10(p) }, "NODE10", 10, "NODE16", 4, "NODE4"},
		{func(p []byte) node { return newNode16(p) }, "NODE16", 16, "NODE48", 10, "NODE10"},
		{func(p []byte) node { return newNode48(p) }, "NODE48", 48, "NODE256", 16, "NODE16"},
		{func(p []byte) node { return newNode256(p) }, "NODE256", 256, "", 48, "NODE48"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			n := tc.make(b("pre."))
			requireKind(t, n, tc.kind)
			require_False(t, n.isLeaf())
			require_True(t, n.base() != nil)
			require_Equal(t, n.path(), "pre.")
			// Keys run downwards from 255 so node48's key table and
			// node256's slots are exercised away from their low end.
			key := func(i int) byte { return byte(255 - i) }
			for i := range tc.capacity {
				require_False(t, n.isFull())
				n.addChild(key(i), newLeaf([]byte{'v'}, i))
			}
			require_Equal(t, n.numChildren(), uint16(tc.capacity))
			require_Equal(t, n.isFull(), tc.grownKind != "")
			values := func(n node) map[int]bool {
				got := map[int]bool{}
				for _, c := range n.children() {
					if c != nil {
						got[c.(*leaf[int]).value] = true
					}
				}
				return got
			}
			require_Equal(t, len(values(n)), tc.capacity)
			for i := range tc.capacity {
				c := n.findChild(key(i))
				require_True(t, c != nil)
				require_Equal(t, (*c).(*leaf[int]).value, i)
			}
			require_True(t, n.findChild('a') == nil || tc.capacity == 256)

			if tc.grownKind != "" {
				g := n.grow()
				requireKind(t, g, tc.grownKind)
				require_Equal(t, g.path(), "pre.")
				require_Equal(t, g.numChildren(), uint16(tc.capacity))
				for i := range tc.capacity {
					c := g.findChild(key(i))
					require_True(t, c != nil)
					require_Equal(t, (*c).(*leaf[int]).value, i)
				}
			}

			// Delete from the front down to the shrink size; the moved
			// children must stay findable after every step.
			for i := 0; i < tc.capacity-tc.shrinkAt; i++ {
				require_True(t, n.shrink() == nil)
				n.deleteChild(key(i))
				require_True(t, n.findChild(key(i)) == nil)
				require_Equal(t, int(n.numChildren()), tc.capacity-i-1)
				for j := i + 1; j < tc.capacity; j++ {
					c := n.findChild(key(j))
					require_True(t, c != nil)
					require_Equal(t, (*c).(*leaf[int]).value, j)
				}
				require_Equal(t, len(values(n)), tc.capacity-i-1)
			}
			s := n.shrink()
			requireKind(t, s, tc.shrunkKind)
			if s.isLeaf() {
				require_Equal(t, s.(*leaf[int]).value, tc.capacity-1)
				return
			}
			// A shrunk node starts without a prefix; delete carries it over.
			require_Equal(t, s.path(), "")
			require_Equal(t, int(s.numChildren()), tc.shrinkAt)
			for j := tc.capacity - tc.shrinkAt; j < tc.capacity; j++ {
				c := s.findChild(key(j))
				require_True(t, c != nil)
				require_Equal(t, (*c).(*leaf[int]).value, j)
			}
		})
	}
}

// Not upstream's. The meta methods every inner node shares.
func TestMetaAccessors(t *testing.T) {
	n := newNode4(b("foo."))
	m := n.base()
	require_True(t, m == &n.meta)
	require_Equal(t, m.numChildren(), uint16(0))
	n.addChild('a', newLeaf(b("a"), 1))
	require_Equal(t, m.numChildren(), uint16(1))
	require_Equal(t, m.path(), "foo.")
	// setPrefix copies, so later changes to the caller's bytes don't leak in.
	buf := b("bar.")
	m.setPrefix(buf)
	buf[0] = 'X'
	require_Equal(t, n.path(), "bar.")

	rest, ok := m.matchParts(genParts(b("bar.baz"), nil))
	require_True(t, ok)
	require_Equal(t, len(rest), 1)
	require_Equal(t, string(rest[0]), "baz")
	_, ok = m.matchParts(genParts(b("qux.baz"), nil))
	require_False(t, ok)
}

// Not upstream's. Leaf accessors and matching against its suffix.
func TestLeafAccessors(t *testing.T) {
	buf := b("bar.baz")
	l := newLeaf(buf, 7)
	buf[0] = 'X' // newLeaf copies
	require_Equal(t, l.path(), "bar.baz")
	require_True(t, l.match(b("bar.baz")))
	l.setSuffix(b("baz"))
	require_Equal(t, l.path(), "baz")
	require_True(t, l.match(b("baz")))
	require_False(t, l.match(b("bar.baz")))

	rest, ok := l.matchParts(genParts(b("*"), nil))
	require_True(t, ok)
	require_Equal(t, len(rest), 0)
	_, ok = l.matchParts(genParts(b("bar"), nil))
	require_False(t, ok)
}
