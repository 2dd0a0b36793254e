package app

import (
	"testing"

	"cheats/check"
)

func TestTotal(t *testing.T) {
	check.Equal(t, Total([]int{1, 2}, []int{3}), 6)
}
