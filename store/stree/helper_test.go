package stree

import (
	"fmt"
	"strings"
	"testing"
)

func require_True(t testing.TB, b bool) {
	t.Helper()
	if !b {
		t.Fatalf("expected true, got false")
	}
}

func require_False(t testing.TB, b bool) {
	t.Helper()
	if b {
		t.Fatalf("expected false, got true")
	}
}

func require_NoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("expected no error, got %v", err)
	}
}

func require_Equal[T comparable](t testing.TB, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func require_Len(t testing.TB, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("got length %d, want %d", got, want)
	}
}

// require_Panics runs f and fails unless it panics with want.
func require_Panics(t testing.TB, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("expected panic %q, got none", want)
		}
		if got := fmt.Sprint(r); got != want {
			t.Fatalf("panic %q, want %q", got, want)
		}
	}()
	f()
}

func b(s string) []byte { return []byte(s) }

// match fails unless filter matches exactly want entries of st.
func match(t *testing.T, st *SubjectTree[int], filter string, want int) {
	t.Helper()
	got := 0
	st.Match(b(filter), func(_ []byte, _ *int) { got++ })
	if got != want {
		t.Fatalf("Match(%q): %d entries, want %d", filter, got, want)
	}
}

// matchUntilCount runs MatchUntil, stopping after stopAfter callbacks, and
// returns the callbacks made and whether matching completed.
func matchUntilCount[T any](st *SubjectTree[T], filter string, stopAfter int) (int, bool) {
	calls := 0
	completed := st.MatchUntil(b(filter), func(_ []byte, _ *T) bool {
		calls++
		return calls < stopAfter
	})
	return calls, completed
}

// requireFind fails unless subject is stored with value want.
func requireFind(t testing.TB, st *SubjectTree[int], subject string, want int) {
	t.Helper()
	v, found := st.Find(b(subject))
	if !found {
		t.Fatalf("Find(%q): not found", subject)
	}
	if *v != want {
		t.Fatalf("Find(%q) = %d, want %d", subject, *v, want)
	}
}

// requireKind fails unless n is an inner node or leaf of the given kind.
func requireKind(t testing.TB, n node, want string) {
	t.Helper()
	if n == nil {
		t.Fatalf("node is nil, want %s", want)
	}
	if got := n.kind(); got != want {
		t.Fatalf("node kind %s, want %s", got, want)
	}
}

// insertAll stores each subject with value 22 and checks it was new.
func insertAll(t testing.TB, st *SubjectTree[int], subjects ...string) {
	t.Helper()
	for _, s := range subjects {
		old, updated := st.Insert(b(s), 22)
		if old != nil || updated {
			t.Fatalf("Insert(%q) reported an existing entry", s)
		}
	}
}

// letters returns "prefix" followed by each of n consecutive bytes from 'A'.
func letters(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%c", prefix, 'A'+i)
	}
	return out
}

// literalMatches is a reference matcher with NATS semantics, token by
// token: "*" matches one token, a final ">" one or more.
func literalMatches(filter, subject string) bool {
	ft := strings.Split(filter, ".")
	st := strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" && i == len(ft)-1 {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(st) == len(ft)
}
