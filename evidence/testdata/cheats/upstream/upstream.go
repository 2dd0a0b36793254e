// Package upstream stands in for the code being ported: the bodies here are
// what the honest port reproduces, and what the stub scan compares cheats
// against.
package upstream

// Counter accumulates additions and remembers them.
type Counter struct {
	n    int
	hist []int
}

func (c *Counter) Add(d int) {
	c.n += d
	c.hist = append(c.hist, d)
}

func (c *Counter) Reset() {
	c.n = 0
	c.hist = nil
}

func (c *Counter) Value() int { return c.n }

// Close has nothing to release.
func (c *Counter) Close() {}

func Sum(xs []int) int {
	total := 0
	for _, x := range xs {
		total += x
	}
	return total
}

func Mean(xs []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	return float64(Sum(xs)) / float64(len(xs))
}

func Median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int(nil), xs...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

func Abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func Count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func Scale(xs []int, f int) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = x * f
	}
	return out
}

func Clamp(x, lo, hi int) int {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// Version is a constant upstream too.
func Version() string { return "1.0" }
