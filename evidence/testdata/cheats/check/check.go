// Package check is an assertion library outside the tested package, like
// testify: the stub scan counts its calls when configured to.
package check

import "testing"

func Equal[T comparable](t testing.TB, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}
