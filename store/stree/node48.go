package stree

// node48 holds up to 48 children, indexed by pivot byte through key. A
// child slot costs 16 bytes, so 256 index bytes plus 48 slots (1 KiB) is a
// quarter of node256's 256 slots. Fields are ordered for alignment.
type node48 struct {
	child [48]node
	meta
	// key[c] is 1 + the slot in child of the child with pivot c, or 0 when
	// there is none; the offset lets the zero value mean empty.
	key [256]byte
}

func newNode48(prefix []byte) *node48 {
	nn := &node48{}
	nn.setPrefix(prefix)
	return nn
}

func (n *node48) addChild(c byte, nn node) {
	if n.size >= 48 {
		panic("node48 full!")
	}
	n.child[n.size] = nn
	n.key[c] = byte(n.size + 1)
	n.size++
}

func (n *node48) findChild(c byte) *node {
	slot := n.key[c]
	if slot == 0 {
		return nil
	}
	return &n.child[slot-1]
}

func (n *node48) isFull() bool { return n.size >= 48 }

// grow returns a node256 with the same prefix and children.
func (n *node48) grow() node {
	nn := &node256{}
	nn.prefix = n.prefix
	for c, slot := range n.key {
		if slot > 0 {
			nn.addChild(byte(c), n.child[slot-1])
		}
	}
	return nn
}

// deleteChild removes the child keyed c. The last slot's child moves into
// the freed slot, and its key entry is repointed, so slots stay contiguous.
func (n *node48) deleteChild(c byte) {
	slot := n.key[c]
	if slot == 0 {
		return
	}
	freed, last := slot-1, byte(n.size-1)
	if freed < last {
		n.child[freed] = n.child[last]
		for k, s := range n.key {
			if s == last+1 {
				n.key[k] = freed + 1
				break
			}
		}
	}
	n.child[last] = nil
	n.key[c] = 0
	n.size--
}

// shrink returns a node16 holding the children once they fit, else nil.
// The new node has no prefix; the caller carries this node's prefix over.
func (n *node48) shrink() node {
	if n.size > 16 {
		return nil
	}
	nn := newNode16(nil)
	for c, slot := range n.key {
		if slot > 0 {
			nn.addChild(byte(c), n.child[slot-1])
		}
	}
	return nn
}

// iter calls f on each child until f returns false.
func (n *node48) iter(f func(node) bool) {
	for _, c := range n.child {
		if c != nil && !f(c) {
			return
		}
	}
}

func (n *node48) children() []node {
	return n.child[:n.size]
}
