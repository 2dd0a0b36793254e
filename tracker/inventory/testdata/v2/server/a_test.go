package server

import "testing"

func TestStore(t *testing.T) {
	var s store
	if s.Store() != 2 {
		t.Fatal("store")
	}
}

func TestNewName(t *testing.T) {
	if newName() == "" {
		t.Fatal("empty")
	}
}
