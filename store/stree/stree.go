// Package stree is an adaptive radix tree (ART) over literal NATS
// subjects. The file store keeps one per stream and one per message block
// to map each subject to its per-subject state, and to answer wildcard
// filters (for example a consumer's pending count) without walking every
// subject.
//
// Inner nodes compress shared path fragments into a prefix and pick a child
// by the next byte of the subject (its pivot); leaves hold the rest of the
// subject (the suffix) and the value. Inner nodes come in sizes 4, 10, 16,
// 48 and 256 and change size as children come and go:
//
//	node4 "foo.ba"
//	├─ 'r' node4 "r"
//	│       ├─ DEL leaf ""     (foo.bar)
//	│       └─ '.' node4 "."
//	│               ├─ 'A' leaf "A"   (foo.bar.A)
//	│               └─ 'B' leaf "B"   (foo.bar.B)
//	└─ 'z' leaf "z.A"          (foo.baz.A)
//
// A SubjectTree is not safe for concurrent use; the store's locks guard it.
package stree

import (
	"bytes"
	"slices"
	"strings"
	"unsafe"

	"github.com/porttracker/porttracker/store/gsl"
)

// SubjectTree maps literal subjects to values of type T.
type SubjectTree[T any] struct {
	root node
	size int
}

// NewSubjectTree returns an empty tree.
func NewSubjectTree[T any]() *SubjectTree[T] {
	return &SubjectTree[T]{}
}

// Size returns the number of stored subjects; a nil tree has none.
func (t *SubjectTree[T]) Size() int {
	if t == nil {
		return 0
	}
	return t.size
}

// Empty removes every entry and returns t, or a new tree when t is nil.
func (t *SubjectTree[T]) Empty() *SubjectTree[T] {
	if t == nil {
		return NewSubjectTree[T]()
	}
	t.root, t.size = nil, 0
	return t
}

// Insert stores value under subject. When the subject was already present
// it returns the previous value and true. A subject containing the byte
// 127 (DEL) is not stored, because that byte is reserved as noPivot.
func (t *SubjectTree[T]) Insert(subject []byte, value T) (*T, bool) {
	if t == nil || bytes.IndexByte(subject, noPivot) >= 0 {
		return nil, false
	}
	old, updated := t.insert(&t.root, subject, value, 0)
	if !updated {
		t.size++
	}
	return old, updated
}

// Find returns the value stored under the literal subject.
func (t *SubjectTree[T]) Find(subject []byte) (*T, bool) {
	if t == nil {
		return nil, false
	}
	si := 0 // how much of subject the path so far has consumed
	for n := t.root; n != nil; {
		if n.isLeaf() {
			if ln := n.(*leaf[T]); ln.match(subject[si:]) {
				return &ln.value, true
			}
			return nil, false
		}
		if prefix := n.base().prefix; len(prefix) > 0 {
			end := min(si+len(prefix), len(subject))
			if string(subject[si:end]) != prefix {
				return nil, false
			}
			si += len(prefix)
		}
		child := n.findChild(pivot(subject, si))
		if child == nil {
			return nil, false
		}
		n = *child
	}
	return nil, false
}

// Delete removes subject and returns the value it held.
func (t *SubjectTree[T]) Delete(subject []byte) (*T, bool) {
	if t == nil {
		return nil, false
	}
	val, deleted := t.delete(&t.root, subject, 0)
	if deleted {
		t.size--
	}
	return val, deleted
}

// Match calls cb for every entry whose subject matches filter, which may
// contain wildcards. The subject slice passed to cb is reused between
// calls; copy it to keep it.
func (t *SubjectTree[T]) Match(filter []byte, cb func(subject []byte, val *T)) {
	if t == nil || t.root == nil || len(filter) == 0 || cb == nil {
		return
	}
	var partsBuf [16][]byte
	var subjectBuf [256]byte
	t.match(t.root, genParts(filter, partsBuf[:0]), subjectBuf[:0], func(subject []byte, val *T) bool {
		cb(subject, val)
		return true
	})
}

// MatchUntil is Match with a callback that returns false to stop. It
// reports whether matching ran to completion.
func (t *SubjectTree[T]) MatchUntil(filter []byte, cb func(subject []byte, val *T) bool) bool {
	if t == nil || t.root == nil || len(filter) == 0 || cb == nil {
		return true
	}
	var partsBuf [16][]byte
	var subjectBuf [256]byte
	return t.match(t.root, genParts(filter, partsBuf[:0]), subjectBuf[:0], cb)
}

// IterOrdered calls cb for every entry in lexicographic subject order
// until cb returns false.
func (t *SubjectTree[T]) IterOrdered(cb func(subject []byte, val *T) bool) {
	if t == nil || t.root == nil {
		return
	}
	var subjectBuf [256]byte
	t.iter(t.root, subjectBuf[:0], true, cb)
}

// IterFast calls cb for every entry, in no particular order, until cb
// returns false. It skips the sorting IterOrdered does at every node.
func (t *SubjectTree[T]) IterFast(cb func(subject []byte, val *T) bool) {
	if t == nil || t.root == nil {
		return
	}
	var subjectBuf [256]byte
	t.iter(t.root, subjectBuf[:0], false, cb)
}

// insert stores value below *np, where subject[:si] has already been
// matched by the path to np. It replaces *np when the node there must split
// or grow.
func (t *SubjectTree[T]) insert(np *node, subject []byte, value T, si int) (*T, bool) {
	n := *np
	if n == nil {
		*np = newLeaf(subject[si:], value)
		return nil, false
	}

	if n.isLeaf() {
		ln := n.(*leaf[T])
		if ln.match(subject[si:]) {
			old := ln.value
			ln.value = value
			return &old, true
		}
		// Split the leaf: a node4 takes the common part, and the old and
		// new leaves hang below it with what remains of each. They differ
		// in the byte right after the common part, or one of them ends
		// there and is keyed by noPivot, so their pivots never collide.
		common := commonPrefixLen(stringToBytes(ln.suffix), subject[si:])
		nn := newNode4(subject[si : si+common])
		ln.setSuffix(stringToBytes(ln.suffix[common:]))
		si += common
		nl := newLeaf(subject[si:], value)
		nn.addChild(pivot(stringToBytes(nl.suffix), 0), nl)
		nn.addChild(pivot(stringToBytes(ln.suffix), 0), ln)
		*np = nn
		return nil, false
	}

	if bn := n.base(); len(bn.prefix) > 0 {
		common := commonPrefixLen(stringToBytes(bn.prefix), subject[si:])
		if common < len(bn.prefix) {
			// The subject leaves this node's prefix part way: put a node4
			// with the shared part above it, and the new leaf beside it.
			shared := subject[si : si+common]
			si += common
			nn := newNode4(shared)
			n.setPrefix(stringToBytes(bn.prefix[common:]))
			nn.addChild(pivot(stringToBytes(bn.prefix), 0), n)
			nn.addChild(pivot(subject[si:], 0), newLeaf(subject[si:], value))
			*np = nn
			return nil, false
		}
		si += len(bn.prefix)
	}

	if child := n.findChild(pivot(subject, si)); child != nil {
		return t.insert(child, subject, value, si)
	}
	if n.isFull() {
		n = n.grow()
		*np = n
	}
	n.addChild(pivot(subject, si), newLeaf(subject[si:], value))
	return nil, false
}

// delete removes subject from below *np, where subject[:si] has already
// been matched. A node left with few children shrinks, and one left with a
// single child is replaced by it, its prefix carried down.
func (t *SubjectTree[T]) delete(np *node, subject []byte, si int) (*T, bool) {
	if t == nil || np == nil || *np == nil || len(subject) == 0 {
		return nil, false
	}
	n := *np
	if n.isLeaf() {
		// Only reached when the root itself is a leaf.
		ln := n.(*leaf[T])
		if ln.match(subject[si:]) {
			*np = nil
			return &ln.value, true
		}
		return nil, false
	}
	if prefix := n.base().prefix; len(prefix) > 0 {
		// A subject shorter than the prefix cannot be below here.
		if len(subject) < si+len(prefix) || string(subject[si:si+len(prefix)]) != prefix {
			return nil, false
		}
		si += len(prefix)
	}
	p := pivot(subject, si)
	childp := n.findChild(p)
	if childp == nil {
		return nil, false
	}
	if !(*childp).isLeaf() {
		return t.delete(childp, subject, si)
	}
	ln := (*childp).(*leaf[T])
	if !ln.match(subject[si:]) {
		return nil, false
	}
	n.deleteChild(p)
	if sn := n.shrink(); sn != nil {
		// The replacement starts below this node's prefix; prepend it.
		pre := n.base().prefix
		if sn.isLeaf() {
			sl := sn.(*leaf[T])
			sl.suffix = pre + sl.suffix
		} else if len(pre) > 0 {
			bsn := sn.base()
			bsn.prefix = pre + bsn.prefix
		}
		*np = sn
	}
	return &ln.value, true
}

// match calls cb for each leaf at or below n that matches parts. pre holds
// the subject bytes of the path above n. It returns false when cb asked to
// stop.
func (t *SubjectTree[T]) match(n node, parts [][]byte, pre []byte, cb func(subject []byte, val *T) bool) bool {
	// Whether the filter ends in '>' (which must then match at least one
	// more token than the parts before it).
	hasFWC := len(parts) > 0 && isFWCPart(parts[len(parts)-1])

	for n != nil {
		nparts, matched := n.matchParts(parts)
		if !matched {
			return true
		}
		if n.isLeaf() {
			// A leaf matches when the parts are used up, or only the
			// terminal '>' is left (matchParts consumes it for us only
			// when the suffix reaches it).
			if len(nparts) == 0 || (hasFWC && len(nparts) == 1) {
				ln := n.(*leaf[T])
				if !cb(append(pre, ln.suffix...), &ln.value) {
					return false
				}
			}
			return true
		}
		// The append may reallocate, but never writes over the caller's
		// view of pre.
		if bn := n.base(); len(bn.prefix) > 0 {
			pre = append(pre, bn.prefix...)
		}

		if len(nparts) == 0 && !hasFWC {
			// The filter is used up at this node. Matches left are a child
			// leaf that ends here, or, for a filter ending in '*', anything
			// that finishes the current token.
			hasTermPWC := len(parts) > 0 && isPWCPart(parts[len(parts)-1])
			if hasTermPWC {
				nparts = parts[len(parts)-1:]
			}
			for _, cn := range n.children() {
				if cn == nil {
					continue
				}
				if cn.isLeaf() {
					ln := cn.(*leaf[T])
					if len(ln.suffix) == 0 || hasTermPWC && strings.IndexByte(ln.suffix, tsep) < 0 {
						if !cb(append(pre, ln.suffix...), &ln.value) {
							return false
						}
					}
				} else if hasTermPWC {
					if !t.match(cn, nparts, pre, cb) {
						return false
					}
				}
			}
			return true
		}
		if hasFWC && len(nparts) == 0 {
			// Only the terminal '>' remains; it must match below here.
			nparts = parts[len(parts)-1:]
		}

		first := nparts[0]
		if isPWCPart(first) || isFWCPart(first) {
			// A wildcard can continue into any child.
			for _, cn := range n.children() {
				if cn != nil && !t.match(cn, nparts, pre, cb) {
					return false
				}
			}
			return true
		}
		child := n.findChild(pivot(first, 0))
		if child == nil {
			return true
		}
		n, parts = *child, nparts
	}
	return true
}

// iter calls cb for every leaf at or below n; pre holds the subject bytes
// of the path above n. Children are sorted first when ordered is set. It
// returns false when cb asked to stop.
func (t *SubjectTree[T]) iter(n node, pre []byte, ordered bool, cb func(subject []byte, val *T) bool) bool {
	if n.isLeaf() {
		ln := n.(*leaf[T])
		return cb(append(pre, ln.suffix...), &ln.value)
	}
	// The append may reallocate, but never writes over the caller's view.
	pre = append(pre, n.base().prefix...)
	if !ordered {
		for _, cn := range n.children() {
			if cn != nil && !t.iter(cn, pre, false, cb) {
				return false
			}
		}
		return true
	}
	// Children are kept unsorted, so sort a copy by path. Paths of
	// siblings differ in their first byte, and an empty path (the
	// noPivot child) sorts first, as a shorter subject should.
	var buf [256]node
	sorted := buf[:0]
	for _, cn := range n.children() {
		if cn != nil {
			sorted = append(sorted, cn)
		}
	}
	slices.SortStableFunc(sorted, func(a, b node) int { return strings.Compare(a.path(), b.path()) })
	for _, cn := range sorted {
		if !t.iter(cn, pre, true, cb) {
			return false
		}
	}
	return true
}

// LazyIntersect calls cb for every subject present in both trees. It walks
// the smaller tree and looks each subject up in the other, which beats
// intersecting against a large sublist in most cases, though it does
// nothing to avoid repeated walks.
func LazyIntersect[TL, TR any](tl *SubjectTree[TL], tr *SubjectTree[TR], cb func([]byte, *TL, *TR)) {
	if tl == nil || tr == nil || tl.root == nil || tr.root == nil {
		return
	}
	if tl.Size() <= tr.Size() {
		tl.IterFast(func(key []byte, v1 *TL) bool {
			if v2, ok := tr.Find(key); ok {
				cb(key, v1, v2)
			}
			return true
		})
		return
	}
	tr.IterFast(func(key []byte, v2 *TR) bool {
		if v1, ok := tl.Find(key); ok {
			cb(key, v1, v2)
		}
		return true
	})
}

// IntersectGSL calls cb for each entry of t whose subject has interest in
// sl, once per subject however many of sl's subscriptions overlap it,
// until cb returns false. Subtrees no subscription can reach are skipped.
func IntersectGSL[T any, SL comparable](t *SubjectTree[T], sl *gsl.GenericSublist[SL], cb func(subject []byte, val *T) bool) {
	if t == nil || t.root == nil || sl == nil {
		return
	}
	var subjectBuf [256]byte
	_intersectGSL(t.root, subjectBuf[:0], sl, cb)
}

// _intersectGSL is IntersectGSL below n, with pre the subject bytes of the
// path above n. It returns false when cb asked to stop.
func _intersectGSL[T any, SL comparable](n node, pre []byte, sl *gsl.GenericSublist[SL], cb func(subject []byte, val *T) bool) bool {
	if n.isLeaf() {
		ln := n.(*leaf[T])
		subject := append(pre, ln.suffix...)
		if sl.HasInterest(bytesToString(subject)) {
			return cb(subject, &ln.value)
		}
		return true
	}
	pre = append(pre, n.base().prefix...)
	for _, cn := range n.children() {
		if cn == nil {
			continue
		}
		if !hasInterestForTokens(sl, append(pre, cn.path()...), len(pre)) {
			continue
		}
		if !_intersectGSL(cn, pre, sl, cb) {
			return false
		}
	}
	return true
}

// hasInterestForTokens reports whether sl could match subjects starting
// with subj. Tree paths can end mid-token, so only the complete tokens are
// checked: at each separator from index since on, the subject up to it must
// still have interest.
func hasInterestForTokens[SL comparable](sl *gsl.GenericSublist[SL], subj []byte, since int) bool {
	for i := since; i < len(subj); i++ {
		if subj[i] == tsep && !sl.HasInterestStartingIn(bytesToString(subj[:i])) {
			return false
		}
	}
	return true
}

// bytesToString views b as a string without copying. The string shares
// b's memory, so it must not outlive b or be used after b changes.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// stringToBytes views s as a byte slice without copying. The slice must
// only be read: strings are immutable.
func stringToBytes(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
