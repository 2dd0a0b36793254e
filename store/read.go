package store

import (
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/porttracker/porttracker/store/gsl"
	"github.com/porttracker/porttracker/store/stree"
)

// LoadMsg returns message seq (0 means the first) copied into sm, or a new
// StoreMsg when sm is nil.
func (fs *fileStore) LoadMsg(seq uint64, sm *StoreMsg) (*StoreMsg, error) {
	return fs.msgForSeq(seq, sm)
}

// msgForSeq is LoadMsg.
func (fs *fileStore) msgForSeq(seq uint64, sm *StoreMsg) (*StoreMsg, error) {
	return fs.msgForSeqLocked(seq, sm, true)
}

// msgForSeqLocked loads message seq; needFSLock says whether fs.mu must be
// taken here.
func (fs *fileStore) msgForSeqLocked(seq uint64, sm *StoreMsg, needFSLock bool) (*StoreMsg, error) {
	if fs.isClosed() {
		return nil, ErrStoreClosed
	}
	if needFSLock {
		fs.mu.RLock()
	}
	if seq == 0 {
		seq = fs.state.FirstSeq
	}
	mb, lseq := fs.selectMsgBlock(seq), fs.state.LastSeq
	if needFSLock {
		fs.mu.RUnlock()
	}
	if mb == nil {
		if seq <= lseq {
			return nil, ErrStoreMsgNotFound
		}
		return nil, ErrStoreEOF
	}
	fsm, expireOk, err := mb.fetchMsg(seq, sm)
	if err != nil {
		return nil, err
	}
	// A sequential read just passed the end of the block.
	if expireOk {
		mb.tryForceExpireCache()
	}
	return fsm, nil
}

// SubjectForSeq returns the subject of message seq.
func (fs *fileStore) SubjectForSeq(seq uint64) (string, error) {
	fs.mu.RLock()
	if seq < fs.state.FirstSeq {
		fs.mu.RUnlock()
		return _EMPTY_, ErrStoreMsgNotFound
	}
	mb := fs.selectMsgBlock(seq)
	fs.mu.RUnlock()
	if mb != nil {
		var smv StoreMsg
		mb.mu.Lock()
		sm, _, _ := mb.fetchMsgNoCopyLocked(seq, &smv)
		var subj string
		if sm != nil {
			subj = copyString(sm.subj)
		}
		mb.finishedWithCache()
		mb.mu.Unlock()
		if sm != nil {
			return subj, nil
		}
	}
	return _EMPTY_, ErrStoreMsgNotFound
}

// sizeForSeq is the record size of message seq, or 0. fs.mu held.
func (fs *fileStore) sizeForSeq(seq uint64) int {
	if seq == 0 {
		return 0
	}
	mb := fs.selectMsgBlock(seq)
	if mb == nil {
		return 0
	}
	var smv StoreMsg
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()
	if sm, _, _ := mb.fetchMsgNoCopyLocked(seq, &smv); sm != nil {
		return int(fileStoreMsgSize(sm.subj, sm.hdr, sm.msg))
	}
	return 0
}

// GetSeqFromTime returns the first sequence stored at or after t, or one past
// the last sequence when there is none.
func (fs *fileStore) GetSeqFromTime(t time.Time) uint64 {
	fs.mu.RLock()
	lastSeq := fs.state.LastSeq
	closed := fs.isClosed()
	fs.mu.RUnlock()
	if closed {
		return 0
	}
	mb := fs.selectMsgBlockForStart(t)
	if mb == nil {
		return lastSeq + 1
	}
	fseq := atomic.LoadUint64(&mb.first.seq)
	lseq := atomic.LoadUint64(&mb.last.seq)
	ts := t.UnixNano()

	var smv StoreMsg
	seq := lseq + 1
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()
	// Binary search; deleted sequences are skipped over with an offset.
loop:
	for fseq <= lseq {
		mid := fseq + (lseq-fseq)/2
		var off uint64
		var cts int64
		var cseq uint64
		for {
			sm, _, err := mb.fetchMsgNoCopyLocked(mid+off, &smv)
			if err != nil || sm == nil {
				off++
				if mid+off <= lseq {
					continue
				}
				// Only deletes to the right: search left.
				if mid == 0 {
					break loop
				}
				lseq = mid - 1
				continue loop
			}
			cts, cseq = sm.ts, sm.seq
			break
		}
		if cts >= ts {
			seq = cseq
			if mid == fseq {
				break
			}
			lseq = mid - 1
		} else {
			fseq = mid + off + 1
		}
	}
	return seq
}

// LoadLastMsg returns the last message on subject (wildcards allowed; empty
// or ">" means the last message of the stream).
func (fs *fileStore) LoadLastMsg(subject string, smv *StoreMsg) (sm *StoreMsg, err error) {
	if subject == _EMPTY_ || subject == fwcs {
		sm, err = fs.msgForSeq(fs.lastSeq(), smv)
	} else {
		sm, err = fs.loadLast(subject, smv)
	}
	if sm == nil || (err != nil && err != ErrStoreClosed) {
		err = ErrStoreMsgNotFound
	}
	return sm, err
}

// loadLast returns the last message matching subj.
func (fs *fileStore) loadLast(subj string, sm *StoreMsg) (*StoreMsg, error) {
	if fs.isClosed() {
		return nil, ErrStoreClosed
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.loadLastLocked(subj, sm)
}

// loadLastLocked walks the blocks that may hold subj backwards. fs.mu held.
func (fs *fileStore) loadLastLocked(subj string, sm *StoreMsg) (lsm *StoreMsg, err error) {
	if fs.isClosed() || fs.lastBlock == nil {
		return nil, ErrStoreClosed
	}
	if len(fs.blocks) == 0 {
		return nil, ErrStoreMsgNotFound
	}
	wc := subjectHasWildcard(subj)
	var start, stop uint32
	if wc {
		start = fs.lastBlock.index
		fs.perSubject.Match(stringToBytes(subj), func(_ []byte, p *psi) {
			start = min(start, p.fblk)
			stop = max(stop, p.lblk)
		})
		if stop == 0 {
			return nil, ErrStoreMsgNotFound
		}
		start, stop = stop, start
	} else if info, ok := fs.perSubject.Find(stringToBytes(subj)); ok {
		start, stop = info.lblk, info.fblk
	} else {
		return nil, ErrStoreMsgNotFound
	}

	for i := start; i >= stop; i-- {
		mb := fs.blockByIndex[i]
		if mb == nil {
			if i == 0 {
				break
			}
			continue
		}
		mb.mu.Lock()
		if err = mb.ensurePerSubjectInfoLoaded(); err != nil {
			mb.finishedWithCache()
			mb.mu.Unlock()
			return nil, err
		}
		mb.lastSubjects = accessTime()
		var l uint64
		if !wc && mb.subjects != nil {
			if ss, ok := mb.subjects.Find(stringToBytes(subj)); ok && ss != nil {
				if ss.lastNeedsUpdate {
					if err = mb.recalculateForSubj(subj, ss); err != nil {
						mb.finishedWithCache()
						mb.mu.Unlock()
						return nil, err
					}
				}
				l = ss.Last
			}
		}
		if l == 0 {
			if _, _, l, err = mb.filteredPendingLocked(subj, wc, atomic.LoadUint64(&mb.first.seq)); err != nil {
				mb.finishedWithCache()
				mb.mu.Unlock()
				return nil, err
			}
		}
		if l > 0 {
			if mb.cacheNotLoaded() {
				if err := mb.loadMsgsWithLock(); err != nil {
					mb.finishedWithCache()
					mb.mu.Unlock()
					return nil, err
				}
			}
			lsm, err = mb.cacheLookup(l, sm)
		}
		mb.finishedWithCache()
		mb.mu.Unlock()
		if l > 0 || i == 0 {
			break
		}
	}
	return lsm, err
}

// LoadNextMsg returns the first message at or after start matching filter,
// and its sequence. At the end it returns ErrStoreEOF with the last sequence.
func (fs *fileStore) LoadNextMsg(filter string, wc bool, start uint64, sm *StoreMsg) (*StoreMsg, uint64, error) {
	if fs.isClosed() {
		return nil, 0, ErrStoreClosed
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	if fs.state.Msgs == 0 || start > fs.state.LastSeq {
		return nil, fs.state.LastSeq, ErrStoreEOF
	}
	start = max(start, fs.state.FirstSeq)

	// On a first call the subject index may let us skip ahead.
	if start <= fs.state.FirstSeq {
		var ss SimpleState
		if err := fs.numFilteredPendingNoLast(filter, &ss); err != nil {
			return nil, 0, err
		}
		if ss.Msgs == 0 {
			return nil, fs.state.LastSeq, ErrStoreEOF
		}
		start = max(start, ss.First)
	}

	if bi, _ := fs.selectMsgBlockWithIndex(start); bi >= 0 {
		for i := bi; i < len(fs.blocks); i++ {
			mb := fs.blocks[i]
			fsm, expireOk, err := mb.firstMatching(filter, wc, start, sm)
			if err == nil {
				if expireOk {
					mb.tryForceExpireCache()
				}
				return fsm, fsm.seq, nil
			}
			if err != ErrStoreMsgNotFound {
				return nil, 0, err
			}
			// A miss in the first block: the subject index may skip ahead.
			const wcMaxSizeToCheck = 64 * 1024
			if i == bi && i < len(fs.blocks)-1 && (!wc || fs.perSubject.Size() < wcMaxSizeToCheck) {
				nbi, err := fs.checkSkipFirstBlock(filter, wc, bi)
				if err == ErrStoreEOF {
					return nil, fs.state.LastSeq, ErrStoreEOF
				}
				if nbi > i {
					i = nbi - 1
				}
			}
			if expireOk {
				mb.tryForceExpireCache()
			}
		}
	}
	return nil, fs.state.LastSeq, ErrStoreEOF
}

// LoadNextMsgMulti is LoadNextMsg for any subject in a sublist.
func (fs *fileStore) LoadNextMsgMulti(sl *gsl.SimpleSublist, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error) {
	if fs.isClosed() {
		return nil, 0, ErrStoreClosed
	}
	if sl == nil || sl.MatchesFullWildcard() {
		return fs.LoadNextMsg(_EMPTY_, false, start, smp)
	}
	if filter, ok := sl.MatchesSingleFilter(); ok {
		return fs.LoadNextMsg(filter, subjectHasWildcard(filter), start, smp)
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	if fs.state.Msgs == 0 || start > fs.state.LastSeq {
		return nil, fs.state.LastSeq, ErrStoreEOF
	}
	start = max(start, fs.state.FirstSeq)

	if start <= fs.state.FirstSeq {
		var total uint64
		blkStart := uint32(math.MaxUint32)
		stree.IntersectGSL(fs.perSubject, sl, func(_ []byte, p *psi) bool {
			total += p.total
			blkStart = min(blkStart, p.fblk)
			return true
		})
		if total == 0 {
			return nil, fs.state.LastSeq, ErrStoreEOF
		}
		if mb := fs.blockByIndex[blkStart]; mb != nil {
			start = max(start, atomic.LoadUint64(&mb.first.seq))
		}
	}

	if bi, _ := fs.selectMsgBlockWithIndex(start); bi >= 0 {
		for i := bi; i < len(fs.blocks); i++ {
			mb := fs.blocks[i]
			fsm, expireOk, err := mb.firstMatchingMulti(sl, start, smp)
			if err == nil {
				if expireOk {
					mb.tryForceExpireCache()
				}
				return fsm, fsm.seq, nil
			}
			if err != ErrStoreMsgNotFound {
				return nil, 0, err
			}
			if i == bi && i < len(fs.blocks)-1 {
				nbi, err := fs.checkSkipFirstBlockMulti(sl, bi)
				if err == ErrStoreEOF {
					return nil, fs.state.LastSeq, ErrStoreEOF
				}
				if nbi > i {
					i = nbi - 1
				}
			}
			if expireOk {
				mb.tryForceExpireCache()
			}
		}
	}
	return nil, fs.state.LastSeq, ErrStoreEOF
}

// subjectMatcher returns a matcher of subjects against a wildcard filter.
func subjectMatcher(filter string) func(subj string) bool {
	var tsaBuf, fsaBuf [32]string
	fsa := tokenizeSubjectIntoSlice(fsaBuf[:0], filter)
	tsa := tsaBuf[:0]
	return func(subj string) bool {
		tsa = tokenizeSubjectIntoSlice(tsa[:0], subj)
		return isSubsetMatchTokenized(tsa, fsa)
	}
}

// firstMatching returns the block's first message at or after start
// matching filter. The bool says the cache may be expired (a scan reached
// the end). fs.mu held.
func (mb *msgBlock) firstMatching(filter string, wc bool, start uint64, sm *StoreMsg) (*StoreMsg, bool, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()

	fseq, isAll := start, filter == _EMPTY_ || filter == fwcs
	var didLoad bool
	if mb.fssNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	mb.lastSubjects = accessTime()
	if filter == _EMPTY_ {
		filter, wc = fwcs, true
	}

	// One subject in the block: it either matches everything or nothing.
	if !isAll && mb.subjects != nil && mb.subjects.Size() == 1 {
		if !wc {
			_, isAll = mb.subjects.Find(stringToBytes(filter))
		} else {
			mb.subjects.Match(stringToBytes(filter), func(_ []byte, _ *SimpleState) { isAll = true })
		}
		if !isAll {
			return nil, didLoad, ErrStoreMsgNotFound
		}
	}
	fseq = max(fseq, atomic.LoadUint64(&mb.first.seq))
	lseq := atomic.LoadUint64(&mb.last.seq)

	var isMatch func(subj string) bool
	if wc {
		isMatch = subjectMatcher(filter)
	}

	subjs := mb.fs.cfg.Subjects
	doLinearScan := isAll || mb.subjects == nil || (wc && len(subjs) == 1 && subjs[0] == filter)
	// With the cache loaded, a scan beats many subject lookups.
	if !doLinearScan && wc && mb.cacheAlreadyLoaded() {
		doLinearScan = mb.subjects.Size()*4 > int(lseq-fseq)
	}
	if !doLinearScan {
		// Start at the first matching subject's first sequence.
		fseq = lseq + 1
		if bfilter := stringToBytes(filter); wc {
			var ierr error
			mb.subjects.Match(bfilter, func(bsubj []byte, ss *SimpleState) {
				if ierr != nil {
					return
				}
				if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
					if ierr = mb.recalculateForSubj(bytesToString(bsubj), ss); ierr != nil {
						return
					}
				}
				if start <= ss.Last {
					fseq = min(fseq, max(start, ss.First))
				}
			})
			if ierr != nil {
				return nil, false, ierr
			}
		} else if ss, _ := mb.subjects.Find(bfilter); ss != nil {
			if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
				if err := mb.recalculateForSubj(filter, ss); err != nil {
					return nil, false, err
				}
			}
			if start <= ss.Last {
				fseq = min(fseq, max(start, ss.First))
			}
		}
	}
	if fseq > lseq {
		return nil, didLoad, ErrStoreMsgNotFound
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	if sm == nil {
		sm = new(StoreMsg)
	}
	// Records are matched in place and only the match is copied out
	// (upstream copies every record it looks at).
	var tmp StoreMsg
	for seq := fseq; seq <= lseq; seq++ {
		if mb.deleted.Exists(seq) {
			continue
		}
		llseq := mb.lastLoadSeq
		fsm, err := mb.cacheLookupNoCopy(seq, &tmp)
		if err != nil {
			if err == errPartialCache || err == errNoCache {
				return nil, false, err
			}
			if IsCorrupt(err) {
				return nil, false, err
			}
			continue
		}
		expireOk := seq == lseq && mb.lastLoadSeq != llseq && mb.lastLoadSeq == seq
		if isAll || (wc && isMatch(fsm.subj)) || (!wc && fsm.subj == filter) {
			return copyStoreMsgInto(sm, fsm), expireOk, nil
		}
		mb.lastLoadSeq = llseq
	}
	return nil, didLoad, ErrStoreMsgNotFound
}

// copyStoreMsgInto copies src, which aliases a block cache, into sm (its
// buffer reused) and returns sm.
func copyStoreMsgInto(sm, src *StoreMsg) *StoreMsg {
	sm.clear()
	sm.buf = append(sm.buf, src.hdr...)
	sm.buf = append(sm.buf, src.msg...)
	hl := len(src.hdr)
	if src.hdr != nil {
		sm.hdr = sm.buf[0:hl:hl]
	}
	sm.msg = sm.buf[hl : hl+len(src.msg)]
	sm.subj = strings.Clone(src.subj)
	sm.seq, sm.ts = src.seq, src.ts
	return sm
}

// firstMatchingMulti is firstMatching for any subject in a sublist.
func (mb *msgBlock) firstMatchingMulti(sl *gsl.SimpleSublist, start uint64, sm *StoreMsg) (*StoreMsg, bool, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()

	var didLoad bool
	if mb.fssNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	mb.lastSubjects = accessTime()
	start = max(start, atomic.LoadUint64(&mb.first.seq))
	lseq := atomic.LoadUint64(&mb.last.seq)

	if sm == nil {
		sm = new(StoreMsg)
	}
	// Fewer subjects than sequences: walk the matching subjects instead.
	if mb.subjects != nil && uint64(mb.subjects.Size()) < lseq-start {
		hseq := uint64(math.MaxUint64)
		var found *StoreMsg
		var ierr error
		stree.IntersectGSL(mb.subjects, sl, func(bsubj []byte, ss *SimpleState) bool {
			if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
				if ierr = mb.recalculateForSubj(bytesToString(bsubj), ss); ierr != nil {
					return false
				}
			}
			first := max(start, ss.First)
			if first > ss.Last || first >= hseq {
				return true
			}
			if mb.cacheNotLoaded() {
				if ierr = mb.loadMsgsWithLock(); ierr != nil {
					return false
				}
				didLoad = true
			}
			for seq := first; seq <= ss.Last && seq < hseq; seq++ {
				if mb.deleted.Exists(seq) {
					continue
				}
				llseq := mb.lastLoadSeq
				var tmp StoreMsg
				fsm, err := mb.cacheLookupNoCopy(seq, &tmp)
				if err != nil {
					continue
				}
				if sl.HasInterest(fsm.subj) {
					hseq = seq
					found = fsm
					break
				}
				mb.lastLoadSeq = llseq
			}
			return true
		})
		if ierr != nil {
			return nil, false, ierr
		}
		if found != nil {
			fsm, err := mb.cacheLookup(hseq, sm)
			if err != nil {
				return nil, false, err
			}
			return fsm, didLoad && start == lseq, nil
		}
		return nil, didLoad, ErrStoreMsgNotFound
	}

	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	var tmp StoreMsg
	for seq := start; seq <= lseq; seq++ {
		if mb.deleted.Exists(seq) {
			continue
		}
		llseq := mb.lastLoadSeq
		fsm, err := mb.cacheLookupNoCopy(seq, &tmp)
		if err != nil {
			if IsCorrupt(err) {
				return nil, false, err
			}
			continue
		}
		expireOk := seq == lseq && mb.lastLoadSeq != llseq && mb.lastLoadSeq == seq
		if sl.HasInterest(fsm.subj) {
			return copyStoreMsgInto(sm, fsm), expireOk, nil
		}
		mb.lastLoadSeq = llseq
	}
	return nil, didLoad, ErrStoreMsgNotFound
}

// LoadPrevMsg returns the last message at or before start matching filter.
func (fs *fileStore) LoadPrevMsg(filter string, wc bool, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error) {
	if fs.isClosed() {
		return nil, 0, ErrStoreClosed
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	if fs.state.Msgs == 0 || start < fs.state.FirstSeq {
		return nil, fs.state.FirstSeq, ErrStoreEOF
	}
	start = min(start, fs.state.LastSeq)
	if bi, _ := fs.selectMsgBlockWithIndex(start); bi >= 0 {
		for i := bi; i >= 0; i-- {
			mb := fs.blocks[i]
			fsm, expireOk, err := mb.prevMatching(filter, wc, start, smp)
			if err == nil {
				if expireOk {
					mb.tryForceExpireCache()
				}
				return fsm, fsm.seq, nil
			}
			if err != ErrStoreMsgNotFound {
				return nil, 0, err
			}
			if expireOk {
				mb.tryForceExpireCache()
			}
		}
	}
	return nil, fs.state.FirstSeq, ErrStoreEOF
}

// LoadPrevMsgMulti is LoadPrevMsg for any subject in a sublist.
func (fs *fileStore) LoadPrevMsgMulti(sl *gsl.SimpleSublist, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error) {
	if fs.isClosed() {
		return nil, 0, ErrStoreClosed
	}
	if sl == nil || sl.MatchesFullWildcard() {
		return fs.LoadPrevMsg(_EMPTY_, false, start, smp)
	}
	if filter, ok := sl.MatchesSingleFilter(); ok {
		return fs.LoadPrevMsg(filter, subjectHasWildcard(filter), start, smp)
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	if fs.state.Msgs == 0 || start < fs.state.FirstSeq {
		return nil, fs.state.FirstSeq, ErrStoreEOF
	}
	start = min(start, fs.state.LastSeq)
	if bi, _ := fs.selectMsgBlockWithIndex(start); bi >= 0 {
		for i := bi; i >= 0; i-- {
			mb := fs.blocks[i]
			fsm, expireOk, err := mb.prevMatchingMulti(sl, start, smp)
			if err == nil {
				if expireOk {
					mb.tryForceExpireCache()
				}
				return fsm, fsm.seq, nil
			}
			if err != ErrStoreMsgNotFound {
				return nil, 0, err
			}
			if expireOk {
				mb.tryForceExpireCache()
			}
		}
	}
	return nil, fs.state.FirstSeq, ErrStoreEOF
}

// prevMatching returns the block's last message at or before start matching
// filter. fs.mu held.
func (mb *msgBlock) prevMatching(filter string, wc bool, start uint64, sm *StoreMsg) (*StoreMsg, bool, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()

	end, isAll := start, filter == _EMPTY_ || filter == fwcs
	var didLoad bool
	if mb.fssNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	mb.lastSubjects = accessTime()
	if filter == _EMPTY_ {
		filter, wc = fwcs, true
	}
	if !isAll && mb.subjects != nil && mb.subjects.Size() == 1 {
		if !wc {
			_, isAll = mb.subjects.Find(stringToBytes(filter))
		} else {
			mb.subjects.Match(stringToBytes(filter), func(_ []byte, _ *SimpleState) { isAll = true })
		}
		if !isAll {
			return nil, didLoad, ErrStoreMsgNotFound
		}
	}
	lseq := atomic.LoadUint64(&mb.first.seq)
	end = min(end, atomic.LoadUint64(&mb.last.seq))

	var isMatch func(subj string) bool
	if wc {
		isMatch = subjectMatcher(filter)
	}
	subjs := mb.fs.cfg.Subjects
	doLinearScan := isAll || mb.subjects == nil || (wc && len(subjs) == 1 && subjs[0] == filter)
	if !doLinearScan && wc && mb.cacheAlreadyLoaded() {
		doLinearScan = mb.subjects.Size()*4 > int(end-lseq)
	}
	if !doLinearScan {
		var found bool
		var first, last uint64
		if bfilter := stringToBytes(filter); wc {
			var ierr error
			mb.subjects.Match(bfilter, func(bsubj []byte, ss *SimpleState) {
				if ierr != nil {
					return
				}
				if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
					if ierr = mb.recalculateForSubj(bytesToString(bsubj), ss); ierr != nil {
						return
					}
				}
				if end < ss.First {
					return
				}
				if !found {
					found = true
					first, last = ss.First, min(end, ss.Last)
					return
				}
				first = min(first, ss.First)
				last = max(last, min(end, ss.Last))
			})
			if ierr != nil {
				return nil, false, ierr
			}
		} else if ss, _ := mb.subjects.Find(bfilter); ss != nil {
			if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
				if err := mb.recalculateForSubj(filter, ss); err != nil {
					return nil, false, err
				}
			}
			if end >= ss.First {
				found = true
				first, last = ss.First, min(end, ss.Last)
			}
		}
		if !found || first > last {
			return nil, didLoad, ErrStoreMsgNotFound
		}
		lseq, end = max(lseq, first), last
	}
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	if sm == nil {
		sm = new(StoreMsg)
	}
	for seq := end; seq >= lseq && seq > 0; seq-- {
		if mb.deleted.Exists(seq) {
			continue
		}
		llseq := mb.lastLoadSeq
		fsm, err := mb.cacheLookup(seq, sm)
		if err != nil {
			if err == errPartialCache || err == errNoCache || IsCorrupt(err) {
				return nil, false, err
			}
			continue
		}
		expireOk := seq == lseq && mb.lastLoadSeq != llseq && mb.lastLoadSeq == seq
		if isAll || (wc && isMatch(fsm.subj)) || (!wc && fsm.subj == filter) {
			return fsm, expireOk, nil
		}
		mb.lastLoadSeq = llseq
	}
	return nil, didLoad, ErrStoreMsgNotFound
}

// prevMatchingMulti is prevMatching for any subject in a sublist.
func (mb *msgBlock) prevMatchingMulti(sl *gsl.SimpleSublist, start uint64, sm *StoreMsg) (*StoreMsg, bool, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()

	var didLoad bool
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return nil, false, err
		}
		didLoad = true
	}
	start = min(start, atomic.LoadUint64(&mb.last.seq))
	lseq := atomic.LoadUint64(&mb.first.seq)
	if sm == nil {
		sm = new(StoreMsg)
	}
	for seq := start; seq >= lseq && seq > 0; seq-- {
		if mb.deleted.Exists(seq) {
			continue
		}
		llseq := mb.lastLoadSeq
		fsm, err := mb.cacheLookup(seq, sm)
		if err != nil {
			if IsCorrupt(err) {
				return nil, false, err
			}
			continue
		}
		expireOk := seq == lseq && mb.lastLoadSeq != llseq && mb.lastLoadSeq == seq
		if sl.HasInterest(fsm.subj) {
			return fsm, expireOk, nil
		}
		mb.lastLoadSeq = llseq
	}
	return nil, didLoad, ErrStoreMsgNotFound
}
