//go:build !race

// These tests push millions of sequences through the set; under the race
// detector they are slow and add nothing, as the set is single-threaded.
// The speed and memory figures they stand for live in bench_test.go.

package avl

import (
	"bytes"
	"math/bits"
	"testing"
	"unsafe"
)

// bitmap is a plain reference set for sequences below its size.
type bitmap []uint64

func newBitmap(n uint64) bitmap      { return make(bitmap, n/64+1) }
func (b bitmap) set(seq uint64)      { b[seq/64] |= 1 << (seq % 64) }
func (b bitmap) has(seq uint64) bool { return b[seq/64]&(1<<(seq%64)) != 0 }
func (b bitmap) count() (n int) {
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func TestNoRaceSeqSetSizeComparison(t *testing.T) {
	// 5M random sequences, duplicates allowed, out of a 7M range.
	const num, maxSeq = 5_000_000, 7_000_000
	r := newRand(t)
	ref := newBitmap(maxSeq)
	var ss SequenceSet
	for range num {
		seq := r.Uint64N(maxSeq + 1)
		ss.Insert(seq)
		ref.set(seq)
	}
	require_Equal(t, ss.Size(), ref.count())

	// Nodes are the set's only per-item memory: one per 2048-sequence
	// window, so the whole range needs under 2 MiB, where a map would hold
	// millions of entries of at least 8 bytes each.
	require_True(t, ss.Nodes() <= maxSeq/numEntries+1)
	nodeBytes := uintptr(ss.Nodes()) * unsafe.Sizeof(node{})
	if nodeBytes > 2<<20 {
		t.Fatalf("nodes take %d bytes, want at most 2 MiB", nodeBytes)
	}
	if mapFloor := uintptr(ref.count()) * 8; nodeBytes*25 > mapFloor {
		t.Fatalf("nodes take %d bytes, want 25x under a map's floor of %d", nodeBytes, mapFloor)
	}
	for seq := uint64(0); seq <= maxSeq; seq += 997 {
		if ss.Exists(seq) != ref.has(seq) {
			t.Fatalf("Exists(%d) disagrees with the reference", seq)
		}
	}
}

func TestNoRaceSeqSetEncodeLarge(t *testing.T) {
	const num, maxSeq = 2_500_000, 5_000_000
	r := newRand(t)
	ref := newBitmap(maxSeq)
	var ss SequenceSet
	for range num {
		seq := r.Uint64N(maxSeq + 1)
		ss.Insert(seq)
		ref.set(seq)
	}

	enc := ss.Encode(nil)
	require_Equal(t, len(enc), ss.EncodeLen())
	t.Logf("%d sequences encode to %d bytes", ss.Size(), len(enc))

	back, n, err := Decode(enc)
	require_NoError(t, err)
	require_Equal(t, n, len(enc))
	require_Equal(t, back.Nodes(), ss.Nodes())
	require_Equal(t, back.Size(), ref.count())
	require_True(t, back.Equal(&ss))
	require_True(t, bytes.Equal(back.Encode(nil), enc))
	checkTree(t, back, false)
}

func TestNoRaceSeqSetRelativeSpeed(t *testing.T) {
	// The speed comparison with a map is BenchmarkSeqSetRelativeSpeed; this
	// checks the same workload gives the right answers.
	const num, maxSeq = 1_000_000, 3_000_000
	r := newRand(t)
	seqs := make([]uint64, num)
	ref := newBitmap(maxSeq)
	for i := range seqs {
		seqs[i] = r.Uint64N(maxSeq + 1)
		ref.set(seqs[i])
	}
	var ss SequenceSet
	for _, seq := range seqs {
		ss.Insert(seq)
	}
	for _, seq := range seqs {
		if !ss.Exists(seq) {
			t.Fatalf("%d should exist", seq)
		}
	}
	for seq := uint64(0); seq <= maxSeq; seq++ {
		if ss.Exists(seq) != ref.has(seq) {
			t.Fatalf("Exists(%d) disagrees with the reference", seq)
		}
	}
	require_Equal(t, ss.Size(), ref.count())
}
