package elastic

import (
	"runtime"
	"testing"
)

// payload is big enough and holds a pointer, so it gets its own allocation
// (tiny pointer-free objects may share one and outlive their references).
type payload struct {
	data [64]byte
	next *payload
}

// collected runs the collector until e's value is gone, or gives up.
func collected(e *Pointer[payload]) bool {
	for range 20 {
		runtime.GC()
		if e.Value() == nil {
			return true
		}
	}
	return false
}

func TestMakeHoldsWeakly(t *testing.T) {
	p := &payload{}
	e := Make(p)
	if e.Value() != p {
		t.Fatalf("Make: value is not the pointer given")
	}
	runtime.KeepAlive(p)
	p = nil
	if !collected(e) {
		t.Fatalf("Make: the value outlived its last reference")
	}
}

func TestSetReplacesValueAndKeepsStrength(t *testing.T) {
	var e Pointer[payload]
	if e.Value() != nil {
		t.Fatalf("zero value holds something")
	}
	a, b := &payload{}, &payload{}
	e.Set(a)
	if e.Value() != a {
		t.Fatalf("Set(a): value is not a")
	}
	// Strong stays strong across Set.
	e.Strengthen()
	e.Set(b)
	if e.Value() != b {
		t.Fatalf("Set(b): value is not b")
	}
	runtime.KeepAlive(a)
	b = nil
	if collected(&e) {
		t.Fatalf("Set on a strong pointer let the new value be collected")
	}
	e.Set(nil)
	if e.Value() != nil {
		t.Fatalf("Set(nil): value is still there")
	}
}

func TestStrengthenAndWeaken(t *testing.T) {
	var e Pointer[payload]
	e.Set(&payload{})
	e.Strengthen()
	if collected(&e) {
		t.Fatalf("a strengthened value was collected")
	}
	// Strengthening twice is harmless.
	e.Strengthen()
	e.Weaken()
	if !collected(&e) {
		t.Fatalf("a weakened value was not collected")
	}
	// Nothing left to strengthen.
	e.Strengthen()
	if e.Value() != nil {
		t.Fatalf("Strengthen brought back a collected value")
	}
}

func TestNilPointerIsHarmless(t *testing.T) {
	var e *Pointer[payload]
	e.Strengthen()
	e.Weaken()
	if e.Value() != nil {
		t.Fatalf("a nil Pointer has a value")
	}
}
