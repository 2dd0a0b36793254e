package avl

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// SequenceSet is a set of uint64 sequences held in an AVL tree of bitmask
// nodes. It uses far less memory than a map[uint64]struct{} for the mostly
// dense runs a store deletes, at a small cost in insert speed.
//
// The zero value is an empty set ready to use. A SequenceSet is not safe for
// concurrent use.
type SequenceSet struct {
	root  *node
	size  int // number of sequences in the set
	nodes int // number of nodes in the tree
}

// Errors returned by Decode and SetInitialMin.
var (
	ErrBadEncoding = errors.New("avl: bad encoding")
	ErrBadVersion  = errors.New("avl: bad version")
	ErrSetNotEmpty = errors.New("avl: set not empty")
)

// Insert adds seq to the set, rebalancing the tree when a node is added.
func (ss *SequenceSet) Insert(seq uint64) {
	floor := ss.root.floor(seq)
	// Most inserts land in an existing node: only a bit changes and the tree
	// keeps its shape, so there is no descent to rebalance.
	if floor != nil && floor.covers(seq) {
		if floor.set(seq) {
			ss.size++
		}
		return
	}
	base := seq / numEntries * numEntries
	// Only below an unaligned floor node can the aligned base fall inside
	// the floor's range; start past it so the floor keeps what it owns.
	if floor != nil && floor.base+numEntries > base {
		base = floor.base + numEntries
	}
	ss.root = ss.root.insert(base, seq)
	ss.nodes++
	ss.size++
}

// Exists reports whether seq is in the set.
func (ss *SequenceSet) Exists(seq uint64) bool {
	if ss == nil {
		return false
	}
	n := ss.root.floor(seq)
	return n != nil && n.covers(seq) && n.exists(seq)
}

// SetInitialMin makes the first node start at min instead of at min rounded
// down to a node boundary, which saves space when the lowest sequence is known
// in advance. The set must be empty.
func (ss *SequenceSet) SetInitialMin(min uint64) error {
	if !ss.IsEmpty() {
		return ErrSetNotEmpty
	}
	ss.root, ss.nodes = &node{base: min, height: 1}, 1
	return nil
}

// Delete removes seq from the set and reports whether it was present.
// A node left without sequences is removed and the tree rebalanced.
func (ss *SequenceSet) Delete(seq uint64) bool {
	if ss.IsEmpty() {
		return false
	}
	owner := ss.root.floor(seq)
	if owner == nil || !owner.covers(seq) || !owner.exists(seq) {
		// nats-server walks (and rebalances) the search path even for a
		// miss; skipping it makes misses twice as fast and changes no
		// member, though a tree a delete left lopsided stays so longer.
		return false
	}
	root, removed := ss.root.delete(seq, owner)
	ss.root = root
	if removed {
		ss.nodes--
	}
	if ss.size--; ss.size == 0 {
		ss.Empty()
	}
	return true
}

// Size returns the number of sequences in the set.
func (ss *SequenceSet) Size() int {
	return ss.size
}

// Nodes returns the number of nodes in the tree.
func (ss *SequenceSet) Nodes() int {
	return ss.nodes
}

// Empty removes every sequence from the set.
func (ss *SequenceSet) Empty() {
	ss.root, ss.size, ss.nodes = nil, 0, 0
}

// IsEmpty reports whether the set has no nodes. A nil set is empty.
func (ss *SequenceSet) IsEmpty() bool {
	return ss == nil || ss.root == nil
}

// Range calls f for each sequence in ascending order until f returns false.
func (ss *SequenceSet) Range(f func(uint64) bool) {
	if ss == nil {
		return
	}
	ss.root.iter(f)
}

// Heights returns the heights of the root's left and right subtrees.
func (ss *SequenceSet) Heights() (l, r int) {
	if ss.IsEmpty() {
		return 0, 0
	}
	return ss.root.left.h(), ss.root.right.h()
}

// State returns the lowest and highest sequences and the number of sequences.
func (ss *SequenceSet) State() (min, max, num uint64) {
	if ss.IsEmpty() {
		return 0, 0, 0
	}
	min, max = ss.MinMax()
	return min, max, uint64(ss.size)
}

// MinMax returns the lowest and highest sequences in the set, or zeros when it
// is empty.
func (ss *SequenceSet) MinMax() (min, max uint64) {
	if ss.IsEmpty() {
		return 0, 0
	}
	lowest := ss.root
	for lowest.left != nil {
		lowest = lowest.left
	}
	highest := ss.root
	for highest.right != nil {
		highest = highest.right
	}
	return lowest.min(), highest.max()
}

// clone returns a deep copy of the subtree rooted at src.
func clone(src *node) *node {
	if src == nil {
		return nil
	}
	return &node{
		base:   src.base,
		bits:   src.bits,
		height: src.height,
		left:   clone(src.left),
		right:  clone(src.right),
	}
}

// Clone returns a deep copy of the set; nil for a nil set.
func (ss *SequenceSet) Clone() *SequenceSet {
	if ss == nil {
		return nil
	}
	return &SequenceSet{root: clone(ss.root), size: ss.size, nodes: ss.nodes}
}

// Equal reports whether both sets hold exactly the same sequences. Nil and
// empty sets are equal to each other.
func (ss *SequenceSet) Equal(other *SequenceSet) bool {
	if ss.IsEmpty() || other.IsEmpty() {
		return ss.IsEmpty() && other.IsEmpty()
	}
	if ss.size != other.size {
		return false
	}
	// With equal sizes, every member of ss being in other proves equality.
	equal := true
	ss.Range(func(seq uint64) bool {
		equal = other.Exists(seq)
		return equal
	})
	return equal
}

// Union adds every sequence of the given sets to ss. Nil sets are skipped.
func (ss *SequenceSet) Union(ssa ...*SequenceSet) {
	for _, sa := range ssa {
		if sa == nil {
			continue
		}
		sa.root.nodeIter(func(n *node) {
			for i, b := range n.bits {
				base := n.base + uint64(i)*bitsPerBucket
				for ; b != 0; b &= b - 1 {
					ss.Insert(base + uint64(bits.TrailingZeros64(b)))
				}
			}
		})
	}
}

// Union returns a new set holding every sequence of the given sets, or nil
// when there are none. It clones the largest set and inserts the others, and
// leaves the arguments (and their order) untouched.
func Union(ssa ...*SequenceSet) *SequenceSet {
	if len(ssa) == 0 {
		return nil
	}
	largest := 0
	for i, sa := range ssa {
		if sa != nil && (ssa[largest] == nil || sa.Size() > ssa[largest].Size()) {
			largest = i
		}
	}
	ss := ssa[largest].Clone()
	if ss == nil {
		return nil
	}
	for i, sa := range ssa {
		if i != largest {
			ss.Union(sa)
		}
	}
	return ss
}

// Format constants; part of the on-disk encoding.
const (
	magic   = uint8(22)
	version = uint8(2)
	hdrLen  = 2              // magic and version
	minLen  = hdrLen + 4 + 4 // plus node count and item count

	nodeLen   = 8 + numBuckets*8 + 2 // base, buckets, height
	v1Buckets = 64                   // buckets per node in version 1
	v1NodeLen = 8 + v1Buckets*8 + 2  // base, buckets, height
)

// EncodeLen returns the number of bytes Encode writes for the set.
func (ss SequenceSet) EncodeLen() int {
	return minLen + ss.Nodes()*nodeLen
}

// Encode returns the set's encoding. It writes into buf's memory when buf has
// room for EncodeLen bytes and allocates otherwise.
func (ss SequenceSet) Encode(buf []byte) []byte {
	if need := ss.EncodeLen(); cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	le := binary.LittleEndian
	buf = append(buf[:0], magic, version)
	buf = le.AppendUint32(buf, uint32(ss.nodes))
	buf = le.AppendUint32(buf, uint32(ss.size))
	ss.root.nodeIter(func(n *node) {
		buf = le.AppendUint64(buf, n.base)
		for _, b := range n.bits {
			buf = le.AppendUint64(buf, b)
		}
		buf = le.AppendUint16(buf, uint16(n.height))
	})
	return buf
}

// Decode reads an encoded set from the front of buf and returns it with the
// number of bytes it used; bytes after the set are left for the caller.
// Malformed input yields ErrBadEncoding or ErrBadVersion, never a panic.
func Decode(buf []byte) (*SequenceSet, int, error) {
	if len(buf) < minLen || buf[0] != magic {
		return nil, -1, ErrBadEncoding
	}
	switch buf[1] {
	case 1:
		return decodev1(buf)
	case 2:
		return decodev2(buf)
	default:
		return nil, -1, ErrBadVersion
	}
}

// decodev2 reads the current format. The nodes come in pre-order, so
// insertNode can rebuild the encoded tree without rotations.
func decodev2(buf []byte) (*SequenceSet, int, error) {
	le := binary.LittleEndian
	count := uint64(le.Uint32(buf[2:]))
	size := int(le.Uint32(buf[6:]))
	// Bound the count by what the buffer holds before allocating for it; the
	// division cannot overflow the way count*nodeLen could on 32-bit builds.
	if count > uint64(len(buf)-minLen)/nodeLen {
		return nil, -1, ErrBadEncoding
	}

	ss, build := &SequenceSet{}, &preorder{}
	nodes := make([]node, count)
	i, bitCount := minLen, 0
	for k := range nodes {
		n := &nodes[k]
		n.base = le.Uint64(buf[i:])
		i += 8
		for b := range n.bits {
			n.bits[b] = le.Uint64(buf[i:])
			bitCount += bits.OnesCount64(n.bits[b])
			i += 8
		}
		// The stored height is skipped: fixHeights recomputes them all below,
		// so a corrupt one cannot mislead later rotations.
		i += 2
		if !ss.insertNode(n, build) {
			return nil, -1, ErrBadEncoding
		}
	}
	// The item count must agree with the bits, or Size would lie to the store,
	// and every bit must sit in the node that owns it, or lookups miss it.
	if bitCount != size || !ss.root.validBits() {
		return nil, -1, ErrBadEncoding
	}
	ss.size = size
	ss.root.fixHeights()
	return ss, i, nil
}

// decodev1 reads the version 1 format, whose nodes span 4096 sequences, by
// inserting each sequence into a current-format set.
func decodev1(buf []byte) (*SequenceSet, int, error) {
	le := binary.LittleEndian
	count := uint64(le.Uint32(buf[2:]))
	size := int(le.Uint32(buf[6:]))
	if count > uint64(len(buf)-minLen)/v1NodeLen {
		return nil, -1, ErrBadEncoding
	}

	ss := &SequenceSet{}
	i := minLen
	for range count {
		base := le.Uint64(buf[i:])
		i += 8
		for b := range uint64(v1Buckets) {
			word := le.Uint64(buf[i:])
			i += 8
			for ; word != 0; word &= word - 1 {
				ss.Insert(base + b*bitsPerBucket + uint64(bits.TrailingZeros64(word)))
			}
		}
		i += 2 // height, meaningless once the nodes are split in two
	}
	if ss.Size() != size {
		return nil, -1, ErrBadEncoding
	}
	return ss, i, nil
}

// preorder is insertNode's state while a tree is rebuilt from its pre-order.
type preorder struct {
	// path holds the nodes that may still get a right child, root first; the
	// last one is always the node placed most recently.
	path []*node
	// floor is the node whose right subtree is being filled; every later base
	// must be above its base.
	floor *node
}

// insertNode places n, the next node of a pre-order walk, into the tree in
// amortised constant time. It reports false when n's base cannot follow the
// nodes before it in the pre-order of a search tree with distinct bases,
// which only a corrupt encoding produces.
func (ss *SequenceSet) insertNode(n *node, build *preorder) bool {
	if build.floor != nil && n.base <= build.floor.base {
		return false
	}
	if ss.root == nil {
		ss.root = n
	} else if last := build.path[len(build.path)-1]; n.base < last.base {
		last.left = n
	} else {
		// n is the right child of the deepest node on the path below it.
		for len(build.path) > 0 && build.path[len(build.path)-1].base < n.base {
			build.floor = build.path[len(build.path)-1]
			build.path = build.path[:len(build.path)-1]
		}
		if len(build.path) > 0 && build.path[len(build.path)-1].base == n.base {
			return false
		}
		build.floor.right = n
	}
	build.path = append(build.path, n)
	ss.nodes++
	return true
}
