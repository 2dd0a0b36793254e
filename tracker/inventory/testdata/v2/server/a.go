package server

// A new comment above a type does not change anything below it.
type store struct{ msgs int }

func (s *store) Store() int {
	s.msgs += 2 // body change
	return s.msgs
}

func (s *store) Load() int { return s.msgs }

func newName() string { return "renamed in v2" }

// reformatted: same tokens, different layout and comments.
func reformatted(a, b int) int { return a + b /* sum */ }
