package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/porttracker/porttracker/store/ats"
	"github.com/porttracker/porttracker/store/avl"
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

		// Rebuilding the TTL wheel over that must not panic.
		require_NoError(t, fs.recoverTTLState())
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

// seqSetOf returns a sequence set holding seqs.
func seqSetOf(seqs ...uint64) *avl.SequenceSet {
	var ss avl.SequenceSet
	for _, seq := range seqs {
		ss.Insert(seq)
	}
	return &ss
}

func TestPruneDeleteBlock(t *testing.T) {
	incoming := DeleteBlocks{
		&DeleteRange{First: 5, Num: 1},
		seqSetOf(8),
		&DeleteRange{First: 9, Num: 2},
		&DeleteRange{First: 47, Num: 92},
		&DeleteRange{First: 139, Num: 22},
		&DeleteRange{First: 200, Num: 21},
	}
	local := DeleteBlocks{
		seqSetOf(8),
		&DeleteRange{First: 9, Num: 2},
		&DeleteRange{First: 139, Num: 22},
		&DeleteRange{First: 170, Num: 6},
		&DeleteRange{First: 200, Num: 11},
	}

	// Each step feeds the next one's local blocks, so they run in order.
	steps := []struct {
		name      string
		db        DeleteBlock
		reset     DeleteBlocks // replaces local before the step when set
		wantPrune bool
		wantLeft  int
	}{
		{name: "earlier block is kept", db: incoming[0], wantLeft: 5},
		{name: "equal sequence set is pruned", db: incoming[1], wantPrune: true, wantLeft: 4},
		{name: "equal range is pruned", db: incoming[2], wantPrune: true, wantLeft: 3},
		{name: "overlap alone is kept", db: incoming[3], wantLeft: 3},
		{name: "later equal range after misalignment is pruned", db: incoming[4], wantPrune: true, wantLeft: 2},
		{name: "local blocks ending before are skipped", db: incoming[5], wantLeft: 1},
		{name: "all local blocks behind are used up", db: &DeleteRange{First: 300, Num: 1}, wantLeft: 0},
		{name: "no local blocks", db: &DeleteRange{First: 301, Num: 1}, wantLeft: 0},
		{name: "sparse sets with equal state but other contents are kept",
			reset: DeleteBlocks{seqSetOf(1, 4, 5)}, db: seqSetOf(1, 3, 5), wantLeft: 1},
		{name: "sparse sets with equal contents are pruned", db: seqSetOf(1, 4, 5), wantPrune: true, wantLeft: 0},
		{name: "range equal to a dense set is pruned",
			reset: DeleteBlocks{seqSetOf(7, 8, 9)}, db: &DeleteRange{First: 7, Num: 3}, wantPrune: true, wantLeft: 0},
		{name: "dense set equal to a range is pruned",
			reset: DeleteBlocks{&DeleteRange{First: 7, Num: 3}}, db: seqSetOf(7, 8, 9), wantPrune: true, wantLeft: 0},
	}
	for _, step := range steps {
		if step.reset != nil {
			local = step.reset
		}
		var prune bool
		prune, local = pruneDeleteBlock(step.db, local)
		if prune != step.wantPrune || len(local) != step.wantLeft {
			t.Fatalf("%s: got prune=%v left=%d, want prune=%v left=%d",
				step.name, prune, len(local), step.wantPrune, step.wantLeft)
		}
	}
}

func TestFileStoreTrailingSkipMsgsFromStreamStateFile(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		for range 10 {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		fs.mu.RLock()
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		lmb.mu.RLock()
		blockFile := lmb.fileName
		lmb.mu.RUnlock()
		require_True(t, blockFile != _EMPTY_)

		// index.db written on Stop remembers last seq 10; then the block
		// loses its last five records.
		require_NoError(t, fs.Stop())
		require_NoError(t, os.Truncate(blockFile, 33*5))

		fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		// The messages come from the blocks, the last sequence from index.db.
		state := fs.State()
		require_Equal(t, state.Msgs, 5)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 10)
		for seq := uint64(1); seq <= 10; seq++ {
			_, err = fs.LoadMsg(seq, nil)
			if seq <= 5 {
				require_NoError(t, err)
			} else {
				require_Error(t, err, ErrStoreMsgNotFound)
			}
		}

		// A new, empty last block carries the remembered last sequence.
		fs.mu.RLock()
		lmb = fs.lastBlock
		blks := len(fs.blocks)
		fs.mu.RUnlock()
		lmb.mu.RLock()
		deleted := lmb.deleted.Size()
		lmb.mu.RUnlock()
		require_Len(t, blks, 2)
		require_Len(t, deleted, 0)
		require_Equal(t, atomic.LoadUint64(&lmb.first.seq), 11)
		require_Equal(t, atomic.LoadUint64(&lmb.last.seq), 10)
	})
}

func TestFileStoreSelectMsgBlockBinarySearch(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		created := time.Now()
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}}
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()

		// 33 blocks of two messages; after the 16th, two blocks that only
		// hold the tombstones of seqs 2 and 5.
		for i := range 33 {
			if i > 0 {
				rollBlock(t, fs)
			}
			for range 2 {
				_, _, err = fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
			}
			if i == 15 {
				for _, seq := range []uint64{2, 5} {
					rollBlock(t, fs)
					_, err = fs.RemoveMsg(seq)
					require_NoError(t, err)
				}
			}
		}

		check := func() {
			t.Helper()
			for _, tc := range []struct {
				seq       uint64
				wantPos   int
				wantIndex uint32
			}{
				{seq: 2, wantPos: 0, wantIndex: 1},    // deleted, in the first block
				{seq: 5, wantPos: 2, wantIndex: 3},    // the other deleted one
				{seq: 1, wantPos: 0, wantIndex: 1},    // the first message
				{seq: 10, wantPos: 4, wantIndex: 5},   // before the tombstone blocks
				{seq: 64, wantPos: 33, wantIndex: 34}, // after them
			} {
				i, mb := fs.selectMsgBlockWithIndex(tc.seq)
				if i != tc.wantPos || mb == nil || mb.index != tc.wantIndex {
					t.Fatalf("seq %d: got position %d block %v, want position %d block %d", tc.seq, i, mb, tc.wantPos, tc.wantIndex)
				}
			}
		}
		check()

		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
		fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer fs.Stop()
		check()
	})
}

// dropSubjectState unloads every block's per-subject state.
func dropSubjectState(fs *fileStore) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	for _, mb := range fs.blocks {
		mb.mu.Lock()
		mb.subjects = nil
		mb.mu.Unlock()
	}
}

func TestFileStoreDontLoadSubjectStateIfNotPurged(t *testing.T) {
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}})
	require_NoError(t, err)
	defer fs.Stop()

	_, _, err = fs.StoreMsg("foo", nil, nil, 0)
	require_NoError(t, err)
	dropSubjectState(fs)

	// Purging a subject the store has never seen needs no block's subjects.
	purged, err := fs.PurgeEx("bar", 0, 0)
	require_NoError(t, err)
	require_Equal(t, purged, 0)

	fmb := headBlock(fs)
	fmb.mu.RLock()
	defer fmb.mu.RUnlock()
	require_True(t, fmb.subjects == nil)
}

func TestFileStoreOnlyLoadSubjectStateOnBlocksWithinInterestRange(t *testing.T) {
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}})
	require_NoError(t, err)
	defer fs.Stop()

	_, _, err = fs.StoreMsg("foo", nil, nil, 0)
	require_NoError(t, err)
	rollBlock(t, fs)
	_, _, err = fs.StoreMsg("bar", nil, nil, 0)
	require_NoError(t, err)
	dropSubjectState(fs)

	// "bar" lives only in the second block; the first needs no loading.
	purged, err := fs.PurgeEx("bar", 0, 0)
	require_NoError(t, err)
	require_Equal(t, purged, 1)

	fs.mu.RLock()
	defer fs.mu.RUnlock()
	for i, mb := range fs.blocks {
		mb.mu.Lock()
		loaded := mb.subjects != nil
		mb.mu.Unlock()
		if loaded != (i == 1) {
			t.Fatalf("block at %d: subject state loaded=%v", i, loaded)
		}
	}
}

func TestFileStoreRemovePerSubjectWithMultipleBlocks(t *testing.T) {
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}})
	require_NoError(t, err)
	defer fs.Stop()

	_, _, err = fs.StoreMsg("foo", nil, nil, 0)
	require_NoError(t, err)
	rollBlock(t, fs)
	_, _, err = fs.StoreMsg("foo", nil, nil, 0)
	require_NoError(t, err)

	firstSeq := func() uint64 {
		t.Helper()
		fs.mu.Lock()
		defer fs.mu.Unlock()
		seq, err := fs.firstSeqForSubj("foo")
		require_NoError(t, err)
		return seq
	}
	require_Equal(t, firstSeq(), 1)

	// Removing the subject's last message must not lose its first one.
	removed, err := fs.RemoveMsg(2)
	require_NoError(t, err)
	require_True(t, removed)
	require_Equal(t, firstSeq(), 1)
}

func TestFileStoreSetWriteErrIgnoresReadErrors(t *testing.T) {
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}})
	require_NoError(t, err)
	defer fs.Stop()

	// Errors about data read back from disk lead to a rebuild; they must
	// not disable writes the way a failed write does.
	readErrs := []struct {
		name string
		err  error
	}{
		{"no cache", errNoCache},
		{"deleted message", errDeletedMsg},
		{"partial cache", errPartialCache},
		{"corrupt state", errCorruptState},
		{"prior state", errPriorState},
		{"bad message", errBadMsg{fn: "block.blk", detail: "invalid checksum"}},
		{"short block read", io.ErrUnexpectedEOF},
		{"block too big", errMsgBlkTooBig},
		{"wrapped short read", fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF)},
		{"wrapped corrupt state", fmt.Errorf("wrapped: %w", errCorruptState)},
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, tc := range readErrs {
		fs.setWriteErr(tc.err)
		if fs.writeErr != nil {
			t.Fatalf("%s: read error %v was kept as the write error", tc.name, tc.err)
		}
	}
	// A genuine write failure still sticks.
	fs.setWriteErr(io.ErrShortWrite)
	require_Error(t, fs.writeErr, io.ErrShortWrite)
}

func TestFileStoreRemoveMsgViaLimitsCallbackAliasedSubj(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "TEST", Storage: FileStorage, MaxMsgs: 1, Discard: DiscardOld})
	require_NoError(t, err)
	defer fs.Stop()

	// Remember where the subject handed to the removal callback lives.
	var cbSubjAddr uintptr
	var cbSubj string
	fs.RegisterStorageUpdates(func(md, _ int64, _ uint64, subj string) {
		if md == -1 {
			cbSubjAddr = uintptr(unsafe.Pointer(unsafe.StringData(subj)))
			cbSubj = subj
		}
	})

	_, _, err = fs.StoreMsg("foo.bar", nil, []byte("payload-1"), 0)
	require_NoError(t, err)
	// Over MaxMsgs: the first message goes and the callback fires.
	_, _, err = fs.StoreMsg("foo.bar", nil, []byte("payload-2"), 0)
	require_NoError(t, err)
	require_True(t, cbSubjAddr != 0)
	require_Equal(t, cbSubj, "foo.bar")

	// The callback may keep the subject; it must not point into the block
	// cache, which is reused and rewritten.
	mb := headBlock(fs)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	require_True(t, mb.cache != nil)
	bufStart := uintptr(unsafe.Pointer(unsafe.SliceData(mb.cache.buf)))
	bufEnd := bufStart + uintptr(cap(mb.cache.buf))
	if cbSubjAddr >= bufStart && cbSubjAddr < bufEnd {
		t.Fatalf("callback subject at %#x aliases the block cache [%#x,%#x)", cbSubjAddr, bufStart, bufEnd)
	}
}

func TestFileStoreMultiLastSeqsDoesNotReorderConfigSubjects(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"orders.*", "billing.*"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	_, _, err = fs.StoreMsg("orders.1", nil, []byte("x"), 0)
	require_NoError(t, err)
	_, _, err = fs.StoreMsg("billing.1", nil, []byte("x"), 0)
	require_NoError(t, err)

	// As many filters as configured subjects takes the filterIsAll path,
	// which compares sorted lists; it must not sort the config in place.
	seqs, err := fs.MultiLastSeqs([]string{"orders.*", "billing.*"}, 0, 0)
	require_NoError(t, err)
	require_True(t, slices.Equal(seqs, []uint64{1, 2}))
	require_Equal(t, fs.cfg.Subjects[0], "orders.*")
	require_Equal(t, fs.cfg.Subjects[1], "billing.*")
}

// requireNoWriteErrFor watches fs for a latched write error for d, then
// stops the workers and checks the store still accepts writes.
func requireNoWriteErrFor(t *testing.T, fs *fileStore, d time.Duration, stop *atomic.Bool, wg *sync.WaitGroup) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		fs.mu.RLock()
		werr := fs.writeErr
		fs.mu.RUnlock()
		if werr != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("store disabled by a racing removal: %v", werr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	_, _, err := fs.StoreMsg("foo.healthy", nil, make([]byte, 128), 0)
	require_NoError(t, err)
}

func TestFileStoreStoreRawMsgVsConcurrentBlockRemovalNoWriteErr(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 256},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.>"}, Storage: FileStorage, MaxMsgsPer: 1})
	require_NoError(t, err)
	defer fs.Stop()

	const writers, readers = 4, 4
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lastSeq atomic.Uint64
	msg := make([]byte, 128)

	// Each writer's store evicts its own previous message (one per block)
	// while a remover races it for that same sequence and block.
	for w := 0; w < writers; w++ {
		seqs := make(chan uint64, 64)
		subj := fmt.Sprintf("foo.%d", w)
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(seqs)
			for !stop.Load() {
				seq, _, err := fs.StoreMsg(subj, nil, msg, 0)
				if err != nil {
					return
				}
				lastSeq.Store(seq)
				select {
				case seqs <- seq:
				default:
				}
			}
		}()
		go func() {
			defer wg.Done()
			for seq := range seqs {
				fs.RemoveMsg(seq)
			}
		}()
	}
	// Readers contend the block locks so removals can overtake stores.
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var smv StoreMsg
			for !stop.Load() {
				if seq := lastSeq.Load(); seq > 2 {
					fs.LoadMsg(seq-2, &smv)
				}
			}
		}()
	}
	requireNoWriteErrFor(t, fs, time.Second, &stop, &wg)
}

func TestFileStoreStoreRawMsgVsAgeExpiryNoWriteErr(t *testing.T) {
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 256},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.>"}, Storage: FileStorage, MaxMsgsPer: 1, MaxAge: time.Millisecond})
	require_NoError(t, err)
	defer fs.Stop()

	const writers, readers = 16, 4
	var stop atomic.Bool
	var wg sync.WaitGroup
	msg := make([]byte, 128)
	prevSeqs := make([]atomic.Uint64, writers)

	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			subj := fmt.Sprintf("foo.%d", w)
			for !stop.Load() {
				seq, _, err := fs.StoreMsg(subj, nil, msg, 0)
				if err != nil {
					return
				}
				prevSeqs[w].Store(seq)
				// Paced so the previous message is old enough to expire
				// while this store is evicting it.
				time.Sleep(time.Millisecond + time.Duration(w%4)*50*time.Microsecond)
			}
		}(w)
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			var smv StoreMsg
			for i := 0; !stop.Load(); i++ {
				if seq := prevSeqs[(r+i)%writers].Load(); seq > 0 {
					fs.LoadMsg(seq, &smv)
				}
			}
		}(r)
	}
	// Sweep continuously instead of waiting for the age timer, so the
	// expiry races the stores often enough.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			fs.expireMsgs()
		}
	}()
	requireNoWriteErrFor(t, fs, time.Second, &stop, &wg)
}

func TestFileStoreCompactStoreMsgRace(t *testing.T) {
	fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	_, _, err = fs.StoreMsg("foo", nil, []byte("first"), 0)
	require_NoError(t, err)

	// Compact(2) and the store of seq 2 run at once; either order must
	// leave exactly seq 2.
	var purged, storedSeq uint64
	var compactErr, storeErr error
	var wg sync.WaitGroup
	wg.Go(func() { purged, compactErr = fs.Compact(2) })
	wg.Go(func() { storedSeq, _, storeErr = fs.StoreMsg("foo", nil, []byte("second"), 0) })
	wg.Wait()

	require_NoError(t, compactErr)
	require_Equal(t, purged, 1)
	require_NoError(t, storeErr)
	require_Equal(t, storedSeq, 2)

	var sm StoreMsg
	_, err = fs.LoadMsg(2, &sm)
	require_NoError(t, err)
	require_Equal(t, sm.seq, 2)
	require_Equal(t, string(sm.msg), "second")

	state := fs.State()
	require_Equal(t, state.Msgs, 1)
	require_Equal(t, state.FirstSeq, 2)
	require_Equal(t, state.LastSeq, 2)
}

func TestFileStoreDeleteMapView(t *testing.T) {
	msg := []byte("hello")
	// Ten messages per block.
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 10 * fileStoreMsgSize("foo", nil, msg)},
		StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	const numMsgs = 100
	for range numMsgs {
		_, _, err = fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}

	// Interior deletes in every block: each block keeps its first and last
	// message, since removing an edge would move the block's bounds and
	// make the delete a gap, which the view leaves out.
	expected := make(map[uint64]bool)
	for seq := uint64(1); seq <= numMsgs; seq++ {
		if seq%10 == 1 || seq%10 == 0 {
			continue
		}
		_, err = fs.RemoveMsg(seq)
		require_NoError(t, err)
		expected[seq] = true
	}

	snapshotBlocks := func() []*msgBlock {
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		return append([]*msgBlock(nil), fs.blocks...)
	}
	checkView := func(v *interiorDeletes) {
		t.Helper()
		var total int
		for _, ss := range v.sets {
			total += ss.Size()
		}
		require_Equal(t, total, len(expected))
		probe := func(seq uint64) {
			t.Helper()
			if got := v.Exists(seq); got != expected[seq] {
				t.Fatalf("Exists(%d) = %v, want %v", seq, got, expected[seq])
			}
		}
		// Ascending probes use the cursor, descending ones the binary
		// search, random ones a mix.
		for seq := uint64(0); seq <= numMsgs+1; seq++ {
			probe(seq)
		}
		for seq := uint64(numMsgs + 1); ; seq-- {
			probe(seq)
			if seq == 0 {
				break
			}
		}
		rng := rand.New(rand.NewSource(0))
		for i := 0; i < numMsgs*4; i++ {
			probe(uint64(rng.Intn(numMsgs + 2)))
		}
	}
	checkView(deleteMap(snapshotBlocks()))

	// Emptying an interior block removes it; its deletes become a gap.
	fs.mu.RLock()
	mb := fs.blocks[3]
	mb.mu.RLock()
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	mb.mu.RUnlock()
	nblks := len(fs.blocks)
	fs.mu.RUnlock()
	for seq := fseq; seq <= lseq; seq++ {
		if !expected[seq] {
			_, err = fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		delete(expected, seq)
	}
	require_Equal(t, fs.numMsgBlocks(), nblks-1)
	checkView(deleteMap(snapshotBlocks()))

	// Blocks removed after the list was captured (Compact closes them but
	// leaves their delete maps) must not contribute to the view.
	stale := snapshotBlocks()
	_, err = fs.Compact(41)
	require_NoError(t, err)
	for seq := range expected {
		if seq < 41 {
			delete(expected, seq)
		}
	}
	checkView(deleteMap(stale))
}
