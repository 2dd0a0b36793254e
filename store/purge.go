package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Purge removes every message, keeping the sequence. It returns how many
// messages were removed.
func (fs *fileStore) Purge() (uint64, error) {
	return fs.purge(0)
}

// purge removes everything; fseq past the last sequence restarts the stream
// at fseq.
func (fs *fileStore) purge(fseq uint64) (uint64, error) {
	if fs.isClosed() {
		return 0, ErrStoreClosed
	}
	fs.mu.Lock()
	cb := fs.storageCB
	purged, nbytes, err := fs.purgeLocked(fseq)
	if err != nil && errors.Is(err, syscall.ENOSPC) {
		// A full disk has no room for the purge's tombstone block. The
		// messages are going anyway: drop the blocks before the last to
		// make room, then try again. Should the retry fail, the store is
		// consistent with those blocks gone.
		var dp, db uint64
		if dp, db, err = fs.dropBlocksBeforeLast(); err == nil {
			var p2, b2 uint64
			p2, b2, err = fs.purgeLocked(fseq)
			purged, nbytes = dp+p2, db+b2
			if err != nil && dp > 0 && cb != nil {
				fs.mu.Unlock()
				cb(-int64(dp), -int64(db), 0, _EMPTY_)
				fs.mu.Lock()
			}
		}
	}
	if err != nil {
		fs.setWriteErr(err)
		fs.mu.Unlock()
		return purged, err
	}
	fs.mu.Unlock()

	if purged > 0 {
		// Best effort: a failed write here only costs a slower restart.
		_ = fs.forceWriteFullState()
	}
	if cb != nil {
		cb(-int64(purged), -int64(nbytes), 0, _EMPTY_)
	}
	return purged, nil
}

// purgeLocked replaces the msgs directory with one holding a single block
// with a tombstone for the last sequence. The directory swap is ordered so
// that a crash at any point recovers either the old or the new state (see
// recoverPartialPurge). fs.mu held.
func (fs *fileStore) purgeLocked(fseq uint64) (purged, nbytes uint64, err error) {
	if err := fs.writeErr; err != nil {
		return 0, 0, err
	}
	purged, nbytes = fs.state.Msgs, fs.state.Bytes

	// Until the tombstone block is on disk nothing is committed: a failure
	// (a full disk, say) puts the store back as it was, and the error is
	// not sticky.
	saved := fs.state
	savedBlocks, savedLast := slices.Clone(fs.blocks), fs.lastBlock
	undo := func(lmb *msgBlock, err error) (uint64, uint64, error) {
		if lmb != nil {
			lmb.mu.Lock()
			rerr := lmb.dirtyCloseWithRemove(true)
			lmb.mu.Unlock()
			if rerr != nil {
				return 0, 0, fmt.Errorf("store: purge failed (%v), cleanup failed: %w", err, rerr)
			}
			delete(fs.blockByIndex, lmb.index)
		}
		fs.state, fs.blocks, fs.lastBlock = saved, savedBlocks, savedLast
		var rb *rolledBackError
		if errors.As(err, &rb) {
			return 0, 0, err
		}
		return 0, 0, &rolledBackError{fmt.Errorf("store: purge failed: %w", err)}
	}

	fs.state.FirstSeq = fs.state.LastSeq + 1
	fs.state.FirstTime = time.Time{}
	fs.state.Bytes = 0
	fs.state.Msgs = 0
	if fseq > fs.state.FirstSeq {
		fs.state.FirstSeq = fseq
		fs.state.LastSeq = fseq - 1
	}

	lmb, err := fs.newMsgBlockForWrite()
	if err != nil {
		return undo(nil, err)
	}
	atomic.StoreUint64(&lmb.first.seq, fs.state.FirstSeq)
	atomic.StoreUint64(&lmb.last.seq, fs.state.LastSeq)
	lmb.last.ts = fs.state.LastTime.UnixNano()
	if fs.state.LastTime.IsZero() {
		lmb.last.ts = 0
	}

	if lseq := atomic.LoadUint64(&lmb.last.seq); lseq > 0 {
		// Remembers the sequence should index.db be lost.
		if err := fs.writeTombstone(lseq, lmb.last.ts); err != nil {
			return undo(lmb, err)
		}
	}
	if err := lmb.flushPendingMsgs(); err != nil {
		return undo(lmb, err)
	}
	// The block and its key must be durable before the directory swap
	// makes them all that is left: a torn key would make the directory
	// unreadable, and a lost tombstone would lose the last sequence.
	if err := fs.syncPurgeBlock(lmb); err != nil {
		return undo(lmb, err)
	}
	if err := lmb.closeFDs(); err != nil {
		return undo(lmb, err)
	}

	for _, mb := range savedBlocks {
		mb.mu.Lock()
		_ = mb.dirtyCloseWithRemove(false)
		mb.closed = true
		mb.mu.Unlock()
	}

	fs.blocks = nil
	fs.lastBlock = nil
	fs.blockByIndex = make(map[uint32]*msgBlock)
	fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
	fs.sdm.empty()
	fs.dirty++
	fs.addMsgBlock(lmb)

	mdir := filepath.Join(fs.fcfg.StoreDir, msgDir)
	ndir := filepath.Join(fs.fcfg.StoreDir, newMsgDir)
	pdir := filepath.Join(fs.fcfg.StoreDir, purgeDir)
	for _, dir := range []string{ndir, pdir} {
		if err := fs.fsys.RemoveAll(dir); err != nil {
			return purged, nbytes, err
		}
	}
	if err := fs.fsys.MkdirAll(ndir, defaultDirPerms); err != nil {
		return purged, nbytes, err
	}
	// The block moves last: recovery takes a .blk in the new directory as
	// proof that everything before it happened.
	for _, name := range []string{fmt.Sprintf(keyScan, lmb.index), fmt.Sprintf(blkScan, lmb.index)} {
		if err := fs.fsys.Rename(filepath.Join(mdir, name), filepath.Join(ndir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return purged, nbytes, err
		}
	}
	if err := syncDir(fs.fsys, ndir); err != nil {
		return purged, nbytes, err
	}
	if err := syncDir(fs.fsys, fs.fcfg.StoreDir); err != nil {
		return purged, nbytes, err
	}
	if err := fs.fsys.Rename(mdir, pdir); err != nil {
		return purged, nbytes, err
	}
	if err := fs.fsys.Rename(ndir, mdir); err != nil {
		return purged, nbytes, err
	}
	if err := syncDir(fs.fsys, fs.fcfg.StoreDir); err != nil {
		return purged, nbytes, err
	}
	// Removed inline (upstream uses a goroutine) so nothing touches the
	// directory after the call returns.
	_ = fs.fsys.RemoveAll(pdir)

	lmb.mu.Lock()
	err = lmb.enableForWriting()
	lmb.mu.Unlock()
	return purged, nbytes, err
}

// dropBlocksBeforeLast removes every block but the last, as the limits do
// (crash-safe: a crash leaves a store missing a prefix). fs.mu held.
func (fs *fileStore) dropBlocksBeforeLast() (purged, nbytes uint64, err error) {
	for _, mb := range slices.Clone(fs.blocks) {
		if mb == fs.lastBlock {
			continue
		}
		msgs, b, err := fs.dropMsgBlock(mb)
		if err != nil {
			return purged, nbytes, err
		}
		purged, nbytes = purged+msgs, nbytes+b
	}
	return purged, nbytes, fs.selectNextFirst()
}

// syncPurgeBlock syncs the purge's tombstone block and its key file.
// fs.mu held.
func (fs *fileStore) syncPurgeBlock(lmb *msgBlock) error {
	lmb.mu.Lock()
	defer lmb.mu.Unlock()
	if lmb.needKeySync && lmb.keyFileName != _EMPTY_ {
		if err := fs.syncFileAndDir(lmb.keyFileName); err != nil {
			return err
		}
		lmb.needKeySync = false
	}
	if lmb.needSync {
		if err := lmb.syncFile(); err != nil {
			return err
		}
		lmb.needSync = false
	}
	return nil
}

// recoverPartialPurge finishes or undoes a purge cut short by a crash: a
// block in __new_msgs__ means the old messages were meant to go.
// fs.mu held.
func (fs *fileStore) recoverPartialPurge() error {
	mdir := filepath.Join(fs.fcfg.StoreDir, msgDir)
	ndir := filepath.Join(fs.fcfg.StoreDir, newMsgDir)
	entries, err := fs.fsys.ReadDir(ndir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err == nil {
		hasBlk := slices.ContainsFunc(entries, func(e os.DirEntry) bool {
			return strings.HasSuffix(e.Name(), blkSuffix)
		})
		if hasBlk {
			if err = fs.fsys.RemoveAll(mdir); err != nil {
				return err
			}
			if err = fs.fsys.Rename(ndir, mdir); err != nil {
				return err
			}
			if err = syncDir(fs.fsys, fs.fcfg.StoreDir); err != nil {
				return err
			}
		} else {
			// The purge never got far enough; drop its leftovers, including
			// blocks whose key file had already moved.
			for _, entry := range entries {
				var index uint32
				if n, err := fmt.Sscanf(entry.Name(), keyScan, &index); err != nil || n != 1 {
					continue
				}
				err := fs.fsys.Remove(filepath.Join(mdir, fmt.Sprintf(blkScan, index)))
				if err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			_ = fs.fsys.RemoveAll(ndir)
			return nil
		}
	}
	pdir := filepath.Join(fs.fcfg.StoreDir, purgeDir)
	if _, err := fs.fsys.Stat(pdir); err == nil {
		_ = fs.fsys.RemoveAll(pdir)
	}
	return nil
}

// subjectsEqual matches a literal filter.
func subjectsEqual(a, b string) bool {
	return a == b
}

// subjectsAll matches every subject.
func subjectsAll(a, b string) bool {
	return true
}

// compareFn returns the subject comparison for a filter.
func compareFn(subject string) func(string, string) bool {
	if subject == _EMPTY_ || subject == fwcs {
		return subjectsAll
	}
	if subjectHasWildcard(subject) {
		return subjectIsSubsetMatch
	}
	return subjectsEqual
}

// PurgeEx removes the messages matching subject below sequence (0: all),
// keeping the newest keep of them. It returns how many were removed.
func (fs *fileStore) PurgeEx(subject string, sequence, keep uint64) (purged uint64, err error) {
	// "Up to but not including 1" removes nothing.
	if sequence == 1 {
		return 0, nil
	}
	if subject == _EMPTY_ || subject == fwcs {
		if keep == 0 && sequence == 0 {
			return fs.purge(0)
		}
		if sequence > 1 {
			return fs.compact(sequence)
		}
		subject = fwcs
	}

	defer func() {
		if err != nil {
			fs.mu.Lock()
			fs.setWriteErr(err)
			fs.mu.Unlock()
		}
	}()

	eq, wc := compareFn(subject), subjectHasWildcard(subject)
	var firstSeqNeedsUpdate bool
	var nbytes uint64

	var maxp uint64
	if keep > 0 {
		ss, err := fs.FilteredState(1, subject)
		if err != nil || keep >= ss.Msgs {
			return 0, err
		}
		maxp = ss.Msgs - keep
	}

	if fs.isClosed() {
		return 0, ErrStoreClosed
	}
	fs.mu.Lock()
	if err := fs.writeErr; err != nil {
		fs.mu.Unlock()
		return 0, err
	}
	if len(fs.blocks) == 0 || fs.lastBlock == nil {
		fs.mu.Unlock()
		return 0, nil
	}

	var start, stop uint32
	if wc {
		start = fs.lastBlock.index
		fs.perSubject.Match(stringToBytes(subject), func(_ []byte, p *psi) {
			start = min(start, p.fblk)
			stop = max(stop, p.lblk)
		})
		if stop == 0 {
			fs.mu.Unlock()
			return 0, nil
		}
	} else if info, ok := fs.perSubject.Find(stringToBytes(subject)); ok {
		start, stop = info.fblk, info.lblk
	} else {
		fs.mu.Unlock()
		return 0, nil
	}

	var (
		smv    StoreMsg
		tombs  []msgId
		lowSeq uint64
	)
	// Blocks may be removed as we go, so index instead of ranging.
	for i := 0; i < len(fs.blocks); i++ {
		mb := fs.blocks[i]
		if mb.index < start || mb.index > stop {
			continue
		}
		mb.mu.Lock()
		shouldExpire := mb.fssNotLoaded()

		t, f, l, err := mb.filteredPendingLocked(subject, wc, atomic.LoadUint64(&mb.first.seq))
		if err != nil {
			mb.finishedWithCache()
			mb.mu.Unlock()
			fs.mu.Unlock()
			return purged, err
		}
		if t == 0 {
			if shouldExpire {
				mb.tryForceExpireCacheLocked()
			}
			mb.finishedWithCache()
			mb.mu.Unlock()
			continue
		}
		if sequence >= 1 && sequence <= l {
			l = sequence - 1
		}
		if mb.cacheNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				mb.finishedWithCache()
				mb.mu.Unlock()
				fs.mu.Unlock()
				return 0, err
			}
			shouldExpire = true
		}

		var nrg uint64 // left for subject store-wide
		for seq, te := f, len(tombs); seq <= l; seq++ {
			sm, _ := mb.cacheLookupNoCopy(seq, &smv)
			if sm == nil || !eq(sm.subj, subject) {
				continue
			}
			rl := fileStoreMsgSize(sm.subj, sm.hdr, sm.msg)
			if mb.msgs > 0 {
				fs.state.Msgs--
				mb.msgs--
				rl = min(rl, fs.state.Bytes, mb.bytes)
				fs.state.Bytes -= rl
				mb.bytes -= rl
				purged++
				nbytes += rl
			}
			nr, err := mb.removeSeqPerSubject(sm.subj, seq)
			if err != nil {
				mb.finishedWithCache()
				mb.mu.Unlock()
				fs.mu.Unlock()
				return purged, err
			}
			nrg = fs.removePerSubject(sm.subj)

			tombs = append(tombs, msgId{sm.seq, sm.ts})
			if sm.seq < lowSeq || lowSeq == 0 {
				lowSeq = sm.seq
			}

			if seq == atomic.LoadUint64(&mb.first.seq) {
				mb.selectNextFirst()
				if mb.isEmpty() {
					// The block goes, and its tombstones are not needed.
					tombs = tombs[:te]
					if err = fs.removeMsgBlock(mb); err != nil {
						mb.finishedWithCache()
						mb.mu.Unlock()
						fs.mu.Unlock()
						return 0, err
					}
					i--
					firstSeqNeedsUpdate = firstSeqNeedsUpdate || seq == fs.state.FirstSeq
				} else if seq == fs.state.FirstSeq {
					fs.state.FirstSeq = atomic.LoadUint64(&mb.first.seq)
					fs.state.FirstTime = timeFromNanos(mb.first.ts)
				}
			} else {
				mb.deleted.Insert(seq)
			}
			if mb.isEmpty() || (maxp > 0 && purged >= maxp) {
				break
			}
			if !wc && nr == 0 {
				break
			}
		}
		// Keep the cache for quick successive PurgeEx calls (KV deletes).
		if shouldExpire && time.Since(fs.lastPurgeEx) > time.Second {
			mb.tryForceExpireCacheLocked()
		}
		mb.finishedWithCache()
		mb.mu.Unlock()

		if maxp > 0 && purged >= maxp {
			break
		}
		if !wc && nrg == 0 {
			break
		}
	}
	if firstSeqNeedsUpdate {
		if err = fs.selectNextFirst(); err != nil {
			fs.mu.Unlock()
			return purged, err
		}
	}
	fs.lastPurgeEx = time.Now()

	if len(tombs) > 0 {
		for _, tomb := range tombs {
			if err = fs.writeTombstoneNoFlush(tomb.seq, tomb.ts); err != nil {
				fs.mu.Unlock()
				return purged, err
			}
		}
		if lmb := fs.lastBlock; lmb != nil {
			if err = lmb.flushPendingMsgs(); err != nil {
				fs.mu.Unlock()
				return purged, err
			}
		}
	}
	fs.dirty++
	cb := fs.storageCB
	fs.mu.Unlock()

	if cb != nil {
		if purged == 1 {
			cb(-int64(purged), -int64(nbytes), lowSeq, subject)
		} else {
			cb(-int64(purged), -int64(nbytes), 0, _EMPTY_)
		}
	}
	return purged, nil
}

// reset removes every block and restarts the stream at sequence 0.
func (fs *fileStore) reset() error {
	if fs.isClosed() {
		return ErrStoreClosed
	}
	fs.mu.Lock()
	var purged, nbytes uint64
	cb := fs.storageCB
	for _, mb := range fs.blocks {
		mb.mu.Lock()
		purged += mb.msgs
		nbytes += mb.bytes
		err := mb.dirtyCloseWithRemove(true)
		mb.mu.Unlock()
		if err != nil {
			fs.mu.Unlock()
			return err
		}
	}
	fs.state.FirstSeq = 0
	fs.state.FirstTime = time.Time{}
	fs.state.LastSeq = 0
	fs.state.LastTime = time.Now().UTC()
	fs.state.Msgs = 0
	fs.state.Bytes = 0
	fs.blocks, fs.lastBlock = nil, nil
	fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
	fs.sdm.empty()
	fs.blockByIndex = make(map[uint32]*msgBlock)
	fs.dirty++
	fs.mu.Unlock()

	if cb != nil {
		cb(-int64(purged), -int64(nbytes), 0, _EMPTY_)
	}
	return nil
}
