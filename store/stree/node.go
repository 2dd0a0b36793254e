package stree

// node is implemented by the leaf and by the inner nodes node4, node10,
// node16, node48 and node256, named for how many children they can hold.
// Inner nodes grow into the next size when full and shrink back when
// sparse, so memory follows the fan-out actually in use.
type node interface {
	isLeaf() bool
	base() *meta // nil for a leaf
	setPrefix(pre []byte)
	addChild(c byte, n node)
	findChild(c byte) *node
	deleteChild(c byte)
	isFull() bool
	grow() node
	shrink() node // nil when the node should keep its size
	matchParts(parts [][]byte) ([][]byte, bool)
	kind() string
	iter(f func(node) bool)
	children() []node // may contain nil entries (node256)
	numChildren() uint16
	path() string // the prefix of an inner node, the suffix of a leaf
}

// meta is the part shared by every inner node: the path fragment all its
// children have in common (path compression) and its child count.
type meta struct {
	prefix string
	size   uint16
}

func (n *meta) isLeaf() bool { return false }
func (n *meta) base() *meta  { return n }

// setPrefix copies pre, which may alias a caller's buffer.
func (n *meta) setPrefix(pre []byte) {
	n.prefix = string(pre)
}

func (n *meta) numChildren() uint16 { return n.size }
func (n *meta) path() string        { return n.prefix }

// matchParts matches filter parts against this node's prefix.
func (n *meta) matchParts(parts [][]byte) ([][]byte, bool) {
	return matchParts(parts, n.prefix)
}
