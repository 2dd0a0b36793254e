package store

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/porttracker/porttracker/store/stree"
)

// Per-subject accounting lives at two levels: the store-wide perSubject
// index (psi: total and the block range) and each block's subjects tree
// (SimpleState: count, first and last sequence in the block). A removal
// marks a block's first/last stale (firstNeedsUpdate, lastNeedsUpdate) and
// recalculateForSubj fixes them lazily.

// removePerSubject counts one message of subj out of the store-wide index
// and returns how many remain. fs.mu held.
func (fs *fileStore) removePerSubject(subj string) uint64 {
	if len(subj) == 0 || fs.perSubject == nil {
		return 0
	}
	bsubj := stringToBytes(subj)
	info, ok := fs.perSubject.Find(bsubj)
	if !ok {
		return 0
	}
	info.total--
	if info.total == 0 {
		if _, ok = fs.perSubject.Delete(bsubj); ok {
			fs.subjectBytes -= len(subj)
		}
		return 0
	}
	return info.total
}

// removeSeqPerSubject counts seq of subj out of the block's subject state
// and returns how many of subj remain in the block. mb.mu held.
func (mb *msgBlock) removeSeqPerSubject(subj string, seq uint64) (uint64, error) {
	if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
		return 0, err
	}
	if mb.subjects == nil {
		return 0, nil
	}
	bsubj := stringToBytes(subj)
	ss, ok := mb.subjects.Find(bsubj)
	if !ok || ss == nil {
		return 0, nil
	}
	// Whatever was asked for this message is done. fs.mu is held by every
	// removal path.
	mb.fs.sdm.removeSeqAndSubject(seq, subj)
	if ss.Msgs == 1 {
		mb.subjects.Delete(bsubj)
		return 0, nil
	}
	ss.Msgs--

	// With one left, the other end is known when it is not stale.
	if ss.Msgs == 1 {
		if !ss.lastNeedsUpdate && seq != ss.Last {
			ss.First = ss.Last
			ss.firstNeedsUpdate = false
			return 1, nil
		}
		if !ss.firstNeedsUpdate && seq != ss.First {
			ss.Last = ss.First
			ss.lastNeedsUpdate = false
			return 1, nil
		}
	}
	ss.firstNeedsUpdate = seq == ss.First || ss.firstNeedsUpdate
	ss.lastNeedsUpdate = seq == ss.Last || ss.lastNeedsUpdate
	return ss.Msgs, nil
}

// recalculateForSubj fixes a stale first and/or last sequence of subj in the
// block by scanning the cache. mb.mu held.
func (mb *msgBlock) recalculateForSubj(subj string, ss *SimpleState) error {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return err
		}
	}
	c := mb.cache
	startSlot := 0
	if ss.First >= c.firstSeq {
		startSlot = int(ss.First - c.firstSeq)
	}
	if startSlot >= len(c.offsets) {
		ss.First = ss.Last
		ss.firstNeedsUpdate = false
		ss.lastNeedsUpdate = false
		return nil
	}
	endSlot := 0
	if ss.Last >= c.firstSeq {
		endSlot = int(ss.Last - c.firstSeq)
	}
	if endSlot >= len(c.offsets) || startSlot > endSlot {
		return nil
	}

	le := binary.LittleEndian
	subjectAt := func(li int) (string, uint64, bool) {
		if li+msgHdrSize > len(c.buf) {
			return _EMPTY_, 0, false
		}
		hdr := c.buf[li : li+msgHdrSize]
		slen := int(le.Uint16(hdr[20:]))
		if li+msgHdrSize+slen > len(c.buf) {
			return _EMPTY_, 0, false
		}
		return bytesToString(c.buf[li+msgHdrSize : li+msgHdrSize+slen]), le.Uint64(hdr[4:]), true
	}

	if ss.firstNeedsUpdate {
		ss.firstNeedsUpdate = false
		fseq := max(ss.First+1, atomic.LoadUint64(&mb.first.seq))
		for slot := startSlot; slot < len(c.offsets); slot++ {
			bi := c.offsets[slot] &^ cbit
			if bi == dbit {
				continue
			}
			s, seq, ok := subjectAt(int(bi))
			if !ok {
				ss.First = ss.Last
				ss.lastNeedsUpdate = false
				return nil
			}
			if s != subj || seq < fseq || seq&ebit != 0 || mb.deleted.Exists(seq) {
				continue
			}
			ss.First = seq
			if ss.Msgs == 1 {
				ss.Last = seq
				ss.lastNeedsUpdate = false
				return nil
			}
			startSlot = slot
			break
		}
	}
	if ss.lastNeedsUpdate {
		ss.lastNeedsUpdate = false
		lseq := min(ss.Last-1, atomic.LoadUint64(&mb.last.seq))
		for slot := endSlot; slot >= startSlot; slot-- {
			bi := c.offsets[slot] &^ cbit
			if bi == dbit {
				continue
			}
			s, seq, ok := subjectAt(int(bi))
			if !ok {
				return nil
			}
			if s != subj || seq > lseq || seq&ebit != 0 || mb.deleted.Exists(seq) {
				continue
			}
			ss.Last = max(seq, ss.First)
			if ss.Msgs == 1 {
				ss.First = ss.Last
				ss.firstNeedsUpdate = false
			}
			return nil
		}
	}
	return nil
}

// resetGlobalPerSubjectInfo rebuilds the store-wide index from the blocks.
// fs.mu held.
func (fs *fileStore) resetGlobalPerSubjectInfo() error {
	fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
	if fs.noTrackSubjects() {
		return nil
	}
	for _, mb := range fs.blocks {
		if err := fs.populateGlobalPerSubjectInfo(mb); err != nil {
			return err
		}
	}
	return nil
}

// resetPerSubjectInfo rebuilds the block's subject state. mb.mu held.
func (mb *msgBlock) resetPerSubjectInfo() error {
	mb.subjects = nil
	return mb.generatePerSubjectInfo()
}

// generatePerSubjectInfo builds the block's subject state from its records.
// mb.mu held.
func (mb *msgBlock) generatePerSubjectInfo() error {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	// An empty block (kept as the last one for its sequence) has none.
	if mb.msgs == 0 {
		return nil
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return err
		}
	}
	// Loading the cache builds the subject state too.
	if mb.subjects != nil {
		return nil
	}
	mb.subjects = stree.NewSubjectTree[SimpleState]()
	var smv StoreMsg
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	for seq := fseq; seq <= lseq; seq++ {
		if mb.deleted.Exists(seq) {
			continue
		}
		sm, err := mb.cacheLookupNoCopy(seq, &smv)
		if err != nil {
			if err == ErrStoreMsgNotFound || err == errDeletedMsg {
				continue
			}
			if err == errNoCache {
				return nil
			}
			// A half-built state would be trusted; drop it.
			mb.subjects = nil
			mb.clearCacheAndOffset()
			return err
		}
		if sm != nil && len(sm.subj) > 0 {
			if ss, ok := mb.subjects.Find(stringToBytes(sm.subj)); ok && ss != nil {
				ss.Msgs++
				ss.Last = seq
				ss.lastNeedsUpdate = false
			} else {
				mb.subjects.Insert(stringToBytes(sm.subj), SimpleState{Msgs: 1, First: seq, Last: seq})
			}
		}
	}
	if mb.subjects.Size() > 0 {
		mb.lastLoad = accessTime()
		mb.lastSubjects = mb.lastLoad
		mb.startCacheExpireTimer()
	}
	return nil
}

// ensurePerSubjectInfoLoaded loads the block's subject state when tracked.
// mb.mu held.
func (mb *msgBlock) ensurePerSubjectInfoLoaded() error {
	if mb.subjects != nil || mb.noTrack {
		if mb.subjects != nil {
			mb.lastSubjects = accessTime()
		}
		return nil
	}
	if mb.msgs == 0 {
		mb.subjects = stree.NewSubjectTree[SimpleState]()
		return nil
	}
	return mb.generatePerSubjectInfo()
}

// populateGlobalPerSubjectInfo adds a block's subjects to the store-wide
// index. fs.mu held.
func (fs *fileStore) populateGlobalPerSubjectInfo(mb *msgBlock) error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
		return err
	}
	if mb.subjects == nil {
		return nil
	}
	mb.subjects.IterFast(func(bsubj []byte, ss *SimpleState) bool {
		if len(bsubj) == 0 {
			return true
		}
		if info, ok := fs.perSubject.Find(bsubj); ok {
			info.total += ss.Msgs
			if mb.index > info.lblk {
				info.lblk = mb.index
			}
		} else {
			fs.perSubject.Insert(bsubj, psi{total: ss.Msgs, fblk: mb.index, lblk: mb.index})
			fs.subjectBytes += len(bsubj)
		}
		return true
	})
	return nil
}

// firstSeqForSubj returns the first sequence stored under the literal subj,
// or 0. It moves the subject's fblk forward when it was stale. fs.mu held
// (write).
func (fs *fileStore) firstSeqForSubj(subj string) (uint64, error) {
	if len(fs.blocks) == 0 {
		return 0, nil
	}
	start, stop := fs.blocks[0].index, fs.lastBlock.index
	bsubj := stringToBytes(subj)
	if info, ok := fs.perSubject.Find(bsubj); ok {
		start, stop = info.fblk, info.lblk
	}
	for i := start; i <= stop; i++ {
		mb := fs.blockByIndex[i]
		if mb == nil {
			continue
		}
		mb.mu.Lock()
		if mb.closed {
			mb.mu.Unlock()
			continue
		}
		// Only a cache this lookup takes up is let go again.
		needsCleanup := mb.cache == nil
		var shouldExpire bool
		if mb.fssNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				if needsCleanup {
					mb.finishedWithCache()
				}
				mb.mu.Unlock()
				return 0, err
			}
			shouldExpire = true
		}
		mb.lastSubjects = accessTime()
		if ss, ok := mb.subjects.Find(bsubj); ok && ss != nil {
			var err error
			if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
				err = mb.recalculateForSubj(subj, ss)
			}
			first := ss.First
			if needsCleanup {
				mb.finishedWithCache()
			}
			mb.mu.Unlock()
			if i != start {
				if info, ok := fs.perSubject.Find(bsubj); ok {
					info.fblk = i
				}
			}
			if err != nil {
				return 0, err
			}
			return first, nil
		}
		if shouldExpire {
			mb.tryForceExpireCacheLocked()
		}
		if needsCleanup {
			mb.finishedWithCache()
		}
		mb.mu.Unlock()
	}
	return 0, nil
}
