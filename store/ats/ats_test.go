package ats

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// refs returns the registered count under the lock.
func refs() int64 {
	ticker.mu.Lock()
	defer ticker.mu.Unlock()
	return ticker.refs
}

// eventually polls cond until it holds or a generous deadline passes; the
// machine may be loaded, so no single tick is relied on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(50 * TickInterval)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(TickInterval / 10)
	}
}

// changes reports whether AccessTime moves on from its current value.
func changes(t *testing.T) {
	t.Helper()
	at := AccessTime()
	eventually(t, "the access time to advance", func() bool { return AccessTime() > at })
}

// stays fails if AccessTime moves within a few ticks.
func stays(t *testing.T) {
	t.Helper()
	at := AccessTime()
	time.Sleep(3 * TickInterval)
	if got := AccessTime(); got != at {
		t.Fatalf("access time moved from %d to %d with nobody registered", at, got)
	}
}

func TestNotRunningValue(t *testing.T) {
	if refs() != 0 {
		t.Fatalf("a previous test left %d users registered", refs())
	}
	// Zero means never set, also when run again with -count.
	utime.Store(0)
	before := time.Now().UnixNano()
	at := AccessTime()
	if at < before || at > time.Now().UnixNano() {
		t.Fatalf("access time %d is not now", at)
	}
	// Nobody is registered, so nothing refreshes it.
	stays(t)
}

func TestRegisterAndUnregister(t *testing.T) {
	baseline := runtime.NumGoroutine()

	Register()
	if r := refs(); r != 1 {
		t.Fatalf("refs = %d, want 1", r)
	}
	if AccessTime() == 0 {
		t.Fatal("expected a non-zero access time")
	}
	changes(t)

	Unregister()
	if r := refs(); r != 0 {
		t.Fatalf("refs = %d, want 0", r)
	}
	// Unregister waited for the goroutine, so the time is frozen at once.
	stays(t)
	// At most the baseline: an unrelated runtime or testing goroutine that
	// was alive at the start may have ended since (seen under -cover).
	eventually(t, "the goroutine count to return to its baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})

	// Going from zero to one user again starts a new goroutine.
	Register()
	defer Unregister()
	changes(t)
	if n := runtime.NumGoroutine(); n > baseline+1 {
		t.Fatalf("%d goroutines, want at most %d", n, baseline+1)
	}
}

func TestUnbalancedUnregister(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("expected Unregister to panic with nobody registered")
		}
		// The failed call changed nothing; the next pair still works.
		if r := refs(); r != 0 {
			t.Errorf("refs = %d after the panic, want 0", r)
		}
		Register()
		Unregister()
	}()
	Unregister()
}

// The tests below are this port's own.

func TestRegisterNested(t *testing.T) {
	baseline := runtime.NumGoroutine()
	Register()
	Register()
	if n := runtime.NumGoroutine(); n != baseline+1 {
		t.Fatalf("%d goroutines, want one more than %d", n, baseline)
	}
	// One of two users leaving keeps the time fresh.
	Unregister()
	if r := refs(); r != 1 {
		t.Fatalf("refs = %d, want 1", r)
	}
	changes(t)
	Unregister()
	stays(t)
}

func TestRegisterConcurrent(t *testing.T) {
	baseline := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				Register()
				if AccessTime() == 0 {
					t.Error("zero access time while registered")
				}
				Unregister()
			}
		}()
	}
	wg.Wait()
	if r := refs(); r != 0 {
		t.Fatalf("refs = %d, want 0", r)
	}
	// Every start was matched by a stop that waited for its goroutine; only
	// the workers themselves may still be on their way out.
	// At most the baseline: an unrelated runtime or testing goroutine that
	// was alive at the start may have ended since (seen under -cover).
	eventually(t, "the goroutine count to return to its baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

func TestAccessTimeFirstUseConcurrent(t *testing.T) {
	utime.Store(0)
	var wg sync.WaitGroup
	got := make([]int64, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = AccessTime()
		}()
	}
	wg.Wait()
	// The first store wins; everyone sees a time and the same one.
	for i, v := range got {
		if v == 0 || v != got[0] {
			t.Fatalf("caller %d saw %d, first saw %d", i, v, got[0])
		}
	}
}

func TestTickStops(t *testing.T) {
	utime.Store(1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick(stop)
	}()
	eventually(t, "tick to store the time", func() bool { return utime.Load() > 1 })
	close(stop)
	select {
	case <-done:
	case <-time.After(50 * TickInterval):
		t.Fatal("tick did not return after stop was closed")
	}
}
