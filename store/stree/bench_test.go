package stree

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/porttracker/porttracker/store/gsl"
)

// benchSubjects returns n subjects shaped like upstream's performance
// tests: "subj.<1-100>.<i>".
func benchSubjects(n int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 11))
	subjects := make([][]byte, n)
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "subj.%d.%d", rng.IntN(100)+1, i)
	}
	return subjects
}

func benchTree(subjects [][]byte) *SubjectTree[int] {
	st := NewSubjectTree[int]()
	for i, s := range subjects {
		st.Insert(s, i)
	}
	return st
}

// BenchmarkSubjectTreeInsert measures inserting new subjects.
func BenchmarkSubjectTreeInsert(b *testing.B) {
	subjects := benchSubjects(100_000)
	b.ReportAllocs()
	st := NewSubjectTree[int]()
	for i := 0; b.Loop(); i++ {
		if i%len(subjects) == 0 {
			st = NewSubjectTree[int]()
		}
		st.Insert(subjects[i%len(subjects)], i)
	}
}

// BenchmarkSubjectTreeUpdate measures replacing the value of an existing
// subject, the common case for per-subject state.
func BenchmarkSubjectTreeUpdate(b *testing.B) {
	subjects := benchSubjects(100_000)
	st := benchTree(subjects)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, updated := st.Insert(subjects[i%len(subjects)], i); !updated {
			b.Fatal("expected an update")
		}
	}
}

// BenchmarkSubjectTreeBuild builds a 250k-entry tree per iteration, as
// upstream's memory test does, and reports the heap retained per entry.
func BenchmarkSubjectTreeBuild(b *testing.B) {
	const entries = 250_000
	subjects := make([][]byte, entries)
	for i := range subjects {
		subjects[i] = fmt.Appendf(nil, "account.%d.stream.%d", i%1000, i)
	}
	b.ReportAllocs()
	var retained uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st := benchTree(subjects)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(st)
		retained = after.HeapAlloc - before.HeapAlloc
	}
	b.ReportMetric(float64(retained)/entries, "heapB/entry")
}

func BenchmarkSubjectTreeFind(b *testing.B) {
	subjects := benchSubjects(100_000)
	st := benchTree(subjects)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := st.Find(subjects[i%len(subjects)]); !ok {
			b.Fatal("lost a subject")
		}
	}
}

func BenchmarkSubjectTreeFindMiss(b *testing.B) {
	st := benchTree(benchSubjects(100_000))
	miss := []byte("subj.42.not-there")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := st.Find(miss); ok {
			b.Fatal("found a missing subject")
		}
	}
}

// BenchmarkSubjectTreeInsertDelete churns one subject in a large tree,
// splitting and merging nodes each time.
func BenchmarkSubjectTreeInsertDelete(b *testing.B) {
	subjects := benchSubjects(100_000)
	st := benchTree(subjects)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := subjects[i%len(subjects)]
		if _, ok := st.Delete(s); !ok {
			b.Fatal("lost a subject")
		}
		st.Insert(s, i)
	}
}

// BenchmarkSubjectTreeMatch runs upstream's performance filters over 100k
// subjects; each iteration is one complete match.
func BenchmarkSubjectTreeMatch(b *testing.B) {
	st := benchTree(benchSubjects(100_000))
	for _, filter := range []string{">", "subj.>", "subj.*.*", "*.*.*", "subj.1.*", "subj.1.>", "subj.*.1", "*.*.1"} {
		b.Run(filter, func(b *testing.B) {
			f := []byte(filter)
			b.ReportAllocs()
			matched := 0
			for b.Loop() {
				st.Match(f, func([]byte, *int) { matched++ })
			}
			if matched == 0 {
				b.Fatal("nothing matched")
			}
		})
	}
}

// BenchmarkSubjectTreeMatchUntilFirst measures finding the first match,
// as a store does when it only needs to know whether any entry matches.
func BenchmarkSubjectTreeMatchUntilFirst(b *testing.B) {
	st := benchTree(benchSubjects(100_000))
	f := []byte("subj.*.99999")
	b.ReportAllocs()
	for b.Loop() {
		st.MatchUntil(f, func([]byte, *int) bool { return false })
	}
}

func BenchmarkSubjectTreeIterOrdered(b *testing.B) {
	st := benchTree(benchSubjects(100_000))
	b.ReportAllocs()
	for b.Loop() {
		st.IterOrdered(func([]byte, *int) bool { return true })
	}
}

func BenchmarkSubjectTreeIterFast(b *testing.B) {
	st := benchTree(benchSubjects(100_000))
	b.ReportAllocs()
	for b.Loop() {
		st.IterFast(func([]byte, *int) bool { return true })
	}
}

func BenchmarkSubjectTreeLazyIntersect(b *testing.B) {
	subjects := benchSubjects(100_000)
	large := benchTree(subjects)
	small := NewSubjectTree[int]()
	for i := 0; i < len(subjects); i += 100 {
		small.Insert(subjects[i], i)
	}
	b.ReportAllocs()
	for b.Loop() {
		hits := 0
		LazyIntersect(large, small, func([]byte, *int, *int) { hits++ })
		if hits != small.Size() {
			b.Fatalf("%d hits, want %d", hits, small.Size())
		}
	}
}

// BenchmarkSubjectTreeIntersectGSL intersects 100k subjects with a few
// consumer-like filters, each iteration one full intersection.
func BenchmarkSubjectTreeIntersectGSL(b *testing.B) {
	st := benchTree(benchSubjects(100_000))
	for _, tc := range []struct {
		name    string
		filters []string
	}{
		{"narrow", []string{"subj.7.*", "subj.42.>"}},
		{"wide", []string{"subj.*.*"}},
		{"none", []string{"other.>"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sl := gsl.NewSimpleSublist()
			for _, f := range tc.filters {
				if err := sl.Insert(f, struct{}{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				IntersectGSL(st, sl, func([]byte, *int) bool { return true })
			}
		})
	}
}

func BenchmarkGenParts(b *testing.B) {
	filter := []byte("account.*.stream.orders.*.>")
	var buf [16][]byte
	b.ReportAllocs()
	for b.Loop() {
		if len(genParts(filter, buf[:0])) != 5 {
			b.Fatal("unexpected parts")
		}
	}
}
