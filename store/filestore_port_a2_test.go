package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// More of upstream's batch 14 (file store write and lifecycle) tests: sync
// intervals and the full stream state (index.db) with its recovery paths.

func TestFileStoreSyncIntervals(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), SyncInterval: 250 * time.Millisecond}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage}
	fs, err := newFileStore(fcfg, cfg)
	require_NoError(t, err)

	checkSyncFlag := func(fs *fileStore, expected bool) {
		t.Helper()
		fs.mu.RLock()
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		lmb.mu.RLock()
		needSync := lmb.needSync
		lmb.mu.RUnlock()
		if needSync != expected {
			t.Fatalf("expected needSync to be %v", expected)
		}
	}

	checkSyncFlag(fs, false)
	_, _, err = fs.StoreMsg("Z", nil, []byte("hello"), 0)
	require_NoError(t, err)
	checkSyncFlag(fs, true)
	// The background sync clears it within an interval or so.
	checkFor(t, 2*time.Second, 50*time.Millisecond, func() error {
		fs.mu.RLock()
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		lmb.mu.RLock()
		defer lmb.mu.RUnlock()
		if lmb.needSync {
			return os.ErrDeadlineExceeded
		}
		return nil
	})
	require_NoError(t, fs.Stop())

	// With SyncAlways every write is synced as it happens.
	fcfg.SyncInterval = 10 * time.Second
	fcfg.SyncAlways = true
	fs = newTestFileStore(t, fcfg, cfg)
	checkSyncFlag(fs, false)
	_, _, err = fs.StoreMsg("Z", nil, []byte("hello"), 0)
	require_NoError(t, err)
	checkSyncFlag(fs, false)
}

func TestFileStoreFullStateBasics(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 100
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage}
		fs, err := newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer func() { fs.Stop() }()
		restart := func() {
			t.Helper()
			fs, err = newFileStore(fcfg, cfg)
			require_NoError(t, err)
		}

		// 50 byte records: two a block.
		subj, msgLen, recLen := "A", 19, uint64(50)
		msgA := bytes.Repeat([]byte("A"), msgLen)
		msgZ := bytes.Repeat([]byte("Z"), msgLen)
		require_Equal(t, fileStoreMsgSize(subj, nil, msgA), recLen)
		store := func(msg []byte) {
			t.Helper()
			_, _, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
		}

		store(msgA)
		store(msgZ)
		require_Equal(t, fs.numMsgBlocks(), 1)

		// Stop writes index.db.
		require_NoError(t, fs.Stop())
		sfile := filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)
		buf, err := os.ReadFile(sfile)
		require_NoError(t, err)
		require_True(t, len(buf) > 0)

		restart()
		// No per-block index or subject files of old versions.
		for _, pattern := range []string{"*.fss", "*.idx"} {
			matches, err := filepath.Glob(filepath.Join(fcfg.StoreDir, msgDir, pattern))
			require_NoError(t, err)
			require_Len(t, len(matches), 0)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, 2)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 2)
		var smv StoreMsg
		for seq, want := range map[uint64][]byte{1: msgA, 2: msgZ} {
			sm, err := fs.LoadMsg(seq, &smv)
			require_NoError(t, err)
			require_True(t, bytes.Equal(sm.msg, want))
		}

		// A third message starts a second block; keep that index.db.
		store(msgZ)
		require_NoError(t, fs.Stop())
		buf, err = os.ReadFile(sfile)
		require_NoError(t, err)

		// A fourth, then put the three-message index.db back: recovery must
		// notice the last block grew.
		restart()
		store(msgZ)
		require_NoError(t, fs.Stop())
		require_NoError(t, os.WriteFile(sfile, buf, defaultFilePerms))
		restart()

		checkSubject := func(total uint64, fblk, lblk uint32) {
			t.Helper()
			fs.mu.RLock()
			info, ok := fs.perSubject.Find(stringToBytes(subj))
			var p psi
			if ok {
				p = *info
			}
			fs.mu.RUnlock()
			require_True(t, ok)
			require_Equal(t, p.total, total)
			require_Equal(t, p.fblk, fblk)
			require_Equal(t, p.lblk, lblk)
		}
		state = fs.State()
		require_Equal(t, state.Msgs, 4)
		require_Equal(t, state.Bytes, 4*recLen)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 4)
		require_Equal(t, fs.numMsgBlocks(), 2)
		checkSubject(4, 1, 2)

		// A fifth in a third block that the old index.db knows nothing of.
		store(msgA)
		require_NoError(t, fs.Stop())
		require_NoError(t, os.WriteFile(sfile, buf, defaultFilePerms))
		restart()
		state = fs.State()
		require_Equal(t, state.Msgs, 5)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 5)
		require_Equal(t, fs.numMsgBlocks(), 3)
		checkSubject(5, 1, 3)
	})
}

// testFileStoreFullStatePurge purges in every way and checks that a restart,
// with index.db or (checkFullRecovery) without it, and a rebuild from the
// blocks all reach the same state.
func testFileStoreFullStatePurge(t *testing.T, checkFullRecovery bool) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 132 // two records and room for tombstones
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage}
		fs, err := newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer func() { fs.Stop() }()

		msg := bytes.Repeat([]byte("A"), 19)
		store := func(subj string) {
			t.Helper()
			_, _, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
		}
		restartAndCompare := func() {
			t.Helper()
			state := fs.State()
			require_NoError(t, fs.Stop())
			if checkFullRecovery {
				require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
			}
			fs, err = newFileStore(fcfg, cfg)
			require_NoError(t, err)
			if newState := fs.State(); !reflect.DeepEqual(state, newState) {
				t.Fatalf("state after restart does not match:\n%+v\n%+v", state, newState)
			}
			if checkFullRecovery {
				fs.rebuildState(nil)
				if newState := fs.State(); !reflect.DeepEqual(state, newState) {
					t.Fatalf("state after rebuild does not match:\n%+v\n%+v", state, newState)
				}
			}
		}

		for range 10 {
			store("A")
		}
		n, err := fs.Purge()
		require_NoError(t, err)
		require_Equal(t, n, 10)
		restartAndCompare()

		for range 5 {
			store("B")
			store("C")
		}
		n, err = fs.PurgeEx("B", 0, 0)
		require_NoError(t, err)
		require_Equal(t, n, 5)
		restartAndCompare()

		n, err = fs.PurgeEx(_EMPTY_, 0, 2)
		require_NoError(t, err)
		require_Equal(t, n, 3)
		// Keep had a bug: the two kept are C at 18 and 20.
		state := fs.State()
		require_Equal(t, state.Msgs, 2)
		require_Equal(t, state.FirstSeq, 18)
		require_Equal(t, state.LastSeq, 20)
		restartAndCompare()

		// After a full purge the first sequence comes from tombstones alone
		// when index.db is gone.
		n, err = fs.Purge()
		require_NoError(t, err)
		require_Equal(t, n, 2)
		restartAndCompare()
		state = fs.State()
		require_Equal(t, state.Msgs, 0)
		require_Equal(t, state.FirstSeq, 21)
		require_Equal(t, state.LastSeq, 20)
	})
}

func TestFileStoreFullStatePurge(t *testing.T) {
	testFileStoreFullStatePurge(t, false)
}

func TestFileStoreFullStatePurgeFullRecovery(t *testing.T) {
	testFileStoreFullStatePurge(t, true)
}

// Removals a user asks for must survive a restart even with an index.db from
// before them: the tombstones in the last block (the WAL) carry them.
func TestFileStoreFullStateTestUserRemoveWAL(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 132 // two records and room for tombstones
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage}
		fs, err := newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer func() { fs.Stop() }()
		restart := func() {
			t.Helper()
			fs, err = newFileStore(fcfg, cfg)
			require_NoError(t, err)
		}

		msgA := bytes.Repeat([]byte("A"), 19)
		msgZ := bytes.Repeat([]byte("Z"), 19)
		storeAZ := func() {
			t.Helper()
			_, _, err := fs.StoreMsg("A", nil, msgA, 0)
			require_NoError(t, err)
			_, _, err = fs.StoreMsg("Z", nil, msgZ, 0)
			require_NoError(t, err)
		}
		remove := func(seqs ...uint64) {
			t.Helper()
			for _, seq := range seqs {
				removed, err := fs.RemoveMsg(seq)
				require_NoError(t, err)
				require_True(t, removed)
			}
		}

		storeAZ()
		remove(1)
		// The block now has a tombstone for 1; 2 still loads.
		sm, err := fs.LoadMsg(2, nil)
		require_NoError(t, err)
		require_True(t, bytes.Equal(sm.msg, msgZ))
		require_Equal(t, fs.numMsgBlocks(), 1)
		state := fs.State()
		require_NoError(t, fs.Stop())

		sfile := filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)
		buf, err := os.ReadFile(sfile)
		require_NoError(t, err)

		restart()
		_, err = fs.LoadMsg(2, nil)
		require_NoError(t, err)
		_, err = fs.LoadMsg(1, nil)
		require_Error(t, err, ErrStoreMsgNotFound)
		if newState := fs.State(); !reflect.DeepEqual(state, newState) {
			t.Fatalf("restored state does not match:\n%+v\n%+v", state, newState)
		}
		require_False(t, state.FirstTime.IsZero())

		storeAZ()
		remove(2, 4)
		state = fs.State()
		require_Equal(t, len(state.Deleted), state.NumDeleted)
		require_NoError(t, fs.Stop())

		restart()
		if newState := fs.State(); !reflect.DeepEqual(state, newState) {
			t.Fatalf("restored state does not match:\n%+v\n%+v", state, newState)
		}
		require_False(t, state.FirstTime.IsZero())

		// Back to the index.db from before 2 and 4 were removed.
		require_NoError(t, fs.Stop())
		require_NoError(t, os.WriteFile(sfile, buf, defaultFilePerms))
		restart()

		newState := fs.State()
		// Sequence 2 is reported lost: index.db had it, its block no longer does.
		require_True(t, newState.Lost != nil)
		require_Len(t, len(newState.Lost.Msgs), 1)
		require_Equal(t, newState.Lost.Msgs[0], 2)
		newState.Lost = nil
		if !reflect.DeepEqual(state, newState) {
			t.Fatalf("restored state does not match:\n%+v\n%+v", state, newState)
		}
	})
}

// Removals the store makes itself (limits) must survive restarts too.
func TestFileStoreFullStateTestSysRemovals(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 100
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, MaxMsgs: 10, MaxMsgsPer: 1, Storage: FileStorage}
		fs, err := newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer func() { fs.Stop() }()

		msg := bytes.Repeat([]byte("A"), 19)
		storeAll := func(subjects ...string) {
			t.Helper()
			for _, subj := range subjects {
				_, _, err := fs.StoreMsg(subj, nil, msg, 0)
				require_NoError(t, err)
			}
		}
		checkAndRestart := func(msgs, first, last uint64) {
			t.Helper()
			state := fs.State()
			require_Equal(t, state.Msgs, msgs)
			require_Equal(t, state.FirstSeq, first)
			require_Equal(t, state.LastSeq, last)
			require_NoError(t, fs.Stop())
			fs, err = newFileStore(fcfg, cfg)
			require_NoError(t, err)
			if newState := fs.State(); !reflect.DeepEqual(state, newState) {
				t.Fatalf("restored state does not match:\n%+v\n%+v", state, newState)
			}
		}

		// MaxMsgsPer drops the first A and B.
		storeAll("A", "B", "A", "B")
		checkAndRestart(2, 3, 4)
		storeAll("C", "D", "E", "F", "G", "H", "I", "J")
		checkAndRestart(10, 3, 12)
		// MaxMsgs drops the oldest.
		storeAll("ZZZ")
		checkAndRestart(10, 4, 13)
	})
}

func TestFileStoreSelectBlockWithFirstSeqRemovals(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 100
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, MaxMsgsPer: 1, Storage: FileStorage}
		fs := newTestFileStore(t, fcfg, cfg)

		msg := bytes.Repeat([]byte("A"), 19) // 50 byte records, two a block
		subjects := "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+@$^"
		// Over 32 blocks, so the block search goes binary: 65 messages, 33 blocks.
		for i := range 32*2 + 1 {
			_, _, err := fs.StoreMsg(string(subjects[i]), nil, msg, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.numMsgBlocks(), 33)

		// Per-subject limits (system removals, not user ones) remove the
		// first message of every block.
		for i := 0; i < len(subjects); i += 2 {
			_, _, err := fs.StoreMsg(string(subjects[i]), nil, msg, 0)
			require_NoError(t, err)
		}

		var ss StreamState
		fs.FastState(&ss)
		for seq := ss.FirstSeq; seq <= ss.LastSeq; seq++ {
			fs.mu.RLock()
			index, mb := fs.selectMsgBlockWithIndex(seq)
			fs.mu.RUnlock()
			require_True(t, index >= 0)
			require_True(t, mb != nil)
			require_Equal(t, uint64(index), (seq-1)/2)
		}
	})
}

// storeSubjects stores msg once under each subject.
func storeSubjects(t *testing.T, fs *fileStore, msg []byte, subjects ...string) {
	t.Helper()
	for _, subj := range subjects {
		_, _, err := fs.StoreMsg(subj, nil, msg, 0)
		require_NoError(t, err)
	}
}

// Recovery from an index.db several blocks behind must walk every block
// written since.
func TestFileStoreFullStateMultiBlockPastWAL(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 100
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage}
		fs, err := newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer func() { fs.Stop() }()

		msg := bytes.Repeat([]byte("A"), 19) // 50 byte records, two a block
		storeSubjects(t, fs, msg, "A", "B")
		require_Equal(t, fs.numMsgBlocks(), 1)
		require_NoError(t, fs.Stop())

		sfile := filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)
		buf, err := os.ReadFile(sfile)
		require_NoError(t, err)

		fs, err = newFileStore(fcfg, cfg)
		require_NoError(t, err)
		storeSubjects(t, fs, msg, "C", "D", "E", "F", "G", "H")
		require_Equal(t, fs.numMsgBlocks(), 4)
		state := fs.State()
		require_NoError(t, fs.Stop())

		require_NoError(t, os.WriteFile(sfile, buf, defaultFilePerms))
		fs, err = newFileStore(fcfg, cfg)
		require_NoError(t, err)
		if newState := fs.State(); !reflect.DeepEqual(state, newState) {
			t.Fatalf("restored state does not match:\n%+v\n%+v", state, newState)
		}
		require_False(t, state.FirstTime.IsZero())
	})
}

// An index.db taken mid-block, with a later removal in that block, must be
// caught up from the block without a full rebuild (which would delete it).
func TestFileStoreFullStateMidBlockPastWAL(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage, MaxMsgsPer: 1}
		fs, err := newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer func() { fs.Stop() }()

		msg := bytes.Repeat([]byte("Z"), 19)
		storeSubjects(t, fs, msg, "A", "B", "C", "D", "E")
		require_Equal(t, fs.numMsgBlocks(), 1)
		require_NoError(t, fs.Stop())

		sfile := filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)
		buf, err := os.ReadFile(sfile)
		require_NoError(t, err)

		fs, err = newFileStore(fcfg, cfg)
		require_NoError(t, err)
		storeSubjects(t, fs, msg, "F", "G", "H", "I", "J")
		removed, err := fs.RemoveMsg(2)
		require_NoError(t, err)
		require_True(t, removed)
		require_Equal(t, fs.numMsgBlocks(), 1)
		state := fs.State()
		require_NoError(t, fs.Stop())

		require_NoError(t, os.WriteFile(sfile, buf, defaultFilePerms))
		fs, err = newFileStore(fcfg, cfg)
		require_NoError(t, err)
		if newState := fs.State(); !reflect.DeepEqual(state, newState) {
			t.Fatalf("restored state does not match:\n%+v\n%+v", state, newState)
		}
		_, err = os.Stat(sfile)
		require_NoError(t, err)
	})
}

func TestFileStoreCompactingBlocksOnSync(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 1000 // 20 messages a block
		fcfg.SyncInterval = 100 * time.Millisecond
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage, MaxMsgsPer: 1}
		fs := newTestFileStore(t, fcfg, cfg)

		msg := bytes.Repeat([]byte("Z"), 19) // 50 byte records
		subjects := "ABCDEFGHIJKLMNOPQRST"
		for _, subj := range subjects {
			_, _, err := fs.StoreMsg(string(subj), nil, msg, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.numMsgBlocks(), 1)
		total, reported, err := fs.Utilization()
		require_NoError(t, err)
		require_Equal(t, total, reported)

		// Rewriting B through S removes every interior message of the first
		// block through the per-subject limit; too small to compact inline.
		for i := 1; i < 19; i++ {
			_, _, err := fs.StoreMsg(string(subjects[i]), nil, msg, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.numMsgBlocks(), 2)

		blkUtil := func() (uint64, uint64) {
			fmb := msgBlockAt(fs, 0)
			fmb.mu.RLock()
			defer fmb.mu.RUnlock()
			return fmb.rawBytes, fmb.bytes
		}
		total, reported = blkUtil()
		require_Equal(t, reported, 100)
		if fcfg.Compression != NoCompression {
			require_True(t, total > reported)
		} else {
			require_Equal(t, total, 1000)
		}

		// The background sync compacts the block down to what it holds.
		checkFor(t, 2*time.Second, 100*time.Millisecond, func() error {
			if total, reported := blkUtil(); total > reported {
				return fmt.Errorf("not compacted yet: raw %d vs reported %d", total, reported)
			}
			return nil
		})
		sm, err := fs.LoadMsg(1, nil)
		require_NoError(t, err)
		require_Equal(t, sm.subj, "A")
	})
}

// Compact removing whole blocks leaves the subject's first-block hint as a
// lower bound: the store cannot always tell the head went, not the tail.
func TestFileStoreCompactAndPSIMWhenDeletingBlocks(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})

	subj, msg := "A", bytes.Repeat([]byte("ABC"), 33) // about 100 bytes stored
	for range 10 {
		_, _, err := fs.StoreMsg(subj, nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), 4)

	n, err := fs.Compact(10)
	require_NoError(t, err)
	require_Equal(t, n, 9)
	require_Equal(t, fs.numMsgBlocks(), 1)

	fs.mu.RLock()
	info, ok := fs.perSubject.Find(stringToBytes(subj))
	var p psi
	if ok {
		p = *info
	}
	fs.mu.RUnlock()
	require_True(t, ok)
	require_Equal(t, p.total, 1)
	require_Equal(t, p.fblk, 1)
	require_Equal(t, p.lblk, 4)
}
