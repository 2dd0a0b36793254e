package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Compact removes every message below seq. It returns how many were removed.
func (fs *fileStore) Compact(seq uint64) (uint64, error) {
	return fs.compact(seq)
}

// compact is Compact; a seq past the end (or 0) purges everything.
func (fs *fileStore) compact(seq uint64) (uint64, error) {
	if fs.isClosed() {
		return 0, ErrStoreClosed
	}
	var (
		err            error
		purged, nbytes uint64
	)
	fs.mu.Lock()
	if seq == 0 || seq > fs.state.LastSeq {
		purged, nbytes, err = fs.purgeLocked(seq)
	} else {
		purged, nbytes, err = fs.compactLocked(seq)
	}
	if err != nil {
		fs.setWriteErr(err)
		fs.mu.Unlock()
		return purged, err
	}
	cb := fs.storageCB
	fs.mu.Unlock()

	if purged > 0 {
		// Best effort: a failed write here only costs a slower restart.
		_ = fs.forceWriteFullState()
	}
	if cb != nil && purged > 0 {
		cb(-int64(purged), -int64(nbytes), 0, _EMPTY_)
	}
	return purged, nil
}

// compactLocked drops whole blocks below seq and the head of the block
// holding it, writing tombstones for the partial block. fs.mu held.
func (fs *fileStore) compactLocked(seq uint64) (purged, nbytes uint64, err error) {
	if err := fs.writeErr; err != nil {
		return 0, 0, err
	}
	if fs.state.FirstSeq > seq {
		return 0, 0, nil
	}
	smb := fs.selectMsgBlock(seq)
	if smb == nil {
		return 0, 0, nil
	}

	var deleted int
	for _, mb := range fs.blocks {
		if mb == smb {
			break
		}
		mb.mu.Lock()
		purged += mb.msgs
		nbytes += mb.bytes
		if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
			mb.mu.Unlock()
			return 0, 0, err
		}
		if mb.subjects != nil {
			mb.subjects.IterOrdered(func(bsubj []byte, ss *SimpleState) bool {
				subj := bytesToString(bsubj)
				for i := uint64(0); i < ss.Msgs; i++ {
					fs.removePerSubject(subj)
				}
				return true
			})
		}
		err := mb.dirtyCloseWithRemove(true)
		mb.mu.Unlock()
		if err != nil {
			return purged, nbytes, err
		}
		deleted++
	}

	var (
		smv   StoreMsg
		tombs []msgId
	)
	smb.mu.Lock()
	if atomic.LoadUint64(&smb.first.seq) == seq {
		fs.state.FirstSeq = seq
		fs.state.FirstTime = timeFromNanos(smb.first.ts)
	} else if err = fs.compactBlockHead(smb, seq, &smv, &tombs, &purged, &nbytes, &deleted); err != nil {
		smb.finishedWithCache()
		smb.mu.Unlock()
		return purged, nbytes, err
	}
	smb.finishedWithCache()
	smb.mu.Unlock()

	if len(tombs) > 0 {
		for _, tomb := range tombs {
			if err = fs.writeTombstoneNoFlush(tomb.seq, tomb.ts); err != nil {
				return purged, nbytes, err
			}
		}
		if lmb := fs.lastBlock; lmb != nil {
			if err = lmb.flushPendingMsgs(); err != nil {
				return purged, nbytes, err
			}
		}
	}

	if deleted > 0 {
		for _, mb := range fs.blocks[:deleted] {
			delete(fs.blockByIndex, mb.index)
		}
		fs.blocks = copyMsgBlocks(fs.blocks[deleted:])
		if lb := len(fs.blocks); lb == 0 {
			fs.lastBlock = nil
		} else {
			fs.lastBlock = fs.blocks[lb-1]
		}
	}

	purged = min(purged, fs.state.Msgs)
	fs.state.Msgs -= purged
	if fs.state.Msgs == 0 {
		fs.state.FirstSeq = fs.state.LastSeq + 1
		fs.state.FirstTime = time.Time{}
	}
	nbytes = min(nbytes, fs.state.Bytes)
	fs.state.Bytes -= nbytes

	// index.db no longer describes the blocks; a new one is forced after.
	_ = fs.fsys.Remove(filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile))
	fs.dirty++
	return purged, nbytes, nil
}

// compactBlockHead removes the messages of smb below seq, collecting the
// tombstones to write. When that leaves most of a big block dead, the file
// is rewritten from the new first message on. Both locks held.
func (fs *fileStore) compactBlockHead(smb *msgBlock, seq uint64, smv *StoreMsg, tombs *[]msgId, purged, nbytes *uint64, deleted *int) error {
	if smb.cacheNotLoaded() {
		if err := smb.loadMsgsWithLock(); err != nil {
			return err
		}
	}
	for mseq := atomic.LoadUint64(&smb.first.seq); mseq < seq; mseq++ {
		sm, err := smb.cacheLookupNoCopy(mseq, smv)
		if err == errDeletedMsg {
			if !smb.deleted.IsEmpty() {
				smb.deleted.Delete(mseq)
			}
		} else if sm != nil {
			sz := fileStoreMsgSize(sm.subj, sm.hdr, sm.msg)
			if smb.msgs > 0 {
				smb.msgs--
				sz = min(sz, smb.bytes)
				smb.bytes -= sz
				*nbytes += sz
				*purged++
			}
			if _, err := smb.removeSeqPerSubject(sm.subj, mseq); err != nil {
				return err
			}
			fs.removePerSubject(sm.subj)
			*tombs = append(*tombs, msgId{sm.seq, sm.ts})
		}
	}

	if smb.msgs == 0 {
		// The block is now empty: its range must say so, or the next
		// rebuild of the store's state from the blocks brings the removed
		// head back as the first sequence.
		atomic.StoreUint64(&smb.first.seq, atomic.LoadUint64(&smb.last.seq)+1)
		smb.first.ts = 0
		smb.deleted.Empty()
		if smb != fs.lastBlock {
			if err := smb.dirtyCloseWithRemove(true); err != nil {
				return err
			}
			*deleted++
		} else {
			smb.needSync = true
		}
		fs.state.FirstSeq = atomic.LoadUint64(&smb.last.seq) + 1
		fs.state.FirstTime = time.Time{}
		return nil
	}

	smb.needSync = true
	// selectNextFirst starts one past first.
	if smb.first.seq < seq {
		atomic.StoreUint64(&smb.first.seq, seq-1)
	} else {
		atomic.StoreUint64(&smb.first.seq, smb.first.seq-1)
	}
	smb.selectNextFirst()
	fs.state.FirstSeq = atomic.LoadUint64(&smb.first.seq)
	fs.state.FirstTime = timeFromNanos(smb.first.ts)

	// Reclaim the dead head of a big block. Optimistic: any trouble just
	// leaves the block as it is.
	if smb.rawBytes > compactMinimum && smb.bytes*2 < smb.rawBytes {
		if smb.cacheNotLoaded() {
			if err := smb.loadMsgsWithLock(); err != nil {
				return err
			}
		}
		moff, _, _, err := smb.slotInfo(int(atomic.LoadUint64(&smb.first.seq) - smb.cache.firstSeq))
		if err != nil {
			return err
		}
		if moff >= uint32(len(smb.cache.buf)) {
			return nil
		}
		nbuf := append([]byte(nil), smb.cache.buf[moff:]...)
		smb.closeFDsLockedNoCheck()
		if err := smb.replaceFile(nbuf); err != nil {
			return err
		}
		smb.subjects = nil
		smb.clearCacheAndOffset()
		smb.rawBytes = uint64(len(nbuf))
		smb.physFirst, smb.physKnown = atomic.LoadUint64(&smb.first.seq), true
		// The rewritten block no longer holds the removed records, so no
		// tombstones are needed for them.
		*tombs = nil
	}
	return nil
}

// copyMsgBlocks returns a copy of a block slice.
func copyMsgBlocks(src []*msgBlock) []*msgBlock {
	if src == nil {
		return nil
	}
	dst := make([]*msgBlock, len(src))
	copy(dst, src)
	return dst
}

// shouldCompactInline reports whether a removal should compact the block
// now: it is over compactMinimum and more than half dead, and the last
// compaction did not already fail to gain that. mb.mu held.
func (mb *msgBlock) shouldCompactInline() bool {
	return mb.rawBytes > compactMinimum && mb.bytes*2 < mb.rawBytes && (mb.compactSize == 0 || mb.bytes*2 < mb.compactSize)
}

// shouldCompactSync reports whether the periodic sync should compact the
// block: more than half of it is dead. mb.mu held.
func (mb *msgBlock) shouldCompactSync() bool {
	return mb.bytes*2 < mb.rawBytes && !mb.noCompact
}

// compact rewrites the block without its deleted records. Never called on
// the last block. mb.mu held.
func (mb *msgBlock) compact() error {
	return mb.compactWithFloor(0, nil)
}

// compactWithFloor rewrites the block keeping its live messages and the
// tombstones still needed: those for earlier blocks at or above floor that
// the store still counts as deleted (fsDmap, when given). mb.mu held.
func (mb *msgBlock) compactWithFloor(floor uint64, fsDmap *interiorDeletes) error {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	wasLoaded := mb.cache != nil && mb.cacheAlreadyLoaded()
	if !wasLoaded {
		if err := mb.loadMsgsWithLock(); err != nil {
			return err
		}
	}
	buf := mb.cache.buf
	nbuf := make([]byte, 0, len(buf))

	var (
		firstSet bool
		newFirst uint64
		last     uint64
		lastTs   int64
		msgs     uint64
		le       = binary.LittleEndian
	)
	fseq := atomic.LoadUint64(&mb.first.seq)
	lseq := atomic.LoadUint64(&mb.last.seq)
	isDeleted := func(seq uint64) bool {
		return seq == 0 || seq&ebit != 0 || mb.deleted.Exists(seq) || seq < fseq
	}

	for index, lbuf := uint32(0), uint32(len(buf)); index < lbuf; {
		if index+msgHdrSize > lbuf {
			return fmt.Errorf("store: message overrun compacting block %d", mb.index)
		}
		rh, ok := parseRecordHeader(buf[index:])
		if !ok {
			return fmt.Errorf("store: sanity check failed compacting block %d", mb.index)
		}
		seq := le.Uint64(buf[index+4:])
		if !isDeleted(seq) {
			if seq&tbit != 0 {
				seq &^= tbit
				if seq < fseq && seq >= floor && (fsDmap == nil || fsDmap.Exists(seq)) {
					nbuf = append(nbuf, buf[index:index+rh.rl]...)
				}
			} else {
				msgs++
				nbuf = append(nbuf, buf[index:index+rh.rl]...)
				if !firstSet {
					firstSet = true
					newFirst = seq
				}
				if seq >= last {
					last, lastTs = seq, rh.ts
				}
			}
		}
		index += rh.rl
	}

	mb.closeFDsLockedNoCheck()
	oldRaw := mb.rawBytes
	if err := mb.replaceFile(nbuf); err != nil {
		return err
	}
	// The new file is in place: now the block's range follows it.
	if firstSet {
		atomic.StoreUint64(&mb.first.seq, newFirst)
		atomic.StoreUint64(&mb.last.seq, last)
		mb.last.ts = lastTs
	}
	mb.physFirst, mb.physKnown = newFirst, true
	mb.needSync = true
	// Compared as stored: a compressed block's file is smaller than nbuf.
	if mb.rawBytes == oldRaw {
		// Nothing gained; stop the sync timer from retrying.
		mb.noCompact = true
	}
	mb.compactSize = mb.bytes

	for seq, nfseq := fseq, atomic.LoadUint64(&mb.first.seq); seq < nfseq; seq++ {
		mb.deleted.Delete(seq)
	}
	for seq, nlseq := lseq, atomic.LoadUint64(&mb.last.seq); seq > nlseq; seq-- {
		mb.deleted.Delete(seq)
	}
	// Only tombstones left (or nothing): an empty range.
	if msgs == 0 {
		atomic.StoreUint64(&mb.last.seq, fseq-1)
		mb.last.ts = 0
		mb.deleted.Empty()
	}
	mb.clearCacheAndOffset()
	if wasLoaded {
		return mb.loadMsgsWithLock()
	}
	return nil
}

// replaceFileVia atomically replaces the block file, through the temporary
// file tmp, with plain records stored compressed with alg and encrypted as
// the store is. The new file is synced before the rename and the directory
// after it: a rewritten block that vanished or came back empty in a crash
// would lose messages that were safely on disk before.
//
// A failure before the rename leaves the old file as it was and returns a
// *rolledBackError. Once renamed, the new file is in place whatever
// follows; a failed directory sync then becomes the block's sticky write
// error but replaceFileVia reports success, so callers update their state
// to match the disk. mb.mu held.
func (mb *msgBlock) replaceFileVia(tmp string, plain []byte, alg StoreCompression) error {
	fs := mb.fs
	// plain came from the cache; pending records go to the old file first,
	// so a failure below leaves that file complete.
	if err := mb.flushBeforeFileAccess(); err != nil {
		return err
	}
	stored, err := mb.storedForm(plain, alg)
	if err != nil {
		return &rolledBackError{fmt.Errorf("store: failed to prepare new block file: %w", err)}
	}
	if err := writeFileSynced(fs, tmp, stored); err != nil {
		return &rolledBackError{fmt.Errorf("store: failed to write new block file: %w", err)}
	}
	if err := fs.fsys.Rename(tmp, mb.fileName); err != nil {
		_ = fs.fsys.Remove(tmp)
		return &rolledBackError{fmt.Errorf("store: failed to move new block file into place: %w", err)}
	}
	mb.rawBytes = uint64(len(stored))
	mb.cmp = alg
	// The key stream restarts with the new file.
	mb.bek, mb.bekPos = nil, 0
	if err := syncDir(fs.fsys, filepath.Dir(mb.fileName)); err != nil && mb.writeErr == nil {
		mb.writeErr = fmt.Errorf("store: sync of msgs directory failed: %w", err)
	}
	return nil
}

// writeFileSynced writes and fsyncs a whole file, removing it on failure.
func writeFileSynced(fs *fileStore, name string, data []byte) error {
	f, err := fs.fsys.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, defaultFilePerms)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = fs.fsys.Remove(name)
	}
	return err
}

// atomicOverwriteFile replaces the block file with the plain records buf
// through a temporary file, compressed in the store's compression when
// allowCompress (never for the block being appended to), and reopens the
// block for writing if it was open. mb.mu held.
func (mb *msgBlock) atomicOverwriteFile(buf []byte, allowCompress bool) error {
	wasOpen := mb.file != nil
	if wasOpen {
		mb.closeFDsLockedNoCheck()
	}
	alg := NoCompression
	if allowCompress {
		alg = mb.fs.fcfg.Compression
	}
	if err := mb.replaceFileVia(mb.fileName+blkTmpSuffix, buf, alg); err != nil {
		return err
	}
	if wasOpen {
		return mb.enableForWriting()
	}
	return nil
}

// tombs returns the block's tombstones.
func (mb *msgBlock) tombs() []msgId {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.tombsLocked()
}

// tombsLocked returns the block's tombstones. mb.mu held.
func (mb *msgBlock) tombsLocked() []msgId {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil
		}
	}
	var tombs []msgId
	buf := mb.cache.buf
	le := binary.LittleEndian
	for index, lbuf := uint32(0), uint32(len(buf)); index < lbuf; {
		if index+msgHdrSize > lbuf {
			return tombs
		}
		rl := le.Uint32(buf[index:]) &^ hbit
		seq := le.Uint64(buf[index+4:])
		if seq&tbit != 0 {
			tombs = append(tombs, msgId{seq &^ tbit, int64(le.Uint64(buf[index+12:]))})
		}
		if rl == 0 {
			return tombs
		}
		index += rl
	}
	return tombs
}

// numPriorTombs counts the block's tombstones for messages of earlier
// blocks still in the stream.
func (mb *msgBlock) numPriorTombs() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.numPriorTombsLocked()
}

// tombstoneFloor returns the lowest sequence that may still have a message
// record in some block file: the physical first of the first block holding
// message records. Tombstones below it cover nothing. Upstream uses the
// store's first sequence, but records below it survive in the first block
// until that block is rewritten, so dropping their tombstones lets a
// recovery without index.db bring the messages back. fs.mu held; held is a
// block the caller has locked.
func (fs *fileStore) tombstoneFloor(held *msgBlock) uint64 {
	for _, mb := range fs.blocks {
		if mb != held {
			mb.mu.Lock()
		}
		if !mb.physKnown {
			// Loading indexes the block, which finds it.
			_ = mb.loadMsgsWithLock()
		}
		pf, known := mb.physFirst, mb.physKnown
		if mb != held {
			mb.mu.Unlock()
		}
		if !known {
			// Cannot tell: keep every tombstone.
			return 0
		}
		if pf != 0 {
			return pf
		}
	}
	return math.MaxUint64
}

// numPriorTombsLocked counts tombstones for sequences that may still have a
// record (tombstoneFloor) and lie below the block's first message. Both
// locks held.
func (mb *msgBlock) numPriorTombsLocked() int {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return 0
		}
	}
	var (
		fseq  uint64
		tombs int
		le    = binary.LittleEndian
	)
	floor := mb.fs.tombstoneFloor(mb)
	buf := mb.cache.buf
	for index, lbuf := uint32(0), uint32(len(buf)); index < lbuf; {
		if index+msgHdrSize > lbuf {
			return tombs
		}
		rl := le.Uint32(buf[index:]) &^ hbit
		seq := le.Uint64(buf[index+4:])
		if rl == 0 {
			return tombs
		}
		index += rl
		if seq&tbit != 0 {
			seq &^= tbit
			if seq >= floor && (fseq == 0 || seq < fseq) {
				tombs++
			}
			continue
		}
		if seq == 0 || seq&ebit != 0 {
			continue
		}
		if fseq == 0 {
			fseq = seq
		}
	}
	return tombs
}
