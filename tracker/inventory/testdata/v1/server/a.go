package server

type store struct{ msgs int }

func (s *store) Store() int {
	s.msgs++
	return s.msgs
}

func (s *store) Load() int { return s.msgs }

func oldName() string { return "renamed in v2" }

func movesToB() int { return 7 }

func reformatted(a, b int) int {
	return a + b
}
