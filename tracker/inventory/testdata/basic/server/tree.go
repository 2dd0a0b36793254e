package server

// Tree is generic.
type Tree[T any] struct{ items []T }

type Pair[K comparable, V any] struct {
	k K
	v V
}

func (t *Tree[T]) Insert(v T) { t.items = append(t.items, v) }

func (p Pair[K, V]) Key() K { return p.k }

func Map[T, U any](in []T, f func(T) U) []U {
	out := make([]U, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

func init() {}
