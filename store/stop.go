package store

import (
	"path/filepath"
	"slices"
	"time"

	"github.com/porttracker/porttracker/store/ats"
	"github.com/porttracker/porttracker/store/vfs"
)

// Stop flushes, writes index.db and closes the store.
func (fs *fileStore) Stop() error {
	return fs.stop(false, true)
}

// stop closes the store; delete tells consumers their stream is going, and
// writeState writes index.db first.
func (fs *fileStore) stop(delete, writeState bool) error {
	if fs.isClosed() {
		return ErrStoreClosed
	}
	fs.mu.Lock()
	if fs.closing {
		fs.mu.Unlock()
		return ErrStoreClosed
	}
	fs.closing = true
	if fs.quit != nil {
		close(fs.quit)
		fs.quit = nil
	}
	if writeState {
		done := fs.stateDone
		fs.mu.Unlock()
		<-done
		fs.mu.Lock()
		// A failed flush is kept as the write error; closing goes on.
		_ = fs.checkAndFlushLastBlock()
	}
	// Background compressions finish first: they hold a block's lock and
	// write its file.
	fs.mu.Unlock()
	fs.compressWG.Wait()
	fs.mu.Lock()
	fs.closeAllMsgBlocks(false)
	fs.cancelSyncTimer()
	fs.cancelAgeChk()
	if fs.scheduling != nil {
		clearTimer(&fs.scheduling.timer)
	}

	if writeState {
		fs.mu.Unlock()
		// Best effort: without index.db the next start rebuilds.
		_ = fs.forceWriteFullState()
		fs.mu.Lock()
	}
	fs.closed.Store(true)
	fs.lastBlock = nil
	cb, nbytes := fs.storageCB, int64(fs.state.Bytes)
	fs.mu.Unlock()
	ats.Unregister()

	fs.consumersMu.Lock()
	cfs := slices.Clone(fs.consumers)
	fs.consumers = nil
	fs.consumersMu.Unlock()
	for _, o := range cfs {
		if delete {
			_ = o.StreamDelete()
		} else {
			_ = o.Stop()
		}
	}
	if nbytes > 0 && cb != nil {
		cb(0, -nbytes, 0, _EMPTY_)
	}
	return nil
}

// Delete removes the store and its directory. inline waits for the removal.
func (fs *fileStore) Delete(inline bool) error {
	if fs.isClosed() {
		// Removed even when already stopped.
		_ = fs.fsys.RemoveAll(fs.fcfg.StoreDir)
		fs.mu.Lock()
		cb, msgs, nbytes := fs.storageCB, int64(fs.state.Msgs), int64(fs.state.Bytes)
		fs.state.Msgs, fs.state.Bytes = 0, 0
		fs.mu.Unlock()
		if msgs > 0 && cb != nil {
			cb(-msgs, -nbytes, 0, _EMPTY_)
		}
		return ErrStoreClosed
	}

	_ = fs.fsys.RemoveAll(filepath.Join(fs.fcfg.StoreDir, purgeDir))

	fs.mu.Lock()
	for _, mb := range fs.blocks {
		mb.dirtyClose()
	}
	dmsgs, dbytes := fs.state.Msgs, int64(fs.state.Bytes)
	fs.state.Msgs, fs.state.Bytes = 0, 0
	fs.blocks = nil
	cb := fs.storageCB
	fs.mu.Unlock()
	if cb != nil {
		cb(-int64(dmsgs), -dbytes, 0, _EMPTY_)
	}

	if err := fs.stop(true, false); err != nil {
		return err
	}
	// Without meta.inf a crash mid-removal is not recovered as a stream.
	if err := fs.fsys.Remove(filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFile)); err != nil {
		return err
	}
	ndir := filepath.Join(filepath.Dir(fs.fcfg.StoreDir), tsep+filepath.Base(fs.fcfg.StoreDir))
	if err := fs.fsys.Rename(fs.fcfg.StoreDir, ndir); err != nil {
		return err
	}
	if inline {
		return removeAllWithRetry(fs.fsys, ndir)
	}
	go func() { _ = removeAllWithRetry(fs.fsys, ndir) }()
	return nil
}

// removeAllWithRetry removes dir, retrying for up to a second.
func removeAllWithRetry(fsys vfs.FS, dir string) error {
	err := fsys.RemoveAll(dir)
	for deadline := time.Now().Add(time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = fsys.RemoveAll(dir)
	}
	return err
}

// AddConsumer registers a consumer store, stopped with the stream.
func (fs *fileStore) AddConsumer(o ConsumerStore) error {
	fs.consumersMu.Lock()
	defer fs.consumersMu.Unlock()
	fs.consumers = append(fs.consumers, o)
	return nil
}

// RemoveConsumer unregisters a consumer store.
func (fs *fileStore) RemoveConsumer(o ConsumerStore) error {
	fs.consumersMu.Lock()
	defer fs.consumersMu.Unlock()
	if i := slices.Index(fs.consumers, o); i >= 0 {
		fs.consumers = slices.Delete(fs.consumers, i, i+1)
	}
	return nil
}

// ConsumerStore opens (or creates) the store of consumer name under obs/,
// encrypted like the stream, and registers it so it stops with the stream.
func (fs *fileStore) ConsumerStore(name string, created time.Time, cfg *ConsumerConfig) (ConsumerStore, error) {
	return fs.newConsumerFileStore(name, created, cfg, fs.prf)
}
