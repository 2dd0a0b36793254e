package store

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The randomized invariant test (DESIGN.md §6) runs long mixed sequences of
// operations (store, remove, erase, skip, purge, purge by subject, compact,
// truncate, reopen) under random limits and checks after every step:
//
//   - every call returns (a watchdog fails the test on a hang);
//   - the per-subject index equals a recount of the messages;
//   - State agrees with what loads (count, bytes, deleted list);
//   - the limits hold;
//   - every message that loads is the one stored at its sequence.
//
// nats-server v2.14.5 breaks the first invariant: after a Truncate that fails
// on a deleted message the subject index no longer matches the blocks, and a
// later StoreMsg under MaxMsgsPer loops forever in storeRawMsg's per-subject
// loop, removing a "first" sequence that removes nothing, with the store lock
// held. Here Truncate handles a deleted target and the per-subject loop stops
// (rebuilding the index) when a removal makes no progress, so every call
// returns.

// propVerbose prints every step (for debugging a failing seed).
var propVerbose = false

type propModel struct {
	msgs map[uint64]storedMsg // what was stored at each sequence
}

// propStep runs op with a watchdog: a call that does not return in time is
// reported as a hang.
func propStep(t *testing.T, desc string, op func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return: the store is stuck (upstream's Truncate + MaxMsgsPer spin?)", desc)
		return nil
	}
}

func runPropertySequence(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: uint64(256 + rng.Intn(1024))}
	// Every third seed flushes asynchronously, so records are often still
	// pending when removals, compactions, truncations and restarts come.
	fcfg.AsyncFlush = seed%3 == 0
	cfg := StreamConfig{Name: "prop", Subjects: []string{"p.>"}, Storage: FileStorage}
	switch rng.Intn(4) {
	case 0:
		cfg.MaxMsgsPer = int64(1 + rng.Intn(3))
	case 1:
		cfg.MaxMsgs = int64(20 + rng.Intn(40))
	case 2:
		cfg.MaxBytes = int64(1500 + rng.Intn(3000))
		cfg.MaxMsgsPer = int64(2 + rng.Intn(3))
	}
	fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
	require_NoError(t, err)
	defer func() { fs.Stop() }()

	m := &propModel{msgs: map[uint64]storedMsg{}}
	nsubj := 2 + rng.Intn(6)
	pickLive := func() uint64 {
		var st StreamState
		fs.FastState(&st)
		if st.Msgs == 0 {
			return 0
		}
		return st.FirstSeq + uint64(rng.Int63n(int64(st.LastSeq-st.FirstSeq+1)))
	}

	for step := 0; step < steps; step++ {
		var desc string
		var op func() error
		switch r := rng.Intn(100); {
		case r < 50:
			sm := storedMsg{subj: fmt.Sprintf("p.%d", rng.Intn(nsubj))}
			sm.msg = make([]byte, rng.Intn(80))
			rng.Read(sm.msg)
			if rng.Intn(5) == 0 {
				sm.hdr = []byte("NATS/1.0\r\nX: y\r\n\r\n")
			}
			desc = "StoreMsg " + sm.subj
			op = func() error {
				seq, _, err := fs.StoreMsg(sm.subj, sm.hdr, sm.msg, 0)
				if err == nil {
					m.msgs[seq] = sm
				}
				return err
			}
		case r < 62:
			seq := pickLive()
			desc = fmt.Sprintf("RemoveMsg %d", seq)
			op = func() error { _, err := fs.RemoveMsg(seq); return err }
		case r < 66:
			seq := pickLive()
			desc = fmt.Sprintf("EraseMsg %d", seq)
			op = func() error { _, err := fs.EraseMsg(seq); return err }
		case r < 70:
			desc = "SkipMsg"
			op = func() error { _, err := fs.SkipMsg(0); return err }
		case r < 72:
			n := uint64(1 + rng.Intn(20))
			desc = fmt.Sprintf("SkipMsgs %d", n)
			op = func() error { return fs.SkipMsgs(0, n) }
		case r < 77:
			subj := fmt.Sprintf("p.%d", rng.Intn(nsubj))
			keep := uint64(rng.Intn(3))
			desc = fmt.Sprintf("PurgeEx %s keep %d", subj, keep)
			op = func() error { _, err := fs.PurgeEx(subj, 0, keep); return err }
		case r < 79:
			desc = "Purge"
			op = func() error { _, err := fs.Purge(); return err }
		case r < 84:
			seq := pickLive()
			desc = fmt.Sprintf("Compact %d", seq)
			op = func() error { _, err := fs.Compact(seq); return err }
		case r < 91:
			// Truncating at a deleted sequence is the upstream trigger.
			var st StreamState
			fs.FastState(&st)
			seq := st.LastSeq
			if st.LastSeq > st.FirstSeq {
				seq = st.FirstSeq + uint64(rng.Int63n(int64(st.LastSeq-st.FirstSeq+1)))
			}
			desc = fmt.Sprintf("Truncate %d", seq)
			op = func() error {
				err := fs.Truncate(seq)
				if err == nil {
					for s := range m.msgs {
						if s > seq {
							delete(m.msgs, s)
						}
					}
				}
				return err
			}
		default:
			// Without index.db the blocks alone (their tombstones) must give
			// the same state, unless limits remove messages without
			// tombstones, in which case recovery applies them again.
			noIndex := rng.Intn(2) == 0
			limits := cfg.MaxMsgs > 0 || cfg.MaxBytes > 0 || cfg.MaxMsgsPer > 0
			desc = fmt.Sprintf("reopen (index.db removed: %v)", noIndex)
			op = func() error {
				before := fs.State()
				if err := fs.Stop(); err != nil {
					return err
				}
				if noIndex {
					if err := os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
						return err
					}
				}
				var err error
				if fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil); err != nil {
					return err
				}
				after := fs.State()
				if noIndex && limits {
					if after.LastSeq != before.LastSeq {
						return fmt.Errorf("reopen without index.db changed the last sequence: %+v -> %+v", before, after)
					}
					return nil
				}
				if after.Msgs != before.Msgs || after.LastSeq != before.LastSeq || after.FirstSeq != before.FirstSeq {
					return fmt.Errorf("reopen changed the state: %+v -> %+v", before, after)
				}
				return nil
			}
		}
		if propVerbose {
			st := fs.State()
			fmt.Printf("step %d: %s (before: msgs %d first %d last %d deleted %v)\n", step, desc, st.Msgs, st.FirstSeq, st.LastSeq, st.Deleted)
			fs.mu.RLock()
			for _, mb := range fs.blocks {
				fmt.Printf("    blk %d [%d,%d] msgs %d\n", mb.index, mb.first.seq, mb.last.seq, mb.msgs)
			}
			fs.mu.RUnlock()
			entries, _ := fs.fsys.ReadDir(fcfg.StoreDir + "/msgs")
			for _, e := range entries {
				fmt.Printf("    file %s\n", e.Name())
			}
		}
		err := propStep(t, desc, op)
		if err != nil && !errors.Is(err, ErrStoreMsgNotFound) && !errors.Is(err, ErrStoreEOF) {
			t.Fatalf("seed %d step %d %s: %v", seed, step, desc, err)
		}
		loaded := checkStoreConsistent(t, fs)
		for seq, sm := range loaded {
			want, ok := m.msgs[seq]
			if !ok || !sameMsg(sm, want) {
				t.Fatalf("seed %d step %d after %s: seq %d is not what was stored there", seed, step, desc, seq)
			}
		}
		st := fs.State()
		if cfg.MaxMsgs > 0 && st.Msgs > uint64(cfg.MaxMsgs) {
			t.Fatalf("seed %d step %d: %d messages over MaxMsgs %d", seed, step, st.Msgs, cfg.MaxMsgs)
		}
		if cfg.MaxBytes > 0 && st.Bytes > uint64(cfg.MaxBytes) {
			t.Fatalf("seed %d step %d: %d bytes over MaxBytes %d", seed, step, st.Bytes, cfg.MaxBytes)
		}
		if cfg.MaxMsgsPer > 0 {
			for subj, n := range fs.SubjectsTotals(fwcs) {
				if n > uint64(cfg.MaxMsgsPer) {
					t.Fatalf("seed %d step %d after %s: %s has %d messages over MaxMsgsPer %d", seed, step, desc, subj, n, cfg.MaxMsgsPer)
				}
			}
		}
	}
}

func TestFileStoreRandomizedInvariants(t *testing.T) {
	seeds := 24
	steps := 300
	if testing.Short() {
		seeds, steps = 6, 150
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runPropertySequence(t, seed, steps)
		})
	}
}

// TestFileStoreTruncateDeletedThenMaxMsgsPerReturns is the upstream hang as
// a fixed sequence: messages under MaxMsgsPer, the target of a Truncate
// removed first, then more stores on the same subject. Upstream v2.14.5
// fails the Truncate ("deleted message") after having moved the last
// sequence and written a tombstone block, leaving the subject index ahead of
// the blocks; the next StoreMsg then spins in the per-subject loop with the
// store lock held. Here the Truncate succeeds and every store returns.
func TestFileStoreTruncateDeletedThenMaxMsgsPerReturns(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 256}
	cfg := StreamConfig{Name: "spin", Subjects: []string{"a", "b"}, Storage: FileStorage, MaxMsgsPer: 3}
	fs := newTestFileStore(t, fcfg, cfg)
	for i := 0; i < 30; i++ {
		subj := "a"
		if i%3 == 0 {
			subj = "b"
		}
		_, _, err := fs.StoreMsg(subj, nil, []byte("payload"), 0)
		require_NoError(t, err)
	}
	st := fs.State()
	target := st.LastSeq - 2
	_, err := fs.RemoveMsg(target)
	require_NoError(t, err)
	err = propStep(t, "Truncate", func() error { return fs.Truncate(target) })
	require_NoError(t, err)
	require_Equal(t, fs.State().LastSeq, target)
	checkStoreConsistent(t, fs)
	for i := 0; i < 10; i++ {
		err := propStep(t, "StoreMsg", func() error {
			_, _, err := fs.StoreMsg("a", nil, []byte("after"), 0)
			return err
		})
		require_NoError(t, err)
		checkStoreConsistent(t, fs)
		require_True(t, fs.SubjectsTotals("a")["a"] <= 3)
	}
}

// TestFileStorePerSubjectLoopStopsWithoutProgress forces the state that made
// upstream spin (a subject index claiming more messages than the blocks
// hold) and checks a store under MaxMsgsPer returns and repairs the index.
func TestFileStorePerSubjectLoopStopsWithoutProgress(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir()}
	cfg := StreamConfig{Name: "skew", Subjects: []string{"a"}, Storage: FileStorage, MaxMsgsPer: 2}
	fs := newTestFileStore(t, fcfg, cfg)
	for i := 0; i < 2; i++ {
		_, _, err := fs.StoreMsg("a", nil, []byte("x"), 0)
		require_NoError(t, err)
	}
	// Corrupt the index the way a failed Truncate leaves it.
	fs.mu.Lock()
	info, _ := fs.perSubject.Find([]byte("a"))
	info.total += 5
	fs.mu.Unlock()

	err := propStep(t, "StoreMsg", func() error {
		_, _, err := fs.StoreMsg("a", nil, []byte("y"), 0)
		return err
	})
	require_NoError(t, err)
	checkStoreConsistent(t, fs)
	require_True(t, fs.SubjectsTotals("a")["a"] <= 3)
}
