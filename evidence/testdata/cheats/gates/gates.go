// Package gates holds tests with every outcome the test gate must read.
package gates

func Double(x int) int { return 2 * x }
