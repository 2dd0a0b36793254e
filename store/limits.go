package store

import (
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/porttracker/porttracker/store/stree"
	"github.com/porttracker/porttracker/store/thw"
)

// enforceMsgLimit removes the oldest messages past MaxMsgs (DiscardOld).
// fs.mu held.
func (fs *fileStore) enforceMsgLimit() error {
	if fs.cfg.Discard != DiscardOld || fs.cfg.MaxMsgs <= 0 || fs.state.Msgs <= uint64(fs.cfg.MaxMsgs) {
		return nil
	}
	for nmsgs := fs.state.Msgs; nmsgs > uint64(fs.cfg.MaxMsgs); nmsgs = fs.state.Msgs {
		// A first block that can go whole goes without a walk.
		if len(fs.blocks) > 0 {
			fmb := fs.blocks[0]
			fmb.mu.RLock()
			msgs := fmb.msgs
			fmb.mu.RUnlock()
			if nmsgs-msgs > uint64(fs.cfg.MaxMsgs) {
				if err := fs.purgeMsgBlock(fmb); err != nil {
					return err
				}
				continue
			}
		}
		if removed, err := fs.deleteFirstMsg(); err != nil {
			return err
		} else if !removed {
			return fs.rebuildFirst()
		}
	}
	return nil
}

// enforceBytesLimit removes the oldest messages past MaxBytes (DiscardOld).
// fs.mu held.
func (fs *fileStore) enforceBytesLimit() error {
	if fs.cfg.Discard != DiscardOld || fs.cfg.MaxBytes <= 0 || fs.state.Bytes <= uint64(fs.cfg.MaxBytes) {
		return nil
	}
	for bs := fs.state.Bytes; bs > uint64(fs.cfg.MaxBytes); bs = fs.state.Bytes {
		if len(fs.blocks) > 0 {
			fmb := fs.blocks[0]
			fmb.mu.RLock()
			nbytes := fmb.bytes
			fmb.mu.RUnlock()
			if bs-nbytes > uint64(fs.cfg.MaxBytes) {
				if err := fs.purgeMsgBlock(fmb); err != nil {
					return err
				}
				continue
			}
		}
		if removed, err := fs.deleteFirstMsg(); err != nil {
			return err
		} else if !removed {
			return fs.rebuildFirst()
		}
	}
	return nil
}

// rebuildFirst rebuilds the first block from disk when the first message
// could not be removed (its state was stale). fs.mu held.
func (fs *fileStore) rebuildFirst() error {
	if len(fs.blocks) == 0 {
		return nil
	}
	fmb := fs.blocks[0]
	ld, _, _ := fmb.rebuildState()
	fmb.mu.RLock()
	isEmpty := fmb.msgs == 0
	fmb.mu.RUnlock()
	if isEmpty {
		fmb.mu.Lock()
		err := fs.forceRemoveMsgBlock(fmb)
		fmb.mu.Unlock()
		if err != nil {
			return err
		}
	}
	if err := fs.selectNextFirst(); err != nil {
		return err
	}
	fs.rebuildStateLocked(ld)
	// Per-subject counts must follow the blocks.
	return fs.resetGlobalPerSubjectInfo()
}

// enforceMsgPerSubjectLimit brings every subject within MaxMsgsPer, after a
// recovery or a config change. fireCallback false silences the storage
// callback (the removals were already accounted upstream of us). fs.mu held.
func (fs *fileStore) enforceMsgPerSubjectLimit(fireCallback bool) error {
	maxMsgsPer := uint64(fs.cfg.MaxMsgsPer)
	if !fireCallback {
		cb := fs.storageCB
		fs.storageCB = nil
		defer func() { fs.storageCB = cb }()
	}

	var numMsgs uint64
	needAttention := stree.NewSubjectTree[uint64]()
	fblk, lblk := uint32(math.MaxUint32), uint32(0)
	collect := func(count bool) {
		fs.perSubject.IterFast(func(subj []byte, p *psi) bool {
			if count {
				numMsgs += p.total
			}
			if p.total > maxMsgsPer {
				needAttention.Insert(subj, p.total)
				fblk = min(fblk, p.fblk)
				lblk = max(lblk, p.lblk)
			}
			return true
		})
	}
	collect(true)

	// Subject totals that disagree with the message count mean stale state:
	// rebuild from the blocks and look again.
	if numMsgs != fs.state.Msgs {
		fs.warn("Detected skew in subject-based total (%d) vs raw total (%d), rebuilding", numMsgs, fs.state.Msgs)
		fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
		for _, mb := range fs.blocks {
			ld, _, err := mb.rebuildState()
			if err != nil && !IsCorrupt(err) {
				return err
			} else if ld != nil {
				fs.addLostData(ld)
			}
			if err = fs.populateGlobalPerSubjectInfo(mb); err != nil {
				return err
			}
		}
		fs.rebuildStateLocked(nil)
		needAttention = needAttention.Empty()
		fblk, lblk = uint32(math.MaxUint32), 0
		collect(false)
	}
	if fblk == math.MaxUint32 {
		return nil
	}

	blks := make(map[*msgBlock]struct{})
	var sm StoreMsg
	for i := fblk; i <= lblk; i++ {
		mb := fs.blockByIndex[i]
		if mb == nil {
			continue
		}
		mb.mu.Lock()
		if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
			mb.mu.Unlock()
			return err
		}
		// Removals change the block's tree, so iterate over a snapshot of
		// pointers to its entries.
		fss := stree.NewSubjectTree[*SimpleState]()
		if mb.subjects != nil {
			mb.subjects.IterFast(func(subject []byte, val *SimpleState) bool {
				fss.Insert(subject, val)
				return true
			})
		}
		mb.mu.Unlock()

		var ierr error
		stree.LazyIntersect(needAttention, fss, func(subj []byte, total *uint64, ssptr **SimpleState) {
			if ssptr == nil || total == nil || ierr != nil {
				return
			}
			ss := *ssptr
			if ss.firstNeedsUpdate || ss.lastNeedsUpdate {
				mb.mu.Lock()
				ierr = mb.recalculateForSubj(bytesToString(subj), ss)
				mb.mu.Unlock()
				if ierr != nil {
					return
				}
			}
			for first := ss.First; *total > maxMsgsPer && first <= ss.Last; {
				m, _, err := mb.firstMatching(bytesToString(subj), false, first, &sm)
				if err != nil {
					break
				}
				first = m.seq + 1
				if removed, _ := fs.removeMsgViaLimits(m.seq); removed {
					blks[mb] = struct{}{}
					*total--
				}
			}
		})
		if ierr != nil {
			return ierr
		}
	}
	for mb := range blks {
		mb.mu.Lock()
		if mb.msgs > 0 {
			mb.tryForceExpireCacheLocked()
		}
		mb.mu.Unlock()
	}
	return nil
}

// purgeMsgBlock removes a whole block for a limit. fs.mu held.
func (fs *fileStore) purgeMsgBlock(mb *msgBlock) error {
	msgs, nbytes, err := fs.dropMsgBlock(mb)
	if err != nil {
		return err
	}
	if err := fs.selectNextFirst(); err != nil {
		return err
	}
	if cb := fs.storageCB; cb != nil {
		fs.mu.Unlock()
		cb(-int64(msgs), -int64(nbytes), 0, _EMPTY_)
		fs.mu.Lock()
	}
	return nil
}

// dropMsgBlock removes a whole block and its messages from the store's
// counts, subject index and schedules, and returns what went. The first
// sequence is left to the caller. fs.mu held.
func (fs *fileStore) dropMsgBlock(mb *msgBlock) (msgs, nbytes uint64, err error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	defer mb.finishedWithCache()
	if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
		return 0, 0, err
	}
	if mb.subjects != nil {
		mb.subjects.IterFast(func(bsubj []byte, ss *SimpleState) bool {
			subj := bytesToString(bsubj)
			for range ss.Msgs {
				fs.removePerSubject(subj)
			}
			return true
		})
	}
	// The schedules whose messages go with the block go too.
	if fs.scheduling != nil && mb.schedules > 0 {
		if err := fs.removeBlockSchedules(mb); err != nil {
			return 0, 0, err
		}
	}
	msgs, nbytes = min(mb.msgs, fs.state.Msgs), min(mb.bytes, fs.state.Bytes)
	if err := fs.removeMsgBlock(mb); err != nil {
		return 0, 0, err
	}
	fs.state.Msgs -= msgs
	fs.state.Bytes -= nbytes
	mb.tryForceExpireCacheLocked()
	return msgs, nbytes, nil
}

// expireTTLsWithMarkers asks the upper layer to remove the messages whose
// TTL expired, or for a marker where one was its subject's last. Entries
// stay in the wheel until the removal happens. fs.mu held; released while
// the callbacks run, as they come back into the store.
func (fs *fileStore) expireTTLsWithMarkers(rmSeqs []thw.HashWheelEntry, sdmTTL int64, smv *StoreMsg) {
	for _, rm := range rmSeqs {
		// Read the message and decide under the lock, so a removal in
		// progress is seen.
		sm, _ := fs.msgForSeqLocked(rm.Seq, smv, false)
		if sm == nil {
			if fs.ttls != nil {
				_ = fs.ttls.Remove(rm.Seq, rm.Expires)
			}
			continue
		}
		last, ok := fs.shouldProcessSdmLocked(rm.Seq, sm.subj)
		if !ok {
			continue
		}
		subj, sdm := sm.subj, last && !isSubjectDeleteMarker(sm.hdr)
		fs.mu.Unlock()
		fs.handleRemovalOrSdm(rm.Seq, subj, sdm, sdmTTL)
		fs.mu.Lock()
	}
}

// expireMsgsOnRecover removes messages past MaxAge at startup, dropping
// whole blocks where it can. fs.mu held.
func (fs *fileStore) expireMsgsOnRecover() error {
	if fs.state.Msgs == 0 {
		return nil
	}
	// Subject delete markers must be proposed, which needs a running stream.
	if fs.cfg.SubjectDeleteMarkerTTL > 0 {
		return nil
	}
	minAge := time.Now().UnixNano() - int64(fs.cfg.MaxAge)
	var purged, nbytes uint64
	var deleted int
	var nts int64
	// When everything expires, the last sequence must still be remembered.
	var last msgId

	deleteEmptyBlock := func(mb *msgBlock) error {
		if mb == fs.lastBlock {
			last.seq = atomic.LoadUint64(&mb.last.seq)
			last.ts = mb.last.ts
		}
		if err := mb.ensurePerSubjectInfoLoaded(); err != nil {
			return err
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
		if err := mb.dirtyCloseWithRemove(true); err != nil {
			return err
		}
		deleted++
		return nil
	}

	for _, mb := range fs.blocks {
		mb.mu.Lock()
		if minAge < mb.first.ts {
			nts = mb.first.ts
			mb.finishedWithCache()
			mb.mu.Unlock()
			break
		}
		if mb.last.ts <= minAge {
			purged += mb.msgs
			nbytes += mb.bytes
			err := deleteEmptyBlock(mb)
			mb.finishedWithCache()
			mb.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}

		// The first partly expired block: walk its messages.
		if err := mb.loadMsgsWithLock(); err != nil {
			mb.finishedWithCache()
			mb.mu.Unlock()
			return err
		}
		var smv StoreMsg
		var needNextFirst bool
		fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
		for seq := fseq; seq <= lseq; seq++ {
			sm, err := mb.cacheLookupNoCopy(seq, &smv)
			if err == errDeletedMsg {
				mb.deleted.Delete(seq)
				atomic.StoreUint64(&mb.first.seq, seq)
				needNextFirst = true
				continue
			}
			if err != nil || sm == nil {
				atomic.StoreUint64(&mb.first.seq, seq)
				needNextFirst = true
				break
			}
			if minAge < sm.ts {
				atomic.StoreUint64(&mb.first.seq, sm.seq)
				mb.first.ts = sm.ts
				needNextFirst = false
				nts = sm.ts
				break
			}
			if mb.msgs > 0 {
				atomic.StoreUint64(&mb.first.seq, seq)
				needNextFirst = true
				sz := min(fileStoreMsgSize(sm.subj, sm.hdr, sm.msg), mb.bytes)
				mb.bytes -= sz
				nbytes += sz
				mb.msgs--
				purged++
			}
			subj := sm.subj
			if _, err = mb.removeSeqPerSubject(subj, seq); err != nil {
				mb.finishedWithCache()
				mb.mu.Unlock()
				return err
			}
			fs.removePerSubject(subj)
		}
		if needNextFirst {
			mb.selectNextFirst()
		}
		var err error
		if mb.msgs == 0 {
			err = deleteEmptyBlock(mb)
		}
		mb.finishedWithCache()
		mb.mu.Unlock()
		if err != nil {
			return err
		}
		break
	}

	if nts > 0 {
		fs.resetAgeChk(nts - minAge)
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
	fs.state.Msgs -= min(purged, fs.state.Msgs)
	fs.state.Bytes -= min(nbytes, fs.state.Bytes)
	if err := fs.selectNextFirst(); err != nil {
		return err
	}
	if fs.lastBlock == nil && last.seq != 0 {
		lmb, err := fs.newMsgBlockForWrite()
		if err != nil {
			return err
		}
		if lmb == nil {
			return errors.New("store: last block missing")
		}
		if err = fs.writeTombstone(last.seq, last.ts); err != nil {
			return err
		}
		fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
	}
	if purged > 0 {
		fs.dirty++
	}
	return nil
}

// startAgeChk arms the expiry timer when MaxAge or TTLs need it. fs.mu held.
func (fs *fileStore) startAgeChk() {
	if fs.ageChk != nil {
		return
	}
	if fs.cfg.MaxAge != 0 || fs.ttls != nil {
		fs.ageChk = time.AfterFunc(fs.cfg.MaxAge, fs.expireMsgs)
	}
}

// resetAgeChk re-arms the expiry timer for the next message to expire: delta
// is the time until the oldest message reaches MaxAge (0: unknown). It never
// fires more often than every 250ms. fs.mu held.
func (fs *fileStore) resetAgeChk(delta int64) {
	// expireMsgs re-arms when it finishes.
	if fs.ageChkRun {
		return
	}
	next := int64(math.MaxInt64)
	if fs.ttls != nil {
		next = fs.ttls.GetNextExpiration(next)
	}
	if fs.cfg.MaxAge <= 0 && next == math.MaxInt64 {
		fs.cancelAgeChk()
		return
	}
	fireIn := fs.cfg.MaxAge
	if delta == 0 && fs.state.Msgs > 0 {
		if until := 2 * time.Second; until < fireIn {
			fireIn = until
		}
	}
	if next < math.MaxInt64 {
		if until := time.Until(time.Unix(0, next)); fireIn == 0 || until < fireIn {
			fireIn = until
		}
	}
	if delta > 0 {
		if fireIn == 0 || time.Duration(delta) < fireIn {
			fireIn = time.Duration(delta)
		}
	}
	fireIn = max(fireIn, 250*time.Millisecond)

	// Never push an armed timer later, or it could be pushed forever.
	expires := accessTime() + fireIn.Nanoseconds()
	if fs.ageChkTime > 0 && expires > fs.ageChkTime {
		return
	}
	fs.ageChkTime = expires
	if fs.ageChk != nil {
		fs.ageChk.Reset(fireIn)
	} else {
		fs.ageChk = time.AfterFunc(fireIn, fs.expireMsgs)
	}
}

// cancelAgeChk stops the expiry timer. fs.mu held.
func (fs *fileStore) cancelAgeChk() {
	if fs.ageChk != nil {
		fs.ageChk.Stop()
		fs.ageChk = nil
		fs.ageChkTime = 0
	}
}

// expireMsgs removes messages past MaxAge, then messages whose TTL passed,
// and re-arms the timer. Removals happen one by one so that the storage
// callback sees each.
func (fs *fileStore) expireMsgs() {
	fs.mu.Lock()
	if fs.isClosed() {
		fs.mu.Unlock()
		return
	}
	maxAge := int64(fs.cfg.MaxAge)
	minAge := accessTime() - maxAge
	sdmTTL := int64(fs.cfg.SubjectDeleteMarkerTTL.Seconds())
	sdmEnabled := sdmTTL > 0
	// With markers the upper layer does the removals; until it has
	// registered its callbacks, try again later.
	if sdmEnabled && (fs.removeCB == nil || fs.processMsgCB == nil) {
		fs.resetAgeChk(0)
		fs.mu.Unlock()
		return
	}
	fs.ageChkRun = true
	fs.mu.Unlock()

	var smv StoreMsg
	var sm *StoreMsg
	if maxAge > 0 {
		var seq uint64
		for sm, seq, _ = fs.LoadNextMsg(fwcs, true, 0, &smv); sm != nil && sm.ts <= minAge; sm, seq, _ = fs.LoadNextMsg(fwcs, true, seq+1, &smv) {
			if len(sm.hdr) > 0 {
				if ttl, err := getMessageTTL(sm.hdr); err == nil && ttl < 0 {
					// A "never" TTL outlives MaxAge.
					minAge = accessTime() - maxAge
					continue
				}
			}
			if sdmEnabled {
				if last, ok := fs.shouldProcessSdm(seq, sm.subj); ok {
					fs.handleRemovalOrSdm(seq, sm.subj, last && !isSubjectDeleteMarker(sm.hdr), sdmTTL)
				}
			} else {
				fs.mu.Lock()
				_, _ = fs.removeMsgViaLimits(sm.seq)
				fs.mu.Unlock()
			}
			minAge = accessTime() - maxAge
		}
	}
	var ageDelta int64
	if sm != nil {
		ageDelta = sm.ts - minAge
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	nextTTL := int64(math.MaxInt64)
	if fs.ttls != nil {
		var rmSeqs []thw.HashWheelEntry
		fs.ttls.ExpireTasks(func(seq uint64, ts int64) bool {
			rmSeqs = append(rmSeqs, thw.HashWheelEntry{Seq: seq, Expires: ts})
			// Removed below, where a failure can leave it in the wheel.
			return false
		})
		slices.SortFunc(rmSeqs, func(a, b thw.HashWheelEntry) int {
			switch {
			case a.Seq < b.Seq:
				return -1
			case a.Seq > b.Seq:
				return 1
			}
			return 0
		})
		if !sdmEnabled {
			for _, rm := range rmSeqs {
				removed, err := fs.removeMsg(rm.Seq, false, false, false)
				if !removed || err != nil {
					// Already gone: drop it from the wheel ourselves.
					_ = fs.ttls.Remove(rm.Seq, rm.Expires)
				}
			}
		} else {
			fs.expireTTLsWithMarkers(rmSeqs, sdmTTL, &smv)
		}
		if fs.ttls != nil {
			nextTTL = fs.ttls.GetNextExpiration(math.MaxInt64)
		}
	}
	fs.ageChkRun, fs.ageChkTime = false, 0
	if fs.isClosed() {
		return
	}
	if fs.state.Msgs == 0 && nextTTL == math.MaxInt64 {
		fs.cancelAgeChk()
	} else {
		fs.resetAgeChk(ageDelta)
	}
}
