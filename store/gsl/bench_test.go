package gsl

import (
	"fmt"
	"testing"
)

// benchSubjects returns n literal subjects spread over a three-level
// hierarchy, the shape a stream's subject space usually has.
func benchSubjects(n int) []string {
	subjects := make([]string, n)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("acct.%d.stream.%d", i%50, i)
	}
	return subjects
}

// benchSublist holds the literal subjects plus one wildcard of each kind,
// so matching walks the wildcard branches too.
func benchSublist(b *testing.B, subjects []string) *GenericSublist[int] {
	b.Helper()
	s := NewSublist[int]()
	for i, subject := range subjects {
		if err := s.Insert(subject, i); err != nil {
			b.Fatal(err)
		}
	}
	for i, subject := range []string{"acct.*.stream.*", "acct.7.>", "*.*.stream.42"} {
		if err := s.Insert(subject, -1-i); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkGenericSublistInsert(b *testing.B) {
	subjects := benchSubjects(10_000)
	b.ReportAllocs()
	s := NewSublist[int]()
	for i := 0; b.Loop(); i++ {
		if i%len(subjects) == 0 {
			s = NewSublist[int]()
		}
		if err := s.Insert(subjects[i%len(subjects)], i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenericSublistInsertRemove(b *testing.B) {
	subjects := benchSubjects(10_000)
	s := benchSublist(b, subjects)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		subject := "bench." + subjects[i%len(subjects)]
		if err := s.Insert(subject, i); err != nil {
			b.Fatal(err)
		}
		if err := s.Remove(subject, i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenericSublistMatch(b *testing.B) {
	subjects := benchSubjects(10_000)
	s := benchSublist(b, subjects)
	b.ReportAllocs()
	matched := 0
	for i := 0; b.Loop(); i++ {
		s.Match(subjects[i%len(subjects)], func(int) { matched++ })
	}
	if matched == 0 {
		b.Fatal("nothing matched")
	}
}

func BenchmarkGenericSublistMatchBytes(b *testing.B) {
	subjects := benchSubjects(10_000)
	s := benchSublist(b, subjects)
	raw := make([][]byte, len(subjects))
	for i, subject := range subjects {
		raw[i] = []byte(subject)
	}
	b.ReportAllocs()
	matched := 0
	for i := 0; b.Loop(); i++ {
		s.MatchBytes(raw[i%len(raw)], func(int) { matched++ })
	}
	if matched == 0 {
		b.Fatal("nothing matched")
	}
}

func BenchmarkGenericSublistHasInterest(b *testing.B) {
	subjects := benchSubjects(10_000)
	s := benchSublist(b, subjects)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !s.HasInterest(subjects[i%len(subjects)]) {
			b.Fatal("lost interest")
		}
	}
}

func BenchmarkGenericSublistHasInterestMiss(b *testing.B) {
	s := benchSublist(b, benchSubjects(10_000))
	b.ReportAllocs()
	for b.Loop() {
		if s.HasInterest("other.1.stream.1") {
			b.Fatal("unexpected interest")
		}
	}
}

func BenchmarkGenericSublistNumInterest(b *testing.B) {
	subjects := benchSubjects(10_000)
	s := benchSublist(b, subjects)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if s.NumInterest(subjects[i%len(subjects)]) == 0 {
			b.Fatal("lost interest")
		}
	}
}

func BenchmarkGenericSublistHasInterestStartingIn(b *testing.B) {
	s := benchSublist(b, benchSubjects(10_000))
	prefixes := []string{"acct", "acct.3", "acct.3.stream", "other", "acct.3.other"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.HasInterestStartingIn(prefixes[i%len(prefixes)])
	}
}

func BenchmarkGenericSublistMatchesSingleFilter(b *testing.B) {
	s := NewSublist[int]()
	if err := s.Insert("acct.1.stream.orders", 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.MatchesSingleFilter(); !ok {
			b.Fatal("expected a single filter")
		}
	}
}
