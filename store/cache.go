package store

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"

	"github.com/porttracker/porttracker/store/ats"
	"github.com/porttracker/porttracker/store/stree"
)

// cache is a block's contents in memory, used both to read and as the write
// buffer of the last block. buf always mirrors the file from offset 0;
// buf[writePos:] is written but not yet flushed to the file.
type cache struct {
	buf      []byte
	writePos int
	// offsets has one slot per sequence from firstSeq: the record's offset
	// in buf (with cbit once its hash was checked), or dbit when the
	// sequence has no record.
	offsets  []uint32
	firstSeq uint64
	// noRecycle keeps buf out of the pools: it is being handed on to the
	// next block's write cache (tryExpireWriteCache).
	noRecycle bool
	// clean returns buf to its pool when the collector takes the cache
	// (registerRecycle); the zero value when nothing is registered.
	clean runtime.Cleanup
}

// setupWriteCache makes sure the block has a cache to append to, loading the
// existing file first so buf keeps mirroring it. mb.mu held.
func (mb *msgBlock) setupWriteCache() error {
	if mb.cache != nil || mb.promoteCache() {
		return nil
	}
	if mb.file != nil || mb.fileName != _EMPTY_ && fileExists(mb) {
		return mb.loadMsgsWithLock()
	}
	mb.setCache(&cache{})
	mb.lastLoad = accessTime()
	mb.startCacheExpireTimer()
	return nil
}

func fileExists(mb *msgBlock) bool {
	_, err := mb.fs.fsys.Stat(mb.fileName)
	return err == nil
}

// cacheAlreadyLoaded reports whether the cache holds every sequence of the
// block. mb.mu held.
func (mb *msgBlock) cacheAlreadyLoaded() bool {
	mb.promoteCache()
	if mb.cache == nil || mb.cache.firstSeq == 0 || len(mb.cache.buf) == 0 {
		return false
	}
	numEntries := mb.msgs + uint64(mb.deleted.Size()) + (atomic.LoadUint64(&mb.first.seq) - mb.cache.firstSeq)
	return numEntries == uint64(len(mb.cache.offsets))
}

// cacheNotLoaded is !cacheAlreadyLoaded. mb.mu held.
func (mb *msgBlock) cacheNotLoaded() bool {
	return !mb.cacheAlreadyLoaded()
}

// fssNotLoaded reports whether the per-subject state is tracked but not
// loaded. mb.mu held.
func (mb *msgBlock) fssNotLoaded() bool {
	return mb.subjects == nil && !mb.noTrack
}

// loadMsgs loads the block into its cache.
func (mb *msgBlock) loadMsgs() error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.loadMsgsWithLock()
}

// loadMsgsWithLock loads the whole block into the cache and indexes it. A
// block whose contents disagree with its state is rebuilt, and what is lost
// reported to the store. mb.mu held.
func (mb *msgBlock) loadMsgsWithLock() error {
	// indexCacheBuf and rebuilds call back in; one load at a time.
	if mb.loading {
		return nil
	}
	mb.loading = true
	defer mb.clearLoading()

	for checks := 1; ; checks++ {
		if checks > 8 {
			return errNoCache
		}
		if mb.cacheAlreadyLoaded() {
			return nil
		}
		mb.lastLoad = accessTime()

		if buf, _ := mb.bytesPending(); len(buf) > 0 {
			ld, err := mb.flushPendingMsgsLocked()
			if ld != nil && mb.fs != nil {
				// The store lock may or may not be held here, so the store's
				// state is fixed from another goroutine.
				go mb.fs.rebuildState(ld)
			}
			if err != nil {
				return err
			}
			continue
		}

		buf, err := mb.loadBlockPlain()
		if err != nil {
			mb.fs.warn("loadBlock error: %v", err)
			if err == errNoBlkData {
				if ld, _, _ := mb.rebuildStateLocked(); ld != nil {
					go mb.fs.rebuildState(ld)
				}
			}
			return err
		}

		if err := mb.indexCacheBuf(buf); err != nil {
			if err == errCorruptState {
				var ld *LostStreamData
				ld, _, err = mb.rebuildStateLocked()
				// The store's view is stale whether or not data was lost.
				go mb.fs.rebuildState(ld)
			}
			if err != nil {
				return err
			}
			continue
		}
		if len(buf) > 0 {
			mb.cacheLoads++
			mb.startCacheExpireTimer()
		}
		return nil
	}
}

// clearLoading ends a load. mb.mu held.
func (mb *msgBlock) clearLoading() {
	mb.loading = false
}

// indexCacheBuf makes buf (the whole block) the cache and indexes its
// records by sequence. It also rebuilds the per-subject state if missing and
// recounts TTL and schedule headers. errCorruptState means the records do
// not agree with the block's first/last sequence or delete map. mb.mu held.
func (mb *msgBlock) indexCacheBuf(buf []byte) error {
	mbFirstSeq := atomic.LoadUint64(&mb.first.seq)
	mbLastSeq := atomic.LoadUint64(&mb.last.seq)

	// An empty block has first == last+1; anything further apart would
	// underflow the size below.
	if mbFirstSeq > mbLastSeq+1 {
		mb.fs.warn("indexCacheBuf corrupt state in %s: first %d last %d", mb.fileName, mbFirstSeq, mbLastSeq)
		return errCorruptState
	}
	idxSz := mbLastSeq - mbFirstSeq + 1
	idx := make([]uint32, 0, idxSz)

	popFss := mb.fssNotLoaded()
	if popFss {
		mb.subjects = stree.NewSubjectTree[SimpleState]()
	}
	mb.lastSubjects = accessTime()

	var (
		ttls, schedules uint64
		sm              StoreMsg
		first, last     uint64
		index           uint32
		lbuf            = uint32(len(buf))
		physSeen        bool
		physFirst       uint64
	)
	for index < lbuf {
		rh, ok := parseRecordHeader(buf[index:])
		if !ok {
			mb.fs.warn("indexCacheBuf corrupt record in %s at %d", mb.fileName, index)
			return errCorruptState
		}
		rl, seq := rh.rl, rh.seq
		if !physSeen && seq&(tbit|ebit) == 0 && seq != 0 {
			physSeen, physFirst = true, seq
		}

		// Tombstones are not indexed.
		if seq&tbit != 0 {
			index += rl
			continue
		}
		erased := seq&ebit != 0
		seq &^= ebit

		// Sequences only move up; a repeat was already accounted for.
		if seq <= last {
			index += rl
			continue
		}
		// Hashes are checked lazily, on first lookup of each record. A
		// sequence past the block's last is stale state or a damaged
		// record; it must not drive the hole filling below.
		if seq > mbLastSeq {
			return errCorruptState
		}
		if seq >= mbFirstSeq {
			last = seq
			if first == 0 {
				first = seq
				if mbFirstSeq != first {
					return errCorruptState
				}
			}
			// Fill holes (sequences with no record) with dbit.
			if slot := int(seq - mbFirstSeq); slot != len(idx) {
				for dseq := mbFirstSeq + uint64(len(idx)); dseq < seq; dseq++ {
					idx = append(idx, dbit)
					if dseq != 0 {
						mb.deleted.Insert(dseq)
					}
				}
			}
			idx = append(idx, index)

			// An erased record the delete map does not know means our
			// in-memory state is stale.
			if erased && seq != 0 && !mb.deleted.Exists(seq) {
				return errCorruptState
			}

			if popFss && rh.slen > 0 && !mb.noTrack && !erased && !mb.deleted.Exists(seq) {
				bsubj := buf[index+msgHdrSize : index+msgHdrSize+uint32(rh.slen)]
				if ss, ok := mb.subjects.Find(bsubj); ok && ss != nil {
					ss.Msgs++
					ss.Last = seq
					ss.lastNeedsUpdate = false
				} else {
					mb.subjects.Insert(bsubj, SimpleState{Msgs: 1, First: seq, Last: seq})
				}
			}

			if rh.hasHeaders {
				if fsm, err := mb.msgFromBufNoCopy(buf[index:], &sm, nil); err == nil && fsm != nil {
					if len(sliceHeader(JSMessageTTL, fsm.hdr)) > 0 {
						ttls++
					}
					if len(sliceHeader(JSSchedulePattern, fsm.hdr)) > 0 {
						schedules++
					}
				}
			}
		}
		index += rl
	}

	if len(idx) != int(idxSz) || (first > 0 && mbFirstSeq != first) || (last > 0 && mbLastSeq != last) {
		return errCorruptState
	}

	// A cache the block still has, even only elastically, is reloaded in
	// place (as upstream), so whoever holds it sees the new contents. Its
	// old buffer (from the pools, like buf) goes back now rather than when
	// the collector gets to it.
	mb.promoteCache()
	c := mb.cache
	if c == nil {
		c = &cache{}
	} else {
		c.stopRecycle()
		if !c.noRecycle && !sameBuffer(c.buf, buf) {
			recycleMsgBlockBuf(c.buf)
		}
	}
	c.buf, c.offsets, c.firstSeq, c.writePos = buf, idx, mbFirstSeq, int(lbuf)
	c.registerRecycle()
	mb.setCache(c)
	mb.physFirst, mb.physKnown = physFirst, true
	mb.ttls = ttls
	mb.schedules = schedules
	return nil
}

// slotInfo returns the offset and length of the record in a cache slot and
// whether its hash was checked. mb.mu held.
func (mb *msgBlock) slotInfo(slot int) (uint32, uint32, bool, error) {
	switch {
	case mb.cache == nil:
		return 0, 0, false, errNoCache
	case slot < 0:
		mb.fs.warn("Partial cache: offset slot index %d is less than zero", slot)
		return 0, 0, false, errPartialCache
	case slot >= len(mb.cache.offsets):
		mb.fs.warn("Partial cache: offset slot index %d is greater than index len %d", slot, len(mb.cache.offsets))
		return 0, 0, false, errPartialCache
	}
	bi := mb.cache.offsets[slot]
	ri, hashChecked := bi&^cbit, bi&cbit != 0
	if bi == dbit {
		return 0, 0, false, errDeletedMsg
	}
	// The length runs to the next slot holding a record, or to the end.
	var rl uint32
	for i := 1; slot+i < len(mb.cache.offsets); i++ {
		ni := mb.cache.offsets[slot+i] &^ cbit
		if ni == dbit {
			continue
		}
		rl = ni - ri
		break
	}
	if rl == 0 {
		rl = uint32(len(mb.cache.buf)) - ri
	}
	if rl < msgHdrSize {
		return 0, 0, false, errBadMsg{mb.fileName, fmt.Sprintf("length too short for slot %d", slot)}
	}
	return ri, rl, hashChecked, nil
}

// cacheLookup returns a copy of message seq from the cache. mb.mu held.
func (mb *msgBlock) cacheLookup(seq uint64, sm *StoreMsg) (*StoreMsg, error) {
	return mb.cacheLookupEx(seq, sm, true)
}

// cacheLookupNoCopy returns message seq aliasing the cache; only valid
// while mb.mu is held. mb.mu held.
func (mb *msgBlock) cacheLookupNoCopy(seq uint64, sm *StoreMsg) (*StoreMsg, error) {
	return mb.cacheLookupEx(seq, sm, false)
}

// cacheLookupEx looks seq up in the loaded cache, checking the record's hash
// the first time. mb.mu held.
func (mb *msgBlock) cacheLookupEx(seq uint64, sm *StoreMsg, doCopy bool) (*StoreMsg, error) {
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	if lseq == fseq-1 || seq < fseq || seq > lseq {
		return nil, ErrStoreMsgNotFound
	}
	// lastLoadSeq tracks sequential reads in either direction so a scan that
	// reaches the end can drop the cache.
	if mb.lastLoadSeq == 0 || seq < mb.lastLoadSeq || seq == mb.lastLoadSeq+1 || seq == mb.lastLoadSeq-1 {
		mb.lastLoadSeq = seq
	}
	if mb.deleted.Exists(seq) {
		mb.lastLoad = accessTime()
		return nil, errDeletedMsg
	}
	mb.promoteCache()
	if mb.cache == nil || mb.cache.firstSeq == 0 || len(mb.cache.offsets) == 0 || len(mb.cache.buf) == 0 {
		return nil, errNoCache
	}
	if seq < mb.cache.firstSeq {
		mb.fs.warn("Partial cache: seq %d is less than cache fseq %d", seq, mb.cache.firstSeq)
		return nil, errPartialCache
	}
	bi, _, hashChecked, err := mb.slotInfo(int(seq - mb.cache.firstSeq))
	if err != nil {
		return nil, err
	}
	mb.lastLoad = accessTime()

	li := int(bi)
	if li >= len(mb.cache.buf) {
		mb.fs.warn("Partial cache: slot index %d is beyond cache buffer len %d", li, len(mb.cache.buf))
		return nil, errPartialCache
	}
	var hh *highwayhash.Digest64
	if !hashChecked {
		hh = mb.hasher
	}
	fsm, err := mb.msgFromBufEx(mb.cache.buf[li:], sm, hh, doCopy)
	if err != nil || fsm == nil {
		return nil, err
	}
	// Erased records decode with sequence 0.
	if fsm.seq == 0 {
		return nil, errDeletedMsg
	}
	if seq != fsm.seq {
		mb.clearCacheAndOffset()
		return nil, fmt.Errorf("store: sequence numbers for cache load did not match, %d vs %d", seq, fsm.seq)
	}
	if !hashChecked {
		mb.cache.offsets[seq-mb.cache.firstSeq] = bi | cbit
	}
	return fsm, nil
}

// msgFromBuf decodes the record at buf into a copy. mb.mu held.
func (mb *msgBlock) msgFromBuf(buf []byte, sm *StoreMsg, hh *highwayhash.Digest64) (*StoreMsg, error) {
	return mb.msgFromBufEx(buf, sm, hh, true)
}

// msgFromBufNoCopy decodes the record at buf aliasing it. mb.mu held.
func (mb *msgBlock) msgFromBufNoCopy(buf []byte, sm *StoreMsg, hh *highwayhash.Digest64) (*StoreMsg, error) {
	return mb.msgFromBufEx(buf, sm, hh, false)
}

// msgFromBufEx decodes the record at the start of buf into sm, checking the
// hash when hh is given. An erased record decodes with sequence 0.
func (mb *msgBlock) msgFromBufEx(buf []byte, sm *StoreMsg, hh *highwayhash.Digest64, doCopy bool) (*StoreMsg, error) {
	if len(buf) < emptyRecordLen {
		return nil, errBadMsg{mb.fileName, "record too short"}
	}
	rh, ok := parseRecordHeader(buf)
	if !ok {
		return nil, errBadMsg{mb.fileName, "sanity check failed"}
	}
	if hh != nil {
		if !checksumMatches(hh, buf, rh) {
			return nil, errBadMsg{mb.fileName, "invalid checksum"}
		}
		if !recordShapeOK(buf, rh) {
			return nil, errBadMsg{mb.fileName, "malformed subject or header"}
		}
	}
	dlen := int(rh.rl) - msgHdrSize
	data := buf[msgHdrSize : msgHdrSize+dlen]
	slen := rh.slen
	seq := rh.seq
	if seq&ebit != 0 {
		seq = 0
	}
	if sm == nil {
		sm = new(StoreMsg)
	} else {
		sm.clear()
	}
	end := dlen - recordHashSize
	if rh.hasHeaders {
		hl := int(binary.LittleEndian.Uint32(data[slen:]))
		bi := slen + 4
		if bi+hl > end {
			return nil, errBadMsg{mb.fileName, "invalid header length"}
		}
		if doCopy {
			sm.buf = append(sm.buf, data[bi:end]...)
		} else {
			sm.buf = data[bi:end]
		}
		sm.hdr = sm.buf[0:hl:hl]
		sm.msg = sm.buf[hl : end-bi]
	} else {
		if doCopy {
			sm.buf = append(sm.buf, data[slen:end]...)
		} else {
			sm.buf = data[slen:end]
		}
		sm.msg = sm.buf[0 : end-slen]
	}
	sm.seq, sm.ts = seq, rh.ts
	if slen > 0 {
		if doCopy {
			sm.subj = string(data[:slen])
		} else {
			sm.subj = bytesToString(data[:slen])
		}
	}
	return sm, nil
}

// fetchMsg returns a copy of message seq, loading the block if needed. The
// bool reports a sequential read that reached an end of the block.
func (mb *msgBlock) fetchMsg(seq uint64, sm *StoreMsg) (*StoreMsg, bool, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()
	return mb.fetchMsgEx(seq, sm, true)
}

// fetchMsgNoCopyLocked is fetchMsg aliasing the cache. mb.mu held.
func (mb *msgBlock) fetchMsgNoCopyLocked(seq uint64, sm *StoreMsg) (*StoreMsg, bool, error) {
	return mb.fetchMsgEx(seq, sm, false)
}

// fetchMsgEx loads the cache if needed and looks seq up. mb.mu held.
func (mb *msgBlock) fetchMsgEx(seq uint64, sm *StoreMsg, doCopy bool) (*StoreMsg, bool, error) {
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	if seq < fseq || seq > lseq {
		return nil, false, ErrStoreMsgNotFound
	}
	if mb.deleted.Exists(seq) {
		llseq := mb.lastLoadSeq
		if mb.lastLoadSeq == 0 || seq < mb.lastLoadSeq || seq == mb.lastLoadSeq+1 || seq == mb.lastLoadSeq-1 {
			mb.lastLoadSeq = seq
		}
		expireOk := (seq == lseq && llseq == seq-1) || (seq == fseq && llseq == seq+1)
		return nil, expireOk, errDeletedMsg
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
	}
	llseq := mb.lastLoadSeq
	fsm, err := mb.cacheLookupEx(seq, sm, doCopy)
	if err != nil {
		return nil, false, err
	}
	expireOk := (seq == lseq && llseq == seq-1) || (seq == fseq && llseq == seq+1)
	return fsm, expireOk, nil
}

// resetCacheExpireTimer (re)arms the cache expiry timer; zero means the
// default delay. mb.mu held.
func (mb *msgBlock) resetCacheExpireTimer(td time.Duration) {
	if td == 0 {
		td = mb.cacheExpire + 100*time.Millisecond
	}
	if mb.cacheTimer == nil {
		mb.cacheTimer = time.AfterFunc(td, mb.tryExpireCache)
	} else {
		mb.cacheTimer.Reset(td)
	}
}

// startCacheExpireTimer arms the expiry timer with the default delay.
// mb.mu held.
func (mb *msgBlock) startCacheExpireTimer() {
	mb.resetCacheExpireTimer(0)
}

// clearCacheAndOffset drops the cache and the linear-scan tracker. mb.mu held.
func (mb *msgBlock) clearCacheAndOffset() {
	mb.lastLoadSeq = 0
	mb.clearCache()
}

// clearCache drops the cache. The subject state goes too once it has been
// idle for its own expiry. mb.mu held.
func (mb *msgBlock) clearCache() {
	if mb.cacheTimer != nil {
		tsla := mb.sinceLastActivity()
		if mb.subjects == nil || tsla > mb.subjExpire {
			mb.subjects = nil
			mb.cacheTimer.Stop()
			mb.cacheTimer = nil
		} else {
			mb.resetCacheExpireTimer(mb.subjExpire - tsla)
		}
	}
	c := mb.cache
	if c == nil {
		c = mb.elasticCache.Value()
	}
	mb.setCache(nil)
	if c == nil {
		return
	}
	// Stop the cleanup first, so the buffer goes back exactly once.
	c.stopRecycle()
	if !c.noRecycle {
		recycleMsgBlockBuf(c.buf)
	}
	c.buf = nil
}

// tryExpireCache is the expiry timer's callback.
func (mb *msgBlock) tryExpireCache() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.tryExpireCacheLocked()
}

// tryForceExpireCache expires the cache regardless of recent reads.
func (mb *msgBlock) tryForceExpireCache() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.tryForceExpireCacheLocked()
}

// tryForceExpireCacheLocked expires the cache regardless of recent reads
// (recent writes still keep it). mb.mu held.
func (mb *msgBlock) tryForceExpireCacheLocked() {
	llts := mb.lastLoad
	mb.lastLoad = 0
	mb.tryExpireCacheLocked()
	mb.lastLoad = llts
}

// tryExpireWriteCache expires the cache of a block that stops being the
// last one, unless it is being read. When it was dropped, its buffer is
// returned for the next block's write cache. mb.mu held.
func (mb *msgBlock) tryExpireWriteCache() []byte {
	c := mb.cache
	if c == nil {
		return nil
	}
	// Expiring must not recycle the buffer that is about to be reused.
	buf, lwts, llts, noRecycle := c.buf, mb.lastWrite, mb.lastLoad, c.noRecycle
	mb.lastWrite, c.noRecycle = 0, true
	mb.tryExpireCacheLocked()
	mb.lastWrite = lwts
	if mb.cache != nil {
		c.noRecycle = noRecycle
		return nil
	}
	// Never read and now dropped: its writes no longer count as recent
	// activity either (as upstream), so a later scan that loads it can
	// drop it again at once.
	if llts == 0 {
		mb.lastWrite = 0
	}
	return buf[:0]
}

// tryExpireCacheLocked drops the cache when it has no pending writes and saw
// no reads or writes for cacheExpire; otherwise it re-arms the timer.
// mb.mu held.
func (mb *msgBlock) tryExpireCacheLocked() {
	// A cache only elastically held is expired like a strong one; if it
	// stays, it goes back to being only elastically held.
	promoted := mb.promoteCache()
	if mb.cache == nil && mb.subjects == nil {
		if mb.cacheTimer != nil {
			mb.cacheTimer.Stop()
			mb.cacheTimer = nil
		}
		return
	}
	if mb.cache != nil && len(mb.cache.buf)-mb.cache.writePos > 0 {
		mb.resetCacheExpireTimer(mb.cacheExpire)
		if promoted {
			mb.finishedWithCache()
		}
		return
	}
	bufts := max(mb.lastLoad, mb.lastWrite)
	// Loads are stamped from the access-time ticker, so the last activity
	// may be up to a tick more recent than it looks. Writes carry their
	// record's time, which for a tombstone is old. Measure against the
	// clock, not the ticker: a ticker lagging under load would make old
	// activity look recent and keep caches that should go.
	if delta := time.Now().UnixNano() - bufts; delta <= int64(mb.cacheExpire)+int64(ats.TickInterval) {
		td := mb.cacheExpire - time.Duration(delta)
		if td <= 0 {
			td = ats.TickInterval
		}
		mb.resetCacheExpireTimer(td)
		if promoted {
			mb.finishedWithCache()
		}
		return
	}
	mb.clearCache()
}

// cacheLoads is the number of block loads, all blocks together.
func (fs *fileStore) cacheLoads() uint64 {
	var tl uint64
	fs.mu.RLock()
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		tl += mb.cacheLoads
		mb.mu.RUnlock()
	}
	fs.mu.RUnlock()
	return tl
}

// cacheSize is the number of cached bytes, all blocks together.
func (fs *fileStore) cacheSize() uint64 {
	var sz uint64
	fs.mu.RLock()
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		// A cache left elastically held still takes memory until collected.
		c := mb.cache
		if c == nil {
			c = mb.elasticCache.Value()
		}
		if c != nil {
			sz += uint64(len(c.buf))
		}
		mb.mu.RUnlock()
	}
	fs.mu.RUnlock()
	return sz
}

// dmapEntries is the number of interior deletes, all blocks together.
func (fs *fileStore) dmapEntries() int {
	var total int
	fs.mu.RLock()
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		total += mb.deleted.Size()
		mb.mu.RUnlock()
	}
	fs.mu.RUnlock()
	return total
}
