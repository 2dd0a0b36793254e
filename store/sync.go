package store

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// setSyncTimer (re)arms the background sync. The first run is spread over
// the second half of the interval so that many stores do not sync at once.
// fs.mu held.
func (fs *fileStore) setSyncTimer() {
	if fs.syncTmr != nil {
		fs.syncTmr.Reset(fs.fcfg.SyncInterval)
		return
	}
	half := fs.fcfg.SyncInterval / 2
	start := half + time.Duration(rand.Int63n(int64(max(half, 1))))
	fs.syncTmr = time.AfterFunc(start, fs.syncBlocks)
}

// cancelSyncTimer stops the background sync. fs.mu held.
func (fs *fileStore) cancelSyncTimer() {
	if fs.syncTmr != nil {
		fs.syncTmr.Stop()
		fs.syncTmr = nil
	}
}

// syncBlocks is the periodic maintenance pass: it closes idle files,
// compacts blocks that are mostly deleted, flushes and fsyncs what was
// written since the last pass, and fsyncs index.db.
func (fs *fileStore) syncBlocks() {
	if fs.isClosed() {
		return
	}
	fs.mu.Lock()
	if fs.writeErr != nil {
		fs.mu.Unlock()
		return
	}
	blks := append([]*msgBlock(nil), fs.blocks...)
	lmb, firstMoved, firstSeq := fs.lastBlock, fs.firstMoved, fs.state.FirstSeq
	fs.firstMoved = false
	fs.mu.Unlock()

	storeFsWerr := func(err error) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.setWriteErr(err)
	}

	var fsDmap *interiorDeletes
	var markDirty bool
	for _, mb := range blks {
		mb.mu.Lock()
		if mb.closed {
			mb.mu.Unlock()
			continue
		}
		if err := mb.writeErr; err != nil {
			mb.mu.Unlock()
			storeFsWerr(err)
			continue
		}
		if mb.file != nil && mb.sinceLastWriteActivity() > closeFDsIdle && mb.pendingWriteSizeLocked() == 0 {
			if err := mb.dirtyCloseWithRemove(false); err != nil {
				mb.mu.Unlock()
				storeFsWerr(err)
				continue
			}
		}
		// A moved first sequence may have made tombstones removable.
		if firstMoved && mb.noCompact {
			mb.noCompact = false
		}
		var needsCompact bool
		if mb != lmb && mb.ensureRawBytesLoaded() == nil && mb.shouldCompactSync() {
			needsCompact = true
			markDirty = true
		}
		if _, err := mb.flushPendingMsgsLocked(); err != nil {
			mb.mu.Unlock()
			storeFsWerr(err)
			continue
		}
		needSync := mb.needSync
		needKeySync, kfn := mb.needKeySync, mb.keyFileName
		// Cleared now: writes after we let go are synced next time.
		mb.needSync, mb.needKeySync = false, false
		mb.mu.Unlock()

		if needKeySync && kfn != _EMPTY_ {
			if err := fs.syncFileAndDir(kfn); err != nil {
				storeFsWerr(err)
				continue
			}
		}

		if needsCompact {
			if fsDmap == nil {
				fsDmap = deleteMap(blks)
			}
			fs.mu.RLock()
			floor := min(firstSeq, fs.tombstoneFloor(nil))
			mb.mu.Lock()
			if _, ok := fs.blockByIndex[mb.index]; !ok || mb.closed {
				mb.mu.Unlock()
				fs.mu.RUnlock()
				continue
			}
			err := mb.compactWithFloor(floor, fsDmap)
			shouldRemove := mb.rawBytes == 0
			mb.mu.Unlock()
			fs.mu.RUnlock()
			if err != nil {
				storeFsWerr(err)
				continue
			}
			if shouldRemove {
				fs.mu.Lock()
				mb.mu.Lock()
				err = fs.removeMsgBlock(mb)
				mb.mu.Unlock()
				fs.mu.Unlock()
				needSync = false
				if err != nil {
					storeFsWerr(err)
					continue
				}
			}
		}

		if needSync {
			mb.mu.Lock()
			err := mb.syncFile()
			mb.mu.Unlock()
			if err != nil {
				storeFsWerr(err)
				continue
			}
		}
	}

	if fs.isClosed() {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.setSyncTimer()
	if markDirty {
		fs.dirty++
	}
	if !fs.fcfg.SyncAlways {
		fn := filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile)
		if err := syncFile(fs.fsys, fn); err != nil {
			fs.setWriteErr(err)
		}
	}
}

// syncFile fsyncs the block file, opening it if needed. mb.mu held.
func (mb *msgBlock) syncFile() error {
	if mb.file != nil {
		return mb.file.Sync()
	}
	if mb.fileName == _EMPTY_ {
		return nil
	}
	return syncFile(mb.fs.fsys, mb.fileName)
}

// syncFile fsyncs a file by name; a missing file is fine.
func syncFile(fsys vfs.FS, name string) error {
	f, err := fsys.OpenFile(name, os.O_RDWR, defaultFilePerms)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// writeFileWithOptionalSync writes a file atomically, synced when the store
// syncs always.
func (fs *fileStore) writeFileWithOptionalSync(name string, data []byte, perm os.FileMode) error {
	return writeAtomically(fs.fsys, name, data, perm, fs.syncAlways.Load())
}

// writeFileWithSync writes a file atomically and durably.
func writeFileWithSync(fsys vfs.FS, name string, data []byte, perm os.FileMode) error {
	return writeAtomically(fsys, name, data, perm, true)
}

// writeAtomically writes data to name through name.tmp and a rename, so
// readers see the old or the new contents, never a mix. With sync the file
// is written O_SYNC and the directory synced after the rename.
func writeAtomically(fsys vfs.FS, name string, data []byte, perm os.FileMode, sync bool) error {
	tmp := name + ".tmp"
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if sync {
		flags |= os.O_SYNC
	}
	f, err := fsys.OpenFile(tmp, flags, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = fsys.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	if sync {
		return syncDir(fsys, filepath.Dir(name))
	}
	return nil
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func syncDir(fsys vfs.FS, name string) error {
	return fsys.SyncDir(name)
}

// syncFileAndDir fsyncs a file and its directory.
func (fs *fileStore) syncFileAndDir(name string) error {
	if err := syncFile(fs.fsys, name); err != nil {
		return err
	}
	return syncDir(fs.fsys, filepath.Dir(name))
}
