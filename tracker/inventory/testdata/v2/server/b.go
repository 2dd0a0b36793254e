package server

func movesToB() int { return 7 }
