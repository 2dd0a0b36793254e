package honest

import (
	"testing"
)

// requireEqual is the usual assertion helper: it reaches t.Fatalf.
func requireEqual[T comparable](t testing.TB, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// requireSliceEqual reaches an assertion only through another helper.
func requireSliceEqual(t *testing.T, got, want []int) {
	t.Helper()
	requireEqual(t, len(got), len(want))
	for i := range got {
		requireEqual(t, got[i], want[i])
	}
}

// harness holds t, as some store tests do.
type harness struct {
	t *testing.T
	c Counter
}

func (h *harness) expect(want int) {
	if h.c.Value() != want {
		h.t.Errorf("counter = %d, want %d", h.c.Value(), want)
	}
}

func TestCounter(t *testing.T) {
	h := &harness{t: t}
	h.c.Add(2)
	h.c.Add(3)
	h.expect(5)
	h.c.Reset()
	h.expect(0)
	if len(h.c.history) != 0 {
		t.Fatalf("history kept after Reset: %v", h.c.history)
	}
}

func TestSum(t *testing.T) {
	requireEqual(t, Sum([]int{1, 2, 3}), 6)
}

func TestStats(t *testing.T) {
	cases := []struct {
		name   string
		xs     []int
		mean   float64
		median int
	}{
		{"empty", nil, 0, 0},
		{"odd", []int{3, 1, 2}, 2, 2},
		{"even", []int{4, 1, 3, 2}, 2.5, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mean(tc.xs); got != tc.mean {
				t.Errorf("Mean = %v, want %v", got, tc.mean)
			}
			if got := Median(tc.xs); got != tc.median {
				t.Errorf("Median = %v, want %v", got, tc.median)
			}
		})
	}
}

func TestAbsCount(t *testing.T) {
	requireEqual(t, Abs(-4), 4)
	requireEqual(t, Abs(5), 5)
	requireEqual(t, Count([]int{1, 2, 1, 1}, 1), 3)
}

func TestScale(t *testing.T) {
	requireSliceEqual(t, Scale([]int{1, 2}, 3), []int{3, 6})
}

func TestDivmodMinMax(t *testing.T) {
	q, r := Divmod(7, 2)
	requireEqual(t, q, 3)
	requireEqual(t, r, 1)
	mm := MinMax([]int{4, -1, 9})
	requireEqual(t, mm.Min, -1)
	requireEqual(t, mm.Max, 9)
}

func TestNext(t *testing.T) {
	steps := 0
	for i := 0; i != 10; i = Next(i) {
		steps++
	}
	requireEqual(t, steps, 10)
}

func TestDescribe(t *testing.T) {
	requireEqual(t, Describe([]int{1, 2}), "1-2")
}

func TestStack(t *testing.T) {
	var s Stack[string]
	s.Push("a")
	s.Push("b")
	requireEqual(t, s.Len(), 2)
	v, ok := s.Pop()
	requireEqual(t, ok, true)
	requireEqual(t, v, "b")
}

func TestVersion(t *testing.T) {
	requireEqual(t, Version(), "1.0")
}

// TestClose passes a named test function to t.Run: the assertion is reached
// through a function value.
func TestClose(t *testing.T) {
	t.Run("close", checkClose)
}

func checkClose(t *testing.T) {
	var c Counter
	c.Add(1)
	c.Close()
	if c.Value() != 1 {
		t.Error("Close changed the counter")
	}
}
