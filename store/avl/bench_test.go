package avl

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

func BenchmarkSeqSetInsertDense(b *testing.B) {
	for b.Loop() {
		var ss SequenceSet
		for seq := uint64(0); seq < 200_000; seq++ {
			ss.Insert(seq)
		}
	}
}

func BenchmarkSeqSetInsertSparse(b *testing.B) {
	for b.Loop() {
		var ss SequenceSet
		for seq := uint64(0); seq < 200_000; seq++ {
			ss.Insert(seq * 7)
		}
	}
}

func BenchmarkSeqSetRangeDense(b *testing.B) {
	var ss SequenceSet
	for seq := uint64(0); seq < 200_000; seq++ {
		ss.Insert(seq)
	}
	var sum uint64
	for b.Loop() {
		ss.Range(func(seq uint64) bool { sum += seq; return true })
	}
}

func BenchmarkSeqSetRangeSparse(b *testing.B) {
	var ss SequenceSet
	for seq := uint64(0); seq < 10_000; seq++ {
		ss.Insert(seq * 211) // about ten sequences per node
	}
	var sum uint64
	for b.Loop() {
		ss.Range(func(seq uint64) bool { sum += seq; return true })
	}
}

func BenchmarkSeqSetDeleteNotPresent(b *testing.B) {
	var ss SequenceSet
	for seq := uint64(0); seq < 200_000; seq += 2 {
		ss.Insert(seq)
	}
	for b.Loop() {
		for seq := uint64(1); seq < 200_000; seq += 2 {
			ss.Delete(seq)
		}
	}
}

// The benchmarks below are this port's own. They carry the speed and memory
// comparisons that nats-server asserts inside timed unit tests.

// largeSet is the workload of TestNoRaceSeqSetEncodeLarge.
func largeSet() *SequenceSet {
	r := rand.New(rand.NewPCG(1, 2))
	var ss SequenceSet
	for range 2_500_000 {
		ss.Insert(r.Uint64N(5_000_001))
	}
	return &ss
}

func BenchmarkSeqSetEncodeLarge(b *testing.B) {
	ss := largeSet()
	buf := make([]byte, 0, ss.EncodeLen())
	b.SetBytes(int64(ss.EncodeLen()))
	for b.Loop() {
		buf = ss.Encode(buf)
	}
}

func BenchmarkSeqSetDecodeLarge(b *testing.B) {
	enc := largeSet().Encode(nil)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeqSetRelativeSpeed compares inserts and lookups of 1M random
// sequences out of 3M with a map[uint64]struct{}.
func BenchmarkSeqSetRelativeSpeed(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	seqs := make([]uint64, 1_000_000)
	for i := range seqs {
		seqs[i] = r.Uint64N(3_000_001)
	}
	b.Run("SequenceSet/Insert", func(b *testing.B) {
		for b.Loop() {
			var ss SequenceSet
			for _, seq := range seqs {
				ss.Insert(seq)
			}
		}
	})
	b.Run("Map/Insert", func(b *testing.B) {
		for b.Loop() {
			m := make(map[uint64]struct{})
			for _, seq := range seqs {
				m[seq] = struct{}{}
			}
		}
	})
	var ss SequenceSet
	m := make(map[uint64]struct{})
	for _, seq := range seqs {
		ss.Insert(seq)
		m[seq] = struct{}{}
	}
	b.Run("SequenceSet/Exists", func(b *testing.B) {
		for b.Loop() {
			for _, seq := range seqs {
				if !ss.Exists(seq) {
					b.Fatal("missing")
				}
			}
		}
	})
	b.Run("Map/Exists", func(b *testing.B) {
		for b.Loop() {
			for _, seq := range seqs {
				if _, ok := m[seq]; !ok {
					b.Fatal("missing")
				}
			}
		}
	})
}

// BenchmarkSeqSetSizeComparison reports the heap each structure takes for
// 5M random sequences out of 7M, as heap-bytes.
func BenchmarkSeqSetSizeComparison(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	seqs := make([]uint64, 5_000_000)
	for i := range seqs {
		seqs[i] = r.Uint64N(7_000_001)
	}
	heapGrowth := func(build func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		build()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	b.Run("SequenceSet", func(b *testing.B) {
		var ss *SequenceSet
		var grown uint64
		for b.Loop() {
			grown = heapGrowth(func() {
				ss = &SequenceSet{}
				for _, seq := range seqs {
					ss.Insert(seq)
				}
			})
		}
		b.ReportMetric(float64(grown), "heap-bytes")
		runtime.KeepAlive(ss)
	})
	b.Run("Map", func(b *testing.B) {
		var m map[uint64]struct{}
		var grown uint64
		for b.Loop() {
			grown = heapGrowth(func() {
				m = make(map[uint64]struct{}, len(seqs))
				for _, seq := range seqs {
					m[seq] = struct{}{}
				}
			})
		}
		b.ReportMetric(float64(grown), "heap-bytes")
		runtime.KeepAlive(m)
	})
}
