package store

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/porttracker/porttracker/store/vfs"
)

// The file store's side of message schedules (see scheduler.go).

// recoverMsgSchedulingState loads sched.db, then scans the messages stored
// after it was written for schedules. A damaged sched.db is removed and
// everything scanned. fs.mu held.
func (fs *fileStore) recoverMsgSchedulingState() error {
	fn := filepath.Join(fs.fcfg.StoreDir, msgDir, msgSchedulingStreamStateFile)
	buf, err := vfs.ReadFile(fs.fsys, fn)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fs.scheduling = newMsgScheduling(fs.runMsgScheduling)
	var schedSeq uint64
	if err == nil {
		if schedSeq, err = fs.scheduling.decode(buf); err != nil {
			fs.warn("Error decoding message scheduling state: %s", err)
			_ = fs.fsys.Remove(fn)
			fs.scheduling = newMsgScheduling(fs.runMsgScheduling)
			schedSeq = 0
		}
	}
	schedSeq = max(schedSeq, fs.state.FirstSeq)
	defer fs.scheduling.resetTimer()

	if fs.state.Msgs == 0 || schedSeq > fs.state.LastSeq {
		return nil
	}
	fs.warn("Message scheduling state is outdated; attempting to recover using linear scan (seq %d to %d)", schedSeq, fs.state.LastSeq)
	var sm StoreMsg
	for _, mb := range fs.blocks {
		mb.mu.Lock()
		fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
		// Blocks without schedule messages, or wholly before schedSeq, are
		// skipped.
		if mb.schedules == 0 || lseq < schedSeq {
			mb.finishedWithCache()
			mb.mu.Unlock()
			continue
		}
		for seq := max(fseq, schedSeq); seq <= lseq; seq++ {
			msg, _, err := mb.fetchMsgNoCopyLocked(seq, &sm)
			if err != nil || msg == nil || len(msg.hdr) == 0 {
				continue
			}
			if next, err := nextMessageSchedule(msg.hdr, msg.ts); err == nil && !next.IsZero() {
				// The subject is kept: copy it out of the block's cache.
				fs.scheduling.init(seq, copyString(msg.subj), next.UnixNano())
			}
		}
		mb.tryForceExpireCacheLocked()
		mb.finishedWithCache()
		mb.mu.Unlock()
	}
	return nil
}

// writeMsgSchedulingState writes sched.db, valid through the last
// sequence.
func (fs *fileStore) writeMsgSchedulingState() error {
	fs.mu.RLock()
	if fs.scheduling == nil {
		fs.mu.RUnlock()
		return nil
	}
	fn := filepath.Join(fs.fcfg.StoreDir, msgDir, msgSchedulingStreamStateFile)
	// lseq+1: the schedules are complete for every sequence below it.
	buf := fs.scheduling.encode(fs.state.LastSeq + 1)
	fs.mu.RUnlock()
	return fs.writeFileWithOptionalSync(fn, buf, defaultFilePerms)
}

// runMsgScheduling hands the messages of the schedules due to the
// registered ProcessJetStreamMsgHandler (without one, it tries again
// later) and re-arms the timer. Takes fs.mu, released around the handler,
// which comes back into the store.
func (fs *fileStore) runMsgScheduling() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.scheduling == nil || fs.isClosed() {
		return
	}
	if fs.processMsgCB == nil {
		fs.scheduling.resetTimer()
		return
	}
	fs.scheduling.running = true
	msgs := fs.scheduling.getScheduledMessages(
		func(seq uint64, smv *StoreMsg) *StoreMsg {
			sm, _ := fs.msgForSeqLocked(seq, smv, false)
			return sm
		},
		func(subj string, smv *StoreMsg) *StoreMsg {
			sm, _ := fs.loadLastLocked(subj, smv)
			return sm
		},
	)
	if len(msgs) > 0 {
		cb := fs.processMsgCB
		fs.mu.Unlock()
		for _, im := range msgs {
			cb(im)
		}
		fs.mu.Lock()
	}
	// Stop or UpdateConfig may have dropped it meanwhile.
	if ms := fs.scheduling; ms != nil {
		ms.running, ms.deadline = false, 0
		ms.resetTimer()
	}
}

// removeBlockSchedules drops the schedules whose messages are in mb, which
// is being purged. fs.mu and mb.mu held.
func (fs *fileStore) removeBlockSchedules(mb *msgBlock) error {
	if mb.cacheNotLoaded() {
		if err := mb.loadMsgsWithLock(); err != nil {
			return err
		}
	}
	var smv StoreMsg
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	for seq := fseq; seq <= lseq; seq++ {
		sm, err := mb.cacheLookupNoCopy(seq, &smv)
		if err != nil && err != errDeletedMsg {
			return err
		}
		if sm == nil {
			continue
		}
		if next, err := getMessageSchedule(sm.hdr); err == nil && !next.IsZero() {
			fs.scheduling.remove(seq)
		}
	}
	return nil
}

// ResetState forgets which scheduled messages were handed over and not yet
// stored, so they are handed over again (upstream calls it when a new
// leader takes over).
func (fs *fileStore) ResetState() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.scheduling != nil {
		fs.scheduling.clearInflight()
	}
}
