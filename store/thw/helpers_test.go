package thw

import (
	"errors"
	"maps"
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

// require_Error fails unless err is (or wraps) want.
func require_Error(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func require_True(t testing.TB, b bool) {
	t.Helper()
	if !b {
		t.Fatalf("expected true")
	}
}

func require_Equal[T comparable](t testing.TB, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// entries returns every (sequence, expiry) pair the wheel holds, keyed by
// slot position and sequence.
func entries(hw *HashWheel) map[[2]uint64]int64 {
	out := make(map[[2]uint64]int64)
	for pos, s := range hw.wheel {
		if s == nil {
			continue
		}
		for seq, expires := range s.entries {
			out[[2]uint64{uint64(pos), seq}] = expires
		}
	}
	return out
}

// checkWheel verifies the wheel's invariants: each entry sits in the slot of
// its expiry, no slot is kept empty, the count matches, and the slot and
// wheel lowest values are at or below every expiry they cover.
func checkWheel(t testing.TB, hw *HashWheel) {
	t.Helper()
	require_Equal(t, len(hw.wheel), wheelSize)
	var count uint64
	for pos, s := range hw.wheel {
		if s == nil {
			continue
		}
		if len(s.entries) == 0 {
			t.Fatalf("slot %d is empty but kept", pos)
		}
		for seq, expires := range s.entries {
			count++
			if want := (expires / int64(1e9)) & 4095; want != int64(pos) {
				t.Fatalf("seq %d expiring %d is in slot %d, want %d", seq, expires, pos, want)
			}
			if s.lowest > expires || hw.lowest > expires {
				t.Fatalf("seq %d expires at %d, below slot lowest %d or wheel lowest %d",
					seq, expires, s.lowest, hw.lowest)
			}
		}
	}
	require_Equal(t, hw.count, count)
	require_Equal(t, hw.Count(), count)
}

// sameEntries reports whether both wheels hold the same entries.
func sameEntries(a, b *HashWheel) bool {
	return maps.Equal(entries(a), entries(b))
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require_NoError(t, err)
	return b
}
