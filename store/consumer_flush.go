package store

import (
	"errors"
	"path/filepath"
	"time"
)

// consumerMinFlushInterval keeps a busy consumer to about ten state writes
// a second.
const consumerMinFlushInterval = 100 * time.Millisecond

// kickFlusher marks the state dirty and wakes the flusher. mu held.
func (o *consumerFileStore) kickFlusher() {
	if o.flushCh != nil {
		select {
		case o.flushCh <- struct{}{}:
		default:
		}
	}
	o.dirty = true
}

// setInFlusher records that the flusher is running.
func (o *consumerFileStore) setInFlusher() {
	o.mu.Lock()
	o.flusher = true
	o.mu.Unlock()
}

// clearInFlusher records that the flusher has stopped.
func (o *consumerFileStore) clearInFlusher() {
	o.mu.Lock()
	o.flusher = false
	o.mu.Unlock()
}

// inFlusher reports whether the flusher is running.
func (o *consumerFileStore) inFlusher() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flusher
}

// flushLoop writes the state each time it is kicked, at most once per
// consumerMinFlushInterval, until qch is closed or the store is.
func (o *consumerFileStore) flushLoop(fch, qch chan struct{}) {
	o.setInFlusher()
	defer o.clearInFlusher()

	var lastWrite time.Time
	var delay *time.Timer
	defer func() {
		if delay != nil {
			delay.Stop()
		}
	}()
	for {
		select {
		case <-fch:
			if since := time.Since(lastWrite); since < consumerMinFlushInterval {
				if delay == nil {
					delay = time.NewTimer(consumerMinFlushInterval - since)
				} else {
					delay.Reset(consumerMinFlushInterval - since)
				}
				select {
				case <-delay.C:
				case <-qch:
					return
				}
			}
			err := o.flushState()
			if errors.Is(err, ErrStoreClosed) {
				return
			}
			// A failed write leaves the state dirty; the next kick retries.
			if err == nil {
				lastWrite = time.Now()
			}
		case <-qch:
			return
		}
	}
}

// flushState encodes the current state and writes it. Encoding under
// writeMu keeps the writes in the order the states were taken.
func (o *consumerFileStore) flushState() error {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.Lock()
	buf, err := o.encodeState()
	if err == nil {
		o.dirty = false
	}
	o.mu.Unlock()
	if err != nil {
		return err
	}
	return o.writeEncodedState(buf)
}

// encryptState seals an encoded state with the consumer's key; without
// encryption buf is returned as is. mu held.
func (o *consumerFileStore) encryptState(buf []byte) ([]byte, error) {
	if o.aek == nil {
		return buf, nil
	}
	return sealWithRandomNonce(o.aek, buf)
}

// writeState writes an encoded state to o.dat. An empty buf writes nothing.
func (o *consumerFileStore) writeState(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	return o.writeEncodedState(buf)
}

// writeEncodedState encrypts buf if needed and replaces o.dat with it
// durably (synced temporary file, rename, synced directory), so that a crash
// leaves the old or the new state. A failure marks the state dirty again so
// that it is retried. writeMu held, mu not held.
func (o *consumerFileStore) writeEncodedState(buf []byte) error {
	o.mu.Lock()
	buf, err := o.encryptState(buf)
	fn, fs := o.stateFile, o.fs
	o.mu.Unlock()
	if err == nil {
		err = writeFileWithSync(fs.fsys, fn, buf, defaultFilePerms)
	}
	if err != nil {
		o.mu.Lock()
		o.dirty = true
		o.mu.Unlock()
	}
	return err
}

// Stop stops the flusher, writes the state if it changed since it was last
// written, and unregisters the consumer from its stream.
func (o *consumerFileStore) Stop() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	if o.quitCh != nil {
		close(o.quitCh)
		o.quitCh = nil
	}
	var buf []byte
	if o.dirty {
		// A state that cannot be encoded is not written; stopping goes on.
		if b, err := o.encodeState(); err == nil {
			buf = b
			o.dirty = false
		}
	}
	o.dir = _EMPTY_
	o.closed = true
	fs := o.fs
	o.mu.Unlock()

	if err := fs.RemoveConsumer(o); err != nil {
		return err
	}
	// The flusher saw closed and writes nothing more; this write is last.
	o.waitOnFlusher()
	return o.writeState(buf)
}

// waitOnFlusher waits for the flusher to exit. Upstream gave up after 100ms;
// here the wait is complete, so that no write follows Stop or Delete.
func (o *consumerFileStore) waitOnFlusher() {
	if o.flusherDone != nil {
		<-o.flusherDone
	}
}

// Delete removes the consumer's directory and unregisters it.
func (o *consumerFileStore) Delete() error {
	return o.delete(false)
}

// StreamDelete closes the consumer as its stream is deleted; the stream
// removes the files.
func (o *consumerFileStore) StreamDelete() error {
	return o.delete(true)
}

func (o *consumerFileStore) delete(streamDeleted bool) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	if o.quitCh != nil {
		close(o.quitCh)
		o.quitCh = nil
	}
	dir := o.dir
	o.dir = _EMPTY_
	o.closed = true
	fs := o.fs
	o.mu.Unlock()

	o.waitOnFlusher()
	if dir != _EMPTY_ && !streamDeleted {
		// Under writeMu no write of o.dat is half done in the directory.
		o.writeMu.Lock()
		err := removeAllWithRetry(fs.fsys, dir)
		if err == nil {
			// Make the removal durable, or a crash brings the consumer back.
			err = fs.fsys.SyncDir(filepath.Dir(dir))
		}
		o.writeMu.Unlock()
		if err != nil {
			return err
		}
	}
	if !streamDeleted {
		return fs.RemoveConsumer(o)
	}
	return nil
}
