package store

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Truncate removes every message after seq; seq becomes the last sequence.
// Truncate(0) resets the store.
func (fs *fileStore) Truncate(seq uint64) (rerr error) {
	if fs.isClosed() {
		return ErrStoreClosed
	}
	if seq == 0 {
		return fs.reset()
	}

	fs.mu.Lock()
	if err := fs.writeErr; err != nil {
		fs.mu.Unlock()
		return err
	}
	defer func() {
		if rerr != nil {
			fs.mu.Lock()
			fs.setWriteErr(rerr)
			fs.mu.Unlock()
		}
	}()

	// index.db no longer applies; a new one is forced at the end.
	_ = fs.fsys.Remove(filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile))

	var hasLsm bool
	var lastTime int64
	smb := fs.selectMsgBlock(seq)
	if smb != nil {
		smb.mu.Lock()
		lsm, _, err := smb.fetchMsgNoCopyLocked(seq, nil)
		if lsm != nil {
			hasLsm = true
			lastTime = lsm.ts
		}
		smb.finishedWithCache()
		smb.mu.Unlock()
		if err != nil && err != ErrStoreMsgNotFound && err != errDeletedMsg {
			fs.mu.Unlock()
			return err
		}
	}
	if !hasLsm {
		if smb != nil {
			lastTime = smb.last.ts
		} else {
			lastTime = fs.state.LastTime.UnixNano()
		}
	}
	fs.state.LastSeq = seq
	fs.state.LastTime = time.Unix(0, lastTime).UTC()

	// Tombstones go to a fresh block, since smb is cut last. It is dropped
	// again at the end if nothing was written to it.
	tmb, err := fs.newMsgBlockForWrite()
	if err != nil {
		fs.mu.Unlock()
		return err
	}
	removeSmb := smb != nil && atomic.LoadUint64(&smb.first.seq) > seq

	// A missing last message leaves a tombstone so the sequence holds.
	if !hasLsm || removeSmb {
		if err = fs.writeTombstone(seq, lastTime); err != nil {
			fs.mu.Unlock()
			return err
		}
	}

	var purged, nbytes uint64
	// moveTombs rewrites the tombstones of a block about to go that still
	// cover messages at or below seq.
	moveTombs := func(mb *msgBlock) error {
		tombs := mb.tombsLocked()
		if len(tombs) == 0 {
			return nil
		}
		mb.mu.Unlock()
		defer mb.mu.Lock()
		for _, tomb := range tombs {
			if tomb.seq < seq {
				if err := fs.writeTombstone(tomb.seq, tomb.ts); err != nil {
					return err
				}
			}
		}
		return nil
	}

	lastBefore := func() *msgBlock {
		for i := len(fs.blocks) - 2; i >= 0; i-- {
			if mb := fs.blocks[i]; mb.index < tmb.index {
				return mb
			}
		}
		return nil
	}
	for mb := lastBefore(); mb != nil && mb != smb; mb = lastBefore() {
		mb.mu.Lock()
		purged += mb.msgs
		nbytes += mb.bytes
		err := moveTombs(mb)
		if err == nil {
			err = fs.forceRemoveMsgBlock(mb)
		}
		mb.mu.Unlock()
		if err != nil {
			fs.mu.Unlock()
			return err
		}
	}

	hasWrittenTombstones := len(tmb.tombs()) > 0
	if smb != nil {
		smb.mu.Lock()
		if removeSmb {
			purged += smb.msgs
			nbytes += smb.bytes
			err := moveTombs(smb)
			if err == nil {
				err = fs.forceRemoveMsgBlock(smb)
			}
			smb.finishedWithCache()
			smb.mu.Unlock()
			if err != nil {
				fs.mu.Unlock()
				return err
			}
			hasWrittenTombstones = len(tmb.tombs()) > 0
		} else {
			if err := smb.enableForWriting(); err != nil {
				smb.finishedWithCache()
				smb.mu.Unlock()
				fs.mu.Unlock()
				return err
			}
			nmsgs, nb, err := smb.truncate(seq, lastTime)
			if err != nil {
				smb.finishedWithCache()
				smb.mu.Unlock()
				fs.mu.Unlock()
				return fmt.Errorf("store: truncating block %d: %w", smb.index, err)
			}
			purged += nmsgs
			nbytes += nb
			if hasWrittenTombstones {
				// The tombstone block stays last, so smb is a full block
				// again: no flusher, and stored in the configured
				// compression (truncate wrote it plain). A failed
				// compression leaves it plain, which is still valid.
				smb.stopFlusherLocked()
				smb.closeFDsLockedNoCheck()
				if err := smb.recompressOnDiskIfNeeded(); err != nil {
					fs.warn("Compressing block %d after truncate failed: %v", smb.index, err)
				}
			}
			smb.finishedWithCache()
			smb.mu.Unlock()
		}
	}

	if !hasWrittenTombstones {
		tmb.mu.Lock()
		err = fs.forceRemoveMsgBlock(tmb)
		tmb.mu.Unlock()
		if err != nil {
			fs.mu.Unlock()
			return err
		}
		if n := len(fs.blocks); n > 0 {
			fs.lastBlock = fs.blocks[n-1]
		} else {
			fs.lastBlock = nil
		}
	}

	fs.state.LastSeq = seq
	fs.state.LastTime = time.Unix(0, lastTime).UTC()
	purged = min(purged, fs.state.Msgs)
	fs.state.Msgs -= purged
	nbytes = min(nbytes, fs.state.Bytes)
	fs.state.Bytes -= nbytes
	if fs.state.Msgs == 0 {
		fs.state.FirstSeq = fs.state.LastSeq + 1
		fs.state.FirstTime = time.Time{}
	}

	if err = fs.resetGlobalPerSubjectInfo(); err != nil {
		fs.mu.Unlock()
		return err
	}
	fs.dirty++
	cb := fs.storageCB
	fs.mu.Unlock()

	if purged > 0 {
		_ = fs.forceWriteFullState()
	}
	if cb != nil {
		cb(-int64(purged), -int64(nbytes), 0, _EMPTY_)
	}
	return nil
}

// truncate cuts the block after tseq. The file is cut at the end of the
// last record at or below tseq, so a tseq that was deleted (even compacted
// away) is fine; upstream fails there and leaves the store inconsistent.
// The block's last becomes the last sequence it still has a record for.
// It returns the messages and bytes removed. mb.mu held.
func (mb *msgBlock) truncate(tseq uint64, ts int64) (nmsgs, nbytes uint64, err error) {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	// The file is cut at cache offsets: it must hold everything first.
	if err := mb.flushBeforeFileAccess(); err != nil {
		return 0, 0, err
	}
	if err := mb.loadMsgsWithLock(); err != nil {
		return 0, 0, err
	}
	if mb.cache == nil {
		return 0, 0, errNoCache
	}

	// Find the cut: the end of the last non-tombstone record <= tseq.
	var eof uint32
	var lastKept uint64
	var lastKeptTs int64
	buf := mb.cache.buf
	type span struct{ from, to uint32 }
	var tombs []span
	for index, lbuf := uint32(0), uint32(len(buf)); index < lbuf; {
		rh, ok := parseRecordHeader(buf[index:])
		if !ok {
			return 0, 0, errBadMsg{mb.fileName, "sanity check failed truncating"}
		}
		if rh.seq&tbit == 0 {
			if key := rh.seq &^ ebit; key <= tseq {
				eof, lastKept, lastKeptTs = index+rh.rl, key, rh.ts
			}
		} else if rh.seq&^tbit <= tseq {
			tombs = append(tombs, span{index, index + rh.rl})
		}
		index += rh.rl
	}
	// Tombstones written after the cut point still record removals of
	// messages that stay: upstream cuts them off with the tail, and a
	// recovery without index.db then brings those messages back. They are
	// written again after the cut.
	var keep []byte
	for _, sp := range tombs {
		if sp.from >= eof {
			keep = append(keep, buf[sp.from:sp.to]...)
		}
	}

	var smv StoreMsg
	for seq := atomic.LoadUint64(&mb.last.seq); seq > tseq; seq-- {
		if mb.deleted.Exists(seq) {
			mb.deleted.Delete(seq)
			continue
		}
		if m, err := mb.cacheLookupNoCopy(seq, &smv); err == nil && mb.msgs > 0 {
			rl := min(fileStoreMsgSize(m.subj, m.hdr, m.msg), mb.bytes)
			mb.msgs--
			mb.bytes -= rl
			nmsgs++
			nbytes += rl
		}
	}
	// Deleted sequences past the last kept record have no record left.
	for seq := tseq; seq > lastKept; seq-- {
		mb.deleted.Delete(seq)
	}

	if mb.cmp != NoCompression {
		// A compressed block cannot be cut in place: it is written again,
		// uncompressed since it is the block appended to from now on.
		plain := append(append([]byte(nil), buf[:eof]...), keep...)
		if err = mb.atomicOverwriteFile(plain, false); err != nil {
			return 0, 0, err
		}
	} else {
		if mb.file == nil {
			return 0, 0, fmt.Errorf("store: failed to truncate msg block %d, file not open", mb.index)
		}
		if err = mb.file.Truncate(int64(eof)); err != nil {
			return 0, 0, err
		}
		if len(keep) > 0 {
			stored, err := mb.encryptAt(keep, int64(eof))
			if err != nil {
				return 0, 0, err
			}
			if _, err = mb.file.WriteAt(stored, int64(eof)); err != nil {
				return 0, 0, err
			}
		}
		if err = mb.file.Sync(); err != nil {
			return 0, 0, err
		}
	}
	end := eof + uint32(len(keep))
	mb.rawBytes = uint64(end)
	switch {
	case len(keep) > 0:
		copy(mb.tailChecksum[:], keep[len(keep)-checksumSize:])
	case eof >= checksumSize:
		copy(mb.tailChecksum[:], buf[eof-checksumSize:eof])
	default:
		mb.tailChecksum = [8]byte{}
	}

	if lastKept == tseq {
		lastKeptTs = ts
	}
	atomic.StoreUint64(&mb.last.seq, lastKept)
	mb.last.ts = lastKeptTs
	if mb.msgs == 0 {
		atomic.StoreUint64(&mb.first.seq, lastKept+1)
		mb.first.ts = 0
		mb.deleted.Empty()
	}

	mb.clearCacheAndOffset()
	if err = mb.resetPerSubjectInfo(); err != nil {
		return nmsgs, nbytes, err
	}
	return nmsgs, nbytes, mb.loadMsgsWithLock()
}
