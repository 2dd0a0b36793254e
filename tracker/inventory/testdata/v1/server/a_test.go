package server

import "testing"

func TestStore(t *testing.T) {
	var s store
	if s.Store() != 1 {
		t.Fatal("store")
	}
}

func TestGoesAway(t *testing.T) {
	if oldName() == "" {
		t.Fatal("empty")
	}
}
