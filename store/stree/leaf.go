package stree

// leaf holds one stored value. Its fields are ordered for alignment.
type leaf[T any] struct {
	value T
	// suffix is what remains of the subject below the inner nodes on the
	// path here, which have already been matched; it may be the whole
	// subject or empty.
	suffix string
}

func newLeaf[T any](suffix []byte, value T) *leaf[T] {
	return &leaf[T]{value: value, suffix: string(suffix)}
}

func (n *leaf[T]) isLeaf() bool { return true }
func (n *leaf[T]) base() *meta  { return nil }

// match reports whether subject is exactly this leaf's suffix.
func (n *leaf[T]) match(subject []byte) bool { return string(subject) == n.suffix }

// setSuffix copies suffix, which may alias a caller's buffer.
func (n *leaf[T]) setSuffix(suffix []byte) { n.suffix = string(suffix) }

// isFull is true so no caller ever tries to add a child to a leaf.
func (n *leaf[T]) isFull() bool { return true }

func (n *leaf[T]) matchParts(parts [][]byte) ([][]byte, bool) {
	return matchParts(parts, n.suffix)
}

// A leaf has no children; these satisfy node for generic walks.
func (n *leaf[T]) iter(f func(node) bool) {}
func (n *leaf[T]) children() []node       { return nil }
func (n *leaf[T]) numChildren() uint16    { return 0 }
func (n *leaf[T]) path() string           { return n.suffix }

// The tree never calls these on a leaf; reaching one is a bug in the tree,
// so fail loudly rather than corrupt it.
func (n *leaf[T]) setPrefix(pre []byte)    { panic("setPrefix called on leaf") }
func (n *leaf[T]) addChild(_ byte, _ node) { panic("addChild called on leaf") }
func (n *leaf[T]) findChild(_ byte) *node  { panic("findChild called on leaf") }
func (n *leaf[T]) grow() node              { panic("grow called on leaf") }
func (n *leaf[T]) deleteChild(_ byte)      { panic("deleteChild called on leaf") }
func (n *leaf[T]) shrink() node            { panic("shrink called on leaf") }
