package stree

// node256 has a slot for every pivot byte, so lookups index directly. It
// is the largest node and never grows.
type node256 struct {
	child [256]node
	meta
}

func newNode256(prefix []byte) *node256 {
	nn := &node256{}
	nn.setPrefix(prefix)
	return nn
}

func (n *node256) addChild(c byte, nn node) {
	n.child[c] = nn
	n.size++
}

func (n *node256) findChild(c byte) *node {
	if n.child[c] != nil {
		return &n.child[c]
	}
	return nil
}

// isFull is always false: every pivot byte has its own slot.
func (n *node256) isFull() bool { return false }

// grow must never be called: isFull is never true.
func (n *node256) grow() node { panic("grow can not be called on node256") }

func (n *node256) deleteChild(c byte) {
	if n.child[c] != nil {
		n.child[c] = nil
		n.size--
	}
}

// shrink returns a node48 holding the children once they fit, else nil.
// The new node has no prefix; the caller carries this node's prefix over.
func (n *node256) shrink() node {
	if n.size > 48 {
		return nil
	}
	nn := newNode48(nil)
	for c, child := range n.child {
		if child != nil {
			nn.addChild(byte(c), child)
		}
	}
	return nn
}

// iter calls f on each child, in pivot order, until f returns false.
func (n *node256) iter(f func(node) bool) {
	for _, c := range n.child {
		if c != nil && !f(c) {
			return
		}
	}
}

// children returns all 256 slots, empty ones included; callers skip nils.
func (n *node256) children() []node {
	return n.child[:]
}
