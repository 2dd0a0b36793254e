package stree

import (
	"fmt"
	"io"
	"strings"
)

// Dump writes an indented outline of the tree to w, one node per line,
// for debugging.
func (t *SubjectTree[T]) Dump(w io.Writer) {
	t.dump(w, t.root, 0)
	fmt.Fprintln(w)
}

// dump writes n and everything below it at the given indentation depth.
func (t *SubjectTree[T]) dump(w io.Writer, n node, depth int) {
	if n == nil {
		fmt.Fprintf(w, "EMPTY\n")
		return
	}
	if n.isLeaf() {
		ln := n.(*leaf[T])
		fmt.Fprintf(w, "%sLEAF: Suffix: %q Value: %+v\n", dumpPre(depth), ln.suffix, ln.value)
		return
	}
	fmt.Fprintf(w, "%s%s Prefix: %q\n", dumpPre(depth), n.kind(), n.base().prefix)
	n.iter(func(child node) bool {
		t.dump(w, child, depth+1)
		return true
	})
}

// kind names the node type in dumps and tests.
func (n *leaf[T]) kind() string { return "LEAF" }
func (n *node4) kind() string   { return "NODE4" }
func (n *node10) kind() string  { return "NODE10" }
func (n *node16) kind() string  { return "NODE16" }
func (n *node48) kind() string  { return "NODE48" }
func (n *node256) kind() string { return "NODE256" }

// dumpPre returns the line lead-in for a node at depth: "-- " for the
// root, indentation and "|__ " below it.
func dumpPre(depth int) string {
	if depth == 0 {
		return "-- "
	}
	return strings.Repeat("  ", depth) + "|__ "
}
