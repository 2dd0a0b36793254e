package honest

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
	sorted := append([]int(nil), xs...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	return sorted[len(sorted)/2]
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

// Clamp is ported honestly but no test exercises it: the coverage links
// find no test for it.
func Clamp(x, lo, hi int) int {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// Divmod has named results: its mutant is a bare return.
func Divmod(a, b int) (q, r int) {
	q = a / b
	r = a % b
	return
}

// MinMax has a result type spanning lines: the mutant must keep them.
func MinMax(xs []int) struct {
	Min, Max int
} {
	var out struct {
		Min, Max int
	}
	for i, x := range xs {
		if i == 0 || x < out.Min {
			out.Min = x
		}
		if i == 0 || x > out.Max {
			out.Max = x
		}
	}
	return out
}

// Next steps a counter; hollowed, it returns 0 forever and the loop in its
// test never ends: the gut check must kill that mutant and count it caught.
func Next(i int) int { return i + 1 }
