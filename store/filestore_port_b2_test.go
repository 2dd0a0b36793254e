package store

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/porttracker/porttracker/store/ats"
	"github.com/porttracker/porttracker/store/avl"
	"github.com/porttracker/porttracker/store/gsl"
)

// Ported upstream file store tests (batch 14, part B), continued from
// filestore_port_b_test.go.

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

// Ported upstream store tests (store_test.go) that run over every store
// type; only the file store side applies here.

// testFileStoreAsStreamStore runs fn against a file store built from cfg,
// under the "File" subtest name upstream uses. With permutations it runs
// once per supported cipher/compression combination.
func testFileStoreAsStreamStore(t *testing.T, permutations bool, cfg StreamConfig, fn func(t *testing.T, fs StreamStore)) {
	t.Run("File", func(t *testing.T) {
		cfg.Storage = FileStorage
		if permutations {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				fs, err := newFileStore(fcfg, cfg)
				require_NoError(t, err)
				defer fs.Stop()
				fn(t, fs)
			})
			return
		}
		fs, err := newFileStore(FileStoreConfig{StoreDir: t.TempDir()}, cfg)
		require_NoError(t, err)
		defer fs.Stop()
		fn(t, fs)
	})
}

func TestStoreMsgLoadNextMsgMulti(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}},
		func(t *testing.T, fs StreamStore) {
			for i := 0; i < 1000; i++ {
				_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("ZZZ"), 0)
				require_NoError(t, err)
			}
			var smv StoreMsg
			walkAll := func(sl *gsl.SimpleSublist) {
				t.Helper()
				for i, seq := 0, uint64(1); i < 1000; i, seq = i+1, seq+1 {
					sm, nseq, err := fs.LoadNextMsgMulti(sl, seq, &smv)
					require_NoError(t, err)
					require_Equal(t, sm.subj, fmt.Sprintf("foo.%d", i))
					require_Equal(t, nseq, seq)
				}
			}

			// One wildcard filter.
			sl := gsl.NewSimpleSublist()
			require_NoError(t, sl.Insert("foo.>", struct{}{}))
			walkAll(sl)

			// A thousand literal filters.
			sl = gsl.NewSimpleSublist()
			for i := 0; i < 1000; i++ {
				require_NoError(t, sl.Insert(fmt.Sprintf("foo.%d", i), struct{}{}))
			}
			walkAll(sl)

			// Three scattered literals, then EOF.
			sl = gsl.NewSimpleSublist()
			for _, subj := range []string{"foo.2", "foo.222", "foo.999"} {
				require_NoError(t, sl.Insert(subj, struct{}{}))
			}
			seq := uint64(0)
			for _, want := range []struct {
				subj string
				seq  uint64
			}{{"foo.2", 3}, {"foo.222", 223}, {"foo.999", 1000}} {
				sm, nseq, err := fs.LoadNextMsgMulti(sl, seq+1, &smv)
				require_NoError(t, err)
				require_Equal(t, sm.subj, want.subj)
				require_Equal(t, nseq, want.seq)
				seq = nseq
			}
			_, nseq, err := fs.LoadNextMsgMulti(sl, seq+1, &smv)
			require_Error(t, err)
			require_Equal(t, nseq, 1000)
		})
}

func TestStoreLoadNextMsgWildcardStartBeforeFirstMatch(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"bar.*", "foo.*"}},
		func(t *testing.T, fs StreamStore) {
			// Non-matching messages first, so the first match is well after start.
			for i := 0; i < 100; i++ {
				_, _, err := fs.StoreMsg(fmt.Sprintf("bar.%d", i), nil, nil, 0)
				require_NoError(t, err)
			}
			seq, _, err := fs.StoreMsg("foo.1", nil, nil, 0)
			require_NoError(t, err)
			require_Equal(t, seq, 101)

			var smv StoreMsg
			sm, nseq, err := fs.LoadNextMsg("foo.*", true, 1, &smv)
			require_NoError(t, err)
			require_Equal(t, sm.subj, "foo.1")
			require_Equal(t, nseq, 101)

			_, nseq, err = fs.LoadNextMsg("foo.*", true, nseq+1, &smv)
			require_Error(t, err)
			require_Equal(t, nseq, 101)
		})
}

func TestStoreSubjectStateConsistency(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			var smp StoreMsg
			// check compares the subject state (which may fix lazily
			// tracked first/last) with what loads from either end.
			check := func(msgs, first, last uint64) {
				t.Helper()
				ss := fs.SubjectsState("foo")["foo"]
				require_Equal(t, ss.Msgs, msgs)
				require_Equal(t, ss.First, first)
				require_Equal(t, ss.Last, last)
				sm, _, err := fs.LoadNextMsg("foo", false, 0, &smp)
				require_NoError(t, err)
				require_Equal(t, sm.seq, first)
				sm, err = fs.LoadLastMsg("foo", &smp)
				require_NoError(t, err)
				require_Equal(t, sm.seq, last)
			}
			store := func(n int) {
				t.Helper()
				for i := 0; i < n; i++ {
					_, _, err := fs.StoreMsg("foo", nil, nil, 0)
					require_NoError(t, err)
				}
			}
			remove := func(seq uint64) {
				t.Helper()
				removed, err := fs.RemoveMsg(seq)
				require_NoError(t, err)
				require_True(t, removed)
			}

			store(4)
			check(4, 1, 4)
			remove(1) // first becomes stale
			check(3, 2, 4)
			remove(4) // last becomes stale
			check(2, 2, 3)
			remove(2) // one left: first and last must agree
			check(1, 3, 3)

			store(3)
			check(4, 3, 7)
			remove(7)
			remove(3)
			remove(5) // both ends stale at once
			check(1, 6, 6)

			// A stale last is replaced by a newer message.
			store(1)
			remove(8)
			store(1)
			check(2, 6, 9)
		})
}

func TestStoreSubjectStateConsistencyOptimization(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, ss StreamStore) {
			fs := ss.(*fileStore)
			fill := func(n int) {
				t.Helper()
				for i := 0; i < n; i++ {
					_, _, err := fs.StoreMsg("foo", nil, nil, 0)
					require_NoError(t, err)
				}
			}
			remove := func(seqs ...uint64) {
				t.Helper()
				for _, seq := range seqs {
					removed, err := fs.RemoveMsg(seq)
					require_NoError(t, err)
					require_True(t, removed)
				}
			}
			// blockState reads the raw (possibly stale) subject state of the
			// last block, without the lazy fix-up a query would do.
			blockState := func() SimpleState {
				t.Helper()
				fs.mu.RLock()
				lmb := fs.lastBlock
				fs.mu.RUnlock()
				lmb.mu.RLock()
				defer lmb.mu.RUnlock()
				require_True(t, lmb.subjects != nil)
				st, ok := lmb.subjects.Find([]byte("foo"))
				require_True(t, ok)
				return *st
			}
			var smp StoreMsg
			expectOnly := func(seq uint64) {
				t.Helper()
				sm, _, err := fs.LoadNextMsg("foo", false, 0, &smp)
				require_NoError(t, err)
				require_Equal(t, sm.seq, seq)
				sm, err = fs.LoadLastMsg("foo", &smp)
				require_NoError(t, err)
				require_Equal(t, sm.seq, seq)
			}
			checkRaw := func(first, last uint64, stale bool) {
				t.Helper()
				st := blockState()
				require_Equal(t, st.Msgs, 1)
				require_Equal(t, st.First, first)
				require_Equal(t, st.Last, last)
				require_Equal(t, st.firstNeedsUpdate, stale)
				require_Equal(t, st.lastNeedsUpdate, stale)
			}

			// Down to one message with only first stale: both are fixed.
			fill(3)
			remove(2, 1)
			checkRaw(3, 3, false)
			expectOnly(3)

			// First stale, then last: both stay stale.
			fill(2)
			remove(3, 5)
			checkRaw(3, 5, true)
			expectOnly(4)

			// Last stale, then first: both stay stale.
			fill(2)
			remove(7, 4)
			checkRaw(4, 7, true)
			expectOnly(6)

			// From a single known message: both are fixed.
			fill(2)
			remove(9, 8)
			checkRaw(6, 6, false)
			expectOnly(6)
		})
}

func TestStoreMaxMsgsPerUpdateBug(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			for i := 0; i < 5; i++ {
				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
			}
			ss := fs.State()
			require_Equal(t, ss.Msgs, 5)
			require_Equal(t, ss.FirstSeq, 1)
			require_Equal(t, ss.LastSeq, 5)

			// Going from no per-subject limit to 1 applies it right away.
			cfg := StreamConfig{Name: "TEST", Subjects: []string{"foo"}, Storage: FileStorage, MaxMsgsPer: 1}
			require_NoError(t, fs.UpdateConfig(&cfg))
			ss = fs.State()
			require_Equal(t, ss.Msgs, 1)
			require_Equal(t, ss.FirstSeq, 5)
			require_Equal(t, ss.LastSeq, 5)

			// Any value below -1 is normalised to -1 (unlimited).
			cfg.MaxMsgsPer = -2
			require_NoError(t, fs.UpdateConfig(&cfg))
			require_Equal(t, cfg.MaxMsgsPer, -1)
		})
}

func TestStoreMaxMsgsPerUpdateToOneRemoveNewest(t *testing.T) {
	cfg := StreamConfig{Name: "TEST", Subjects: []string{"foo.*"}, MaxMsgsPer: -1}
	testFileStoreAsStreamStore(t, false, cfg, func(t *testing.T, ss StreamStore) {
		fs := ss.(*fileStore)
		_, _, err := fs.StoreMsg("foo.0", nil, nil, 0)
		require_NoError(t, err)

		// Enough filler to roll blocks, so each foo.0 copy has its own block.
		msg := make([]byte, 1024*1024)
		fillBlock := func(wantBlocks int) {
			t.Helper()
			for i := 1; i <= 9; i++ {
				_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, msg, 0)
				require_NoError(t, err)
			}
			require_True(t, fs.numMsgBlocks() >= wantBlocks)
		}
		fillBlock(2)
		nseq, _, err := fs.StoreMsg("foo.0", nil, nil, 0)
		require_NoError(t, err)
		fillBlock(3)
		lseq, _, err := fs.StoreMsg("foo.0", nil, nil, 0)
		require_NoError(t, err)
		removed, err := fs.RemoveMsg(lseq)
		require_NoError(t, err)
		require_True(t, removed)

		// Limiting to one per subject keeps the newest remaining copy, even
		// though the subject's last copy had been removed.
		cfg.Storage = FileStorage
		cfg.MaxMsgsPer = 1
		require_NoError(t, fs.UpdateConfig(&cfg))

		st := fs.SubjectsState("foo.0")["foo.0"]
		require_Equal(t, st.Msgs, 1)
		require_Equal(t, st.First, nseq)
		require_Equal(t, st.Last, nseq)
		var smv StoreMsg
		sm, err := fs.LoadLastMsg("foo.0", &smv)
		require_NoError(t, err)
		require_Equal(t, sm.seq, nseq)
		sm, _, err = fs.LoadNextMsg("foo.0", false, 0, &smv)
		require_NoError(t, err)
		require_Equal(t, sm.seq, nseq)

		// And after a restart.
		fcfg := fs.fcfg
		require_NoError(t, fs.Stop())
		fs, err = newFileStore(fcfg, cfg)
		require_NoError(t, err)
		defer fs.Stop()
		sm, err = fs.LoadLastMsg("foo.0", &smv)
		require_NoError(t, err)
		require_Equal(t, sm.seq, nseq)
	})
}

func TestStoreCompactCleansUpDmap(t *testing.T) {
	for cseq := uint64(2); cseq <= 4; cseq++ {
		t.Run(fmt.Sprintf("Compact(%d)", cseq), func(t *testing.T) {
			testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
				func(t *testing.T, ss StreamStore) {
					fs := ss.(*fileStore)
					for i := 0; i < 3; i++ {
						_, _, err := fs.StoreMsg("foo", nil, nil, 0)
						require_NoError(t, err)
					}
					require_Len(t, fs.dmapEntries(), 0)

					// An interior delete...
					_, err := fs.RemoveMsg(2)
					require_NoError(t, err)
					require_Len(t, fs.dmapEntries(), 1)

					// ...is always gone after compacting past it.
					_, err = fs.Compact(cseq)
					require_NoError(t, err)
					require_Len(t, fs.dmapEntries(), 0)

					state := fs.State()
					require_Equal(t, state.FirstSeq, max(3, cseq))
					require_Equal(t, state.LastSeq, 3)
				})
		})
	}
}

func TestStoreCompactFullyDeletedRange(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			for range 3 {
				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
			}
			// Everything from 2 on is already deleted; 1 keeps the first at 1.
			for _, seq := range []uint64{2, 3} {
				_, err := fs.RemoveMsg(seq)
				require_NoError(t, err)
			}
			state := fs.State()
			require_Equal(t, state.FirstSeq, 1)
			require_Equal(t, state.LastSeq, 3)

			// Compacting to a deleted sequence leaves the stream empty.
			_, err := fs.Compact(2)
			require_NoError(t, err)
			state = fs.State()
			require_Equal(t, state.Msgs, 0)
			require_Equal(t, state.LastSeq, 3)
			require_Equal(t, state.FirstSeq, state.LastSeq+1)
			require_True(t, state.FirstTime.IsZero())
		})
}

func TestStoreTruncateCleansUpDmap(t *testing.T) {
	for tseq := uint64(0); tseq <= 1; tseq++ {
		t.Run(fmt.Sprintf("Truncate(%d)", tseq), func(t *testing.T) {
			testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
				func(t *testing.T, ss StreamStore) {
					fs := ss.(*fileStore)
					for i := 0; i < 3; i++ {
						_, _, err := fs.StoreMsg("foo", nil, nil, 0)
						require_NoError(t, err)
					}
					require_Len(t, fs.dmapEntries(), 0)
					_, err := fs.RemoveMsg(2)
					require_NoError(t, err)
					require_Len(t, fs.dmapEntries(), 1)

					// Truncating below the interior delete drops it too.
					require_NoError(t, fs.Truncate(tseq))
					require_Len(t, fs.dmapEntries(), 0)

					state := fs.State()
					require_Equal(t, state.FirstSeq, min(1, tseq))
					require_Equal(t, state.LastSeq, tseq)
				})
		})
	}
}

// Regression test for nats-server issue 6709: PurgeEx with no subject and
// sequence 0 must leave the same state as Purge.
func TestStorePurgeExZero(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			_, err := fs.Purge()
			require_NoError(t, err)
			ss := fs.State()
			require_Equal(t, ss.FirstSeq, 1)
			require_Equal(t, ss.LastSeq, 0)

			_, err = fs.PurgeEx(_EMPTY_, 0, 0)
			require_NoError(t, err)
			ss = fs.State()
			require_Equal(t, ss.FirstSeq, 1)
			require_Equal(t, ss.LastSeq, 0)
		})
}

func TestStorePurgeExSequenceOne(t *testing.T) {
	testFileStoreAsStreamStore(t, true, StreamConfig{Name: "TEST", Subjects: []string{"foo", "bar"}},
		func(t *testing.T, fs StreamStore) {
			for range 5 {
				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				_, _, err = fs.StoreMsg("bar", nil, nil, 0)
				require_NoError(t, err)
			}
			before := fs.State()
			// Purging "up to sequence 1" removes nothing, whatever the
			// subject or keep.
			for _, tc := range []struct {
				name    string
				subject string
				keep    uint64
			}{
				{"empty-subject", _EMPTY_, 0},
				{"wildcard-subject", fwcs, 0},
				{"specific-subject", "foo", 0},
				{"empty-subject-with-keep", _EMPTY_, 3},
				{"specific-subject-with-keep", "foo", 3},
			} {
				t.Run(tc.name, func(t *testing.T) {
					n, err := fs.PurgeEx(tc.subject, 1, tc.keep)
					require_NoError(t, err)
					require_Equal(t, n, 0)
					after := fs.State()
					require_Equal(t, after.Msgs, before.Msgs)
					require_Equal(t, after.FirstSeq, before.FirstSeq)
					require_Equal(t, after.LastSeq, before.LastSeq)
				})
			}
		})
}

func TestStorePurgeExKeepWithInteriorDeletes(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			for range 50 {
				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
			}
			for seq := uint64(2); seq <= 50; seq += 2 {
				_, err := fs.RemoveMsg(seq)
				require_NoError(t, err)
			}
			ss := fs.State()
			require_Equal(t, ss.Msgs, 25)
			require_Equal(t, ss.FirstSeq, 1)
			require_Equal(t, ss.LastSeq, 50)

			// Keeping five counts live messages (41..49 odd), not sequences.
			n, err := fs.PurgeEx(_EMPTY_, 0, 5)
			require_NoError(t, err)
			require_Equal(t, n, 20)
			ss = fs.State()
			require_Equal(t, ss.Msgs, 5)
			require_Equal(t, ss.FirstSeq, 41)
			require_Equal(t, ss.LastSeq, 50)
		})
}

func TestStoreUpdateConfigTTLState(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "TEST", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			cfg := StreamConfig{Name: "TEST", Subjects: []string{"foo"}, Storage: FileStorage}
			// The TTL is one second; waiting a bit longer shows whether it
			// was honoured.
			storeAndWait := func() uint64 {
				t.Helper()
				seq, _, err := fs.StoreMsg("foo", nil, nil, 1)
				require_NoError(t, err)
				time.Sleep(1500 * time.Millisecond)
				return seq
			}

			// TTLs not allowed: the message stays.
			_, err := fs.LoadMsg(storeAndWait(), nil)
			require_NoError(t, err)

			// Allowed: it expires.
			cfg.AllowMsgTTL = true
			require_NoError(t, fs.UpdateConfig(&cfg))
			seq, _, err := fs.StoreMsg("foo", nil, nil, 1)
			require_NoError(t, err)
			checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
				if _, err := fs.LoadMsg(seq, nil); err == nil {
					return fmt.Errorf("message %d has not expired", seq)
				}
				return nil
			})

			// Disallowed again: it stays.
			cfg.AllowMsgTTL = false
			require_NoError(t, fs.UpdateConfig(&cfg))
			_, err = fs.LoadMsg(storeAndWait(), nil)
			require_NoError(t, err)
		})
}

func TestStoreStreamInteriorDeleteAccounting(t *testing.T) {
	tests := []struct {
		title  string
		action func(t *testing.T, s StreamStore, lseq uint64)
	}{
		{
			title: "TruncateWithRemove",
			action: func(t *testing.T, s StreamStore, lseq uint64) {
				seq, _, err := s.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				require_Equal(t, seq, lseq)
				removed, err := s.RemoveMsg(lseq)
				require_NoError(t, err)
				require_True(t, removed)
				require_NoError(t, s.Truncate(lseq))
			},
		},
		{
			title: "TruncateWithErase",
			action: func(t *testing.T, s StreamStore, lseq uint64) {
				seq, _, err := s.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				require_Equal(t, seq, lseq)
				removed, err := s.EraseMsg(lseq)
				require_NoError(t, err)
				require_True(t, removed)
				require_NoError(t, s.Truncate(lseq))
			},
		},
		{
			// A plain removal writes a tombstone for the last message.
			title: "TruncateWithTombstone",
			action: func(t *testing.T, s StreamStore, lseq uint64) {
				seq, _, err := s.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				require_Equal(t, seq, lseq)
				removed, err := s.(*fileStore).removeMsg(lseq, false, false, true)
				require_NoError(t, err)
				require_True(t, removed)
				require_NoError(t, s.Truncate(lseq))
			},
		},
		{
			title: "SkipMsg",
			action: func(t *testing.T, s StreamStore, lseq uint64) {
				seq, err := s.SkipMsg(0)
				require_NoError(t, err)
				require_Equal(t, seq, lseq)
			},
		},
		{
			title: "SkipMsgs",
			action: func(t *testing.T, s StreamStore, lseq uint64) {
				require_NoError(t, s.SkipMsgs(lseq, 1))
			},
		},
	}
	for _, empty := range []bool{false, true} {
		for _, test := range tests {
			t.Run(fmt.Sprintf("Empty=%v/%s", empty, test.title), func(t *testing.T) {
				cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}}
				testFileStoreAsStreamStore(t, true, cfg, func(t *testing.T, s StreamStore) {
					var lseq uint64
					if !empty {
						var err error
						lseq, _, err = s.StoreMsg("foo", nil, nil, 0)
						require_NoError(t, err)
						require_Equal(t, lseq, 1)
					}
					lseq++
					// Whatever happened at lseq leaves nothing there, yet
					// it must stay the last sequence.
					test.action(t, s, lseq)

					before := s.State()
					if empty {
						require_Equal(t, before.Msgs, 0)
						require_Equal(t, before.FirstSeq, 2)
						require_Equal(t, before.LastSeq, 1)
					} else {
						require_Equal(t, before.Msgs, 1)
						require_Equal(t, before.FirstSeq, 1)
						require_Equal(t, before.LastSeq, 2)
					}

					fs := s.(*fileStore)
					cfg.Storage = FileStorage
					requireStateSurvivesRecovery(t, fs, fs.fcfg, cfg, time.Time{}, before)
				})
			})
		}
	}
}

func TestStoreMsgLoadPrevMsgMulti(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}},
		func(t *testing.T, fs StreamStore) {
			for i := range 1000 {
				_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i+1), nil, []byte("ZZZ"), 0)
				require_NoError(t, err)
			}
			var state StreamState
			fs.FastState(&state)

			sl := gsl.NewSimpleSublist()
			for _, subj := range []string{"foo.5", "foo.15", "foo.105"} {
				require_NoError(t, sl.Insert(subj, struct{}{}))
			}
			// Walking backwards finds exactly the three matches.
			var sm StoreMsg
			var got []uint64
			for seq := state.LastSeq; seq > 5; seq-- {
				var err error
				_, seq, err = fs.LoadPrevMsgMulti(sl, seq, &sm)
				require_NoError(t, err)
				require_Equal(t, sm.subj, fmt.Sprintf("foo.%d", sm.seq))
				got = append(got, seq)
			}
			require_True(t, slices.Equal(got, []uint64{105, 15, 5}))
			_, _, err := fs.LoadPrevMsgMulti(sl, 4, &sm)
			require_Error(t, err, ErrStoreEOF)
		})
}

func TestStoreMsgLoadPrevMsg(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo.*", "bar.*"}},
		func(t *testing.T, fs StreamStore) {
			for _, subj := range []string{"foo.1", "bar.1", "foo.2", "bar.2", "foo.3"} {
				_, _, err := fs.StoreMsg(subj, nil, []byte("ZZZ"), 0)
				require_NoError(t, err)
			}
			var sm StoreMsg
			for _, tc := range []struct {
				filter  string
				wc      bool
				subj    string
				seq     uint64
				wantErr error
			}{
				{filter: _EMPTY_, subj: "foo.3", seq: 5},
				{filter: "foo.2", subj: "foo.2", seq: 3},
				{filter: "foo.*", wc: true, subj: "foo.3", seq: 5},
				{filter: "baz.*", wc: true, seq: 1, wantErr: ErrStoreEOF},
			} {
				smp, seq, err := fs.LoadPrevMsg(tc.filter, tc.wc, 5, &sm)
				if tc.wantErr != nil {
					require_Error(t, err, tc.wantErr)
				} else {
					require_NoError(t, err)
					require_Equal(t, smp.subj, tc.subj)
				}
				require_Equal(t, seq, tc.seq)
			}
		})
}

func TestStoreMsgLoadPrevMsgMultiFullWildcardSkip(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}},
		func(t *testing.T, fs StreamStore) {
			for i := range 10 {
				_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i+1), nil, []byte("ZZZ"), 0)
				require_NoError(t, err)
			}
			var state StreamState
			fs.FastState(&state)
			sl := gsl.NewSimpleSublist()
			require_NoError(t, sl.Insert(">", struct{}{}))

			// A full wildcard matches everything, walking down to the first
			// and then reporting EOF at the first sequence.
			var sm StoreMsg
			var got []uint64
			for seq := state.LastSeq; ; {
				smp, nseq, err := fs.LoadPrevMsgMulti(sl, seq, &sm)
				if err == ErrStoreEOF {
					require_Equal(t, nseq, state.FirstSeq)
					break
				}
				require_NoError(t, err)
				require_Equal(t, smp.seq, nseq)
				got = append(got, nseq)
				if nseq == state.FirstSeq {
					_, nseq, err = fs.LoadPrevMsgMulti(sl, nseq-1, &sm)
					require_Error(t, err, ErrStoreEOF)
					require_Equal(t, nseq, state.FirstSeq)
					break
				}
				seq = nseq - 1
			}
			require_True(t, slices.Equal(got, []uint64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}))
		})
}

func TestStoreDiscardNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  func(cfg *StreamConfig)
		wantErr error
	}{
		{"MaxMsgs", func(cfg *StreamConfig) { cfg.MaxMsgs = 1 }, ErrMaxMsgs},
		{"MaxBytes", func(cfg *StreamConfig) { cfg.MaxBytes = 33 }, ErrMaxBytes},
		{"MaxMsgsPer", func(cfg *StreamConfig) { cfg.MaxMsgsPer = 1 }, nil},
		{"MaxMsgsPer_DiscardNewPer", func(cfg *StreamConfig) {
			cfg.DiscardNewPer = true
			cfg.MaxMsgsPer = 1
		}, ErrMaxMsgsPerSubject},
		// Without DiscardNewPer a message per subject may replace the old
		// one when it fits.
		{"MaxMsgsPer_MaxMsgs", func(cfg *StreamConfig) {
			cfg.MaxMsgs = 1
			cfg.MaxMsgsPer = 1
		}, nil},
		{"MaxMsgsPer_MaxBytes", func(cfg *StreamConfig) {
			cfg.MaxBytes = 33
			cfg.MaxMsgsPer = 1
		}, nil},
		{"MaxMsgsPer_MaxMsgs_DiscardNewPer", func(cfg *StreamConfig) {
			cfg.DiscardNewPer = true
			cfg.MaxMsgs = 1
			cfg.MaxMsgsPer = 1
		}, ErrMaxMsgsPerSubject},
		{"MaxMsgsPer_MaxBytes_DiscardNewPer", func(cfg *StreamConfig) {
			cfg.DiscardNewPer = true
			cfg.MaxBytes = 33
			cfg.MaxMsgsPer = 1
		}, ErrMaxMsgsPerSubject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Discard: DiscardNew}
			tc.limits(&cfg)
			testFileStoreAsStreamStore(t, false, cfg, func(t *testing.T, fs StreamStore) {
				ts := time.Now().UnixNano()
				expectedSeq := uint64(1)
				requireOnly := func() {
					t.Helper()
					state := fs.State()
					require_Equal(t, state.Msgs, 1)
					require_Equal(t, state.FirstSeq, expectedSeq)
					require_Equal(t, state.LastSeq, expectedSeq)
				}

				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)

				// With the discard-new check (the leader's view) the limit
				// rejects the message.
				err = fs.StoreRawMsg("foo", nil, nil, 0, ts, 0, true)
				if tc.wantErr == nil {
					require_NoError(t, err)
					expectedSeq++
				} else if err != tc.wantErr {
					t.Fatalf("expected %v, got %v", tc.wantErr, err)
				}
				requireOnly()

				// Without it (a follower applying the leader's data) it must
				// always be accepted, or replicas would diverge.
				require_NoError(t, fs.StoreRawMsg("foo", nil, nil, 0, ts, 0, false))
				expectedSeq++

				// DiscardNew does not turn into DiscardOld for MaxMsgs or
				// MaxBytes; only MaxMsgsPer evicts.
				if cfg.MaxMsgsPer > 0 {
					requireOnly()
				} else {
					state := fs.State()
					require_Equal(t, state.Msgs, 2)
					require_Equal(t, state.FirstSeq, expectedSeq-1)
					require_Equal(t, state.LastSeq, expectedSeq)
				}
			})
		})
	}
}

func TestStoreGetSeqFromTimeWithInteriorDeletesGap(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			var start int64
			for i := range 10 {
				_, ts, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				if i == 1 {
					start = ts
				}
			}
			// A binary search over sequences that ignores deletes lands in
			// this gap and answers wrongly.
			for seq := uint64(4); seq <= 7; seq++ {
				_, err := fs.RemoveMsg(seq)
				require_NoError(t, err)
			}
			require_Equal(t, fs.GetSeqFromTime(time.Unix(0, start).UTC()), 2)
		})
}

func TestStoreGetSeqFromTimeWithTrailingDeletes(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			var start int64
			for i := range 3 {
				_, ts, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				if i == 1 {
					start = ts
				}
			}
			_, err := fs.RemoveMsg(3)
			require_NoError(t, err)
			require_Equal(t, fs.GetSeqFromTime(time.Unix(0, start).UTC()), 2)
		})
}

func TestStoreSkipMsgsCarryForwardLastTime(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			old := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
			require_NoError(t, fs.StoreRawMsg("foo", nil, nil, 1, old.UnixNano(), 0, false))

			var ss StreamState
			checkLast := func(seq uint64) {
				t.Helper()
				fs.FastState(&ss)
				require_Equal(t, ss.LastSeq, seq)
				require_Equal(t, ss.LastTime.UnixNano(), old.UnixNano())
			}
			checkLast(1)

			// Skips carry the last message's time forward instead of now.
			require_NoError(t, fs.SkipMsgs(2, 10))
			checkLast(11)
			seq, err := fs.SkipMsg(12)
			require_NoError(t, err)
			require_Equal(t, seq, 12)
			checkLast(12)
			require_NoError(t, fs.SkipMsgs(13, 5))
			checkLast(17)

			// Time lookups resolve across the skipped range.
			newer := old.Add(15 * 24 * time.Hour)
			require_NoError(t, fs.StoreRawMsg("foo", nil, nil, 18, newer.UnixNano(), 0, false))
			require_Equal(t, fs.GetSeqFromTime(old), 1)
			require_Equal(t, fs.GetSeqFromTime(old.Add(5*24*time.Hour)), 18)
			require_Equal(t, fs.GetSeqFromTime(newer), 18)
		})
}

func TestStoreSkipMsgsCarryForwardLastTimeFromEmpty(t *testing.T) {
	for _, tc := range []struct {
		name      string
		firstSkip func(fs StreamStore) error
		lastSeq   uint64
	}{
		{"SkipMsg", func(fs StreamStore) error { _, err := fs.SkipMsg(0); return err }, 1},
		{"SkipMsgs", func(fs StreamStore) error { return fs.SkipMsgs(1, 5) }, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo"}},
				func(t *testing.T, fs StreamStore) {
					var ss StreamState
					fs.FastState(&ss)
					require_Equal(t, ss.LastSeq, 0)
					require_True(t, ss.LastTime.IsZero())

					// With no prior time the skip takes the current time.
					before := time.Now().UnixNano()
					require_NoError(t, tc.firstSkip(fs))
					after := time.Now().UnixNano()
					fs.FastState(&ss)
					require_Equal(t, ss.LastSeq, tc.lastSeq)
					require_False(t, ss.LastTime.IsZero())
					require_True(t, ss.LastTime.UnixNano() >= before)
					require_True(t, ss.LastTime.UnixNano() <= after)
					first := ss.LastTime

					// A later skip keeps that time even as the clock moves.
					time.Sleep(2 * ats.TickInterval)
					seq, err := fs.SkipMsg(0)
					require_NoError(t, err)
					require_Equal(t, seq, tc.lastSeq+1)
					fs.FastState(&ss)
					require_Equal(t, ss.LastSeq, tc.lastSeq+1)
					require_Equal(t, ss.LastTime.UnixNano(), first.UnixNano())
				})
		})
	}
}

func TestStoreSkipMsgNoInterestAdvancesLastTime(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			seq, err := fs.SkipMsgNoInterest(0)
			require_NoError(t, err)
			require_Equal(t, seq, 1)
			var ss StreamState
			fs.FastState(&ss)
			require_Equal(t, ss.Msgs, 0)
			require_Equal(t, ss.LastSeq, 1)
			first := ss.LastTime

			// Unlike SkipMsg, a no-interest skip moves the last time to now.
			time.Sleep(2 * ats.TickInterval)
			seq, err = fs.SkipMsgNoInterest(0)
			require_NoError(t, err)
			require_Equal(t, seq, 2)
			fs.FastState(&ss)
			require_Equal(t, ss.Msgs, 0)
			require_Equal(t, ss.LastSeq, 2)
			require_True(t, ss.LastTime.After(first))
		})
}

func TestFileStoreMultiLastSeqsAndLoadLastMsgWithLazySubjectState(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo"}},
		func(t *testing.T, fs StreamStore) {
			for range 3 {
				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
			}
			lastSeqs := func() []uint64 {
				t.Helper()
				seqs, err := fs.MultiLastSeqs([]string{"foo"}, 0, 0)
				require_NoError(t, err)
				return seqs
			}
			lastMsg := func() uint64 {
				t.Helper()
				sm, err := fs.LoadLastMsg("foo", nil)
				require_NoError(t, err)
				return sm.seq
			}
			require_True(t, slices.Equal(lastSeqs(), []uint64{3}))

			// Removing the last leaves it stale; queries must resolve it.
			_, err := fs.RemoveMsg(3)
			require_NoError(t, err)
			require_True(t, slices.Equal(lastSeqs(), []uint64{2}))

			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
			require_Equal(t, lastMsg(), 4)
			_, err = fs.RemoveMsg(4)
			require_NoError(t, err)
			require_Equal(t, lastMsg(), 2)
		})
}

func TestStoreNumPendingLastPerSubjectExcludeOvercount(t *testing.T) {
	testFileStoreAsStreamStore(t, false, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}},
		func(t *testing.T, fs StreamStore) {
			put := func(subj string) {
				t.Helper()
				_, _, err := fs.StoreMsg(subj, nil, []byte("x"), 0)
				require_NoError(t, err)
			}
			for range 10 {
				put("foo.A") // 1..10, all before the start
			}
			put("foo.B")                              // 11
			put("foo.C")                              // 12
			require_NoError(t, fs.SkipMsgs(13, 87))   // 13..99
			put("foo.B")                              // 100
			require_NoError(t, fs.SkipMsgs(101, 899)) // 101..999
			put("foo.C")                              // 1000

			// From 13, only foo.B (100) and foo.C (1000) have their last
			// message in range; foo.A's last (10) is before it.
			total, _, err := fs.NumPending(13, "foo.*", true)
			require_NoError(t, err)
			require_Equal(t, total, 2)

			filters := gsl.NewSimpleSublist()
			require_NoError(t, filters.Insert("foo.*", struct{}{}))
			total, _, err = fs.NumPendingMulti(13, filters, true)
			require_NoError(t, err)
			require_Equal(t, total, 2)
		})
}
