package store

import (
	"bytes"
	"fmt"
	"time"
)

// Subject delete markers. With SubjectDeleteMarkerTTL set, a stream whose
// MaxAge (or a message TTL) removes the last message of a subject leaves a
// marker message on that subject instead. The store does not remove such
// messages itself: it asks the upper layer, through the registered
// callbacks, to remove a message (rmcb) or to publish a marker (pmsgcb),
// and remembers what it asked so a slow answer is not asked again at once.

// Header names and values of subject delete markers (format facts of the
// JetStream protocol).
const (
	// JSMarkerReason says why a marker was left.
	JSMarkerReason = "Nats-Marker-Reason"
	// JSMarkerReasonMaxAge is the reason for a marker left by MaxAge.
	JSMarkerReasonMaxAge = "MaxAge"
	// JSMarkerReasonPurge is the reason for a marker left by a purge.
	JSMarkerReasonPurge = "Purge"
	// JSMarkerReasonRemove is the reason for a marker left by a removal.
	JSMarkerReasonRemove = "Remove"
	// JSMsgRollupSubject is the rollup value that keeps only the marker
	// on its subject.
	JSMsgRollupSubject = "sub"
	// KVOperation is the key-value operation header.
	KVOperation = "KV-Operation"
)

// KVOperationValuePurge is the KV purge operation, which counts as a
// marker.
var KVOperationValuePurge = []byte("PURGE")

// sdmReproposeAfter is how long a removal or marker asked for a sequence
// is not asked again.
const sdmReproposeAfter = 2 * time.Second

// SDMMeta remembers the removals and markers asked for and not yet done.
// It is guarded by the store's lock.
type SDMMeta struct {
	totals  map[string]uint64   // per subject, how many of its messages are pending
	pending map[uint64]SDMBySeq // by sequence
}

// SDMBySeq is what was asked for one sequence.
type SDMBySeq struct {
	last bool  // it was the subject's last message: a marker was asked for
	ts   int64 // when it was last asked (unix nanos)
}

func newSDMMeta() *SDMMeta {
	return &SDMMeta{
		totals:  make(map[string]uint64, 1),
		pending: make(map[uint64]SDMBySeq, 1),
	}
}

// isSubjectDeleteMarker reports whether hdr is a marker's: a marker reason,
// or a KV purge.
func isSubjectDeleteMarker(hdr []byte) bool {
	return len(sliceHeader(JSMarkerReason, hdr)) != 0 || bytes.Equal(sliceHeader(KVOperation, hdr), KVOperationValuePurge)
}

// empty forgets everything (after a purge or reset). A nil SDMMeta is fine.
func (sdm *SDMMeta) empty() {
	if sdm == nil {
		return
	}
	clear(sdm.totals)
	clear(sdm.pending)
}

// trackPending records that seq of subj was asked for, and whether it was
// the subject's last message; a sequence already tracked keeps its answer.
func (sdm *SDMMeta) trackPending(seq uint64, subj string, last bool) bool {
	if p, ok := sdm.pending[seq]; ok {
		return p.last
	}
	sdm.pending[seq] = SDMBySeq{last, time.Now().UnixNano()}
	sdm.totals[subj]++
	return last
}

// removeSeqAndSubject forgets seq once its message is gone. A nil SDMMeta
// is fine.
func (sdm *SDMMeta) removeSeqAndSubject(seq uint64, subj string) {
	if sdm == nil {
		return
	}
	if _, ok := sdm.pending[seq]; !ok {
		return
	}
	delete(sdm.pending, seq)
	if n, ok := sdm.totals[subj]; ok {
		if n <= 1 {
			delete(sdm.totals, subj)
		} else {
			sdm.totals[subj] = n - 1
		}
	}
}

// shouldProcessSdm takes the lock for shouldProcessSdmLocked.
func (fs *fileStore) shouldProcessSdm(seq uint64, subj string) (last, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.shouldProcessSdmLocked(seq, subj)
}

// shouldProcessSdmLocked decides what to ask for the expired message seq
// of subj: ok is false while the same request was made recently; last says
// whether it is the subject's last message once the removals already
// asked for are done (then a marker is asked for instead of a removal).
// fs.mu held.
func (fs *fileStore) shouldProcessSdmLocked(seq uint64, subj string) (last, ok bool) {
	if fs.sdm == nil {
		fs.sdm = newSDMMeta()
	}
	if p, found := fs.sdm.pending[seq]; found {
		if time.Since(time.Unix(0, p.ts)) < sdmReproposeAfter {
			return p.last, false
		}
		// Asking again: messages stored since may mean it is not the last
		// any more, and a marker would then remove them.
		if p.last {
			msgs := fs.subjectsTotalsLocked(subj)[subj]
			if msgs > fs.sdm.totals[subj] {
				p.last = false
			}
		}
		fs.sdm.pending[seq] = SDMBySeq{p.last, time.Now().UnixNano()}
		return p.last, true
	}
	msgs := fs.subjectsTotalsLocked(subj)[subj]
	if msgs == 0 {
		return false, true
	}
	remaining := msgs - fs.sdm.totals[subj]
	return fs.sdm.trackPending(seq, subj, remaining == 1), true
}

// handleRemovalOrSdm asks the upper layer for a marker on subj (with the
// reason MaxAge, a TTL of sdmTTL seconds and a subject rollup, so storing
// it removes what is left) or for the removal of seq. Called without
// fs.mu: the callbacks come back into the store.
func (fs *fileStore) handleRemovalOrSdm(seq uint64, subj string, sdm bool, sdmTTL int64) {
	fs.mu.RLock()
	rmcb, pmsgcb := fs.removeCB, fs.processMsgCB
	fs.mu.RUnlock()
	if !sdm {
		if rmcb != nil {
			rmcb(seq)
		}
		return
	}
	if pmsgcb == nil {
		return
	}
	hdr := fmt.Appendf(nil, "NATS/1.0\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\n\r\n",
		JSMarkerReason, JSMarkerReasonMaxAge,
		JSMessageTTL, time.Duration(sdmTTL)*time.Second,
		JSMsgRollup, JSMsgRollupSubject)
	pmsgcb(&inMsg{subj: subj, hdr: hdr})
}
