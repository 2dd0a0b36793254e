// Package elastic provides a pointer that can be held weakly or strongly
// and switched between the two.
//
// The file store keeps each block's cache behind one: while a block has
// writes not yet on disk the pointer is strong, so the garbage collector
// cannot take them; otherwise it may be weak, so an idle cache costs memory
// only until the next collection, yet a read soon after can still pick it
// up again without touching the disk.
package elastic

import "weak"

// Pointer is a pointer to a T that is weak until Strengthen and again after
// Weaken. The zero value holds nothing. It is not safe for concurrent use;
// its owner's lock guards it.
type Pointer[T any] struct {
	weak   weak.Pointer[T]
	strong *T // non-nil only while strengthened
}

// Make returns a weak Pointer to ptr.
func Make[T any](ptr *T) *Pointer[T] {
	return &Pointer[T]{weak: weak.Make(ptr)}
}

// Set points e at ptr. A strengthened pointer stays strong (now holding
// ptr, or nothing when ptr is nil); a weak one stays weak.
func (e *Pointer[T]) Set(ptr *T) {
	e.weak = weak.Make(ptr)
	if e.strong != nil {
		e.strong = ptr
	}
}

// Strengthen makes the pointer hold its value strongly, if it still has
// one. It does nothing on a nil or already strong pointer.
func (e *Pointer[T]) Strengthen() {
	if e == nil || e.strong != nil {
		return
	}
	e.strong = e.weak.Value()
}

// Weaken drops the strong hold, leaving the value to the garbage collector
// once nothing else references it.
func (e *Pointer[T]) Weaken() {
	if e == nil {
		return
	}
	e.strong = nil
}

// Value returns the value, or nil when there is none or it was collected.
func (e *Pointer[T]) Value() *T {
	if e == nil {
		return nil
	}
	if e.strong != nil {
		return e.strong
	}
	return e.weak.Value()
}
