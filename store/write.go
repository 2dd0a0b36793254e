package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// rolledBackError is a failed block write that was undone: the block was
// reloaded from disk and a torn record cut off, so the store is consistent
// and later writes may succeed. It is never kept as a sticky write error.
type rolledBackError struct{ err error }

func (e *rolledBackError) Error() string { return e.err.Error() }
func (e *rolledBackError) Unwrap() error { return e.err }

// isReadErr reports whether err comes from reading or decoding data already
// on disk, or from a write that was rolled back, rather than from a write
// that left the disk in an unknown state. Such errors must not disable
// writes.
func isReadErr(err error) bool {
	var badMsg errBadMsg
	var rolled *rolledBackError
	return errors.Is(err, errNoCache) ||
		errors.Is(err, errDeletedMsg) ||
		errors.Is(err, errPartialCache) ||
		errors.Is(err, errCorruptState) ||
		errors.Is(err, errPriorState) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, errMsgBlkTooBig) ||
		errors.As(err, &badMsg) ||
		errors.As(err, &rolled)
}

// setWriteErr keeps the first write error that leaves the disk in an unknown
// state; every later write returns it. fs.mu held.
func (fs *fileStore) setWriteErr(err error) {
	if fs.writeErr != nil || err == nil || err == ErrStoreClosed {
		return
	}
	if errors.Is(err, os.ErrNotExist) {
		fs.warn("Resource not found: %v", err)
		return
	}
	if isReadErr(err) {
		fs.rateLimitWarn("Ignoring non-write error: %v", err)
		return
	}
	fs.error("Critical write error: %v", err)
	fs.writeErr = err
}

// StoreRawMsg stores a message with the sequence and timestamp given (a
// replicated write). seq must be the next sequence, or 0 for "next".
func (fs *fileStore) StoreRawMsg(subj string, hdr, msg []byte, seq uint64, ts, ttl int64, discardNewCheck bool) error {
	fs.mu.Lock()
	if err := fs.writeErr; err != nil {
		fs.mu.Unlock()
		return err
	}
	err := fs.storeRawMsg(subj, hdr, msg, seq, ts, ttl, discardNewCheck)
	cb := fs.storageCB
	// The age timer was armed for MaxAge from start; a first message with
	// its own timestamp may need it sooner.
	if !fs.receivedAny && fs.cfg.MaxAge != 0 && ts > 0 {
		fs.receivedAny = true
		fs.resetAgeChk(0)
	}
	fs.mu.Unlock()

	if err == nil && cb != nil {
		cb(1, int64(fileStoreMsgSize(subj, hdr, msg)), seq, subj)
	}
	return err
}

// StoreMsg stores a message with the next sequence and the current time.
func (fs *fileStore) StoreMsg(subj string, hdr, msg []byte, ttl int64) (uint64, int64, error) {
	fs.mu.Lock()
	if err := fs.writeErr; err != nil {
		fs.mu.Unlock()
		return 0, 0, err
	}
	seq, ts := fs.state.LastSeq+1, time.Now().UnixNano()
	err := fs.storeRawMsg(subj, hdr, msg, seq, ts, ttl, true)
	cb := fs.storageCB
	fs.mu.Unlock()

	if err != nil {
		return 0, 0, err
	}
	if cb != nil {
		cb(1, int64(fileStoreMsgSize(subj, hdr, msg)), seq, subj)
	}
	return seq, ts, nil
}

// storeRawMsg stores one message and enforces the limits. fs.mu held.
func (fs *fileStore) storeRawMsg(subj string, hdr, msg []byte, seq uint64, ts, ttl int64, discardNewCheck bool) (err error) {
	if fs.isClosed() {
		return ErrStoreClosed
	}

	// Per-subject limit: count this message in already.
	mmp := uint64(fs.cfg.MaxMsgsPer)
	var psmc uint64
	psmax := fs.cfg.MaxMsgsPer > 0 && len(subj) > 0
	var info *psi
	if psmax {
		if info, _ = fs.perSubject.Find(stringToBytes(subj)); info != nil {
			psmc = info.total + 1
		}
	}

	var fseq uint64
	// DiscardNew refuses messages over a limit. Replicated writes skip this
	// (discardNewCheck false) because the leader already decided.
	if discardNewCheck && fs.cfg.Discard == DiscardNew {
		var asl bool
		if psmax && psmc > mmp {
			// Rollups purge the subject after storing, so they may pass.
			if fs.cfg.DiscardNewPer && len(sliceHeader(JSMsgRollup, hdr)) == 0 {
				return ErrMaxMsgsPerSubject
			}
			if fseq, err = fs.firstSeqForSubj(subj); err != nil {
				return err
			}
			if info, _ = fs.perSubject.Find(stringToBytes(subj)); info != nil {
				psmc = info.total + 1
			}
			asl = psmc > mmp
		}
		if fs.cfg.MaxMsgs > 0 && fs.state.Msgs >= uint64(fs.cfg.MaxMsgs) && !asl {
			return ErrMaxMsgs
		}
		if fs.cfg.MaxBytes > 0 && fs.state.Bytes+fileStoreMsgSize(subj, hdr, msg) > uint64(fs.cfg.MaxBytes) {
			if !asl || fs.sizeForSeq(fseq) < int(fileStoreMsgSize(subj, hdr, msg)) {
				return ErrMaxBytes
			}
		}
	}

	if seq != fs.state.LastSeq+1 {
		if seq > 0 {
			return ErrSequenceMismatch
		}
		seq = fs.state.LastSeq + 1
	}

	if fs.writeErr != nil {
		return fs.writeErr
	}
	defer func() {
		if err != nil {
			fs.setWriteErr(err)
		}
	}()

	n, err := fs.writeMsgRecord(seq, ts, subj, hdr, msg)
	if err != nil {
		return err
	}

	if len(subj) > 0 {
		index := fs.lastBlock.index
		if info == nil {
			info, _ = fs.perSubject.Find(stringToBytes(subj))
		}
		if info != nil {
			info.total++
			if index > info.lblk {
				info.lblk = index
			}
		} else {
			info, _ = fs.perSubject.Insert(stringToBytes(subj), psi{total: 1, fblk: index, lblk: index})
			fs.subjectBytes += len(subj)
		}
	}

	now := time.Unix(0, ts).UTC()
	if fs.state.Msgs == 0 {
		fs.state.FirstSeq = seq
		fs.state.FirstTime = now
	}
	fs.state.Msgs++
	fs.state.Bytes += n
	fs.state.LastSeq = seq
	fs.state.LastTime = now

	if err = fs.enforcePerSubjectOnStore(subj, psmax, psmc, mmp, fseq); err != nil {
		return err
	}
	// With one message per subject, the subject's first block is its last.
	if mmp == 1 && len(subj) > 0 {
		if info, _ = fs.perSubject.Find(stringToBytes(subj)); info != nil && info.total == 1 {
			info.fblk = info.lblk
		}
	}

	if err = fs.enforceMsgLimit(); err != nil {
		return err
	}
	if err = fs.enforceBytesLimit(); err != nil {
		return err
	}

	if ttl > 0 {
		if fs.ttls != nil {
			expires := time.Duration(ts) + time.Second*time.Duration(ttl)
			fs.ttls.Add(seq, int64(expires))
		}
		// Counted even without TTLs allowed, for a later UpdateConfig.
		fs.lastBlock.mu.Lock()
		fs.lastBlock.ttls++
		fs.lastBlock.mu.Unlock()
	}

	switch {
	case fs.ttls != nil && ttl > 0:
		fs.resetAgeChk(0)
	case fs.ageChk == nil && (fs.cfg.MaxAge > 0 || fs.ttls != nil):
		fs.startAgeChk()
	}

	if fs.scheduling != nil {
		if next, err := nextMessageSchedule(hdr, ts); err == nil && !next.IsZero() {
			fs.scheduling.add(seq, subj, next.UnixNano())
			fs.lastBlock.mu.Lock()
			fs.lastBlock.schedules++
			fs.lastBlock.mu.Unlock()
		} else if getMessageScheduler(hdr) == _EMPTY_ {
			// Any other message on a schedule's subject ends the schedule.
			fs.scheduling.removeSubject(subj)
		}
		// A produced message of a repeating schedule says when it fires
		// next.
		if next := bytesToString(sliceHeader(JSScheduleNext, hdr)); next != _EMPTY_ && next != JSScheduleNextPurge {
			if t, err := time.Parse(time.RFC3339Nano, next); err == nil {
				if scheduler := getMessageScheduler(hdr); scheduler != _EMPTY_ {
					fs.scheduling.update(scheduler, t.UnixNano())
				}
			}
		}
	}
	return nil
}

// enforcePerSubjectOnStore removes a subject's oldest messages until it is
// back within MaxMsgsPer after a store. fs.mu held.
//
// Upstream loops until the subject's count drops, re-reading the first
// sequence of the subject each time. When the store-wide count and the
// blocks disagree (reachable after a Truncate that fails on a deleted
// message), removing that first sequence removes nothing, the count never
// drops, and upstream spins forever holding the store lock. Here a removal
// that makes no progress rebuilds the subject counts from the blocks and
// stops instead.
func (fs *fileStore) enforcePerSubjectOnStore(subj string, psmax bool, psmc, mmp, fseq uint64) error {
	var err error
	for psmax && psmc > mmp {
		if fseq == 0 {
			if fseq, err = fs.firstSeqForSubj(subj); err != nil {
				return err
			} else if fseq == 0 {
				// The index counts messages no block holds: recount.
				fs.warn("Per-subject count for %q is ahead of the blocks, rebuilding subject state", subj)
				return fs.resetGlobalPerSubjectInfo()
			}
			info, _ := fs.perSubject.Find(stringToBytes(subj))
			if info == nil {
				break
			}
			psmc = info.total
			continue
		}
		removed, err := fs.removeMsgViaLimits(fseq)
		if err != nil && err != ErrStoreMsgNotFound {
			return err
		}
		fseq = 0
		info, _ := fs.perSubject.Find(stringToBytes(subj))
		if info == nil {
			break
		}
		if !removed && info.total >= psmc {
			fs.warn("Per-subject count for %q made no progress, rebuilding subject state", subj)
			return fs.resetGlobalPerSubjectInfo()
		}
		psmc = info.total
	}
	return nil
}

// writeMsgRecord frames a message into the last block, rolling to a new
// block when full, and returns the record length. fs.mu held.
func (fs *fileStore) writeMsgRecord(seq uint64, ts int64, subj string, hdr, msg []byte) (uint64, error) {
	rl := fileStoreMsgSize(subj, hdr, msg)
	if isFileStoreMsgTooLarge(rl) {
		return 0, ErrMsgTooLarge
	}
	mb, err := fs.checkLastBlock(rl)
	if err != nil {
		return 0, err
	}
	fs.dirty++
	// With AsyncFlush the block's flusher writes it shortly.
	return rl, mb.writeMsgRecord(rl, seq, subj, hdr, msg, ts, fs.inPlace.Load())
}

// checkLastBlock returns the last block, rolling to a new one when rl more
// bytes would not fit. fs.mu held.
func (fs *fileStore) checkLastBlock(rl uint64) (*msgBlock, error) {
	lmb := fs.lastBlock
	if lmb == nil {
		return fs.newMsgBlockForWrite()
	}
	lmb.mu.RLock()
	rbytes, compressed := lmb.rawBytes, lmb.cmp != NoCompression
	lmb.mu.RUnlock()
	// A compressed block is never appended to: its file offsets are not
	// those of its records.
	if compressed || rbytes > 0 && rbytes+rl > fs.fcfg.BlockSize {
		return fs.newMsgBlockForWrite()
	}
	return lmb, nil
}

// writeTombstone writes a tombstone into the last block, rolling when full.
// fs.mu held.
func (fs *fileStore) writeTombstone(seq uint64, ts int64) error {
	lmb, err := fs.checkLastBlock(emptyRecordLen)
	if err != nil {
		return err
	}
	return lmb.writeTombstone(seq, ts)
}

// writeTombstoneNoFlush is writeTombstone without the flush, for writing
// many at once. fs.mu held.
func (fs *fileStore) writeTombstoneNoFlush(seq uint64, ts int64) error {
	lmb, err := fs.checkLastBlock(emptyRecordLen)
	if err != nil {
		return err
	}
	return lmb.writeTombstoneNoFlush(seq, ts)
}

// writeTombstone appends a tombstone record for seq.
func (mb *msgBlock) writeTombstone(seq uint64, ts int64) error {
	return mb.writeMsgRecord(emptyRecordLen, seq|tbit, _EMPTY_, nil, nil, ts, true)
}

// writeTombstoneNoFlush appends a tombstone to the cache only.
func (mb *msgBlock) writeTombstoneNoFlush(seq uint64, ts int64) error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.writeMsgRecordLocked(emptyRecordLen, seq|tbit, _EMPTY_, nil, nil, ts, false)
}

// writeMsgRecord appends a record to the block.
func (mb *msgBlock) writeMsgRecord(rl, seq uint64, subj string, mhdr, msg []byte, ts int64, flush bool) error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.writeMsgRecordLocked(rl, seq, subj, mhdr, msg, ts, flush)
}

// writeMsgRecordLocked appends a record to the block's cache, updates the
// block's accounting and, with flush, writes it to the file. seq may carry
// ebit (a skip) or tbit (a tombstone). mb.mu held.
func (mb *msgBlock) writeMsgRecordLocked(rl, seq uint64, subj string, mhdr, msg []byte, ts int64, flush bool) (rerr error) {
	if mb.writeErr != nil {
		return mb.writeErr
	}
	defer func() {
		if rerr != nil && mb.writeErr == nil && !isReadErr(rerr) {
			mb.writeErr = rerr
		}
	}()

	if mb.file == nil {
		if err := mb.enableForWriting(); err != nil {
			return err
		}
	}
	prevFirst, prevLast := mb.snapshotRange()

	// Subject state first: loading it may load the cache, which must
	// happen before the new record is appended.
	if len(subj) > 0 && !mb.noTrack {
		if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
			return err
		}
		mb.lastSubjects = accessTime()
		if ss, ok := mb.subjects.Find(stringToBytes(subj)); ok && ss != nil {
			ss.Msgs++
			ss.Last = seq
			ss.lastNeedsUpdate = false
		} else {
			mb.subjects.Insert(stringToBytes(subj), SimpleState{Msgs: 1, First: seq, Last: seq})
		}
	}

	if err := mb.setupWriteCache(); err != nil {
		return err
	}
	// Unflushed writes must survive the collector: the elastic pointer
	// stays strong until the cache is dropped or a flush weakens it.
	mb.elasticCache.Strengthen()
	// Grow into a buffer of the next pool tier, rather than letting append
	// pick a size the pools cannot take back.
	if nsz := len(mb.cache.buf) + int(rl); cap(mb.cache.buf) < nsz {
		prev := mb.cache.buf
		mb.cache.stopRecycle()
		nbuf := getMsgBlockBuf(nsz)
		mb.cache.buf = nbuf[:copy(nbuf[:len(prev)], prev)]
		if !mb.cache.noRecycle {
			recycleMsgBlockBuf(prev)
		}
		mb.cache.registerRecycle()
	}

	index := len(mb.cache.buf)
	mb.cache.buf = appendRecord(mb.cache.buf, mb.hasher, rl, seq, subj, mhdr, msg, ts)
	copy(mb.tailChecksum[:], mb.cache.buf[len(mb.cache.buf)-checksumSize:])
	// The record's own time, as upstream: a tombstone carries the removed
	// message's old time, so writing one does not keep the cache warm.
	mb.lastWrite = ts

	if seq&(tbit|ebit) == 0 && mb.physKnown && mb.physFirst == 0 {
		mb.physFirst = seq
	}
	if seq&tbit == 0 {
		last := atomic.LoadUint64(&mb.last.seq)
		// updateAccounting understands ebit; strip it afterwards.
		mb.updateAccounting(seq, ts, rl)
		seq &^= ebit
		if len(mb.cache.offsets) > 0 && last+1 < seq {
			for dseq := last + 1; dseq < seq; dseq++ {
				mb.cache.offsets = append(mb.cache.offsets, dbit)
			}
		}
		if mb.cache.offsets = append(mb.cache.offsets, uint32(index)|cbit); len(mb.cache.offsets) == 1 {
			mb.cache.firstSeq = seq
		}
	} else {
		// A tombstone in an empty block still moves its sequence range.
		tseq := seq &^ tbit
		if mb.msgs == 0 && tseq > atomic.LoadUint64(&mb.last.seq) {
			atomic.StoreUint64(&mb.last.seq, tseq)
			mb.last.ts = ts
			atomic.StoreUint64(&mb.first.seq, tseq+1)
			mb.first.ts = 0
		}
		mb.rawBytes += rl
	}

	if flush {
		ld, err := mb.flushPendingMsgsLocked()
		if ld != nil && len(ld.Msgs) > 0 {
			go mb.fs.rebuildState(ld)
		}
		var rolled *rolledBackError
		if errors.As(err, &rolled) {
			// The rebuild recounted from disk; the range is what it was.
			mb.restoreRange(prevFirst, prevLast)
		}
		return err
	}
	kickFlusher(mb.fch)
	return nil
}

// updateAccounting counts a new record in the block. mb.mu held.
func (mb *msgBlock) updateAccounting(seq uint64, ts int64, rl uint64) {
	isDeleted := seq&ebit != 0
	seq &^= ebit
	fseq := atomic.LoadUint64(&mb.first.seq)
	if (fseq == 0 || mb.first.ts == 0) && seq >= fseq {
		atomic.StoreUint64(&mb.first.seq, seq)
		mb.first.ts = ts
	}
	atomic.StoreUint64(&mb.last.seq, seq)
	mb.last.ts = ts
	mb.rawBytes += rl
	if !isDeleted {
		mb.bytes += rl
		mb.msgs++
	}
}

// bytesPending returns the cached bytes not yet written to the file.
// mb.mu held.
func (mb *msgBlock) bytesPending() ([]byte, error) {
	if mb == nil || mb.file == nil {
		return nil, errNoPending
	}
	if mb.cache == nil {
		return nil, errNoCache
	}
	if len(mb.cache.buf) <= mb.cache.writePos {
		return nil, errNoPending
	}
	return mb.cache.buf[mb.cache.writePos:], nil
}

// pendingWriteSize is the number of bytes waiting to be flushed.
func (mb *msgBlock) pendingWriteSize() int {
	if mb == nil {
		return 0
	}
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	return mb.pendingWriteSizeLocked()
}

// pendingWriteSizeLocked is pendingWriteSize. mb.mu held.
func (mb *msgBlock) pendingWriteSizeLocked() int {
	if mb == nil || mb.closed || mb.file == nil || mb.cache == nil {
		return 0
	}
	return len(mb.cache.buf) - mb.cache.writePos
}

// writeAt writes to the block file. mb.mu held.
func (mb *msgBlock) writeAt(buf []byte, woff int64) (int, error) {
	return mb.file.WriteAt(buf, woff)
}

// flushPendingMsgs writes pending bytes out, rebuilding the store's state if
// data turned out lost.
func (mb *msgBlock) flushPendingMsgs() error {
	mb.mu.Lock()
	ld, err := mb.flushPendingMsgsLocked()
	fs := mb.fs
	mb.mu.Unlock()
	if ld != nil && len(ld.Msgs) > 0 && fs != nil {
		fs.rebuildState(ld)
	}
	return err
}

// flushPendingMsgsLocked writes the cache's pending bytes to the file, and
// syncs with SyncAlways.
//
// A failed write is rolled back: the block is reloaded from disk, a torn
// record cut off, and a *rolledBackError returned, so the store stays
// consistent and usable. A failed sync is sticky (writeErr): after it the
// kernel may have dropped the data, so the store stops writing until it is
// reopened and its blocks re-verified. mb.mu held.
func (mb *msgBlock) flushPendingMsgsLocked() (*LostStreamData, error) {
	// A cache only elastically held has nothing pending (pending writes
	// keep mb.cache set), so a flush that finds one lets it go again, and
	// weakly: its writes are all on disk.
	if mb.promoteCache() {
		defer func() {
			if mb.finishedWithCache(); mb.cache == nil {
				mb.elasticCache.Weaken()
			}
		}()
	}
	if mb.cache == nil || mb.file == nil || mb.writeErr != nil {
		return nil, mb.writeErr
	}
	buf, err := mb.bytesPending()
	if err != nil {
		if err == errNoPending || err == errNoCache {
			err = nil
		}
		return nil, err
	}
	wp := int64(mb.cache.writePos)
	if buf, err = mb.encryptAt(buf, wp); err != nil {
		return nil, err
	}
	for len(buf) > 0 {
		n, err := mb.writeAt(buf, wp)
		if err != nil {
			return mb.rollbackFailedWrite(err)
		}
		wp += int64(n)
		buf = buf[n:]
	}
	if mb.cache == nil || mb.file == nil {
		return nil, mb.writeErr
	}
	mb.cache.writePos = int(wp)

	if mb.syncAlways {
		if err := mb.file.Sync(); err != nil {
			mb.writeErr = fmt.Errorf("store: sync of block %d failed: %w", mb.index, err)
			return nil, mb.writeErr
		}
	} else {
		mb.needSync = true
		mb.startWriteback(wp)
	}
	mb.resetCacheExpireTimer(0)
	return nil, nil
}

// writebackChunk is how much a block's file takes before writeback of it is
// started early.
const writebackChunk = 1 << 20

// startWriteback starts writing the block's file out up to wp, a chunk at a
// time, without waiting. A finished block is synced before the next one is
// written (newMsgBlockForWrite, for a clean prefix after a crash); started
// early, that sync finds little left to write instead of stalling the
// writer for the whole block. mb.mu held.
func (mb *msgBlock) startWriteback(wp int64) {
	if wp < mb.writebackPos {
		// Truncated or rewritten below what was started.
		mb.writebackPos = 0
	}
	if n := wp - mb.writebackPos; n >= writebackChunk && vfs.StartWriteback(mb.file, mb.writebackPos, n) {
		mb.writebackPos = wp
	}
}

// rollbackFailedWrite undoes a failed append: it cuts the file back to
// where the append started (a failed write may still have stored some or
// all of its bytes), drops the cache and rebuilds the block from the file.
// Only when that fails does the error become sticky. mb.mu held.
func (mb *msgBlock) rollbackFailedWrite(werr error) (*LostStreamData, error) {
	var rerr error
	if mb.cache != nil && mb.file != nil {
		if rerr = mb.file.Truncate(int64(mb.cache.writePos)); rerr == nil && mb.syncAlways {
			rerr = mb.file.Sync()
		}
	}
	_ = mb.dirtyCloseWithRemove(false)
	mb.bek, mb.bekPos = nil, 0
	var ld *LostStreamData
	if rerr == nil {
		ld, _, rerr = mb.rebuildStateLocked()
	}
	if rerr != nil {
		mb.writeErr = fmt.Errorf("store: write to block %d failed (%v) and could not be rolled back: %w", mb.index, werr, rerr)
		return nil, mb.writeErr
	}
	// Flushing in place, what the rebuild dropped is the unacknowledged
	// tail being written. With AsyncFlush it may hold acknowledged
	// messages, which are reported lost.
	if ld != nil && mb.fs.inPlace.Load() {
		ld.Msgs = nil
	}
	return ld, &rolledBackError{fmt.Errorf("store: write to block %d failed: %w", mb.index, werr)}
}

// FlushAllPending writes out anything buffered.
func (fs *fileStore) FlushAllPending() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.writeErr != nil {
		return fs.writeErr
	}
	return fs.checkAndFlushLastBlock()
}

// checkAndFlushLastBlock flushes the last block. fs.mu held.
func (fs *fileStore) checkAndFlushLastBlock() error {
	lmb := fs.lastBlock
	if lmb == nil {
		return nil
	}
	lmb.mu.Lock()
	if err := lmb.writeErr; err != nil {
		lmb.mu.Unlock()
		return err
	}
	if lmb.pendingWriteSizeLocked() == 0 {
		lmb.mu.Unlock()
		return nil
	}
	ld, err := lmb.flushPendingMsgsLocked()
	lmb.mu.Unlock()
	if err != nil {
		return err
	}
	if ld != nil && len(ld.Msgs) > 0 {
		fs.rebuildStateLocked(ld)
	}
	return nil
}

// skipMsg records a skipped sequence in the block: an empty block only moves
// its range (writing a marker if it is the last block), others mark the
// sequence deleted and write an erased marker. fs.mu held.
func (mb *msgBlock) skipMsg(seq uint64, ts int64) error {
	if mb == nil {
		return nil
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.writeErr; err != nil {
		return err
	}
	prevFirst, prevLast := mb.snapshotRange()
	needsRecord := true
	if mb.msgs == 0 {
		atomic.StoreUint64(&mb.last.seq, seq)
		mb.last.ts = ts
		atomic.StoreUint64(&mb.first.seq, seq+1)
		mb.first.ts = 0
		needsRecord = mb == mb.fs.lastBlock
	} else {
		mb.deleted.Insert(seq)
	}
	if needsRecord {
		if err := mb.writeMsgRecordLocked(emptyRecordLen, seq|ebit, _EMPTY_, nil, nil, ts, mb.fs.inPlace.Load()); err != nil {
			// The skip did not happen: undo what was changed for it.
			mb.restoreRange(prevFirst, prevLast)
			mb.deleted.Delete(seq)
			return err
		}
	}
	return nil
}

// snapshotRange returns the block's first and last, to undo a failed
// write. mb.mu held.
func (mb *msgBlock) snapshotRange() (msgId, msgId) {
	return msgId{atomic.LoadUint64(&mb.first.seq), mb.first.ts}, msgId{atomic.LoadUint64(&mb.last.seq), mb.last.ts}
}

// restoreRange puts back a range taken with snapshotRange. mb.mu held.
func (mb *msgBlock) restoreRange(first, last msgId) {
	atomic.StoreUint64(&mb.first.seq, first.seq)
	mb.first.ts = first.ts
	atomic.StoreUint64(&mb.last.seq, last.seq)
	mb.last.ts = last.ts
}

// SkipMsg uses up the next sequence without storing a message.
func (fs *fileStore) SkipMsg(seq uint64) (uint64, error) {
	return fs.skipMsg(seq, false)
}

// SkipMsgNoInterest is SkipMsg that also moves LastTime, which interest
// retention relies on.
func (fs *fileStore) SkipMsgNoInterest(seq uint64) (uint64, error) {
	return fs.skipMsg(seq, true)
}

// skipMsg skips one sequence.
func (fs *fileStore) skipMsg(seq uint64, noInterest bool) (uint64, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.writeErr; err != nil {
		return 0, err
	}
	if fs.isClosed() {
		return 0, ErrStoreClosed
	}
	if seq != fs.state.LastSeq+1 {
		if seq > 0 {
			return 0, ErrSequenceMismatch
		}
		seq = fs.state.LastSeq + 1
	}
	mb, err := fs.checkLastBlock(emptyRecordLen)
	if err != nil {
		return 0, err
	}
	// The time only moves when unset or for interest retention.
	var ts int64
	updateTime := noInterest || fs.state.LastTime.IsZero()
	if updateTime {
		// The wall clock: upstream takes the cached access time, which can
		// lag a tick behind the time of the call.
		ts = time.Now().UnixNano()
	} else {
		ts = fs.state.LastTime.UnixNano()
	}
	if err = mb.skipMsg(seq, ts); err != nil {
		fs.setWriteErr(err)
		return 0, err
	}
	fs.state.LastSeq = seq
	if updateTime {
		fs.state.LastTime = time.Unix(0, ts).UTC()
	}
	if fs.state.Msgs == 0 {
		fs.state.FirstSeq, fs.state.FirstTime = seq, time.Time{}
	}
	if seq == fs.state.FirstSeq {
		fs.state.FirstSeq, fs.state.FirstTime = seq+1, time.Time{}
	}
	fs.dirty++
	return seq, nil
}

// SkipMsgs skips num sequences from seq with a single marker record.
func (fs *fileStore) SkipMsgs(seq uint64, num uint64) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.writeErr; err != nil {
		return err
	}
	if fs.isClosed() {
		return ErrStoreClosed
	}
	if seq != fs.state.LastSeq+1 {
		if seq > 0 {
			return ErrSequenceMismatch
		}
		seq = fs.state.LastSeq + 1
	}
	if num == 0 {
		return nil
	}

	// Too many delete map entries in one block get a fresh block instead.
	const maxDeletes = 64 * 1024
	mb := fs.lastBlock
	var msgs uint64
	numDeletes := int(num)
	if mb != nil {
		mb.mu.RLock()
		numDeletes += mb.deleted.Size()
		msgs = mb.msgs
		mb.mu.RUnlock()
	}
	if mb == nil || numDeletes > maxDeletes && msgs > 0 || msgs > 0 && mb.blkSize()+emptyRecordLen > fs.fcfg.BlockSize || mb.cmp != NoCompression {
		var err error
		if mb, err = fs.newMsgBlockForWrite(); err != nil {
			return err
		}
	}

	var ts int64
	if !fs.state.LastTime.IsZero() {
		ts = fs.state.LastTime.UnixNano()
	} else {
		ts = time.Now().UnixNano()
	}
	lseq := seq + num - 1

	mb.mu.Lock()
	if err := mb.writeErr; err != nil {
		mb.mu.Unlock()
		return err
	}
	prevFirst, prevLast := mb.snapshotRange()
	hadMsgs := mb.msgs > 0
	if !hadMsgs {
		atomic.StoreUint64(&mb.last.seq, lseq)
		mb.last.ts = ts
		atomic.StoreUint64(&mb.first.seq, lseq+1)
		mb.first.ts = 0
	} else {
		for s := seq; s <= lseq; s++ {
			mb.deleted.Insert(s)
		}
	}
	err := mb.writeMsgRecordLocked(emptyRecordLen, lseq|ebit, _EMPTY_, nil, nil, ts, mb.fs.inPlace.Load())
	if err != nil {
		mb.restoreRange(prevFirst, prevLast)
		if hadMsgs {
			for s := seq; s <= lseq; s++ {
				mb.deleted.Delete(s)
			}
		}
	}
	mb.mu.Unlock()
	if err != nil {
		fs.setWriteErr(err)
		return err
	}

	fs.state.LastSeq = lseq
	if fs.state.LastTime.IsZero() {
		fs.state.LastTime = time.Unix(0, ts).UTC()
	}
	if fs.state.Msgs == 0 {
		fs.state.FirstSeq, fs.state.FirstTime = lseq+1, time.Time{}
	}
	fs.dirty++
	return nil
}
