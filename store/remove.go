package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"sort"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"
)

// RemoveMsg removes a message. Unless it empties its block, a tombstone
// records the removal so that recovery without index.db repeats it.
func (fs *fileStore) RemoveMsg(seq uint64) (bool, error) {
	return fs.removeMsg(seq, false, false, true)
}

// EraseMsg removes a message and overwrites its record with random bytes.
func (fs *fileStore) EraseMsg(seq uint64) (bool, error) {
	return fs.removeMsg(seq, true, false, true)
}

// removeMsgViaLimits removes a message for a limit. No tombstone is written:
// a restart re-applies limits anyway. fs.mu held.
func (fs *fileStore) removeMsgViaLimits(seq uint64) (bool, error) {
	return fs.removeMsg(seq, false, true, false)
}

// deleteFirstMsg removes the first message for a limit. fs.mu held.
func (fs *fileStore) deleteFirstMsg() (bool, error) {
	return fs.removeMsgViaLimits(fs.state.FirstSeq)
}

// removeMsg removes seq, erasing its record with secure. needFSLock says
// whether fs.mu must be taken here.
func (fs *fileStore) removeMsg(seq uint64, secure, viaLimits, needFSLock bool) (bool, error) {
	if seq == 0 {
		return false, ErrStoreMsgNotFound
	}
	if needFSLock {
		fs.mu.Lock()
		defer fs.mu.Unlock()
	}
	if fs.isClosed() {
		return false, ErrStoreClosed
	}
	if err := fs.writeErr; err != nil {
		return false, err
	}
	mb := fs.selectMsgBlock(seq)
	if mb == nil {
		err := ErrStoreEOF
		if seq <= fs.state.LastSeq {
			err = ErrStoreMsgNotFound
		}
		return false, err
	}
	return fs.removeMsgFromBlock(mb, seq, secure, viaLimits)
}

// removeMsgFromBlock removes seq from mb and updates every count. fs.mu held.
func (fs *fileStore) removeMsgFromBlock(mb *msgBlock, seq uint64, secure, viaLimits bool) (removed bool, rerr error) {
	mb.mu.Lock()
	if mb.closed || seq < atomic.LoadUint64(&mb.first.seq) || mb.deleted.Exists(seq) {
		mb.mu.Unlock()
		return false, nil
	}
	// Only a cache this removal takes up is let go again; the write cache
	// of the last block stays.
	needsCleanup := mb.cache == nil
	finishedWithCache := func() {
		if needsCleanup {
			mb.finishedWithCache()
		}
	}
	defer func() {
		if rerr != nil {
			fs.setWriteErr(rerr)
		}
	}()

	fifo := seq == atomic.LoadUint64(&mb.first.seq)
	isLastBlock := mb == fs.lastBlock
	isEmpty := mb.msgs == 1 // about to be

	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			finishedWithCache()
			mb.mu.Unlock()
			return false, err
		}
	}
	var smv StoreMsg
	sm, err := mb.cacheLookupNoCopy(seq, &smv)
	if err != nil {
		finishedWithCache()
		mb.mu.Unlock()
		// Already gone is not an error.
		if err == ErrStoreMsgNotFound || err == errDeletedMsg {
			err = nil
		}
		return false, err
	}
	// sm aliases the cache, which may change once mb.mu is released.
	subj := copyString(sm.subj)
	ts := sm.ts
	lhdr, lmsg := len(sm.hdr), len(sm.msg)
	ttl, _ := getMessageTTL(sm.hdr)

	// A user removal leaves a tombstone in the last block, unless the block
	// empties (removeMsgBlock then writes one if needed).
	if !viaLimits && !isEmpty {
		finishedWithCache()
		mb.mu.Unlock()
		lmb, err := fs.checkLastBlock(emptyRecordLen)
		if err == nil {
			err = lmb.writeTombstone(seq, ts)
		}
		mb.mu.Lock()
		if err != nil {
			finishedWithCache()
			mb.mu.Unlock()
			return false, err
		}
	}

	msz := fileStoreMsgSizeRaw(len(subj), lhdr, lmsg)
	mb.lastRemove = accessTime()

	if secure {
		// The cache may have expired while mb.mu was released above.
		if mb.cacheNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				finishedWithCache()
				mb.mu.Unlock()
				return false, err
			}
		}
		ri, _, _, err := mb.slotInfo(int(seq - mb.cache.firstSeq))
		if err == nil {
			err = mb.eraseMsg(seq, int(ri), int(msz), isLastBlock)
		}
		if err != nil {
			finishedWithCache()
			mb.mu.Unlock()
			return false, err
		}
	}

	if fs.state.Msgs > 0 {
		fs.state.Msgs--
	}
	if msz < fs.state.Bytes {
		fs.state.Bytes -= msz
	} else {
		fs.state.Bytes = 0
	}
	if mb.msgs > 0 {
		mb.msgs--
	}
	if msz < mb.bytes {
		mb.bytes -= msz
	} else {
		mb.bytes = 0
	}
	mb.noCompact = false
	fs.dirty++

	if _, err = mb.removeSeqPerSubject(subj, seq); err != nil {
		finishedWithCache()
		mb.mu.Unlock()
		return false, err
	}
	fs.removePerSubject(subj)
	if fs.ttls != nil && ttl > 0 {
		expires := time.Duration(ts) + time.Second*time.Duration(ttl)
		fs.ttls.Remove(seq, int64(expires))
	}

	if fifo {
		mb.selectNextFirst()
		if !isEmpty && seq == fs.state.FirstSeq {
			fs.state.FirstSeq = atomic.LoadUint64(&mb.first.seq)
			fs.state.FirstTime = timeFromNanos(mb.first.ts)
		}
	} else if !isEmpty {
		mb.deleted.Insert(seq)
		// Compact inline when it halves a big block; the sync timer does
		// the rest.
		if !isLastBlock && mb.shouldCompactInline() {
			// Compaction only reclaims space; the removal already happened,
			// so a failed rewrite is not the caller's error.
			if err := mb.compact(); err != nil {
				fs.warn("Inline compaction of block %d failed: %v", mb.index, err)
			}
		}
	}

	var firstSeqNeedsUpdate bool
	if isEmpty {
		if err = fs.removeMsgBlock(mb); err != nil {
			finishedWithCache()
			mb.mu.Unlock()
			return false, err
		}
		firstSeqNeedsUpdate = seq == fs.state.FirstSeq
	}
	finishedWithCache()
	mb.mu.Unlock()

	if firstSeqNeedsUpdate {
		if err = fs.selectNextFirst(); err != nil {
			return false, err
		}
	}
	if cb := fs.storageCB; cb != nil {
		// The callback may call back into the store.
		fs.mu.Unlock()
		cb(-1, -int64(msz), seq, subj)
		fs.mu.Lock()
	}
	return true, nil
}

// removeMsgsInRange removes every message in [first, last], dropping whole
// blocks when they lie inside the range and hold no tombstones for earlier
// blocks. fs.mu held.
func (fs *fileStore) removeMsgsInRange(first, last uint64, viaLimits bool) error {
	last = min(last, fs.state.LastSeq)
	if first > last {
		return nil
	}
	firstBlock := sort.Search(len(fs.blocks), func(i int) bool {
		return atomic.LoadUint64(&fs.blocks[i].last.seq) >= first
	})
	for i := firstBlock; i < len(fs.blocks); {
		mb := fs.blocks[i]
		mbFirstSeq := atomic.LoadUint64(&mb.first.seq)
		mbLastSeq := atomic.LoadUint64(&mb.last.seq)
		if mbFirstSeq > last {
			break
		}
		if mbFirstSeq >= first && mbLastSeq <= last && mb.numPriorTombs() == 0 {
			// purgeMsgBlock drops mb from fs.blocks, so i now points at the
			// next block.
			if err := fs.purgeMsgBlock(mb); err != nil {
				return err
			}
			continue
		}
		for seq := max(first, mbFirstSeq); seq <= min(last, mbLastSeq); seq++ {
			if _, err := fs.removeMsgFromBlock(mb, seq, false, viaLimits); err != nil {
				return err
			}
		}
		i++
	}
	return nil
}

// eraseMsg overwrites the record at ri (rl bytes long) with random bytes and
// the erased bit, in the cache and on disk. mb.mu held.
func (mb *msgBlock) eraseMsg(seq uint64, ri, rl int, isLastBlock bool) error {
	le := binary.LittleEndian
	var hdr [msgHdrSize]byte
	le.PutUint32(hdr[0:], uint32(rl))
	le.PutUint64(hdr[4:], seq|ebit)
	le.PutUint64(hdr[12:], 0)
	le.PutUint16(hdr[20:], 0)

	data := make([]byte, rl-emptyRecordLen)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	var b bytes.Buffer
	b.Write(hdr[:])
	b.Write(data)
	mb.hasher.Reset()
	mb.hasher.Write(hdr[4:20])
	mb.hasher.Write(data)
	var hb [highwayhash.Size64]byte
	b.Write(mb.hasher.Sum(hb[:0]))
	nbytes := b.Bytes()
	if ri+rl > len(mb.cache.buf) {
		return errBadMsg{mb.fileName, "erase past the end of the block"}
	}
	// Disk first, on a copy: if the rewrite fails the cache must still
	// match the untouched file.
	if mb.cache.writePos > ri {
		nbuf := append([]byte(nil), mb.cache.buf...)
		copy(nbuf[ri:ri+rl], nbytes)
		if err := mb.atomicOverwriteFile(nbuf, !isLastBlock); err != nil {
			return err
		}
	}
	copy(mb.cache.buf[ri:ri+rl], nbytes)
	return nil
}

// selectNextFirst moves the block's first past deleted sequences. mb.mu held.
func (mb *msgBlock) selectNextFirst() {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	var seq uint64
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	for seq = fseq + 1; seq <= lseq; seq++ {
		if !mb.deleted.Exists(seq) {
			break
		}
		// Below the new first, the entry is no longer needed.
		mb.deleted.Delete(seq)
	}
	atomic.StoreUint64(&mb.first.seq, seq)
	if seq > lseq {
		mb.first.ts = 0
		return
	}
	var smv StoreMsg
	sm, _ := mb.cacheLookupNoCopy(seq, &smv)
	if sm == nil {
		sm, _, _ = mb.fetchMsgNoCopyLocked(seq, &smv)
	}
	if sm != nil {
		mb.first.ts = sm.ts
	} else {
		mb.first.ts = 0
	}
}

// selectNextFirst sets the store's first sequence from its first block,
// dropping leading blocks that only hold tombstones. fs.mu held.
func (fs *fileStore) selectNextFirst() error {
	if len(fs.blocks) > 0 {
		for len(fs.blocks) > 1 {
			mb := fs.blocks[0]
			mb.mu.Lock()
			if mb.msgs != 0 {
				mb.mu.Unlock()
				break
			}
			err := fs.forceRemoveMsgBlock(mb)
			mb.mu.Unlock()
			if err != nil {
				return err
			}
		}
		mb := fs.blocks[0]
		mb.mu.RLock()
		fs.state.FirstSeq = atomic.LoadUint64(&mb.first.seq)
		fs.state.FirstTime = timeFromNanos(mb.first.ts)
		mb.mu.RUnlock()
	} else {
		fs.state.FirstSeq = fs.state.LastSeq + 1
		fs.state.FirstTime = time.Time{}
	}
	// syncBlocks may now drop tombstones below the new first.
	fs.firstMoved = true
	return nil
}
