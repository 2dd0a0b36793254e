// Package ats keeps a process-wide, coarse "now" for cache access times, so
// hot paths read an atomic instead of calling time.Now.
//
// While at least one user is registered, a single goroutine refreshes the
// time every TickInterval. Stores Register when they open and Unregister
// when they close; the goroutine runs only while someone is registered.
package ats

import (
	"sync"
	"sync/atomic"
	"time"
)

// TickInterval is how often the access time is refreshed, and so how stale
// AccessTime can be while someone is registered.
const TickInterval = 100 * time.Millisecond

// utime is the access time in unix nanoseconds; zero until first set.
var utime atomic.Int64

// ticker is the refresh goroutine's lifecycle.
var ticker struct {
	mu sync.Mutex // guards refs, stop and stopped; held while starting or stopping the goroutine
	// refs counts registered users.
	refs int64
	// stop is closed to end the running goroutine, which then closes
	// stopped. Each start gets fresh channels, so a goroutine being stopped
	// can never swallow the signal meant for its successor.
	stop, stopped chan struct{}
}

// Register adds a user, starting the refresh goroutine for the first one.
func Register() {
	ticker.mu.Lock()
	defer ticker.mu.Unlock()
	ticker.refs++
	if ticker.refs > 1 {
		return
	}
	utime.Store(time.Now().UnixNano())
	stop, stopped := make(chan struct{}), make(chan struct{})
	ticker.stop, ticker.stopped = stop, stopped
	go func() {
		defer close(stopped)
		tick(stop)
	}()
}

// Unregister removes a user. The last one stops the refresh goroutine and
// waits for it to exit, so no tick lands after Unregister returns. It panics
// when nobody is registered, which means Register and Unregister calls are
// unbalanced.
func Unregister() {
	ticker.mu.Lock()
	defer ticker.mu.Unlock()
	if ticker.refs == 0 {
		panic("ats: unbalanced unregister for access time state")
	}
	ticker.refs--
	if ticker.refs > 0 {
		return
	}
	close(ticker.stop)
	<-ticker.stopped
	ticker.stop, ticker.stopped = nil, nil
}

// tick refreshes utime every TickInterval until stop is closed.
func tick(stop <-chan struct{}) {
	t := time.NewTicker(TickInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			utime.Store(time.Now().UnixNano())
		case <-stop:
			return
		}
	}
}

// AccessTime returns the current access time in unix nanoseconds. It is at
// most about TickInterval old while someone is registered, and frozen at its
// last value otherwise; if it was never set it is set to now, so it is never
// zero.
func AccessTime() int64 {
	if v := utime.Load(); v != 0 {
		return v
	}
	// Several users may get here at once on startup; any of their times will do.
	v := time.Now().UnixNano()
	utime.CompareAndSwap(0, v)
	return utime.Load()
}
