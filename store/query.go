package store

import (
	"math"
	"slices"
	"sync/atomic"

	"github.com/porttracker/porttracker/store/gsl"
	"github.com/porttracker/porttracker/store/stree"
)

// FilteredState returns the count, first and last sequence of the messages
// at or after sseq matching subj.
func (fs *fileStore) FilteredState(sseq uint64, subj string) (SimpleState, error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	lseq := fs.state.LastSeq
	sseq = max(sseq, fs.state.FirstSeq)
	var ss SimpleState
	if sseq > lseq {
		ss.First = fs.state.FirstSeq
		ss.Last = fs.state.LastSeq
		return ss, nil
	}
	// From the start the subject index answers without a scan.
	if sseq == fs.state.FirstSeq {
		err := fs.numFilteredPending(subj, &ss)
		return ss, err
	}
	wc := subjectHasWildcard(subj)
	for _, mb := range fs.blocks {
		if sseq > atomic.LoadUint64(&mb.last.seq) {
			continue
		}
		t, f, l, err := mb.filteredPending(subj, wc, sseq)
		if err != nil {
			return ss, err
		}
		ss.Msgs += t
		if ss.First == 0 || (f > 0 && f < ss.First) {
			ss.First = f
		}
		ss.Last = max(ss.Last, l)
	}
	return ss, nil
}

// filteredPending is filteredPendingLocked taking the block lock.
func (mb *msgBlock) filteredPending(subj string, wc bool, seq uint64) (total, first, last uint64, err error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.filteredPendingLocked(subj, wc, seq)
}

// filteredPendingLocked counts the block's messages at or after sseq
// matching filter, with their first and last sequence. The subject state
// answers unless a subject straddles sseq; then the block is scanned.
// mb.mu held.
func (mb *msgBlock) filteredPendingLocked(filter string, wc bool, sseq uint64) (total, first, last uint64, err error) {
	// Only a cache this call took up is let go; a caller's stays.
	if mb.cache == nil {
		defer mb.finishedWithCache()
	}
	isAll := filter == _EMPTY_ || filter == fwcs
	if isAll {
		if fseq := atomic.LoadUint64(&mb.first.seq); sseq <= fseq {
			return mb.msgs, fseq, atomic.LoadUint64(&mb.last.seq), nil
		}
	}
	if filter == _EMPTY_ {
		filter, wc = fwcs, true
	}
	update := func(ss *SimpleState) {
		total += ss.Msgs
		if first == 0 || ss.First < first {
			first = ss.First
		}
		last = max(last, ss.Last)
	}
	if err = mb.ensurePerSubjectInfoLoaded(); err != nil {
		return 0, 0, 0, err
	}

	var havePartial bool
	if mb.subjects != nil {
		if !wc {
			if ss, ok := mb.subjects.Find(stringToBytes(filter)); ok && ss != nil {
				if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
					if err = mb.recalculateForSubj(filter, ss); err != nil {
						return 0, 0, 0, err
					}
				}
				if sseq <= ss.First {
					update(ss)
				} else if sseq <= ss.Last {
					havePartial = true
				}
			}
		} else {
			mb.subjects.Match(stringToBytes(filter), func(bsubj []byte, ss *SimpleState) {
				if err != nil || havePartial {
					return
				}
				if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
					if err = mb.recalculateForSubj(bytesToString(bsubj), ss); err != nil {
						return
					}
				}
				if sseq <= ss.First {
					update(ss)
				} else if sseq <= ss.Last {
					havePartial = true
				}
			})
			if err != nil {
				return 0, 0, 0, err
			}
		}
	} else {
		// No subject state (nothing tracked): scan.
		havePartial = true
	}
	if !havePartial {
		return total, first, last, nil
	}

	total, first, last = 0, 0, 0
	var shouldExpire bool
	if mb.cacheNotLoaded() {
		if err = mb.loadMsgsWithLock(); err != nil {
			return 0, 0, 0, err
		}
		shouldExpire = true
	}
	isMatch := func(subj string) bool { return subj == filter }
	if wc {
		isMatch = subjectMatcher(filter)
	}
	var smv StoreMsg
	for seq, lseq := max(sseq, atomic.LoadUint64(&mb.first.seq)), atomic.LoadUint64(&mb.last.seq); seq <= lseq; seq++ {
		sm, _ := mb.cacheLookupNoCopy(seq, &smv)
		if sm == nil {
			continue
		}
		if isAll || isMatch(sm.subj) {
			total++
			if first == 0 || seq < first {
				first = seq
			}
			last = max(last, seq)
		}
	}
	if shouldExpire {
		mb.tryForceExpireCacheLocked()
	}
	return total, first, last, nil
}

// checkSkipFirstBlock returns the position of the next block that may hold
// filter's messages after block bi, or -1 and ErrStoreEOF when none does.
// fs.mu held.
func (fs *fileStore) checkSkipFirstBlock(filter string, wc bool, bi int) (int, error) {
	if filter == _EMPTY_ || filter == fwcs {
		return bi + 1, nil
	}
	start, stop := uint32(math.MaxUint32), uint32(0)
	if wc {
		if fs.perSubject.Size() > highCardinalityThreshold {
			return bi + 1, nil
		}
		fs.perSubject.Match(stringToBytes(filter), func(_ []byte, p *psi) {
			start = min(start, p.fblk)
			stop = max(stop, p.lblk)
		})
	} else if p, ok := fs.perSubject.Find(stringToBytes(filter)); ok {
		start, stop = p.fblk, p.lblk
	}
	if start == uint32(math.MaxUint32) {
		return -1, ErrStoreEOF
	}
	return fs.selectSkipFirstBlock(bi, start, stop)
}

// checkSkipFirstBlockMulti is checkSkipFirstBlock for a sublist. fs.mu held.
func (fs *fileStore) checkSkipFirstBlockMulti(sl *gsl.SimpleSublist, bi int) (int, error) {
	if sl.MatchesFullWildcard() || fs.perSubject.Size() > highCardinalityThreshold {
		return bi + 1, nil
	}
	start, stop := uint32(math.MaxUint32), uint32(0)
	guard := fs.blocks[bi].getIndex() + 1
	stree.IntersectGSL(fs.perSubject, sl, func(_ []byte, p *psi) bool {
		start = min(start, p.fblk)
		if start == guard {
			// A subject is in the very next block: nothing to skip.
			return false
		}
		stop = max(stop, p.lblk)
		return true
	})
	if start == guard {
		return bi + 1, nil
	}
	if start == uint32(math.MaxUint32) {
		return -1, ErrStoreEOF
	}
	return fs.selectSkipFirstBlock(bi, start, stop)
}

// selectSkipFirstBlock turns a block index range into the next position to
// search after bi. fs.mu held.
func (fs *fileStore) selectSkipFirstBlock(bi int, start, stop uint32) (int, error) {
	mbi := fs.blocks[bi].getIndex()
	// Everything matching is at or behind the block just searched.
	if stop <= mbi {
		return -1, ErrStoreEOF
	}
	if start > mbi {
		if mb := fs.blockByIndex[start]; mb != nil {
			ni, _ := fs.selectMsgBlockWithIndex(atomic.LoadUint64(&mb.last.seq))
			return ni, nil
		}
	}
	return bi + 1, nil
}

// numFilteredPending fills ss for every message matching filter. fs.mu held.
func (fs *fileStore) numFilteredPending(filter string, ss *SimpleState) error {
	return fs.numFilteredPendingWithLast(filter, true, ss)
}

// numFilteredPendingNoLast is numFilteredPending without the last sequence.
// fs.mu held.
func (fs *fileStore) numFilteredPendingNoLast(filter string, ss *SimpleState) error {
	return fs.numFilteredPendingWithLast(filter, false, ss)
}

// numFilteredPendingWithLast takes the count from the subject index and the
// first (and with last, the last) sequence from the first and last blocks
// holding the subject. fs.mu held (read is enough).
func (fs *fileStore) numFilteredPendingWithLast(filter string, last bool, ss *SimpleState) error {
	if filter == _EMPTY_ || filter == fwcs {
		ss.First = fs.state.FirstSeq
		ss.Last = fs.state.LastSeq
		ss.Msgs = fs.state.Msgs
		return nil
	}
	ss.First, ss.Last, ss.Msgs = 0, 0, 0

	wc := subjectHasWildcard(filter)
	start, stop := uint32(math.MaxUint32), uint32(0)
	if wc {
		fs.perSubject.Match(stringToBytes(filter), func(_ []byte, p *psi) {
			ss.Msgs += p.total
			start = min(start, p.fblk)
			stop = max(stop, p.lblk)
		})
	} else if p, ok := fs.perSubject.Find(stringToBytes(filter)); ok {
		ss.Msgs += p.total
		start, stop = p.fblk, p.lblk
	}
	if stop == 0 {
		return nil
	}
	if mb := fs.blockByIndex[start]; mb != nil {
		_, f, _, err := mb.filteredPending(filter, wc, 0)
		if err != nil {
			return err
		}
		ss.First = f
	}
	if ss.First == 0 {
		// fblk is only a lower bound (removals leave it behind): look
		// further, and move the hint to where the first match is.
		checked := []*msgBlock{fs.blockByIndex[start]}
		i := start + 1
		for ; i <= stop; i++ {
			mb := fs.blockByIndex[i]
			if mb != nil {
				if _, f, _, err := mb.filteredPending(filter, wc, 0); err != nil {
					return err
				} else if f > 0 {
					ss.First = f
					break
				}
			}
			checked = append(checked, mb)
		}
		// Callers hold only the read lock, so the hint moves in the
		// background under the write lock, as upstream.
		go fs.raiseFirstBlockHints(filter, wc, start, i, checked)
	}
	if last {
		if mb := fs.blockByIndex[stop]; mb != nil {
			_, _, l, err := mb.filteredPending(filter, wc, 0)
			if err != nil {
				return err
			}
			ss.Last = l
		}
	}
	return nil
}

// raiseFirstBlockHints moves the first-block hint of the subjects matching
// filter up to block index to, after a walk found no match in the blocks
// checked (indexes from..to-1, nil where there was none). The hint moves
// only while those indexes still hold the same blocks: a truncation that
// replaced them, followed by new messages, could put a match below to.
// Blocks other than the last only lose messages, and the last one is at or
// above to, so unchanged blocks still have no match. Takes fs.mu.
func (fs *fileStore) raiseFirstBlockHints(filter string, wc bool, from, to uint32, checked []*msgBlock) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for j, mb := range checked {
		if fs.blockByIndex[from+uint32(j)] != mb {
			return
		}
	}
	raise := func(p *psi) {
		// Below from the walk says nothing; such a hint stays.
		if p.fblk >= from && to > p.fblk {
			p.fblk = min(to, p.lblk)
		}
	}
	if !wc {
		if p, ok := fs.perSubject.Find(stringToBytes(filter)); ok {
			raise(p)
		}
		return
	}
	fs.perSubject.Match(stringToBytes(filter), func(_ []byte, p *psi) { raise(p) })
}

// SubjectsState returns the state of every subject matching subject.
func (fs *fileStore) SubjectsState(subject string) map[string]SimpleState {
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	if fs.state.Msgs == 0 || fs.noTrackSubjects() || len(fs.blocks) == 0 {
		return nil
	}
	if subject == _EMPTY_ {
		subject = fwcs
	}
	start, stop := fs.blocks[0], fs.lastBlock
	if !subjectHasWildcard(subject) {
		info, ok := fs.perSubject.Find(stringToBytes(subject))
		if !ok {
			return nil
		}
		if f := fs.blockByIndex[info.fblk]; f != nil {
			start = f
		}
		if l := fs.blockByIndex[info.lblk]; l != nil {
			stop = l
		}
	}

	fss := make(map[string]SimpleState)
	var startFound bool
	for _, mb := range fs.blocks {
		if !startFound {
			if mb != start {
				continue
			}
			startFound = true
		}
		mb.mu.Lock()
		var shouldExpire bool
		if mb.fssNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				mb.finishedWithCache()
				mb.mu.Unlock()
				return nil
			}
			shouldExpire = true
		}
		mb.lastSubjects = accessTime()
		var ierr error
		if mb.subjects != nil {
			mb.subjects.Match(stringToBytes(subject), func(bsubj []byte, ss *SimpleState) {
				if ierr != nil {
					return
				}
				subj := string(bsubj)
				if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
					if ierr = mb.recalculateForSubj(subj, ss); ierr != nil {
						return
					}
				}
				if oss := fss[subj]; oss.First == 0 {
					fss[subj] = SimpleState{Msgs: ss.Msgs, First: ss.First, Last: ss.Last}
				} else {
					oss.Last, oss.Msgs = ss.Last, oss.Msgs+ss.Msgs
					fss[subj] = oss
				}
			})
		}
		if shouldExpire {
			mb.tryForceExpireCacheLocked()
		}
		mb.finishedWithCache()
		mb.mu.Unlock()
		if ierr != nil {
			return nil
		}
		if mb == stop {
			break
		}
	}
	return fss
}

// SubjectsTotals returns the message count of every subject matching filter.
func (fs *fileStore) SubjectsTotals(filter string) map[string]uint64 {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.subjectsTotalsLocked(filter)
}

// subjectsTotalsLocked is SubjectsTotals. fs.mu held.
func (fs *fileStore) subjectsTotalsLocked(filter string) map[string]uint64 {
	if fs.perSubject.Size() == 0 {
		return nil
	}
	if filter == _EMPTY_ {
		filter = fwcs
	}
	fst := make(map[string]uint64)
	fs.perSubject.Match(stringToBytes(filter), func(subj []byte, p *psi) {
		fst[string(subj)] = p.total
	})
	return fst
}

// AllLastSeqs returns the last sequence of every subject, sorted.
func (fs *fileStore) AllLastSeqs() ([]uint64, error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.allLastSeqsLocked()
}

// allLastSeqsLocked walks blocks backwards until every subject was seen.
// fs.mu held.
func (fs *fileStore) allLastSeqsLocked() ([]uint64, error) {
	if fs.state.Msgs == 0 || fs.noTrackSubjects() {
		return nil, nil
	}
	numSubjects := fs.perSubject.Size()
	seqs := make([]uint64, 0, numSubjects)
	subs := make(map[string]struct{}, numSubjects)
	for i := len(fs.blocks) - 1; i >= 0 && len(subs) < numSubjects; i-- {
		mb := fs.blocks[i]
		mb.mu.Lock()
		var shouldExpire bool
		if mb.fssNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				mb.finishedWithCache()
				mb.mu.Unlock()
				return nil, err
			}
			shouldExpire = true
		}
		var ierr error
		if mb.subjects != nil {
			mb.subjects.IterFast(func(bsubj []byte, ss *SimpleState) bool {
				if _, ok := subs[string(bsubj)]; ok {
					return true
				}
				if ss.lastNeedsUpdate {
					if ierr = mb.recalculateForSubj(bytesToString(bsubj), ss); ierr != nil {
						return false
					}
				}
				seqs = append(seqs, ss.Last)
				subs[string(bsubj)] = struct{}{}
				return true
			})
		}
		if shouldExpire {
			mb.tryForceExpireCacheLocked()
		}
		mb.finishedWithCache()
		mb.mu.Unlock()
		if ierr != nil {
			return nil, ierr
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// filterIsAll reports whether filters are exactly the stream's subjects.
// fs.mu held.
func (fs *fileStore) filterIsAll(filters []string) bool {
	if len(filters) != len(fs.cfg.Subjects) {
		return false
	}
	filters = slices.Clone(filters)
	subjects := slices.Clone(fs.cfg.Subjects)
	slices.Sort(filters)
	slices.Sort(subjects)
	for i, subj := range filters {
		if !subjectIsSubsetMatch(subjects[i], subj) {
			return false
		}
	}
	return true
}

// MultiLastSeqs returns, sorted, the last sequence at or below maxSeq (0:
// the last sequence) of every subject matching any filter. maxAllowed > 0
// caps the number of results (ErrTooManyResults).
func (fs *fileStore) MultiLastSeqs(filters []string, maxSeq uint64, maxAllowed int) ([]uint64, error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	if fs.state.Msgs == 0 || fs.noTrackSubjects() {
		return nil, nil
	}
	if maxSeq == 0 && maxAllowed <= 0 && fs.filterIsAll(filters) {
		return fs.allLastSeqsLocked()
	}
	lastBlkIndex := len(fs.blocks) - 1
	lastMB := fs.blocks[lastBlkIndex]
	if maxSeq == 0 {
		maxSeq = fs.state.LastSeq
	} else {
		lastBlkIndex, lastMB = fs.selectMsgBlockWithIndex(maxSeq)
	}
	if lastMB == nil {
		return nil, nil
	}
	lastMBIndex := lastMB.getIndex()

	subs := make(map[string]*psi)
	var numLess int
	var maxBlk uint32
	for _, filter := range filters {
		fs.perSubject.Match(stringToBytes(filter), func(subj []byte, p *psi) {
			if _, ok := subs[string(subj)]; ok {
				return
			}
			subs[string(subj)] = p
			if p.lblk < lastMBIndex {
				numLess++
				maxBlk = max(maxBlk, p.lblk)
			}
		})
	}
	// Every subject ends before lastMB: start at the latest of them.
	if numLess == len(subs) {
		if mb := fs.blockByIndex[maxBlk]; mb != nil {
			lastMB = mb
		}
	}

	seqs := make([]uint64, 0, len(subs))
	for i, lnf := lastBlkIndex, false; i >= 0 && len(subs) > 0; i-- {
		mb := fs.blocks[i]
		if !lnf {
			if mb != lastMB {
				continue
			}
			lnf = true
		}
		mb.mu.Lock()
		var ierr error
		if ierr = mb.ensurePerSubjectInfoLoaded(); ierr != nil {
			mb.finishedWithCache()
			mb.mu.Unlock()
			return nil, ierr
		}
		if mb.subjects != nil {
			mb.subjects.IterFast(func(bsubj []byte, ss *SimpleState) bool {
				if subs[string(bsubj)] == nil {
					return true
				}
				if ss.lastNeedsUpdate {
					if ierr = mb.recalculateForSubj(bytesToString(bsubj), ss); ierr != nil {
						return false
					}
				}
				if ss.Last <= maxSeq {
					seqs = append(seqs, ss.Last)
					delete(subs, bytesToString(bsubj))
					return true
				}
				// The subject's last is past maxSeq: search below it.
				if mb.cacheNotLoaded() {
					if ierr = mb.loadMsgsWithLock(); ierr != nil {
						return false
					}
				}
				var smv StoreMsg
				fseq := atomic.LoadUint64(&mb.first.seq)
				lseq := min(atomic.LoadUint64(&mb.last.seq), maxSeq)
				ssubj := bytesToString(bsubj)
				for seq := lseq; seq >= fseq && seq > 0; seq-- {
					sm, _ := mb.cacheLookupNoCopy(seq, &smv)
					if sm == nil || sm.subj != ssubj {
						continue
					}
					seqs = append(seqs, sm.seq)
					delete(subs, ssubj)
					break
				}
				return true
			})
		}
		mb.finishedWithCache()
		mb.mu.Unlock()
		if ierr != nil {
			return nil, ierr
		}
		if maxAllowed > 0 && len(seqs) > maxAllowed {
			return nil, ErrTooManyResults
		}
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	slices.Sort(seqs)
	return seqs, nil
}

// pendingFilter abstracts a single filter subject or a sublist for the
// NumPending calculations.
type pendingFilter struct {
	// matchIndex calls cb for every matching store-wide subject entry.
	matchIndex func(cb func(subj []byte, p *psi))
	// matchBlock calls cb for every matching block subject; cb returning
	// false stops.
	matchBlock func(t *stree.SubjectTree[SimpleState], cb func(subj []byte, ss *SimpleState) bool)
	isMatch    func(subj string) bool
	isAll      bool
}

// NumPending returns how many messages at or after sseq match filter (with
// lastPerSubject, how many matching subjects have their last message there),
// and the last sequence the answer is valid through.
func (fs *fileStore) NumPending(sseq uint64, filter string, lastPerSubject bool) (total, validThrough uint64, err error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	validThrough = fs.state.LastSeq
	if fs.state.Msgs == 0 || sseq > fs.state.LastSeq {
		return 0, validThrough, nil
	}
	isAll := filter == _EMPTY_ || filter == fwcs
	if filter == _EMPTY_ {
		filter = fwcs
	}
	wc := subjectHasWildcard(filter)
	// A literal filter that is the only subject is everything.
	if !isAll && !wc && fs.perSubject.Size() == 1 {
		_, isAll = fs.perSubject.Find(stringToBytes(filter))
	}
	bfilter := stringToBytes(filter)
	pf := pendingFilter{
		isAll: isAll,
		matchIndex: func(cb func([]byte, *psi)) {
			fs.perSubject.Match(bfilter, cb)
		},
		matchBlock: func(t *stree.SubjectTree[SimpleState], cb func([]byte, *SimpleState) bool) {
			stop := false
			t.Match(bfilter, func(subj []byte, ss *SimpleState) {
				if !stop && !cb(subj, ss) {
					stop = true
				}
			})
		},
		isMatch: func(subj string) bool { return subj == filter },
	}
	if isAll {
		pf.isMatch = func(string) bool { return true }
	} else if wc {
		pf.isMatch = subjectMatcher(filter)
	}
	total, err = fs.numPendingLocked(sseq, pf, lastPerSubject)
	return total, validThrough, err
}

// NumPendingMulti is NumPending for any subject in a sublist (nil: all).
// The sublist's subjects must not overlap.
func (fs *fileStore) NumPendingMulti(sseq uint64, sl *gsl.SimpleSublist, lastPerSubject bool) (total, validThrough uint64, err error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	validThrough = fs.state.LastSeq
	if fs.state.Msgs == 0 || sseq > fs.state.LastSeq {
		return 0, validThrough, nil
	}
	isAll := sl == nil
	if !isAll && fs.perSubject.Size() == 1 {
		fs.perSubject.IterFast(func(subject []byte, _ *psi) bool {
			isAll = sl.HasInterest(bytesToString(subject))
			return true
		})
	}
	pf := pendingFilter{
		isAll: isAll,
		matchIndex: func(cb func([]byte, *psi)) {
			if sl == nil {
				fs.perSubject.IterFast(func(subj []byte, p *psi) bool { cb(subj, p); return true })
				return
			}
			stree.IntersectGSL(fs.perSubject, sl, func(subj []byte, p *psi) bool { cb(subj, p); return true })
		},
		matchBlock: func(t *stree.SubjectTree[SimpleState], cb func([]byte, *SimpleState) bool) {
			if sl == nil {
				t.IterFast(cb)
				return
			}
			stree.IntersectGSL(t, sl, cb)
		},
		isMatch: func(subj string) bool { return isAll || sl.HasInterest(subj) },
	}
	total, err = fs.numPendingLocked(sseq, pf, lastPerSubject)
	return total, validThrough, err
}

// numPendingLocked is the body of NumPending and NumPendingMulti. fs.mu
// held, with Msgs > 0 and sseq <= LastSeq checked.
func (fs *fileStore) numPendingLocked(sseq uint64, pf pendingFilter, lastPerSubject bool) (total uint64, err error) {
	sseq = max(sseq, fs.state.FirstSeq)
	var seqStart int
	if sseq > fs.state.FirstSeq {
		if seqStart, _ = fs.selectMsgBlockWithIndex(sseq); seqStart < 0 {
			seqStart = 0
		}
	}
	if !lastPerSubject && pf.isAll && (fs.state.LastSeq-fs.state.FirstSeq+1) == fs.state.Msgs {
		return fs.state.LastSeq - sseq + 1, nil
	}

	if lastPerSubject {
		if pf.isAll && sseq <= fs.state.FirstSeq {
			return uint64(fs.perSubject.Size()), nil
		}
		// Subjects whose last block is at or after the start block count;
		// those whose last block is the start block are checked in it.
		lbm := make(map[string]bool)
		mb := fs.blocks[seqStart]
		bi := mb.getIndex()
		pf.matchIndex(func(subj []byte, p *psi) {
			if bi > p.lblk {
				return
			}
			total++
			if p.lblk == bi {
				lbm[string(subj)] = true
			}
		})
		mb.mu.Lock()
		defer mb.mu.Unlock()
		defer mb.finishedWithCache()
		if sseq > atomic.LoadUint64(&mb.first.seq) {
			var shouldExpire bool
			if mb.cacheNotLoaded() {
				if err = mb.loadMsgsWithLock(); err != nil {
					return 0, err
				}
				shouldExpire = true
			}
			seen := make(map[string]bool)
			var smv StoreMsg
			for seq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq); seq <= lseq; seq++ {
				if mb.deleted.Exists(seq) {
					continue
				}
				sm, _ := mb.cacheLookupNoCopy(seq, &smv)
				if sm == nil || sm.subj == _EMPTY_ || !lbm[sm.subj] || !pf.isMatch(sm.subj) {
					continue
				}
				if seq < sseq {
					if !seen[sm.subj] {
						total--
						seen[sm.subj] = true
					}
				} else if seen[sm.subj] {
					total++
					delete(seen, sm.subj)
				}
			}
			if shouldExpire {
				mb.tryForceExpireCacheLocked()
			}
		}
		return total, nil
	}

	// Near the end: count forward from the start block.
	if seqStart >= len(fs.blocks)/2 {
		for i := seqStart; i < len(fs.blocks); i++ {
			t, err := fs.blockPendingFrom(fs.blocks[i], sseq, pf)
			if err != nil {
				return 0, err
			}
			total += t
		}
		return total, nil
	}

	// Near the start: take the total from the index and subtract what lies
	// before sseq.
	start := uint32(math.MaxUint32)
	pf.matchIndex(func(_ []byte, p *psi) {
		total += p.total
		start = min(start, p.fblk)
	})
	if sseq <= fs.state.FirstSeq {
		return total, nil
	}
	firstSubjBlk := fs.blockByIndex[start]
	firstSubjBlkFound := firstSubjBlk == nil
	var adjust uint64
	for i := 0; i <= seqStart; i++ {
		mb := fs.blocks[i]
		if !firstSubjBlkFound {
			if firstSubjBlkFound = mb == firstSubjBlk; !firstSubjBlkFound {
				continue
			}
		}
		a, err := fs.blockPendingBefore(mb, sseq, pf)
		if err != nil {
			return 0, err
		}
		adjust += a
	}
	if adjust > total {
		return 0, nil
	}
	return total - adjust, nil
}

// blockPendingFrom counts mb's matching messages at or after sseq.
// fs.mu held.
func (fs *fileStore) blockPendingFrom(mb *msgBlock, sseq uint64, pf pendingFilter) (uint64, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()
	if pf.isAll && sseq <= atomic.LoadUint64(&mb.first.seq) {
		return mb.msgs, nil
	}
	var shouldExpire bool
	if mb.fssNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return 0, err
		}
		shouldExpire = true
	}
	mb.lastSubjects = accessTime()
	var t uint64
	var ierr error
	havePartial := mb.subjects == nil
	if mb.subjects != nil {
		pf.matchBlock(mb.subjects, func(bsubj []byte, ss *SimpleState) bool {
			if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
				if ierr = mb.recalculateForSubj(bytesToString(bsubj), ss); ierr != nil {
					return false
				}
			}
			if sseq <= ss.First {
				t += ss.Msgs
			} else if sseq <= ss.Last {
				havePartial = true
				return false
			}
			return true
		})
	}
	if ierr != nil {
		return 0, ierr
	}
	if havePartial {
		if mb.cacheNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				return 0, err
			}
			shouldExpire = true
		}
		t = 0
		var smv StoreMsg
		for seq, lseq := max(sseq, atomic.LoadUint64(&mb.first.seq)), atomic.LoadUint64(&mb.last.seq); seq <= lseq; seq++ {
			if mb.deleted.Exists(seq) {
				continue
			}
			if sm, _ := mb.cacheLookupNoCopy(seq, &smv); sm != nil && pf.isMatch(sm.subj) {
				t++
			}
		}
	}
	if shouldExpire {
		mb.tryForceExpireCacheLocked()
	}
	return t, nil
}

// blockPendingBefore counts mb's matching messages below sseq. fs.mu held.
func (fs *fileStore) blockPendingBefore(mb *msgBlock, sseq uint64, pf pendingFilter) (uint64, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()
	var adjust uint64
	var shouldExpire bool
	if sseq > atomic.LoadUint64(&mb.last.seq) {
		if pf.isAll {
			return mb.msgs, nil
		}
		if mb.fssNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				return 0, err
			}
			shouldExpire = true
		}
		mb.lastSubjects = accessTime()
		if mb.subjects != nil {
			pf.matchBlock(mb.subjects, func(_ []byte, ss *SimpleState) bool {
				adjust += ss.Msgs
				return true
			})
		}
	} else {
		if mb.cacheNotLoaded() {
			if err := mb.loadMsgsWithLock(); err != nil {
				return 0, err
			}
			shouldExpire = true
		}
		last := min(atomic.LoadUint64(&mb.last.seq), sseq)
		var smv StoreMsg
		for seq := atomic.LoadUint64(&mb.first.seq); seq < last; seq++ {
			if mb.deleted.Exists(seq) {
				continue
			}
			sm, _ := mb.cacheLookupNoCopy(seq, &smv)
			if sm == nil || sm.subj == _EMPTY_ {
				continue
			}
			if sm.seq < sseq && pf.isMatch(sm.subj) {
				adjust++
			}
		}
	}
	if shouldExpire {
		mb.tryForceExpireCacheLocked()
	}
	return adjust, nil
}

// FastState fills state with the counts and range, without the deleted list.
func (fs *fileStore) FastState(state *StreamState) {
	fs.mu.RLock()
	state.Msgs = fs.state.Msgs
	state.Bytes = fs.state.Bytes
	state.FirstSeq = fs.state.FirstSeq
	state.FirstTime = fs.state.FirstTime
	state.LastSeq = fs.state.LastSeq
	state.LastTime = fs.state.LastTime
	state.Deleted, state.NumDeleted = nil, 0
	if state.LastSeq > state.FirstSeq {
		state.NumDeleted = max(int((state.LastSeq-state.FirstSeq+1)-state.Msgs), 0)
	}
	state.Consumers = fs.numConsumers()
	state.NumSubjects = fs.numSubjects()
	fs.mu.RUnlock()
}

// State returns the full stream state, including the deleted sequences and
// any lost data.
func (fs *fileStore) State() StreamState {
	fs.mu.RLock()
	state := fs.state
	state.Consumers = fs.numConsumers()
	state.NumSubjects = fs.numSubjects()
	state.Deleted = nil

	// An empty store has no interior deletes, whatever its range says (a
	// new store reports first and last as 0).
	if numDeleted := int((state.LastSeq - state.FirstSeq + 1) - state.Msgs); numDeleted > 0 && state.Msgs > 0 && state.LastSeq >= state.FirstSeq {
		state.Deleted = make([]uint64, 0, numDeleted)
		cur := fs.state.FirstSeq
		for _, mb := range fs.blocks {
			mb.mu.Lock()
			fseq := atomic.LoadUint64(&mb.first.seq)
			for seq := cur; seq < fseq; seq++ {
				state.Deleted = append(state.Deleted, seq)
			}
			// Tombstone-only blocks may lag behind; only move forward.
			if last := atomic.LoadUint64(&mb.last.seq); last >= cur {
				cur = last + 1
			}
			mb.deleted.Range(func(seq uint64) bool {
				state.Deleted = append(state.Deleted, seq)
				return true
			})
			mb.mu.Unlock()
		}
	}
	fs.mu.RUnlock()

	state.Lost = fs.lostData()
	if len(state.Deleted) > 0 {
		slices.Sort(state.Deleted)
		state.NumDeleted = len(state.Deleted)
	}
	return state
}

// Utilization returns the raw bytes on disk and the bytes of live messages.
func (fs *fileStore) Utilization() (total, reported uint64, err error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		reported += mb.bytes
		total += mb.rawBytes
		mb.mu.RUnlock()
	}
	return total, reported, nil
}
