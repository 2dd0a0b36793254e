package stree

// node4 holds up to 4 children in insertion order; a linear scan of 4 keys
// beats anything cleverer. Fields are ordered for alignment.
type node4 struct {
	child [4]node
	meta
	key [4]byte // key[i] is the pivot byte of child[i]
}

func newNode4(prefix []byte) *node4 {
	nn := &node4{}
	nn.setPrefix(prefix)
	return nn
}

// addChild appends; order does not matter because lookups scan.
func (n *node4) addChild(c byte, nn node) {
	if n.size >= 4 {
		panic("node4 full!")
	}
	n.key[n.size] = c
	n.child[n.size] = nn
	n.size++
}

func (n *node4) findChild(c byte) *node {
	for i := range n.size {
		if n.key[i] == c {
			return &n.child[i]
		}
	}
	return nil
}

func (n *node4) isFull() bool { return n.size >= 4 }

// grow returns a node10 with the same prefix and children.
func (n *node4) grow() node {
	nn := &node10{}
	nn.prefix = n.prefix
	for i := range 4 {
		nn.addChild(n.key[i], n.child[i])
	}
	return nn
}

// deleteChild removes the child keyed c, moving the last child into its
// slot so the used slots stay contiguous.
func (n *node4) deleteChild(c byte) {
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

// shrink returns the only child when one is left, so the caller can splice
// it in place of this node; otherwise nil.
func (n *node4) shrink() node {
	if n.size == 1 {
		return n.child[0]
	}
	return nil
}

// iter calls f on each child until f returns false.
func (n *node4) iter(f func(node) bool) {
	for i := range n.size {
		if !f(n.child[i]) {
			return
		}
	}
}

func (n *node4) children() []node {
	return n.child[:n.size]
}
