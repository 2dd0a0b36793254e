// Package cheat ports package upstream dishonestly, one trick per function.
// The gates must refuse each of them.
package cheat

type Counter struct {
	total int
}

func (c *Counter) Add(d int) { c.total += d }

// Reset: an empty body.
func (c *Counter) Reset() {}

func (c *Counter) Value() int { return c.total }

// Close: empty like upstream's, so this one is honest.
func (c *Counter) Close() {}

// Mean: only panics.
func Mean(xs []int) float64 {
	panic("not implemented")
}

// Median: only returns a zero value.
func Median(xs []int) int {
	return 0
}

// Abs carries a marker of unfinished work.
func Abs(x int) int {
	// TODO: handle negative numbers
	return x
}

// Count returns the constant its test expects; upstream computes.
func Count(xs []int, v int) int {
	return 3
}

// Sum is honest, but its test asserts nothing.
func Sum(xs []int) int {
	total := 0
	for _, x := range xs {
		total += x
	}
	return total
}

// Scale is honest, but its test asserts on something Scale does not affect:
// only the gut check notices.
func Scale(xs []int, f int) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = x * f
	}
	return out
}

// Clamp is honest but no test exercises it.
func Clamp(x, lo, hi int) int {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// Version: a constant, like upstream's.
func Version() string { return "1.0" }

// Placeholder computes but says it is not done.
func Placeholder(xs []int) int {
	return len(xs) // PLACEHOLDER until the real algorithm lands
}

// NotDone returns an error that admits it.
func NotDone() error {
	return errorString("cheat: not implemented")
}

type errorString string

func (e errorString) Error() string { return string(e) }
