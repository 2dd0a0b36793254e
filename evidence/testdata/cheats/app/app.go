// Package app uses package honest, so its tests cover honest's code.
package app

import "cheats/honest"

func Total(groups ...[]int) int {
	t := 0
	for _, g := range groups {
		t += honest.Sum(g)
	}
	return t
}
