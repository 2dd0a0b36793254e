package stree

// node16 holds up to 16 children in insertion order. Fields are ordered
// for alignment.
type node16 struct {
	child [16]node
	meta
	key [16]byte // key[i] is the pivot byte of child[i]
}

func newNode16(prefix []byte) *node16 {
	nn := &node16{}
	nn.setPrefix(prefix)
	return nn
}

// addChild appends; lookups scan, so order does not matter.
func (n *node16) addChild(c byte, nn node) {
	if n.size >= 16 {
		panic("node16 full!")
	}
	n.key[n.size] = c
	n.child[n.size] = nn
	n.size++
}

func (n *node16) findChild(c byte) *node {
	for i := range n.size {
		if n.key[i] == c {
			return &n.child[i]
		}
	}
	return nil
}

func (n *node16) isFull() bool { return n.size >= 16 }

// grow returns a node48 with the same prefix and children.
func (n *node16) grow() node {
	nn := &node48{}
	nn.prefix = n.prefix
	for i := range 16 {
		nn.addChild(n.key[i], n.child[i])
	}
	return nn
}

// deleteChild removes the child keyed c, moving the last child into its
// slot so the used slots stay contiguous.
func (n *node16) deleteChild(c byte) {
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

// shrink returns a node10 holding the children once they fit, else nil.
// The new node has no prefix; the caller carries this node's prefix over.
func (n *node16) shrink() node {
	if n.size > 10 {
		return nil
	}
	nn := newNode10(nil)
	for i := range n.size {
		nn.addChild(n.key[i], n.child[i])
	}
	return nn
}

// iter calls f on each child until f returns false.
func (n *node16) iter(f func(node) bool) {
	for i := range n.size {
		if !f(n.child[i]) {
			return
		}
	}
}

func (n *node16) children() []node {
	return n.child[:n.size]
}
