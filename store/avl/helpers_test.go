package avl

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func require_NoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func require_True(t testing.TB, b bool) {
	t.Helper()
	if !b {
		t.Fatalf("expected true")
	}
}

func require_False(t testing.TB, b bool) {
	t.Helper()
	if b {
		t.Fatalf("expected false")
	}
}

func require_Equal[T comparable](t testing.TB, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// newRand returns a seeded generator and logs the seed so a failure can be
// replayed.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed))
}

// members collects the set's sequences through Range.
func members(ss *SequenceSet) []uint64 {
	var out []uint64
	ss.Range(func(seq uint64) bool {
		out = append(out, seq)
		return true
	})
	return out
}

// setOf builds a set holding seqs.
func setOf(seqs ...uint64) *SequenceSet {
	var ss SequenceSet
	for _, seq := range seqs {
		ss.Insert(seq)
	}
	return &ss
}

// checkHeights fails unless every stored height matches the subtree's real
// height and the root's balance factor is within one.
func checkHeights(t testing.TB, ss *SequenceSet) {
	t.Helper()
	var height func(n *node) int
	height = func(n *node) int {
		if n == nil {
			return 0
		}
		h := max(height(n.left), height(n.right)) + 1
		if n.height != h {
			t.Fatalf("node %d: height %d, want %d", n.base, n.height, h)
		}
		return h
	}
	height(ss.root)
	if ss.root != nil {
		if bf := ss.root.left.h() - ss.root.right.h(); bf > 1 || bf < -1 {
			t.Fatalf("root unbalanced: %d", bf)
		}
	}
}

// checkAVL fails unless every node's subtrees differ in height by at most one.
func checkAVL(t testing.TB, ss *SequenceSet) {
	t.Helper()
	checkHeights(t, ss)
	ss.root.nodeIter(func(n *node) {
		if bf := n.left.h() - n.right.h(); bf > 1 || bf < -1 {
			t.Fatalf("node %d unbalanced: %d", n.base, bf)
		}
	})
}

// checkTree verifies the set's invariants independently of the code under
// test: heights, node count, strictly ascending bases, every marked sequence
// below the next node's base, no empty nodes unless allowed, a size equal to
// the marked bits, and Range agreeing with Exists.
func checkTree(t testing.TB, ss *SequenceSet, allowEmptyNodes bool) {
	t.Helper()
	checkHeights(t, ss)
	var ordered []*node
	var walk func(n *node)
	walk = func(n *node) {
		if n != nil {
			walk(n.left)
			ordered = append(ordered, n)
			walk(n.right)
		}
	}
	walk(ss.root)
	if len(ordered) != ss.Nodes() {
		t.Fatalf("tree has %d nodes, Nodes() says %d", len(ordered), ss.Nodes())
	}
	marked := 0
	for i, n := range ordered {
		count := 0
		for _, b := range n.bits {
			count += bits.OnesCount64(b)
		}
		marked += count
		if count == 0 && !allowEmptyNodes {
			t.Fatalf("node %d is empty", n.base)
		}
		if i+1 < len(ordered) {
			next := ordered[i+1]
			if next.base <= n.base {
				t.Fatalf("bases out of order: %d then %d", n.base, next.base)
			}
			for k := next.base - n.base; k < numEntries; k++ {
				if n.bits[k/bitsPerBucket]&(1<<(k%bitsPerBucket)) != 0 {
					t.Fatalf("node %d marks %d, which belongs to node %d", n.base, n.base+k, next.base)
				}
			}
		}
	}
	if marked != ss.Size() {
		t.Fatalf("%d bits marked, Size() says %d", marked, ss.Size())
	}
	got := members(ss)
	if len(got) != marked {
		t.Fatalf("Range yields %d sequences, want %d", len(got), marked)
	}
	for i, seq := range got {
		if i > 0 && got[i-1] >= seq {
			t.Fatalf("Range not ascending at %d: %d then %d", i, got[i-1], seq)
		}
		if !ss.Exists(seq) {
			t.Fatalf("Range yields %d but Exists says no", seq)
		}
	}
}

// rawNode is one node of a hand-built encoding.
type rawNode struct {
	base    uint64
	offsets []uint64 // marked sequences, relative to base
	height  uint16
}

// encodeRaw writes a version 2 encoding by hand, so tests can feed Decode
// inputs that Encode would never produce.
func encodeRaw(size uint32, nodes ...rawNode) []byte {
	le := binary.LittleEndian
	buf := []byte{magic, version}
	buf = le.AppendUint32(buf, uint32(len(nodes)))
	buf = le.AppendUint32(buf, size)
	for _, n := range nodes {
		var buckets [numBuckets]uint64
		for _, off := range n.offsets {
			buckets[off/bitsPerBucket] |= 1 << (off % bitsPerBucket)
		}
		buf = le.AppendUint64(buf, n.base)
		for _, b := range buckets {
			buf = le.AppendUint64(buf, b)
		}
		buf = le.AppendUint16(buf, n.height)
	}
	return buf
}

// readFixture returns a file from testdata.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require_NoError(t, err)
	return b
}
