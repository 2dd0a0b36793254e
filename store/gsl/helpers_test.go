package gsl

import (
	"errors"
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

// require_Error fails unless err is one of want (or, with no want, any error).
func require_Error(t testing.TB, err error, want ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error, got nil")
	}
	if len(want) == 0 {
		return
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Fatalf("expected one of %v, got %v", want, err)
}

func require_Equal[T comparable](t testing.TB, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// require_Matches fails unless Match on subject calls back exactly want times.
func require_Matches[T comparable](t testing.TB, s *GenericSublist[T], subject string, want int) {
	t.Helper()
	got := 0
	s.Match(subject, func(T) { got++ })
	if got != want {
		t.Fatalf("Match(%q): got %d results, want %d", subject, got, want)
	}
}
