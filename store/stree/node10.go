package stree

// node10 holds up to 10 children in insertion order. It exists because a
// token position that is numeric needs exactly the ten pivots 0-9, which
// would otherwise cost a node16. Fields are ordered for alignment.
type node10 struct {
	child [10]node
	meta
	key [10]byte // key[i] is the pivot byte of child[i]
}

func newNode10(prefix []byte) *node10 {
	nn := &node10{}
	nn.setPrefix(prefix)
	return nn
}

// addChild appends; lookups scan, so order does not matter.
func (n *node10) addChild(c byte, nn node) {
	if n.size >= 10 {
		panic("node10 full!")
	}
	n.key[n.size] = c
	n.child[n.size] = nn
	n.size++
}

func (n *node10) findChild(c byte) *node {
	for i := range n.size {
		if n.key[i] == c {
			return &n.child[i]
		}
	}
	return nil
}

func (n *node10) isFull() bool { return n.size >= 10 }

// grow returns a node16 with the same prefix and children.
func (n *node10) grow() node {
	nn := &node16{}
	nn.prefix = n.prefix
	for i := range 10 {
		nn.addChild(n.key[i], n.child[i])
	}
	return nn
}

// deleteChild removes the child keyed c, moving the last child into its
// slot so the used slots stay contiguous.
func (n *node10) deleteChild(c byte) {
	for i := range n.size {
		if n.key[i] != c {
			continue
		}
		last := n.size - 1
		n.key[i], n.child[i] = n.key[last], n.child[last]
		n.key[last], n.child[last] = 0, nil
		n.size--
		return
	}
}

// shrink returns a node4 holding the children once they fit, else nil.
// The new node has no prefix; the caller carries this node's prefix over.
func (n *node10) shrink() node {
	if n.size > 4 {
		return nil
	}
	nn := newNode4(nil)
	for i := range n.size {
		nn.addChild(n.key[i], n.child[i])
	}
	return nn
}

// iter calls f on each child until f returns false.
func (n *node10) iter(f func(node) bool) {
	for i := range n.size {
		if !f(n.child[i]) {
			return
		}
	}
}

func (n *node10) children() []node {
	return n.child[:n.size]
}
