package store

import "time"

// Asynchronous flushing (FileStoreConfig.AsyncFlush, or a replicated or
// async-persist stream after UpdateConfig). Message records then stay in
// the last block's cache and a per-block flusher goroutine writes them out
// shortly after, in batches: it waits while more keeps arriving, up to
// maxFlushWait, unless coalesceMinimum bytes are already waiting. A store
// acknowledges such messages before they reach the file, so a crash can
// lose the last few milliseconds of them (never a written one). Tombstones
// and anything that rewrites, truncates or reads back a block file flush
// first, so the file never lags behind what those see.

const (
	// coalesceMinimum is how many pending bytes are flushed without
	// waiting for more.
	coalesceMinimum = 16 * 1024
	// maxFlushWait is the longest the flusher waits for more to arrive.
	maxFlushWait = 8 * time.Millisecond
)

// spinUpFlushLoop starts the block's flusher.
func (mb *msgBlock) spinUpFlushLoop() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.spinUpFlushLoopLocked()
}

// spinUpFlushLoopLocked starts the block's flusher unless it runs or the
// block is closed. mb.mu held.
func (mb *msgBlock) spinUpFlushLoopLocked() {
	if mb.flusher || mb.closed {
		return
	}
	mb.flusher = true
	mb.fch = make(chan struct{}, 1)
	mb.qch = make(chan struct{})
	go mb.flushLoop(mb.fch, mb.qch)
}

// kickFlusher wakes a flusher without blocking; a wake-up already pending
// is enough.
func kickFlusher(fch chan struct{}) {
	if fch == nil {
		return
	}
	select {
	case fch <- struct{}{}:
	default:
	}
}

// kickFlusher wakes the block's flusher, if it has one.
func (mb *msgBlock) kickFlusher() {
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	kickFlusher(mb.fch)
}

// setInFlusher marks the flusher running.
func (mb *msgBlock) setInFlusher() {
	mb.mu.Lock()
	mb.flusher = true
	mb.mu.Unlock()
}

// clearInFlusher marks the flusher gone and drops its channels.
func (mb *msgBlock) clearInFlusher() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.flusher = false
	mb.stopFlusherLocked()
	mb.fch = nil
}

// stopFlusherLocked tells the flusher to quit. mb.mu held.
func (mb *msgBlock) stopFlusherLocked() {
	if mb.qch != nil {
		close(mb.qch)
		mb.qch = nil
	}
}

// flushLoop is the block's flusher: on each kick it lets pending bytes
// gather (see the constants), writes them, and ends once the block is no
// longer the last one and its file could be closed, or on qch.
func (mb *msgBlock) flushLoop(fch, qch chan struct{}) {
	mb.setInFlusher()
	defer mb.clearInFlusher()
	for {
		select {
		case <-fch:
			if waiting := mb.pendingWriteSize(); waiting != 0 {
				pause, waited := time.Millisecond, time.Duration(0)
				for waiting < coalesceMinimum {
					time.Sleep(pause)
					select {
					case <-qch:
						return
					default:
					}
					now := mb.pendingWriteSize()
					if waited += pause; waited > maxFlushWait || now <= waiting {
						break
					}
					waiting, pause = now, pause*2
				}
				// A failure is kept as the block's write error, or was
				// rolled back; writers see it.
				_ = mb.flushPendingMsgs()
			}
			mb.fs.mu.RLock()
			notLast := mb != mb.fs.lastBlock
			mb.fs.mu.RUnlock()
			if notLast && mb.closeFDs() == nil {
				return
			}
		case <-qch:
			return
		}
	}
}

// flushBeforeFileAccess writes pending records before the block file is
// read back, rewritten or truncated, so the file holds everything the
// cache does. mb.mu held.
func (mb *msgBlock) flushBeforeFileAccess() error {
	if mb.pendingWriteSizeLocked() == 0 {
		return nil
	}
	ld, err := mb.flushPendingMsgsLocked()
	if ld != nil && len(ld.Msgs) > 0 {
		// Needs the store's lock, which the caller may hold.
		go mb.fs.rebuildState(ld)
	}
	return err
}
