package avl

import (
	"math"
	"math/bits"
)

// Node geometry; part of the on-disk encoding.
const (
	bitsPerBucket = 64
	numBuckets    = 32
	numEntries    = numBuckets * bitsPerBucket // sequences a node covers
)

// node holds the sequences of [base, base+numEntries) that it owns. Insert
// starts new nodes on a multiple of numEntries, except right above a node
// with an unaligned base (which only SetInitialMin creates), where the new
// node starts at the end of that node's range instead.
//
// A sequence belongs to the node with the greatest base at or below it (its
// floor). With aligned bases that is simply the node whose range holds it;
// the rule also keeps lookups right when an unaligned node's range overlaps a
// neighbour's, which nats-server gets wrong once rotations reorder the two.
type node struct {
	base   uint64
	bits   [numBuckets]uint64
	left   *node
	right  *node
	height int // of the subtree rooted here; a leaf is 1
}

// floor returns the node with the greatest base at or below seq, or nil.
func (n *node) floor(seq uint64) *node {
	var best *node
	for n != nil {
		if seq < n.base {
			n = n.left
		} else {
			best, n = n, n.right
		}
	}
	return best
}

// covers reports whether seq, which must not be below n's base, falls in
// n's range. Subtracting keeps the test right for nodes at the very top of
// the uint64 range, where base+numEntries would wrap around.
func (n *node) covers(seq uint64) bool {
	return seq-n.base < numEntries
}

// bucket returns the bucket index and bit mask of seq, which n must cover.
func (n *node) bucket(seq uint64) (int, uint64) {
	offset := seq - n.base
	return int(offset / bitsPerBucket), uint64(1) << (offset % bitsPerBucket)
}

// set marks seq, which n must cover, and reports whether it was new.
func (n *node) set(seq uint64) bool {
	i, mask := n.bucket(seq)
	if n.bits[i]&mask != 0 {
		return false
	}
	n.bits[i] |= mask
	return true
}

// clear unmarks seq, which n must cover.
func (n *node) clear(seq uint64) {
	i, mask := n.bucket(seq)
	n.bits[i] &^= mask
}

// exists reports whether seq, which n must cover, is marked.
func (n *node) exists(seq uint64) bool {
	i, mask := n.bucket(seq)
	return n.bits[i]&mask != 0
}

// empty reports whether no sequence in n is marked.
func (n *node) empty() bool {
	for _, b := range n.bits {
		if b != 0 {
			return false
		}
	}
	return true
}

// insert adds a new node with the given base, holding seq, to the subtree
// rooted at n and returns the subtree's new root. No node may have that base.
func (n *node) insert(base, seq uint64) *node {
	if n == nil {
		leaf := &node{base: base, height: 1}
		leaf.set(seq)
		return leaf
	}
	if base < n.base {
		n.left = n.left.insert(base, seq)
	} else {
		n.right = n.right.insert(base, seq)
	}
	n.height = maxH(n) + 1
	return n.rebalance()
}

// delete clears seq in owner, the node of the subtree rooted at n that owns
// it and has it set, and returns the subtree's new root and whether owner was
// dropped for being left empty. Like nats-server it recomputes heights and
// rebalances every node on the path, so both keep the same tree shape and
// therefore write the same encoding.
func (n *node) delete(seq uint64, owner *node) (root *node, removed bool) {
	switch {
	case n != owner && seq < n.base:
		n.left, removed = n.left.delete(seq, owner)
	case n != owner:
		n.right, removed = n.right.delete(seq, owner)
	default:
		n.clear(seq)
		if !n.empty() {
			break
		}
		// Drop n. With two children the left subtree goes below the
		// smallest node of the right one, as nats-server does.
		removed = true
		switch {
		case n.left == nil:
			n = n.right
		case n.right == nil:
			n = n.left
		default:
			n = n.right.insertNodePrev(n.left)
		}
		if n == nil {
			return nil, true
		}
	}
	n.height = maxH(n) + 1
	return n.rebalance(), removed
}

// insertNodePrev hangs prev, a subtree whose bases are all below n's, at the
// far left of the subtree rooted at n, rebalancing on the way back up, and
// returns the subtree's new root.
func (n *node) insertNodePrev(prev *node) *node {
	if n.left == nil {
		n.left = prev
	} else {
		n.left = n.left.insertNodePrev(prev)
	}
	n.height = maxH(n) + 1
	return n.rebalance()
}

// rebalance rotates n when its subtrees' heights differ by more than one and
// returns the subtree's new root. n's height must be current.
func (n *node) rebalance() *node {
	switch bf := balanceF(n); {
	case bf > 1:
		if balanceF(n.left) < 0 {
			n.left = n.left.rotateL()
		}
		return n.rotateR()
	case bf < -1:
		if balanceF(n.right) > 0 {
			n.right = n.right.rotateR()
		}
		return n.rotateL()
	}
	return n
}

// rotateL lifts n's right child, which must exist, into n's place.
func (n *node) rotateL() *node {
	r := n.right
	n.right, r.left = r.left, n
	n.height = maxH(n) + 1
	r.height = maxH(r) + 1
	return r
}

// rotateR lifts n's left child, which must exist, into n's place.
func (n *node) rotateR() *node {
	l := n.left
	n.left, l.right = l.right, n
	n.height = maxH(n) + 1
	l.height = maxH(l) + 1
	return l
}

// h returns the height of the subtree rooted at n; zero for nil.
func (n *node) h() int {
	if n == nil {
		return 0
	}
	return n.height
}

// balanceF returns n's left height minus its right height.
func balanceF(n *node) int {
	if n == nil {
		return 0
	}
	return n.left.h() - n.right.h()
}

// maxH returns the height of n's taller subtree.
func maxH(n *node) int {
	if n == nil {
		return 0
	}
	return max(n.left.h(), n.right.h())
}

// fixHeights recomputes every height in the subtree rooted at n and returns
// n's height.
func (n *node) fixHeights() int {
	if n == nil {
		return 0
	}
	n.height = max(n.left.fixHeights(), n.right.fixHeights()) + 1
	return n.height
}

// min returns n's lowest sequence, or zero when n is empty (which only a node
// made by SetInitialMin can be).
func (n *node) min() uint64 {
	for i, b := range n.bits {
		if b != 0 {
			return n.base + uint64(i)*bitsPerBucket + uint64(bits.TrailingZeros64(b))
		}
	}
	return 0
}

// lastOffset returns the offset from base of n's highest sequence, and false
// when n is empty.
func (n *node) lastOffset() (uint64, bool) {
	for i := numBuckets - 1; i >= 0; i-- {
		if b := n.bits[i]; b != 0 {
			return uint64(i)*bitsPerBucket + uint64(bits.Len64(b)-1), true
		}
	}
	return 0, false
}

// max returns n's highest sequence, or zero when n is empty.
func (n *node) max() uint64 {
	if offset, ok := n.lastOffset(); ok {
		return n.base + offset
	}
	return 0
}

// ownsBits reports whether every sequence marked in n is one n owns: it
// must not wrap past the top of uint64, and must lie below next's base when
// next, n's in-order successor, is not nil.
func (n *node) ownsBits(next *node) bool {
	offset, ok := n.lastOffset()
	if !ok {
		return true
	}
	if offset > math.MaxUint64-n.base {
		return false
	}
	return next == nil || n.base+offset < next.base
}

// validBits reports whether every node of the subtree only marks sequences it
// owns (see node), as Insert guarantees and a corrupt encoding may not.
func (n *node) validBits() bool {
	var prev *node
	return n.inOrder(func(n *node) bool {
		ok := prev == nil || prev.ownsBits(n)
		prev = n
		return ok
	}) && (prev == nil || prev.ownsBits(nil))
}

// inOrder calls f for every node in ascending base order until f returns
// false, and reports whether it got through them all.
func (n *node) inOrder(f func(n *node) bool) bool {
	if n == nil {
		return true
	}
	return n.left.inOrder(f) && f(n) && n.right.inOrder(f)
}

// nodeIter calls f for every node in pre-order: n, then its left subtree,
// then its right one. Encode depends on this order.
func (n *node) nodeIter(f func(n *node)) {
	if n == nil {
		return
	}
	f(n)
	n.left.nodeIter(f)
	n.right.nodeIter(f)
}

// iter calls f for each sequence of the subtree in ascending order and
// returns false as soon as f does.
func (n *node) iter(f func(uint64) bool) bool {
	if n == nil {
		return true
	}
	if !n.left.iter(f) {
		return false
	}
	for i, b := range n.bits {
		base := n.base + uint64(i)*bitsPerBucket
		for ; b != 0; b &= b - 1 {
			if !f(base + uint64(bits.TrailingZeros64(b))) {
				return false
			}
		}
	}
	return n.right.iter(f)
}
