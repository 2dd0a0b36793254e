package honest

import (
	"fmt"
	"strings"
)

// separator keeps strings in use outside Describe; fmt is used only inside
// Describe, so hollowing Describe must blank that import.
var separator = strings.Repeat("-", 1)

func Describe(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, separator)
}
