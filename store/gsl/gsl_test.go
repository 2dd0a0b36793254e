package gsl

import (
	"fmt"
	"sync"
	"testing"
)

func TestGenericSublistInit(t *testing.T) {
	s := NewSublist[struct{}]()
	require_Equal(t, s.count, 0)
	require_Equal(t, s.Count(), 0)
	require_True(t, s.root != nil)
	require_Equal(t, s.root.numNodes(), 0)
}

func TestGenericSublistInsertCount(t *testing.T) {
	s := NewSublist[struct{}]()
	for _, subject := range []string{"foo", "bar", "foo.bar"} {
		require_NoError(t, s.Insert(subject, struct{}{}))
	}
	require_Equal(t, s.Count(), 3)
}

func TestGenericSublistSimple(t *testing.T) {
	s := NewSublist[struct{}]()
	require_NoError(t, s.Insert("foo", struct{}{}))
	require_Matches(t, s, "foo", 1)
	require_Matches(t, s, "bar", 0)
}

func TestGenericSublistSimpleMultiTokens(t *testing.T) {
	s := NewSublist[struct{}]()
	require_NoError(t, s.Insert("foo.bar.baz", struct{}{}))
	require_Matches(t, s, "foo.bar.baz", 1)
	require_Matches(t, s, "foo.bar", 0)
}

// Each case stores a literal and one wildcard subject; publishing `match`
// must reach both.
func TestGenericSublistPartialWildcard(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("a.b.c", 1))
	require_NoError(t, s.Insert("a.*.c", 2))
	require_Matches(t, s, "a.b.c", 2)
	require_Matches(t, s, "a.x.c", 1)
}

func TestGenericSublistPartialWildcardAtEnd(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("a.b.c", 1))
	require_NoError(t, s.Insert("a.b.*", 2))
	require_Matches(t, s, "a.b.c", 2)
	require_Matches(t, s, "a.b.z", 1)
}

func TestGenericSublistFullWildcard(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("a.b.c", 1))
	require_NoError(t, s.Insert("a.>", 2))
	require_Matches(t, s, "a.b.c", 2)
	// A published ">" is a literal token here and only the fwc matches it.
	require_Matches(t, s, "a.>", 1)
}

func TestGenericSublistRemove(t *testing.T) {
	s := NewSublist[struct{}]()
	require_NoError(t, s.Insert("a.b.c.d", struct{}{}))
	require_Equal(t, s.Count(), 1)
	require_Matches(t, s, "a.b.c.d", 1)

	require_NoError(t, s.Remove("a.b.c.d", struct{}{}))
	require_Equal(t, s.Count(), 0)
	require_Matches(t, s, "a.b.c.d", 0)
}

func TestGenericSublistRemoveWildcard(t *testing.T) {
	s := NewSublist[int]()
	entries := []struct {
		subject string
		value   int
	}{
		{"a.b.c.d", 11},
		{"a.b.*.d", 22},
		{"a.b.>", 33},
	}
	for _, e := range entries {
		require_NoError(t, s.Insert(e.subject, e.value))
	}
	require_Equal(t, s.Count(), 3)
	require_Matches(t, s, "a.b.c.d", 3)

	// Remove the wildcards first, then the literal; every step loses one.
	for i, e := range []int{1, 2, 0} {
		require_NoError(t, s.Remove(entries[e].subject, entries[e].value))
		left := len(entries) - i - 1
		require_Equal(t, s.Count(), uint32(left))
		require_Matches(t, s, "a.b.c.d", left)
	}
}

func TestGenericSublistRemoveCleanup(t *testing.T) {
	s := NewSublist[struct{}]()
	require_Equal(t, s.numLevels(), 0)
	require_NoError(t, s.Insert("a.b.c.d.e.f", struct{}{}))
	require_Equal(t, s.numLevels(), 6)
	require_NoError(t, s.Remove("a.b.c.d.e.f", struct{}{}))
	require_Equal(t, s.numLevels(), 0)
}

func TestGenericSublistRemoveCleanupWildcards(t *testing.T) {
	s := NewSublist[struct{}]()
	require_Equal(t, s.numLevels(), 0)
	require_NoError(t, s.Insert("a.b.*.d.e.>", struct{}{}))
	require_Equal(t, s.numLevels(), 6)
	require_NoError(t, s.Remove("a.b.*.d.e.>", struct{}{}))
	require_Equal(t, s.numLevels(), 0)
}

func TestGenericSublistInvalidSubjectsInsert(t *testing.T) {
	// Wildcards are allowed, empty tokens are not, and '>' must be last.
	for _, subject := range []string{".foo", "foo.", "foo..bar", "foo.bar..baz", "foo.>.baz", ""} {
		t.Run(subject, func(t *testing.T) {
			s := NewSublist[struct{}]()
			require_Error(t, s.Insert(subject, struct{}{}), ErrInvalidSubject)
			require_Equal(t, s.Count(), 0)
		})
	}
}

func TestGenericSublistBadSubjectOnRemove(t *testing.T) {
	s := NewSublist[struct{}]()
	require_Error(t, s.Insert("a.b..d", struct{}{}), ErrInvalidSubject)
	require_Error(t, s.Remove("a.b..d", struct{}{}), ErrInvalidSubject)
	require_Error(t, s.Remove("a.>.b", struct{}{}), ErrInvalidSubject)
}

func TestGenericSublistTwoTokenPubMatchSingleTokenSub(t *testing.T) {
	s := NewSublist[struct{}]()
	require_NoError(t, s.Insert("foo", struct{}{}))
	require_Matches(t, s, "foo", 1)
	require_Matches(t, s, "foo.bar", 0)
}

// "*-" and ">-" are literal tokens, not wildcards.
func TestGenericSublistInsertWithWildcardsAsLiterals(t *testing.T) {
	s := NewSublist[int]()
	for i, subject := range []string{"foo.*-", "foo.>-"} {
		require_NoError(t, s.Insert(subject, i))
		require_Matches(t, s, "foo.bar", 0)
		require_Matches(t, s, subject, 1)
	}
}

func TestGenericSublistRemoveWithWildcardsAsLiterals(t *testing.T) {
	s := NewSublist[int]()
	for i, subject := range []string{"foo.*-", "foo.>-"} {
		require_NoError(t, s.Insert(subject, i))
		require_Matches(t, s, "foo.bar", 0)
		require_Matches(t, s, subject, 1)
		require_Error(t, s.Remove("foo.bar", i), ErrNotFound)
		require_Equal(t, s.Count(), 1)
		require_NoError(t, s.Remove(subject, i))
		require_Equal(t, s.Count(), 0)
	}
}

func TestGenericSublistMatchWithEmptyTokens(t *testing.T) {
	s := NewSublist[struct{}]()
	require_NoError(t, s.Insert(">", struct{}{}))
	require_Matches(t, s, "foo", 1)
	for _, subject := range []string{".foo", "..foo", "foo..", "foo.", "foo..bar", "foo...bar", ""} {
		t.Run(subject, func(t *testing.T) {
			require_Matches(t, s, subject, 0)
			require_False(t, s.HasInterest(subject))
		})
	}
}

// interestStep inserts subject, checks interest in each probe, then removes it.
type interestStep struct {
	subject string
	value   int
	probes  map[string]int // published subject -> expected number of matches
}

var interestSteps = []interestStep{
	{"foo", 11, map[string]int{"foo": 1, "bar": 0}},
	{"foo.*", 22, map[string]int{"foo": 0, "foo.bar": 1, "foo.bar.baz": 0}},
	{"foo.>", 33, map[string]int{"foo": 0, "foo.bar": 1, "foo.bar.baz": 1}},
	{"*.>", 44, map[string]int{"foo": 0, "foo.bar": 1, "foo.bar.baz": 1, "foo.baz": 1}},
	{"*.bar", 55, map[string]int{"foo": 0, "foo.bar": 1, "foo.baz": 0, "foo.bar.baz": 0}},
	{"*", 66, map[string]int{"foo": 1, "foo.bar": 0}},
}

func TestGenericSublistHasInterest(t *testing.T) {
	s := NewSublist[int]()
	for _, step := range interestSteps {
		t.Run(step.subject, func(t *testing.T) {
			require_NoError(t, s.Insert(step.subject, step.value))
			for probe, want := range step.probes {
				if got := s.HasInterest(probe); got != (want > 0) {
					t.Fatalf("HasInterest(%q) with %q stored = %v", probe, step.subject, got)
				}
			}
			require_NoError(t, s.Remove(step.subject, step.value))
			for probe := range step.probes {
				require_False(t, s.HasInterest(probe))
			}
		})
	}
}

func TestGenericSublistHasInterestOverlapping(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("stream.A.child", 11))
	require_NoError(t, s.Insert("stream.*", 11))
	require_True(t, s.HasInterest("stream.A.child"))
	require_True(t, s.HasInterest("stream.A"))
	require_False(t, s.HasInterest("stream.A.other"))
}

func TestGenericSublistMatchesFullWildcard(t *testing.T) {
	var nilList *GenericSublist[int]
	require_False(t, nilList.MatchesFullWildcard())

	s := NewSublist[int]()
	require_NoError(t, s.Insert("stream.A.child", 11))
	require_NoError(t, s.Insert("stream.*", 11))
	require_True(t, s.HasInterest("stream.A.child"))
	require_True(t, s.HasInterest("stream.A"))
	// A '>' below the top level does not match everything.
	require_NoError(t, s.Insert("stream.>", 11))
	require_False(t, s.MatchesFullWildcard())

	require_NoError(t, s.Insert(">", 11))
	require_True(t, s.MatchesFullWildcard())
}

func TestGenericSublistSingleFilter(t *testing.T) {
	check := func(t *testing.T, s *GenericSublist[int], wantFilter string, wantOK bool) {
		t.Helper()
		filter, ok := s.MatchesSingleFilter()
		require_Equal(t, ok, wantOK)
		require_Equal(t, filter, wantFilter)
	}

	var nilList *GenericSublist[int]
	check(t, nilList, "", false)

	s := NewSublist[int]()
	check(t, s, "", false)

	require_NoError(t, s.Insert("stream.A.child", 11))
	check(t, s, "stream.A.child", true)
	// A second value under the same subject keeps it single.
	require_NoError(t, s.Insert("stream.A.child", 22))
	check(t, s, "stream.A.child", true)
	require_NoError(t, s.Insert("stream.A.other", 22))
	check(t, s, "", false)
	require_NoError(t, s.Insert("stream.*", 33))
	check(t, s, "", false)

	// A populated ancestor with descendants is not single.
	s2 := NewSublist[int]()
	for i, subject := range []string{"foo", "foo.bar", "foo.baz"} {
		require_NoError(t, s2.Insert(subject, i))
	}
	check(t, s2, "", false)

	// Siblings without a populated ancestor are not single either.
	s3 := NewSublist[int]()
	require_NoError(t, s3.Insert("foo.bar", 2))
	require_NoError(t, s3.Insert("foo.baz", 3))
	check(t, s3, "", false)
}

// HasInterestStartingIn must be safe to call while the sublist is being
// modified (run with -race), and must keep answering correctly for the
// subjects that stay in place throughout.
func TestGenericSublistHasInterestStartingInRace(t *testing.T) {
	s := NewSublist[int]()
	for i := 0; i < 10; i++ {
		require_NoError(t, s.Insert("foo.bar.baz", i))
		require_NoError(t, s.Insert("foo.*.baz", i+10))
		require_NoError(t, s.Insert("foo.>", i+20))
	}

	const iterations = 1000
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < iterations; i++ {
			for _, prefix := range []string{"foo", "foo.bar", "foo.bar.baz"} {
				if !s.HasInterestStartingIn(prefix) {
					t.Errorf("HasInterestStartingIn(%q) = false during concurrent updates", prefix)
					return
				}
			}
			if s.HasInterestStartingIn("other.subject") {
				t.Errorf("HasInterestStartingIn(%q) = true, nothing is stored there", "other.subject")
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < iterations; i++ {
			value := 1000 + i
			subject := "test.subject." + string(rune('a'+i%26))
			for _, err := range []error{
				s.Insert(subject, value),
				s.Insert("foo.*.test", value),
				s.Remove(subject, value),
				s.Remove("foo.*.test", value),
			} {
				if err != nil {
					t.Errorf("concurrent update: %v", err)
					return
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < iterations; i++ {
			if !s.HasInterest("foo.bar.baz") || !s.HasInterest("foo.something.baz") {
				t.Errorf("HasInterest lost a stored subject during concurrent updates")
				return
			}
		}
	}()
	wg.Wait()
	require_Equal(t, s.Count(), 30)
}

func TestGenericSublistNumInterest(t *testing.T) {
	s := NewSublist[int]()
	for _, step := range interestSteps {
		t.Run(step.subject, func(t *testing.T) {
			require_NoError(t, s.Insert(step.subject, step.value))
			for probe, want := range step.probes {
				require_Matches(t, s, probe, want)
				require_Equal(t, s.NumInterest(probe), want)
			}
			require_NoError(t, s.Remove(step.subject, step.value))
			for probe := range step.probes {
				require_Matches(t, s, probe, 0)
				require_Equal(t, s.NumInterest(probe), 0)
			}
		})
	}
}

// Tests below are not upstream's; they pin down behaviour upstream's tests
// leave unobserved.

func TestNewSimpleSublistTracksInterest(t *testing.T) {
	s := NewSimpleSublist()
	require_Equal(t, s.Count(), 0)
	require_NoError(t, s.Insert("orders.*", struct{}{}))
	require_True(t, s.HasInterest("orders.new"))
	require_False(t, s.HasInterest("orders"))
	require_Matches(t, s, "orders.new", 1)
	require_NoError(t, s.Remove("orders.*", struct{}{}))
	require_False(t, s.HasInterest("orders.new"))
}

func TestGenericSublistMatchBytes(t *testing.T) {
	s := NewSublist[string]()
	require_NoError(t, s.Insert("a.b", "literal"))
	require_NoError(t, s.Insert("a.*", "pwc"))
	require_NoError(t, s.Insert("x.y", "other"))
	got := map[string]int{}
	s.MatchBytes([]byte("a.b"), func(v string) { got[v]++ })
	require_Equal(t, len(got), 2)
	require_Equal(t, got["literal"], 1)
	require_Equal(t, got["pwc"], 1)
}

// Match must hand every value stored under a matching subject to the
// callback, including several values under one subject.
func TestGenericSublistMatchCallsBackEachValue(t *testing.T) {
	s := NewSublist[int]()
	for v := 1; v <= 3; v++ {
		require_NoError(t, s.Insert("job.run", v))
	}
	require_NoError(t, s.Insert("job.>", 10))
	require_NoError(t, s.Insert("*.run", 20))
	sum := 0
	s.Match("job.run", func(v int) { sum += v })
	require_Equal(t, sum, 1+2+3+10+20)
}

func TestGenericSublistHasInterestStartingIn(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("orders.eu.new", 1))
	require_NoError(t, s.Insert("events.*.created", 2))
	require_NoError(t, s.Insert("logs.>", 3))

	cases := []struct {
		prefix string
		want   bool
	}{
		{"orders", true},
		{"orders.eu", true},
		{"orders.eu.new", true},
		{"orders.us", false},
		{"orders.eu.new.extra", false},
		{"events.anything", true},
		{"events.anything.created", true},
		{"events.anything.deleted", false},
		{"logs.a.b.c", true},
		{"metrics", false},
	}
	for _, tc := range cases {
		t.Run(tc.prefix, func(t *testing.T) {
			require_Equal(t, s.HasInterestStartingIn(tc.prefix), tc.want)
		})
	}
}

// Removing a subject must not prune a node that still has children.
func TestGenericSublistRemoveKeepsDescendants(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("a.b", 1))
	require_NoError(t, s.Insert("a.b.c", 2))
	require_NoError(t, s.Insert("a.*.c", 3))
	require_NoError(t, s.Insert("a.b.>", 4))
	require_NoError(t, s.Remove("a.b", 1))
	require_Matches(t, s, "a.b.c", 3)
	require_Equal(t, s.numLevels(), 3)
	require_NoError(t, s.Remove("a.b.c", 2))
	require_NoError(t, s.Remove("a.b.>", 4))
	require_Matches(t, s, "a.b.c", 1)
	require_NoError(t, s.Remove("a.*.c", 3))
	require_Equal(t, s.numLevels(), 0)
	require_Equal(t, s.root.numNodes(), 0)
}

func TestGenericSublistRemoveNotFound(t *testing.T) {
	s := NewSublist[int]()
	require_NoError(t, s.Insert("a.b", 1))
	require_Error(t, s.Remove("a.b", 2), ErrNotFound)     // value missing
	require_Error(t, s.Remove("a.b.c.d", 1), ErrNotFound) // path runs out
	require_Error(t, s.Remove("a", 1), ErrNotFound)       // interior node
	require_Error(t, s.Remove("x.>", 1), ErrNotFound)     // missing wildcard
	require_Equal(t, s.Count(), 1)
	require_Matches(t, s, "a.b", 1)
}

// MatchesSingleFilter with a lone wildcard subject at the top level.
func TestGenericSublistSingleFilterWildcards(t *testing.T) {
	for _, subject := range []string{"*", ">", "*.b", "a.*", "a.>"} {
		t.Run(subject, func(t *testing.T) {
			s := NewSublist[int]()
			require_NoError(t, s.Insert(subject, 1))
			filter, ok := s.MatchesSingleFilter()
			require_True(t, ok)
			require_Equal(t, filter, subject)
		})
	}
}

func TestTokenizeSubjectIntoSlice(t *testing.T) {
	cases := []struct {
		subject string
		want    []string
	}{
		{"foo", []string{"foo"}},
		{"foo.bar.baz", []string{"foo", "bar", "baz"}},
		{"foo..bar", []string{"foo", "", "bar"}},
		{"", []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.subject, func(t *testing.T) {
			prefix := []string{"kept"}
			got := tokenizeSubjectIntoSlice(prefix, tc.subject)
			require_Equal(t, fmt.Sprint(got), fmt.Sprint(append([]string{"kept"}, tc.want...)))
		})
	}
}

func TestLiteralTokensRejectsEmptyTokens(t *testing.T) {
	cases := []struct {
		subject string
		want    []string
		ok      bool
	}{
		{"a.b.c", []string{"a", "b", "c"}, true},
		{"a", []string{"a"}, true},
		{"a..c", nil, false},
		{".a", nil, false},
		{"a.", nil, false},
		{"", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.subject, func(t *testing.T) {
			var buf [4]string
			got, ok := literalTokens(buf[:0], tc.subject)
			require_Equal(t, ok, tc.ok)
			require_Equal(t, fmt.Sprint(got), fmt.Sprint(tc.want))
		})
	}
}
