package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/ats"
	"github.com/porttracker/porttracker/store/gsl"
	"github.com/porttracker/porttracker/store/vfs"
)

// Ported upstream file store write and lifecycle tests (batch 14, part B).

func TestFileStoreTombstoneRbytes(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1024},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	// About 24 small records fit in a 1KB block, so 34 span two blocks.
	for i := 0; i < 34; i++ {
		_, _, err := fs.StoreMsg("foo.22", nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	require_True(t, fs.numMsgBlocks() > 1)

	// Removing from the first block writes tombstones into the second one;
	// those take raw space there without adding live bytes.
	for seq := uint64(11); seq <= 24; seq++ {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
	}

	fs.mu.RLock()
	second := fs.blocks[1]
	fs.mu.RUnlock()
	second.mu.RLock()
	live, raw := second.bytes, second.rawBytes
	second.mu.RUnlock()
	if raw <= live {
		t.Fatalf("second block raw bytes %d should exceed live bytes %d because of the tombstones", raw, live)
	}
}

func TestFileStoreCheckSkipFirstBlockNotLoadOldBlocks(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 128},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	store := func(subj string) {
		t.Helper()
		_, _, err := fs.StoreMsg(subj, nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	store("foo.BB.bar")
	store("foo.AA.bar")
	for i := 0; i < 6; i++ {
		store("foo.BB.bar")
	}
	store("foo.AA.bar") // 9
	store("foo.AA.bar") // 10
	for i := 0; i < 4; i++ {
		store("foo.BB.bar")
	}
	// Two records per block: BB AA | BB BB | BB BB | BB BB | AA AA | BB BB | BB BB
	require_Equal(t, fs.numMsgBlocks(), 7)

	fs.RemoveMsg(1)
	fs.RemoveMsg(2)
	// The emptied first block is gone, yet the per-subject index still says
	// AA may start in it.
	require_Equal(t, fs.numMsgBlocks(), 6)

	fs.mu.RLock()
	for _, mb := range fs.blocks {
		mb.mu.Lock()
		mb.subjects, mb.cache = nil, nil
		mb.mu.Unlock()
	}
	fs.mu.RUnlock()

	// A caught-up consumer asking for AA past its last message must not pull
	// every older block into memory on the way to EOF.
	_, _, err = fs.LoadNextMsg("foo.AA.bar", false, 11, nil)
	require_Error(t, err, ErrStoreEOF)

	var loaded int
	fs.mu.RLock()
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		if mb.cache != nil || mb.subjects != nil {
			loaded++
		}
		mb.mu.RUnlock()
	}
	fs.mu.RUnlock()
	// Only the block the search starts in may have been loaded.
	require_Equal(t, loaded, 1)
}

func TestFileStoreRestoreIndexWithMatchButLeftOverBlocks(t *testing.T) {
	sd := t.TempDir()
	fcfg := FileStoreConfig{StoreDir: sd, BlockSize: 256}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage, MaxMsgsPer: 1}
	fs, err := newFileStore(fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()

	// Six records per block: two full blocks.
	for i := 1; i <= 12; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), 2)

	// Stopping writes index.db matching the last record of block 2; keep it.
	sfile := filepath.Join(sd, msgDir, streamStreamStateFile)
	require_NoError(t, fs.Stop())
	saved, err := os.ReadFile(sfile)
	require_NoError(t, err)
	require_True(t, len(saved) > 0)

	fs, err = newFileStore(fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	// Rewriting foo.1..6 drops block 1 under MaxMsgsPer=1 and adds block 3,
	// while block 2's last record (the one the old index.db matches) stays.
	for i := 1; i <= 6; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	check := func() {
		t.Helper()
		var state StreamState
		fs.FastState(&state)
		require_Equal(t, state.Msgs, 12)
		require_Equal(t, state.FirstSeq, 7)
		require_Equal(t, state.LastSeq, 18)
	}
	check()
	require_Equal(t, fs.numMsgBlocks(), 2)

	// With the stale index.db back, recovery must notice the blocks beyond
	// it and the missing first block instead of trusting the checksum match.
	require_NoError(t, fs.Stop())
	require_NoError(t, os.WriteFile(sfile, saved, defaultFilePerms))
	fs, err = newFileStore(fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	check()
}

func TestFileStoreMaxMsgsPerSubjectOneStaleFblkAfterRestart(t *testing.T) {
	sd := t.TempDir()
	fcfg := FileStoreConfig{StoreDir: sd, BlockSize: 256}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage, MaxMsgsPer: 1}
	fs, err := newFileStore(fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()

	_, _, err = fs.StoreMsg("foo.0", nil, []byte("hello"), 0)
	require_NoError(t, err)
	for i := 1; fs.numMsgBlocks() < 2; i++ {
		_, _, err = fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	// The new foo.0 lands in block 2 and evicts the one in block 1.
	seq, _, err := fs.StoreMsg("foo.0", nil, []byte("hello"), 0)
	require_NoError(t, err)

	var smv StoreMsg
	sm, err := fs.LoadLastMsg("foo.0", &smv)
	require_NoError(t, err)
	require_Equal(t, sm.seq, seq)

	require_NoError(t, fs.Stop())
	_, err = os.Stat(filepath.Join(sd, msgDir, streamStreamStateFile))
	require_NoError(t, err)

	// Recovering from index.db must not leave the subject's last block at
	// its stale first block.
	fs, err = newFileStore(fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	sm, err = fs.LoadLastMsg("foo.0", &smv)
	require_NoError(t, err)
	require_Equal(t, sm.subj, "foo.0")
	require_Equal(t, sm.seq, seq)

	fs.mu.RLock()
	defer fs.mu.RUnlock()
	info, ok := fs.perSubject.Find(stringToBytes("foo.0"))
	require_True(t, ok)
	require_Equal(t, info.total, 1)
	require_Equal(t, info.lblk, 2)
	// With one message per subject the first block is the last one too.
	require_Equal(t, info.fblk, 2)
}

func TestFileStoreWriteFullStateDetectCorruptState(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	for i := 1; i <= 10; i++ {
		_, _, err = fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("abc"), 0)
		require_NoError(t, err)
	}

	// Make a block disagree with the store-wide totals.
	mb := fs.selectMsgBlock(2)
	mb.mu.Lock()
	mb.msgs--
	mb.mu.Unlock()

	var ss StreamState
	fs.FastState(&ss)
	require_Equal(t, ss.FirstSeq, 1)
	require_Equal(t, ss.LastSeq, 10)
	require_Equal(t, ss.Msgs, 10)

	// Writing index.db must refuse the inconsistent state and rebuild from
	// the blocks.
	require_Error(t, fs.writeFullState(), errCorruptState)

	fs.FastState(&ss)
	require_Equal(t, ss.FirstSeq, 1)
	require_Equal(t, ss.LastSeq, 10)
	require_Equal(t, ss.Msgs, 9)
}

func TestFileStoreRecoverFullStateDetectCorruptState(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	for i := 1; i <= 10; i++ {
		_, _, err = fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("abc"), 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.writeFullState())

	sfile := filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile)
	buf, err := os.ReadFile(sfile)
	require_NoError(t, err)
	// Zero the message count (right after the two header bytes) and reseal
	// the file with a valid checksum, so only the content check can object.
	binary.PutUvarint(buf[2:], 0)
	fs.hasher.Reset()
	fs.hasher.Write(buf)
	buf = fs.hasher.Sum(buf)
	require_NoError(t, os.WriteFile(sfile, buf, defaultFilePerms))

	require_Error(t, fs.recoverFullState(), errCorruptState)
}

func TestFileStoreNumPendingMulti(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"ev.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	// Scaled down from upstream's 100k messages over 10k subjects.
	const totalMsgs, totalSubjects, numFiltered = 10_000, 1_000, 500
	rng := rand.New(rand.NewSource(1))
	startSeq := uint64(500 + rng.Intn(9_000))

	subjects := make([]string, 0, totalSubjects)
	for i := 0; i < totalSubjects; i++ {
		subjects = append(subjects, fmt.Sprintf("ev.%08x", rng.Uint32()))
	}
	msg := bytes.Repeat([]byte("ZZZ"), 333)
	for i := 0; i < totalMsgs; i++ {
		_, _, err = fs.StoreMsg(subjects[rng.Intn(totalSubjects)], nil, msg, 0)
		require_NoError(t, err)
	}

	filters := gsl.NewSimpleSublist()
	for n := 0; n < numFiltered; {
		filter := subjects[rng.Intn(totalSubjects)]
		if !filters.HasInterest(filter) {
			require_NoError(t, filters.Insert(filter, struct{}{}))
			n++
		}
	}

	total, _, err := fs.NumPendingMulti(startSeq, filters, false)
	require_NoError(t, err)

	// Recount by loading every message from the start.
	var want uint64
	var smv StoreMsg
	for seq := startSeq; seq <= totalMsgs; seq++ {
		sm, err := fs.LoadMsg(seq, &smv)
		require_NoError(t, err)
		if filters.HasInterest(sm.subj) {
			want++
		}
	}
	require_True(t, want > 0)
	require_Equal(t, total, want)
}

func TestFileStoreMessageTTL(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"test"}, Storage: FileStorage, AllowMsgTTL: true})
	require_NoError(t, err)
	defer fs.Stop()

	for i := 1; i <= 10; i++ {
		_, _, err = fs.StoreMsg("test", nil, nil, 1) // one second
		require_NoError(t, err)
	}
	var ss StreamState
	fs.FastState(&ss)
	require_Equal(t, ss.FirstSeq, 1)
	require_Equal(t, ss.LastSeq, 10)
	require_Equal(t, ss.Msgs, 10)

	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		fs.FastState(&ss)
		if ss.Msgs != 0 {
			return fmt.Errorf("%d messages left", ss.Msgs)
		}
		return nil
	})
	require_Equal(t, ss.FirstSeq, 11)
	require_Equal(t, ss.LastSeq, 10)
}

func TestFileStoreMessageTTLRestart(t *testing.T) {
	dir := t.TempDir()
	open := func(t *testing.T) *fileStore {
		fs, err := newFileStore(
			FileStoreConfig{StoreDir: dir},
			StreamConfig{Name: "zzz", Subjects: []string{"test"}, Storage: FileStorage, AllowMsgTTL: true})
		require_NoError(t, err)
		t.Cleanup(func() { fs.Stop() })
		return fs
	}

	t.Run("BeforeRestart", func(t *testing.T) {
		fs := open(t)
		for i := 1; i <= 10; i++ {
			_, _, err := fs.StoreMsg("test", nil, nil, 1)
			require_NoError(t, err)
		}
		var ss StreamState
		fs.FastState(&ss)
		require_Equal(t, ss.FirstSeq, 1)
		require_Equal(t, ss.LastSeq, 10)
		require_Equal(t, ss.Msgs, 10)
		require_NoError(t, fs.Stop())
	})

	// The TTLs must survive the restart and still expire the messages.
	t.Run("AfterRestart", func(t *testing.T) {
		fs := open(t)
		var ss StreamState
		fs.FastState(&ss)
		require_Equal(t, ss.FirstSeq, 1)
		require_Equal(t, ss.LastSeq, 10)
		require_Equal(t, ss.Msgs, 10)

		checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
			fs.FastState(&ss)
			if ss.Msgs != 0 {
				return fmt.Errorf("%d messages left", ss.Msgs)
			}
			return nil
		})
		require_Equal(t, ss.FirstSeq, 11)
		require_Equal(t, ss.LastSeq, 10)
	})
}

// readOnlyDirFS fails, once switched on, every operation that a directory
// with mode 0555 refuses: creating, removing and renaming entries. Upstream
// chmods the store directory, which does nothing for root; injecting the
// same EACCES the kernel would return keeps the scenario testable here.
type readOnlyDirFS struct {
	on atomic.Bool
}

func (r *readOnlyDirFS) MaybeError(op vfs.Op) error {
	if !r.on.Load() {
		return nil
	}
	switch op.Kind {
	case vfs.OpOpen:
		if op.Flag&os.O_CREATE == 0 {
			return nil
		}
	case vfs.OpRemove, vfs.OpRename, vfs.OpMkdir:
	default:
		return nil
	}
	return &os.PathError{Op: op.Kind.String(), Path: op.Path, Err: syscall.EACCES}
}

func TestFileStoreStoreRawMessageThrowsPermissionErrorIfFSModeReadOnly(t *testing.T) {
	ro := &readOnlyDirFS{}
	fsys := vfs.NewFaultFS(vfs.Default, ro)
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"ev.1"}, Storage: FileStorage}
	fs, err := newTestFileStoreFS(t, fsys, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1024}, cfg)
	require_NoError(t, err)
	defer fs.Stop()

	ro.on.Store(true)
	// The open block takes appends until it is full; the next block cannot
	// be created and that failure must reach the caller as a permission error.
	msg := bytes.Repeat([]byte("Z"), 1024)
	var stored int
	for i := 0; i < 10000; i++ {
		if _, _, err = fs.StoreMsg("ev.1", nil, msg, 0); err != nil {
			break
		}
		stored++
	}
	require_Error(t, err, os.ErrPermission)
	require_True(t, stored < 10000)
}

func TestFileStoreWriteFullStateThrowsPermissionErrorIfFSModeReadOnly(t *testing.T) {
	ro := &readOnlyDirFS{}
	fsys := vfs.NewFaultFS(vfs.Default, ro)
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"ev.1"}, Storage: FileStorage}
	fs, err := newTestFileStoreFS(t, fsys, FileStoreConfig{StoreDir: t.TempDir()}, cfg)
	require_NoError(t, err)
	defer fs.Stop()

	msg := bytes.Repeat([]byte("Z"), 1024)
	for i := 0; i < 1000; i++ {
		_, _, err := fs.StoreMsg("ev.1", nil, msg, 0)
		require_NoError(t, err)
	}

	ro.on.Store(true)
	require_Error(t, fs.writeFullState(), os.ErrPermission)
	ro.on.Store(false)
}

func TestFileStoreLeftoverSkipMsgInDmap(t *testing.T) {
	storeDir := t.TempDir()
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"test.*"}, Storage: FileStorage, MaxMsgsPer: 1}
	fs, err := newFileStore(FileStoreConfig{StoreDir: storeDir}, cfg)
	require_NoError(t, err)
	defer fs.Stop()

	lastBlockState := func(fs *fileStore) (uint64, uint64, int) {
		fs.mu.RLock()
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		lmb.mu.RLock()
		defer lmb.mu.RUnlock()
		return atomic.LoadUint64(&lmb.first.seq), atomic.LoadUint64(&lmb.last.seq), lmb.deleted.Size()
	}
	check := func(fs *fileStore) {
		t.Helper()
		state := fs.State()
		require_Equal(t, state.FirstSeq, 2)
		require_Equal(t, state.LastSeq, 1)
		require_Equal(t, state.NumDeleted, 0)
		fseq, lseq, deleted := lastBlockState(fs)
		require_Equal(t, fseq, 2)
		require_Equal(t, lseq, 1)
		require_Len(t, deleted, 0)
	}

	// A store holding nothing but one skip.
	seq, err := fs.SkipMsg(0)
	require_NoError(t, err)
	require_Equal(t, seq, 1)
	check(fs)

	// Without index.db, recovery reads the block alone; the skip record
	// must not come back as an interior delete.
	require_NoError(t, fs.stop(false, false))
	fs, err = newFileStore(FileStoreConfig{StoreDir: storeDir}, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	check(fs)
}

func TestFileStoreRecoverOnlyBlkFiles(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		reopen := func() *fileStore {
			t.Helper()
			fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
			require_NoError(t, err)
			t.Cleanup(func() { fs.Stop() })
			return fs
		}
		checkState := func(fs *fileStore, want StreamState) {
			t.Helper()
			if got := fs.State(); !reflect.DeepEqual(got, want) {
				t.Fatalf("expected state %+v, got %+v", want, got)
			}
		}
		stateFile := filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)

		fs := reopen()
		_, _, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		before := fs.State()
		require_Equal(t, before.Msgs, 1)
		require_Equal(t, before.FirstSeq, 1)
		require_Equal(t, before.LastSeq, 1)

		require_NoError(t, fs.Stop())
		fs = reopen()
		checkState(fs, before)
		_, err = os.Stat(stateFile)
		require_NoError(t, err)

		// Files that merely contain ".blk" are not blocks and must not make
		// recovery distrust (and delete) index.db.
		require_NoError(t, fs.Stop())
		require_NoError(t, os.WriteFile(filepath.Join(fcfg.StoreDir, msgDir, "10.blk.random"), nil, defaultFilePerms))
		require_NoError(t, os.WriteFile(filepath.Join(fcfg.StoreDir, msgDir, "10.blk."+blkTmpSuffix), nil, defaultFilePerms))
		fs = reopen()
		_, err = os.Stat(stateFile)
		require_NoError(t, err)
		checkState(fs, before)

		// Recovery from the blocks alone ignores them too.
		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(stateFile))
		fs = reopen()
		checkState(fs, before)
	})
}

func TestFileStoreRecoverAfterRemoveOperation(t *testing.T) {
	tests := []struct {
		title    string
		action   func(t *testing.T, fs *fileStore)
		validate func(t *testing.T, state StreamState)
	}{
		{
			title:  "None",
			action: func(t *testing.T, fs *fileStore) {},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 4)
				require_Equal(t, state.FirstSeq, 1)
				require_Equal(t, state.LastSeq, 4)
			},
		},
		{
			title: "RemoveMsg",
			action: func(t *testing.T, fs *fileStore) {
				removed, err := fs.RemoveMsg(1)
				require_NoError(t, err)
				require_True(t, removed)
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 3)
				require_Equal(t, state.FirstSeq, 2)
				require_Equal(t, state.LastSeq, 4)
			},
		},
		{
			title: "EraseMsg",
			action: func(t *testing.T, fs *fileStore) {
				erased, err := fs.EraseMsg(1)
				require_NoError(t, err)
				require_True(t, erased)
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 3)
				require_Equal(t, state.FirstSeq, 2)
				require_Equal(t, state.LastSeq, 4)
			},
		},
		{
			title: "Purge",
			action: func(t *testing.T, fs *fileStore) {
				purged, err := fs.Purge()
				require_NoError(t, err)
				require_Equal(t, purged, 4)
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 0)
				require_Equal(t, state.FirstSeq, 5)
				require_Equal(t, state.LastSeq, 4)
			},
		},
		{
			title: "PurgeEx-0",
			action: func(t *testing.T, fs *fileStore) {
				purged, err := fs.PurgeEx("foo.0", 0, 0)
				require_NoError(t, err)
				require_Equal(t, purged, 2)
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 2)
				require_Equal(t, state.FirstSeq, 2)
				require_Equal(t, state.LastSeq, 4)
				require_Equal(t, state.NumDeleted, 1)
			},
		},
		{
			title: "PurgeEx-1",
			action: func(t *testing.T, fs *fileStore) {
				purged, err := fs.PurgeEx("foo.1", 0, 0)
				require_NoError(t, err)
				require_Equal(t, purged, 2)
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 2)
				require_Equal(t, state.FirstSeq, 1)
				require_Equal(t, state.LastSeq, 4)
				require_Equal(t, state.NumDeleted, 2)
			},
		},
		{
			title: "Compact",
			action: func(t *testing.T, fs *fileStore) {
				purged, err := fs.Compact(3)
				require_NoError(t, err)
				require_Equal(t, purged, 2)
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 2)
				require_Equal(t, state.FirstSeq, 3)
				require_Equal(t, state.LastSeq, 4)
			},
		},
		{
			title: "Truncate",
			action: func(t *testing.T, fs *fileStore) {
				require_NoError(t, fs.Truncate(2))
			},
			validate: func(t *testing.T, state StreamState) {
				require_Equal(t, state.Msgs, 2)
				require_Equal(t, state.FirstSeq, 1)
				require_Equal(t, state.LastSeq, 2)
			},
		},
	}
	for _, test := range tests {
		t.Run(test.title, func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage}
				created := time.Now()
				fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
				require_NoError(t, err)
				defer fs.Stop()

				for i := 0; i < 4; i++ {
					_, _, err = fs.StoreMsg(fmt.Sprintf("foo.%d", i%2), nil, nil, 0)
					require_NoError(t, err)
				}
				test.action(t, fs)
				before := fs.State()
				test.validate(t, before)
				requireStateSurvivesRecovery(t, fs, fcfg, cfg, created, before)
			})
		})
	}
}

// requireStateSurvivesRecovery stops fs and checks that want comes back when
// recovering from index.db, when recovering from the blocks alone (index.db
// removed), and after a full rebuild. It returns the last store opened.
func requireStateSurvivesRecovery(t *testing.T, fs *fileStore, fcfg FileStoreConfig, cfg StreamConfig, created time.Time, want StreamState) *fileStore {
	t.Helper()
	check := func(how string) {
		t.Helper()
		if got := fs.State(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: expected state\n%+v, got\n%+v", how, want, got)
		}
	}
	reopen := func() {
		t.Helper()
		var err error
		fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		t.Cleanup(func() { fs.Stop() })
	}
	require_NoError(t, fs.Stop())
	reopen()
	check("recovered from index.db")

	require_NoError(t, fs.Stop())
	require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
	reopen()
	check("recovered from the blocks")

	fs.rebuildState(nil)
	check("rebuilt")
	return fs
}

func TestFileStoreRecoverAfterCompact(t *testing.T) {
	// Compact rewrites a block only when that pays off; otherwise it leaves
	// tombstones so that recovery without index.db still knows what is gone.
	for _, test := range []struct {
		payloadSize    int
		usesTombstones bool
	}{
		{payloadSize: 1024, usesTombstones: true},
		{payloadSize: 1024 * 1024, usesTombstones: false},
	} {
		t.Run(strconv.Itoa(test.payloadSize), func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
				created := time.Now()
				fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
				require_NoError(t, err)
				defer fs.Stop()

				subject := "foo"
				payload := make([]byte, test.payloadSize)
				for i := 0; i < 4; i++ {
					_, _, err = fs.StoreMsg(subject, nil, payload, 0)
					require_NoError(t, err)
				}
				recSize := uint64(emptyRecordLen + len(subject) + test.payloadSize)
				before := fs.State()
				require_Equal(t, before.Msgs, 4)
				require_Equal(t, before.FirstSeq, 1)
				require_Equal(t, before.LastSeq, 4)
				require_Equal(t, before.Bytes, recSize*4)

				fs.mu.RLock()
				lmb := fs.lastBlock
				fs.mu.RUnlock()
				blockBytes := func() (uint64, uint64) {
					lmb.mu.RLock()
					defer lmb.mu.RUnlock()
					return lmb.bytes, lmb.rawBytes
				}
				plain := fcfg.Cipher == NoCipher && fcfg.Compression == NoCompression
				if plain {
					live, raw := blockBytes()
					require_Equal(t, live, recSize*4)
					require_Equal(t, raw, recSize*4)
				}

				purged, err := fs.Compact(4)
				require_NoError(t, err)
				require_Equal(t, purged, 3)

				before = fs.State()
				require_Equal(t, before.Msgs, 1)
				require_Equal(t, before.FirstSeq, 4)
				require_Equal(t, before.LastSeq, 4)
				require_Equal(t, before.Bytes, recSize)
				if plain {
					live, raw := blockBytes()
					require_Equal(t, live, recSize)
					wantRaw := recSize
					if test.usesTombstones {
						// The four records plus three tombstones.
						wantRaw = recSize*4 + uint64(emptyRecordLen)*3
					}
					require_Equal(t, raw, wantRaw)
				}

				requireStateSurvivesRecovery(t, fs, fcfg, cfg, created, before)
			})
		})
	}
}

func TestFileStoreRecoverWithEmptyMessageBlock(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		// Exactly four payload-less "foo" records per block.
		fcfg.BlockSize = 33 * 4
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		for i := 0; i < 4; i++ {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		require_Len(t, fs.numMsgBlocks(), 1)

		// The two tombstones go to a second block that holds no messages.
		for seq := uint64(1); seq <= 2; seq++ {
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
		}
		require_Len(t, fs.numMsgBlocks(), 2)

		before := fs.State()
		require_Equal(t, before.Msgs, 2)
		require_Equal(t, before.FirstSeq, 3)
		require_Equal(t, before.LastSeq, 4)

		requireStateSurvivesRecovery(t, fs, fcfg, cfg, created, before)
	})
}

func TestFileStoreAllLastSeqs(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"*.*"}, MaxMsgsPer: 50, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	subjs := []string{"foo.foo", "foo.bar", "foo.baz", "bar.foo", "bar.bar", "bar.baz"}
	rng := rand.New(rand.NewSource(2))
	// Scaled down from upstream's 100k messages.
	for i := 0; i < 10_000; i++ {
		_, _, err := fs.StoreMsg(subjs[rng.Intn(len(subjs))], nil, []byte("abc"), 0)
		require_NoError(t, err)
	}

	want := make([]uint64, 0, len(subjs))
	var smv StoreMsg
	for _, subj := range subjs {
		sm, err := fs.LoadLastMsg(subj, &smv)
		require_NoError(t, err)
		want = append(want, sm.seq)
	}
	slices.Sort(want)

	seqs, err := fs.AllLastSeqs()
	require_NoError(t, err)
	if !reflect.DeepEqual(seqs, want) {
		t.Fatalf("expected last sequences %v, got %v", want, seqs)
	}
}

func TestFileStoreRecoverDoesNotResetStreamState(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		// Upstream uses a two second MaxAge; one keeps the test shorter.
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"ev.1"}, Storage: FileStorage, MaxAge: time.Second, Retention: WorkQueuePolicy}
		fcfg.BlockSize = 1024
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		for i := 0; i < 500; i++ {
			_, _, err := fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
			require_NoError(t, err)
		}
		require_True(t, fs.numMsgBlocks() > 1)

		// Let every message age out, as if a consumer had taken them all.
		checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
			if n := fs.State().Msgs; n != 0 {
				return fmt.Errorf("%d messages left", n)
			}
			return nil
		})

		fs.mu.RLock()
		blks := len(fs.blocks)
		var blockFile string
		if blks > 0 {
			blockFile = fs.blocks[0].fileName
		}
		fs.mu.RUnlock()

		require_NoError(t, fs.Stop())
		_, err = os.Stat(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile))
		require_NoError(t, err)

		// One empty block remains; without it only index.db knows the
		// sequences, and recovery must keep them instead of starting over.
		require_Len(t, blks, 1)
		require_NoError(t, os.Remove(blockFile))

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		fs.mu.RLock()
		first, last := fs.state.FirstSeq, fs.state.LastSeq
		fs.mu.RUnlock()
		require_Equal(t, last, 500)
		require_Equal(t, first, 501)
	})
}

func TestFileStoreAccessTimeSpinUp(t *testing.T) {
	// Let goroutines of earlier tests wind down before taking the baseline.
	time.Sleep(time.Second)
	before := runtime.NumGoroutine()

	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"*.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()
	require_True(t, ats.AccessTime() != 0)
	// An open store runs its background goroutines...
	require_True(t, runtime.NumGoroutine() > before)

	// ...and Stop must end every one of them.
	require_NoError(t, fs.Stop())
	checkFor(t, 2*time.Second, 2*ats.TickInterval, func() error {
		if after := runtime.NumGoroutine(); after != before {
			return fmt.Errorf("goroutines: %d before, %d after Stop", before, after)
		}
		return nil
	})
}

func TestFileStoreUpdateConfigTTLState(t *testing.T) {
	cfg := StreamConfig{Name: "zzz", Subjects: []string{">"}, Storage: FileStorage}
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()}, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	require_True(t, fs.ttls == nil)

	// The TTL wheel exists exactly while the stream allows message TTLs.
	cfg.AllowMsgTTL = true
	require_NoError(t, fs.UpdateConfig(&cfg))
	require_True(t, fs.ttls != nil)

	cfg.AllowMsgTTL = false
	require_NoError(t, fs.UpdateConfig(&cfg))
	require_True(t, fs.ttls == nil)
}

func TestFileStoreSubjectForSeq(t *testing.T) {
	cfg := StreamConfig{Name: "foo", Subjects: []string{"foo.>"}, Storage: FileStorage}
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()}, cfg)
	require_NoError(t, err)
	defer fs.Stop()

	seq, _, err := fs.StoreMsg("foo.bar", nil, nil, 0)
	require_NoError(t, err)
	require_Equal(t, seq, 1)

	_, err = fs.SubjectForSeq(0)
	require_Error(t, err, ErrStoreMsgNotFound)
	subj, err := fs.SubjectForSeq(1)
	require_NoError(t, err)
	require_Equal(t, subj, "foo.bar")
	_, err = fs.SubjectForSeq(2)
	require_Error(t, err, ErrStoreMsgNotFound)
}

// natsHeader builds a NATS header block holding the given key/value pairs.
func natsHeader(kv ...string) []byte {
	var b bytes.Buffer
	b.WriteString("NATS/1.0\r\n")
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[i], kv[i+1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// storeInThreeBlocks stores one "foo" message in each of three blocks.
func storeInThreeBlocks(t *testing.T, fs *fileStore, hdr []byte, ttl int64) {
	t.Helper()
	for i := range 3 {
		if i > 0 {
			fs.mu.Lock()
			_, err := fs.newMsgBlockForWrite()
			fs.mu.Unlock()
			require_NoError(t, err)
		}
		_, _, err := fs.StoreMsg("foo", hdr, []byte("A"), ttl)
		require_NoError(t, err)
	}
	require_Len(t, fs.numMsgBlocks(), 3)
}

func TestFileStoreNoPanicOnRecoverTTLWithCorruptBlocks(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs, err := newFileStoreWithCreated(fcfg, StreamConfig{Name: "zzz", Storage: FileStorage, AllowMsgTTL: true}, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		storeInThreeBlocks(t, fs, natsHeader(JSMessageTTL, "1"), 1)

		// Corrupt the layout: drop the middle block and give the last one
		// the first one's sequence range, so blocks overlap and a gap opens.
		fs.mu.Lock()
		fmb, smb, lmb := fs.blocks[0], fs.blocks[1], fs.lastBlock
		fseq, lseq := atomic.LoadUint64(&fmb.first.seq), atomic.LoadUint64(&fmb.last.seq)
		smb.mu.Lock()
		require_NoError(t, fs.removeMsgBlock(smb))
		smb.mu.Unlock()
		fs.mu.Unlock()
		atomic.StoreUint64(&lmb.first.seq, fseq)
		atomic.StoreUint64(&lmb.last.seq, lseq)

		// Rebuilding the TTL wheel over that must not panic. recoverTTLState
		// runs under the store lock, as it does when the store opens: the
		// corrupt block it finds triggers a background rebuild that takes
		// the same lock (without it -race reports the two racing).
		fs.mu.Lock()
		err = fs.recoverTTLState()
		fs.mu.Unlock()
		require_NoError(t, err)
		require_Len(t, fs.numMsgBlocks(), 2)
	})
}

func TestFileStoreTruncateRemovedBlock(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		storeInThreeBlocks(t, fs, nil, 0)

		state := fs.State()
		require_Equal(t, state.Msgs, 3)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 3)
		require_Equal(t, state.NumDeleted, 0)

		// Emptying the middle block removes it.
		removed, err := fs.RemoveMsg(2)
		require_NoError(t, err)
		require_True(t, removed)
		require_Len(t, fs.numMsgBlocks(), 2)
		state = fs.State()
		require_Equal(t, state.Msgs, 2)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 3)
		require_Equal(t, state.NumDeleted, 1)

		// Truncating to the sequence of the removed block must still work
		// and keep it counted as deleted.
		require_NoError(t, fs.Truncate(2))
		state = fs.State()
		require_Equal(t, state.Msgs, 1)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 2)
		require_Equal(t, state.NumDeleted, 1)
	})
}

func TestFileStoreRemoveBlockWithStaleStreamState(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()
		storeInThreeBlocks(t, fs, nil, 0)

		fs.mu.RLock()
		middle := fs.blocks[1].fileName
		fs.mu.RUnlock()

		// index.db still lists the middle block that is now gone from disk.
		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(middle))
		fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		for seq := uint64(1); seq <= 3; seq++ {
			_, err = fs.LoadMsg(seq, nil)
			if seq == 2 {
				require_Error(t, err, ErrStoreMsgNotFound)
			} else {
				require_NoError(t, err)
			}
		}
	})
}

func TestFileStoreEraseMsgDoesNotLoseTombstones(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		store := func(msg []byte) {
			t.Helper()
			_, _, err := fs.StoreMsg("foo", nil, msg, 0)
			require_NoError(t, err)
		}
		store(nil)               // 1 stays
		store(nil)               // 2 is removed, leaving a tombstone
		store([]byte("secret!")) // 3 is erased
		_, err = fs.RemoveMsg(2)
		require_NoError(t, err)
		store(nil) // 4 lands after the tombstone

		// Erasing rewrites record 3 in place; the tombstone after it must stay.
		_, err = fs.EraseMsg(3)
		require_NoError(t, err)

		before := fs.State()
		require_Equal(t, before.Msgs, 2)
		require_Equal(t, before.FirstSeq, 1)
		require_Equal(t, before.LastSeq, 4)
		require_True(t, slices.Equal(before.Deleted, []uint64{2, 3}))
		checkDeleted := func() {
			t.Helper()
			for _, seq := range []uint64{2, 3} {
				_, err := fs.LoadMsg(seq, nil)
				require_Error(t, err, errDeletedMsg)
			}
		}
		checkDeleted()

		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
		fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()
		if state := fs.State(); !reflect.DeepEqual(state, before) {
			t.Fatalf("expected state without index.db\n%+v, got\n%+v", before, state)
		}
		checkDeleted()
	})
}

// requireStateWithoutIndex stops fs, removes index.db and checks that the
// blocks alone recover want. It returns the reopened store.
func requireStateWithoutIndex(t *testing.T, fs *fileStore, fcfg FileStoreConfig, cfg StreamConfig, created time.Time, want StreamState) *fileStore {
	t.Helper()
	require_NoError(t, fs.Stop())
	require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
	fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
	require_NoError(t, err)
	t.Cleanup(func() { fs.Stop() })
	if got := fs.State(); !reflect.DeepEqual(got, want) {
		t.Fatalf("expected state without index.db\n%+v, got\n%+v", want, got)
	}
	return fs
}

func TestFileStoreTombstonesNoFirstSeqRollback(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 10 * 33 // ten payload-less "foo" records per block
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		for i := 0; i < 20; i++ {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, 20)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 20)
		require_Equal(t, fs.numMsgBlocks(), 2)

		// The tombstones spread over blocks; in the end one block holds only
		// tombstones.
		for seq := uint64(1); seq <= 20; seq++ {
			_, err = fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		state = fs.State()
		require_Equal(t, state.Msgs, 0)
		require_Equal(t, state.FirstSeq, 21)
		require_Equal(t, state.LastSeq, 20)
		require_Equal(t, fs.numMsgBlocks(), 1)

		// Recovery from that block must not roll the first sequence back.
		requireStateWithoutIndex(t, fs, fcfg, cfg, created, state)
	})
}

// storeWithTombstoneRun stores 50 messages, removes 2..49, rolls to a new
// block, stores 50 more and removes 50..100, so that only seq 1 remains and
// many blocks hold nothing but tombstones.
func storeWithTombstoneRun(t *testing.T, fs *fileStore) {
	t.Helper()
	for i := 0; i < 50; i++ {
		_, _, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
	}
	for seq := uint64(2); seq <= 49; seq++ {
		_, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
	}
	fs.mu.Lock()
	_, err := fs.newMsgBlockForWrite()
	fs.mu.Unlock()
	require_NoError(t, err)
	for i := 0; i < 50; i++ {
		_, _, err = fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
	}
	for seq := uint64(50); seq <= 100; seq++ {
		_, err = fs.RemoveMsg(seq)
		require_NoError(t, err)
	}
	state := fs.State()
	require_Equal(t, state.Msgs, 1)
	require_Equal(t, state.FirstSeq, 1)
	require_Equal(t, state.LastSeq, 100)
}

func TestFileStoreTombstonesSelectNextFirstCleanup(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 10 * 33
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()
		storeWithTombstoneRun(t, fs)

		// Removing the last message makes every tombstone-only block
		// removable; the first sequence must move past all of them.
		_, err = fs.RemoveMsg(1)
		require_NoError(t, err)
		state := fs.State()
		require_Equal(t, state.Msgs, 0)
		require_Equal(t, state.FirstSeq, 101)
		require_Equal(t, state.LastSeq, 100)

		requireStateWithoutIndex(t, fs, fcfg, cfg, created, state)
	})
}

func TestFileStoreTombstonesSelectNextFirstCleanupOnRecovery(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 10 * 33
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()
		storeWithTombstoneRun(t, fs)
		lastTime := fs.State().LastTime

		// Only the tombstone reaches disk, as if the process died right
		// after writing it; recovery has to do the cleanup.
		require_NoError(t, fs.writeTombstone(1, 0))
		want := StreamState{FirstSeq: 101, LastSeq: 100, LastTime: lastTime}
		requireStateWithoutIndex(t, fs, fcfg, cfg, created, want)
	})
}

// headBlock returns the store's first block.
func headBlock(fs *fileStore) *msgBlock {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	if len(fs.blocks) == 0 {
		return nil
	}
	return fs.blocks[0]
}

func TestFileStoreDetectDeleteGapWithLastSkipMsg(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		_, _, err = fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		// Skipping 2..4 with a live message before them: three deletes.
		require_NoError(t, fs.SkipMsgs(2, 3))
		state := fs.State()
		require_Equal(t, state.Msgs, 1)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 4)
		require_Equal(t, state.NumDeleted, 3)

		// The block only records the last skip; recovery must infer the gap.
		fs = requireStateWithoutIndex(t, fs, fcfg, cfg, created, state)
		mb := headBlock(fs)
		mb.mu.RLock()
		defer mb.mu.RUnlock()
		require_Equal(t, atomic.LoadUint64(&mb.first.seq), 1)
		require_Equal(t, atomic.LoadUint64(&mb.last.seq), 4)
		require_Len(t, mb.deleted.Size(), 3)
	})
}

func TestFileStoreDetectDeleteGapWithOnlySkipMsg(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		_, err = fs.SkipMsg(1)
		require_NoError(t, err)
		require_NoError(t, fs.SkipMsgs(2, 3))
		// With no messages at all, skips only move the sequences forward.
		state := fs.State()
		require_Equal(t, state.Msgs, 0)
		require_Equal(t, state.FirstSeq, 5)
		require_Equal(t, state.LastSeq, 4)
		require_Equal(t, state.NumDeleted, 0)

		fs = requireStateWithoutIndex(t, fs, fcfg, cfg, created, state)
		mb := headBlock(fs)
		mb.mu.RLock()
		defer mb.mu.RUnlock()
		require_Equal(t, atomic.LoadUint64(&mb.first.seq), 5)
		require_Equal(t, atomic.LoadUint64(&mb.last.seq), 4)
		require_Len(t, mb.deleted.Size(), 0)
	})
}

func TestFileStoreEraseMsgErr(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		for i := 0; i < 2; i++ {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		mb := headBlock(fs)
		mb.mu.Lock()
		if mb.cache == nil {
			mb.mu.Unlock()
			t.Fatal("expected the block cache to be loaded")
		}
		// Point the block at a path in a missing directory so that the
		// rewrite erasing the record fails.
		mb.fileName = filepath.Join(fcfg.StoreDir, "missing", "1.blk")
		mb.mu.Unlock()

		// The failure must come back as an error, not a panic.
		_, err = fs.EraseMsg(2)
		require_Error(t, err)
	})
}

func TestFileStorePurgeMsgBlock(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 10 * 33
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		for range 20 {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.numMsgBlocks(), 2)
		state := fs.State()
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 20)
		require_Equal(t, state.Msgs, 20)
		require_Equal(t, state.Bytes, 20*33)

		// Dropping a whole block removes it and takes its messages and
		// bytes off the store's totals.
		fmb := headBlock(fs)
		fs.mu.Lock()
		err = fs.purgeMsgBlock(fmb)
		blks := len(fs.blocks)
		fs.mu.Unlock()
		require_NoError(t, err)
		require_Equal(t, blks, 1)

		state = fs.State()
		require_Equal(t, state.FirstSeq, 11)
		require_Equal(t, state.LastSeq, 20)
		require_Equal(t, state.Msgs, 10)
		require_Equal(t, state.Bytes, 10*33)
	})
}

func TestFileStorePurgeMsgBlockUpdatesSubjects(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 10 * 33
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		for range 20 {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.SubjectsTotals("foo")["foo"], 20)

		fmb := headBlock(fs)
		fs.mu.Lock()
		err = fs.purgeMsgBlock(fmb)
		fs.mu.Unlock()
		require_NoError(t, err)

		state := fs.State()
		require_Equal(t, state.Msgs, 10)
		require_Equal(t, state.FirstSeq, 11)
		// The per-subject index loses the purged block's messages too.
		require_Equal(t, fs.SubjectsTotals("foo")["foo"], 10)
	})
}

// rollBlock starts a new last block.
func rollBlock(t *testing.T, fs *fileStore) {
	t.Helper()
	fs.mu.Lock()
	_, err := fs.newMsgBlockForWrite()
	fs.mu.Unlock()
	require_NoError(t, err)
}

func TestFileStoreEmptyBlockContainsPriorTombstones(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		store := func() {
			t.Helper()
			_, _, err := fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		store() // 1.blk: seq 1
		store() // 1.blk: seq 2
		rollBlock(t, fs)
		store() // 2.blk: seq 3
		_, err = fs.RemoveMsg(2)
		require_NoError(t, err)
		// Emptying 2.blk removes it and rolls a new last block that holds
		// the tombstone for 3.
		_, err = fs.RemoveMsg(3)
		require_NoError(t, err)

		check := func() {
			t.Helper()
			require_Equal(t, fs.numMsgBlocks(), 3)
			_, err := fs.LoadMsg(2, nil)
			require_Error(t, err, errDeletedMsg)
			_, err = fs.LoadMsg(3, nil)
			require_Error(t, err, ErrStoreMsgNotFound)
		}
		before := fs.State()
		require_Equal(t, before.Msgs, 1)
		require_Equal(t, before.FirstSeq, 1)
		require_Equal(t, before.LastSeq, 3)
		require_True(t, slices.Equal(before.Deleted, []uint64{2, 3}))
		check()

		fs = requireStateWithoutIndex(t, fs, fcfg, cfg, created, before)
		check()

		store() // seq 4 goes to the last block
		require_Equal(t, fs.numMsgBlocks(), 3)

		// Once seq 1 goes the first moves up, and blocks holding no
		// messages and only stale tombstones are dropped.
		_, err = fs.RemoveMsg(1)
		require_NoError(t, err)
		require_Equal(t, fs.numMsgBlocks(), 1)
	})
}

func TestFileStorePreserveLastSeqAfterCompact(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		_, _, err = fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		_, err = fs.Compact(2)
		require_NoError(t, err)

		before := fs.State()
		require_Equal(t, before.Msgs, 0)
		require_Equal(t, before.FirstSeq, 2)
		require_Equal(t, before.LastSeq, 1)
		// The compacted-away last sequence must be remembered on disk.
		requireStateWithoutIndex(t, fs, fcfg, cfg, created, before)
	})
}

func TestFileStoreDoesntRebuildSubjectStateWithNoTrack(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		// No subjects configured: the store keeps no per-subject index.
		fs, err := newFileStoreWithCreated(fcfg, StreamConfig{Name: "zzz", Storage: FileStorage}, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		_, _, err = fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		// Truncate resets the per-subject info; it must not fill it back in.
		require_NoError(t, fs.Truncate(1))

		fs.mu.Lock()
		defer fs.mu.Unlock()
		require_Equal(t, fs.perSubject.Size(), 0)
	})
}

// testLoadNextSkipAhead stores a, a | a, a | ... (five blocks of two, or
// c, a pairs when mixed) and a final "b" in block 6, clears every block's
// last subject-state access, runs load and checks which blocks it touched:
// only block 6, plus block 2 when the search starts inside it (seq 3).
func testLoadNextSkipAhead(t *testing.T, load func(fs *fileStore, start uint64) (*StoreMsg, uint64, error)) {
	test := func(t *testing.T, headStart, singleSubjPerBlock bool) {
		testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
			cfg := StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}}
			fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
			require_NoError(t, err)
			defer fs.Stop()

			for i := range 10 {
				subj := "a"
				if !singleSubjPerBlock && i%2 == 0 {
					subj = "c"
				}
				_, _, err = fs.StoreMsg(subj, nil, nil, 0)
				require_NoError(t, err)
				if (i+1)%2 == 0 {
					rollBlock(t, fs)
				}
			}
			_, _, err = fs.StoreMsg("b", nil, nil, 0)
			require_NoError(t, err)

			fs.mu.Lock()
			fs.lockAllMsgBlocks()
			for _, mb := range fs.blocks {
				mb.lastSubjects = 0
			}
			fs.unlockAllMsgBlocks()
			fs.mu.Unlock()

			var start uint64
			if !headStart {
				start = 3
			}
			sm, nseq, err := load(fs, start)
			require_NoError(t, err)
			require_Equal(t, sm.seq, 11)
			require_Equal(t, nseq, 11)

			fs.mu.Lock()
			defer fs.mu.Unlock()
			fs.lockAllMsgBlocks()
			defer fs.unlockAllMsgBlocks()
			for _, mb := range fs.blocks {
				touched := mb.lastSubjects != 0
				want := mb.index == 6 || (mb.index == 2 && !headStart)
				if touched != want {
					t.Fatalf("block %d: subject state touched=%v, want %v", mb.index, touched, want)
				}
			}
		})
	}
	for _, single := range []bool{true, false} {
		title := "Single"
		if !single {
			title = "Multi"
		}
		t.Run(title+"/Head", func(t *testing.T) { test(t, true, single) })
		t.Run(title+"/Interior", func(t *testing.T) { test(t, false, single) })
	}
}

func TestFileStoreLoadNextMsgSkipAhead(t *testing.T) {
	testLoadNextSkipAhead(t, func(fs *fileStore, start uint64) (*StoreMsg, uint64, error) {
		return fs.LoadNextMsg("b", false, start, nil)
	})
}

func TestFileStoreLoadNextMsgMultiSkipAhead(t *testing.T) {
	testLoadNextSkipAhead(t, func(fs *fileStore, start uint64) (*StoreMsg, uint64, error) {
		filters := gsl.NewSimpleSublist()
		if err := filters.Insert("b", struct{}{}); err != nil {
			return nil, 0, err
		}
		if err := filters.Insert("d", struct{}{}); err != nil {
			return nil, 0, err
		}
		return fs.LoadNextMsgMulti(filters, start, nil)
	})
}
