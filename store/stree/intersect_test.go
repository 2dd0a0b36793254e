package stree

import (
	"fmt"
	"testing"

	"github.com/porttracker/porttracker/store/gsl"
)

func TestSubjectTreeLazyIntersect(t *testing.T) {
	st1 := NewSubjectTree[int]()
	st2 := NewSubjectTree[int]()
	both := []string{"foo.bar", "foo.bar.baz.qux"}
	for i, s := range both {
		st1.Insert(b(s), i)
		st2.Insert(b(s), 10+i)
	}
	// Near misses on either side.
	for _, s := range []string{"bar", "a.b.c", "a.b.ee", "bb.c.d"} {
		st1.Insert(b(s), -1)
	}
	for _, s := range []string{"baz", "a.b.d", "a.b.e", "b.c.d", "foo.bar.baz.qux.alice", "foo.bar.baz.qux.bob"} {
		st2.Insert(b(s), -1)
	}

	check := func(t *testing.T, intersect func(cb func(key []byte, v1, v2 *int))) {
		got := map[string]int{}
		intersect(func(key []byte, v1, v2 *int) {
			got[string(key)]++
			require_Equal(t, *v2, *v1+10)
		})
		require_Equal(t, len(got), 2)
		for _, s := range both {
			require_Equal(t, got[s], 1)
		}
	}
	// st1 is smaller, so it is walked; swapping the arguments walks st2's
	// side instead.
	t.Run("leftSmaller", func(t *testing.T) {
		check(t, func(cb func([]byte, *int, *int)) { LazyIntersect(st1, st2, cb) })
	})
	t.Run("rightSmaller", func(t *testing.T) {
		check(t, func(cb func([]byte, *int, *int)) {
			LazyIntersect(st2, st1, func(key []byte, v2, v1 *int) { cb(key, v1, v2) })
		})
	})
}

func TestSubjectTreeGSLIntersection(t *testing.T) {
	st := NewSubjectTree[struct{}]()
	for _, s := range []string{
		"one.two.three.four",
		"one.two.three.five",
		"one.two.six",
		"one.two.seven",
		"eight.nine",
		"stream.A",
		"stream.A.child",
	} {
		st.Insert(b(s), struct{}{})
	}

	for _, tc := range []struct {
		name    string
		filters []string
		want    []string
	}{
		{"Literals", []string{"one.two.six", "eight.nine"}, []string{"one.two.six", "eight.nine"}},
		{"PWC", []string{"one.two.*.*"}, []string{"one.two.three.four", "one.two.three.five"}},
		{"PWCOverlapping", []string{"one.two.*.four", "one.two.*.*"}, []string{"one.two.three.four", "one.two.three.five"}},
		{"PWCAll", []string{"*.*", "*.*.*", "*.*.*.*"}, []string{
			"one.two.three.four", "one.two.three.five", "one.two.six", "one.two.seven",
			"eight.nine", "stream.A", "stream.A.child",
		}},
		{"FWC", []string{"one.>"}, []string{"one.two.three.four", "one.two.three.five", "one.two.six", "one.two.seven"}},
		{"FWCOverlapping", []string{"one.two.three.four", "one.>", ">"}, []string{
			"one.two.three.four", "one.two.three.five", "one.two.six", "one.two.seven",
			"eight.nine", "stream.A", "stream.A.child",
		}},
		{"FWCExtended", []string{"stream.A.>", "stream.A"}, []string{"stream.A", "stream.A.child"}},
		{"PWCExtended", []string{"stream.*.child", "stream.A"}, []string{"stream.A", "stream.A.child"}},
		{"PWCExtendedAggressive", []string{
			"stream.A.child", "*.A.child", "stream.*.child", "stream.A.*", "stream.*.*", "*.A.*", "*.*.child",
		}, []string{"stream.A.child"}},
		{"PWCExtendedAggressive2", []string{"stream.A.child", "*.A.child", "stream.A.*", "*.A.*", "*.*.child"}, []string{"stream.A.child"}},
		{"PWCExtendedAggressive3", []string{"stream.A.child", "stream.*.*"}, []string{"stream.A.child"}},
		{"PWCExtendedAggressive4", []string{"stream.A.child", "stream.*.>"}, []string{"stream.A.child"}},
		{"PWCExtendedAggressive5", []string{"stream.A.child", "*.*"}, []string{"stream.A.child", "eight.nine", "stream.A"}},
		{"PWCExtendedAggressive6", []string{"stream.A.child", "stream.*"}, []string{"stream.A.child", "stream.A"}},
		{"PWCExtendedAggressive7", []string{"stream.A", "*.*.*"}, []string{"stream.A", "one.two.six", "one.two.seven", "stream.A.child"}},
		{"FWCAll", []string{">"}, []string{
			"one.two.three.four", "one.two.three.five", "one.two.six", "one.two.seven",
			"eight.nine", "stream.A", "stream.A.child",
		}},
		{"NoMatch", []string{"one"}, nil},
		{"NoMatches", []string{"one", "eight", "ten"}, nil},
		{"NoMatchPartial", []string{"stream.A.not-child", "stream.A.child.>"}, nil},
		{"PWCDoesntHideLiteral", []string{"one.*.six", "one.two.seven"}, []string{"one.two.six", "one.two.seven"}},
		{"PWCDoesntHideLiteral2", []string{"one.*.*.four", "one.*.*.five", "one.*.three"}, []string{"one.two.three.four", "one.two.three.five"}},
		// Wildcards at unrelated positions must not hide each other.
		{"DisjointWildcardPositions", []string{"one.two.*.*", "*.two.three.four"}, []string{"one.two.three.four", "one.two.three.five"}},
		{"LiteralMatchWithOverlappingPWCs", []string{"one.*.four.five", "one.two.three.four"}, []string{"one.two.three.four"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sl := gsl.NewSublist[int]()
			for i, f := range tc.filters {
				require_NoError(t, sl.Insert(f, i))
			}
			got := map[string]int{}
			IntersectGSL(st, sl, func(subject []byte, _ *struct{}) bool {
				got[string(subject)]++
				return true
			})
			require_Len(t, len(got), len(tc.want))
			for _, s := range tc.want {
				if got[s] != 1 {
					t.Fatalf("%q called back %d times, want once (got %v)", s, got[s], got)
				}
			}
		})
	}

	t.Run("StopsWhenCallbackReturnsFalse", func(t *testing.T) {
		sl := gsl.NewSublist[int]()
		require_NoError(t, sl.Insert(">", 11))
		calls := 0
		IntersectGSL(st, sl, func([]byte, *struct{}) bool {
			calls++
			return false
		})
		require_Equal(t, calls, 1)
	})

	t.Run("NilArguments", func(t *testing.T) {
		sl := gsl.NewSublist[int]()
		require_NoError(t, sl.Insert(">", 11))
		calls := 0
		cb := func([]byte, *struct{}) bool { calls++; return true }
		IntersectGSL(nil, sl, cb)
		IntersectGSL(NewSubjectTree[struct{}](), sl, cb)
		IntersectGSL[struct{}, int](st, nil, cb)
		require_Equal(t, calls, 0)
	})
}

func TestSubjectTreeLazyIntersectComprehensive(t *testing.T) {
	calls := 0
	count := func([]byte, *int, *string) { calls++ }

	var st1 *SubjectTree[int]
	var st2 *SubjectTree[string]
	LazyIntersect(st1, st2, count)
	st1 = NewSubjectTree[int]()
	st1.Insert(b("foo"), 1)
	LazyIntersect(st1, st2, count) // one side nil
	st2 = NewSubjectTree[string]()
	LazyIntersect(st1, st2, count) // one side empty
	LazyIntersect(NewSubjectTree[int](), st2, count)
	require_Equal(t, calls, 0)

	// Different value types on each side.
	st1 = NewSubjectTree[int]()
	st2 = NewSubjectTree[string]()
	st1.Insert(b("foo.bar"), 42)
	st2.Insert(b("foo.bar"), "hello")
	st1.Insert(b("baz.qux"), 100)
	st2.Insert(b("baz.qux"), "world")
	st1.Insert(b("only.in.st1"), 1)
	st2.Insert(b("only.in.st2"), "two")
	type pair struct {
		v1 int
		v2 string
	}
	results := map[string]pair{}
	LazyIntersect(st1, st2, func(key []byte, v1 *int, v2 *string) {
		results[string(key)] = pair{*v1, *v2}
	})
	require_Equal(t, len(results), 2)
	require_Equal(t, results["foo.bar"], pair{42, "hello"})
	require_Equal(t, results["baz.qux"], pair{100, "world"})

	// A large tree against a small one: values come back on the right side.
	large := NewSubjectTree[int]()
	small := NewSubjectTree[int]()
	for i := range 100 {
		large.Insert(b(fmt.Sprintf("large.%d", i)), i)
	}
	for _, i := range []int{5, 10, 50} {
		small.Insert(b(fmt.Sprintf("large.%d", i)), i*100)
	}
	small.Insert(b("small.only"), 999)
	hits := 0
	LazyIntersect(large, small, func(key []byte, v1, v2 *int) {
		hits++
		require_Equal(t, string(key), fmt.Sprintf("large.%d", *v1))
		require_Equal(t, *v2, *v1*100)
	})
	require_Equal(t, hits, 3)

	// Deep subjects, and subjects that are prefixes of each other.
	st3 := NewSubjectTree[int]()
	st4 := NewSubjectTree[int]()
	st3.Insert(b("a.b.c.d.e.f.g"), 1)
	st4.Insert(b("a.b.c.d.e.f.g"), 2)
	st3.Insert(b("a.b.c.d"), 3)
	st4.Insert(b("a.b.c.d.e"), 4)
	st3.Insert(b("prefix.suffix1"), 5)
	st4.Insert(b("prefix.suffix2"), 6)
	hits = 0
	LazyIntersect(st3, st4, func(key []byte, v1, v2 *int) {
		hits++
		require_Equal(t, string(key), "a.b.c.d.e.f.g")
		require_Equal(t, *v1, 1)
		require_Equal(t, *v2, 2)
	})
	require_Equal(t, hits, 1)
}

// Not upstream's. hasInterestForTokens checks each complete token of the
// path from the given offset, and ignores a trailing partial token.
func TestHasInterestForTokens(t *testing.T) {
	sl := gsl.NewSublist[int]()
	require_NoError(t, sl.Insert("orders.eu.*", 1))
	for _, tc := range []struct {
		subject string
		since   int
		want    bool
	}{
		{"orders.eu.new", 0, true},
		{"orders.us.new", 0, false},
		// The trailing token may be partial (a path can end mid-token),
		// so it is never checked.
		{"orders.u", 0, true},
		{"orders.us", 0, true},
		{"orders.us.", 0, false},
		{"orders.us.", 10, true}, // the separator before since is not checked
		{"billing.x", 0, false},
		{"billing", 0, true},
	} {
		t.Run(fmt.Sprintf("%s@%d", tc.subject, tc.since), func(t *testing.T) {
			require_Equal(t, hasInterestForTokens(sl, b(tc.subject), tc.since), tc.want)
		})
	}
}

// Not upstream's. IntersectGSL must agree with filtering every entry
// through HasInterest, over a tree large enough to have every node kind.
func TestIntersectGSLAgreesWithHasInterest(t *testing.T) {
	st := NewSubjectTree[int]()
	for i := range 600 {
		st.Insert(b(fmt.Sprintf("acct.%d.stream.%d", i%60, i)), i)
	}
	for _, filters := range [][]string{
		{"acct.7.>"},
		{"acct.*.stream.42", "acct.5.stream.*"},
		{"*.1.*.1", "acct.59.>"},
		{"acct.*.stream.5*"}, // "5*" is a literal token
		{"nothing.here"},
	} {
		t.Run(fmt.Sprint(filters), func(t *testing.T) {
			sl := gsl.NewSublist[int]()
			for i, f := range filters {
				require_NoError(t, sl.Insert(f, i))
			}
			want := map[string]bool{}
			st.IterFast(func(subject []byte, _ *int) bool {
				if sl.HasInterest(string(subject)) {
					want[string(subject)] = true
				}
				return true
			})
			got := map[string]bool{}
			IntersectGSL(st, sl, func(subject []byte, v *int) bool {
				s := string(subject)
				require_False(t, got[s])
				require_Equal(t, s, fmt.Sprintf("acct.%d.stream.%d", *v%60, *v))
				got[s] = true
				return true
			})
			require_Equal(t, len(got), len(want))
			for s := range want {
				require_True(t, got[s])
			}
		})
	}
}
