package store

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/gsl"
)

// Ported upstream file store tests (batch 15, "MsgBlock + ConsumerFileStore",
// part C): block internals such as the cache, compaction, tombstones, holes
// in the index, recovery edge cases and first/last bookkeeping.

// portCRepeatMsg is a payload of about a hundred bytes, so that block sizes
// and message counts per block come out as in upstream's scenarios.
var portCRepeatMsg = bytes.Repeat([]byte("ABC"), 33)

// portCCheckState fails unless the store holds msgs messages from first to last.
func portCCheckState(t *testing.T, fs *fileStore, msgs, first, last uint64) {
	t.Helper()
	state := fs.State()
	if state.Msgs != msgs || state.FirstSeq != first || state.LastSeq != last {
		t.Fatalf("state: want msgs %d first %d last %d, got msgs %d first %d last %d",
			msgs, first, last, state.Msgs, state.FirstSeq, state.LastSeq)
	}
}

// portCNumBlocks is the number of blocks of fs.
func portCNumBlocks(fs *fileStore) int {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return len(fs.blocks)
}

func TestFileStoreExpireMsgsOnStart(t *testing.T) {
	// Upstream runs this one unencrypted and uncompressed only (it was
	// flaky in its CI otherwise); it sleeps through several max ages per
	// run, so the cipher runs would add half a minute for a recovery
	// path TestFileStoreAgeLimitRecovery already covers under every
	// cipher. S2 stays, as it ran before.
	perms := allPermutations[:2]
	if testing.Short() {
		perms = perms[:1]
	}
	runPermutations(t, perms, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 8 * 1024
		// Upstream uses 250ms with 25ms margins; the margins are widened so
		// the scenario holds on a loaded machine. Messages stored before the
		// gap are older than maxAge at restart, the ones after are not.
		const (
			maxAge = time.Second
			gap    = 400 * time.Millisecond
			margin = 200 * time.Millisecond
		)
		halfDelay := maxAge - gap + margin
		cfg := StreamConfig{Name: "ORDERS", Subjects: []string{"orders.*"}, Storage: FileStorage, MaxAge: maxAge}

		var fs *fileStore
		t.Cleanup(func() {
			if fs != nil {
				fs.Stop()
			}
		})
		start := func() {
			t.Helper()
			var err error
			fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
			require_NoError(t, err)
		}
		fresh := func() {
			t.Helper()
			if fs != nil {
				fs.Stop()
				fs = nil
			}
			require_NoError(t, os.RemoveAll(fcfg.StoreDir))
			start()
		}
		restart := func(delay time.Duration) {
			t.Helper()
			fs.Stop()
			fs = nil
			time.Sleep(delay)
			start()
		}
		store := func(n int) {
			t.Helper()
			for i := 1; i <= n; i++ {
				_, _, err := fs.StoreMsg(fmt.Sprintf("orders.%d", i%10), nil, portCRepeatMsg, 0)
				require_NoError(t, err)
			}
		}
		filtered := func(subj string, want SimpleState) {
			t.Helper()
			got, err := fs.FilteredState(1, subj)
			require_NoError(t, err)
			if got != want {
				t.Fatalf("FilteredState(%q): want %+v, got %+v", subj, want, got)
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

		// Everything expired while down: the store remembers where it was,
		// keeping one block to hold the last sequence.
		fresh()
		store(500)
		restart(maxAge + margin)
		portCCheckState(t, fs, 0, 501, 500)
		require_Equal(t, portCNumBlocks(fs), 1)

		// Half expired, in one block: the subject state must follow.
		fresh()
		store(10)
		time.Sleep(gap)
		store(10)
		filtered("orders.*", SimpleState{Msgs: 20, First: 1, Last: 20})
		restart(halfDelay)
		portCCheckState(t, fs, 10, 11, 20)
		require_Equal(t, portCNumBlocks(fs), 1)
		filtered("orders.*", SimpleState{Msgs: 10, First: 11, Last: 20})
		filtered("orders.5", SimpleState{Msgs: 1, First: 15, Last: 15})

		fresh()
		store(5)
		time.Sleep(gap)
		store(15)
		restart(halfDelay)
		portCCheckState(t, fs, 15, 6, 20)
		filtered("orders.*", SimpleState{Msgs: 15, First: 6, Last: 20})
		filtered("orders.5", SimpleState{Msgs: 2, First: 10, Last: 20})

		// A first block whose tail was removed before it expires.
		fresh()
		store(150)
		time.Sleep(gap)
		store(100)
		require_Equal(t, portCNumBlocks(fs), 5)
		fs.mu.RLock()
		lseq := fs.blocks[0].last.seq
		fs.mu.RUnlock()
		for seq := lseq; seq > lseq-10; seq-- {
			remove(seq)
		}
		restart(halfDelay)
		portCCheckState(t, fs, 100, 151, 250)
		require_Equal(t, portCNumBlocks(fs), 3)

		// Interior deletes in the expired part must not linger.
		fresh()
		store(10)
		remove(2, 4, 6)
		time.Sleep(gap)
		store(10)
		restart(halfDelay)
		portCCheckState(t, fs, 10, 11, 20)
		require_Equal(t, portCNumBlocks(fs), 1)
		require_Equal(t, fs.dmapEntries(), 0)

		// The unexpired tail was removed: nothing is left but the sequence.
		fresh()
		store(7)
		time.Sleep(gap)
		store(3)
		remove(8, 9, 10)
		restart(halfDelay)
		portCCheckState(t, fs, 0, 11, 10)

		// Compact keeps the subject state right too.
		fresh()
		store(100)
		filtered("orders.*", SimpleState{Msgs: 100, First: 1, Last: 100})
		filtered("orders.5", SimpleState{Msgs: 10, First: 5, Last: 95})
		purged, err := fs.Compact(51)
		require_NoError(t, err)
		require_Equal(t, purged, uint64(50))
		filtered("orders.*", SimpleState{Msgs: 50, First: 51, Last: 100})
		filtered("orders.5", SimpleState{Msgs: 5, First: 55, Last: 95})
	})
}

func TestFileStoreSparseCompaction(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 1024 * 1024
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "KV", Subjects: []string{"kv.>"}, Storage: FileStorage})

		for i := 1; i <= 1000; i++ {
			_, _, err := fs.StoreMsg(fmt.Sprintf("kv.%d", i%10), nil, portCRepeatMsg, 0)
			require_NoError(t, err)
		}
		portCCheckState(t, fs, 1000, 1, 1000)

		// The block to compact must not be the last one: roll to a new block
		// that remembers the last sequence with a tombstone.
		require_Equal(t, portCNumBlocks(fs), 1)
		state := fs.State()
		fs.mu.Lock()
		_, err := fs.newMsgBlockForWrite()
		if err == nil {
			err = fs.writeTombstone(state.LastSeq, state.LastTime.UnixNano())
		}
		fs.mu.Unlock()
		require_NoError(t, err)

		// Compacting the first block changes what is on disk, never what
		// the store reports.
		compactFirst := func(step string) {
			t.Helper()
			var before, after StreamState
			fs.FastState(&before)
			totalBefore, usedBefore, err := fs.Utilization()
			require_NoError(t, err)

			fs.mu.RLock()
			mb := fs.blocks[0]
			fs.mu.RUnlock()
			mb.mu.Lock()
			err = mb.compact()
			mb.mu.Unlock()
			require_NoError(t, err)

			fs.FastState(&after)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("%s: state changed by compaction:\n%+v\nvs\n%+v", step, before, after)
			}
			totalAfter, usedAfter, err := fs.Utilization()
			require_NoError(t, err)
			if usedAfter != usedBefore {
				t.Fatalf("%s: used bytes changed from %d to %d", step, usedBefore, usedAfter)
			}
			if totalAfter >= totalBefore {
				t.Fatalf("%s: total bytes did not shrink: %d before, %d after", step, totalBefore, totalAfter)
			}
		}

		removed, err := fs.RemoveMsg(1)
		require_NoError(t, err)
		require_True(t, removed)
		compactFirst("head removed")

		for _, seq := range []uint64{1000, 999, 998, 997} {
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
		}
		compactFirst("tail removed")

		for _, seq := range []uint64{500, 502, 504, 506, 508, 510} {
			erased, err := fs.EraseMsg(seq)
			require_NoError(t, err)
			require_True(t, erased)
		}
		compactFirst("interior erased")
	})
}

func TestFileStoreSparseCompactionWithInteriorDeletes(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "KV", Subjects: []string{"kv.>"}, Storage: FileStorage})
		for i := 1; i <= 1000; i++ {
			_, _, err := fs.StoreMsg(fmt.Sprintf("kv.%d", i%10), nil, []byte("OK"), 0)
			require_NoError(t, err)
		}
		for _, seq := range []uint64{500, 600, 700, 800} {
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
		}
		_, err := fs.LoadMsg(900, nil)
		require_NoError(t, err)

		// Compact by hand, from disk: messages past the interior deletes
		// must still load.
		fs.mu.RLock()
		lmb := fs.lastBlock
		lmb.mu.Lock()
		err = lmb.dirtyCloseWithRemove(false)
		if err == nil {
			err = lmb.compact()
		}
		lmb.mu.Unlock()
		fs.mu.RUnlock()
		require_NoError(t, err)

		sm, err := fs.LoadMsg(900, nil)
		require_NoError(t, err)
		require_Equal(t, sm.seq, uint64(900))
		require_Equal(t, sm.subj, "kv.0")
		_, err = fs.LoadMsg(800, nil)
		require_Error(t, err, errDeletedMsg, ErrStoreMsgNotFound)
		portCCheckState(t, fs, 996, 1, 1000)
	})
}

func TestFileStoreFilteredPendingBug(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})
		for _, subj := range []string{"foo", "bar", "baz"} {
			_, _, err := fs.StoreMsg(subj, nil, []byte("msg"), 0)
			require_NoError(t, err)
		}
		fs.mu.RLock()
		mb := fs.lastBlock
		fs.mu.RUnlock()

		// foo's only message is before the start: nothing, and no bounds.
		total, first, last, err := mb.filteredPending("foo", false, 3)
		require_NoError(t, err)
		require_Equal(t, total, uint64(0))
		require_Equal(t, first, uint64(0))
		require_Equal(t, last, uint64(0))

		// Control: from the start, foo is found.
		total, first, last, err = mb.filteredPending("foo", false, 1)
		require_NoError(t, err)
		require_Equal(t, total, uint64(1))
		require_Equal(t, first, uint64(1))
		require_Equal(t, last, uint64(1))
	})
}

func TestFileStoreRememberLastMsgTime(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "TEST", Storage: FileStorage, MaxAge: time.Second}
		var fs *fileStore
		t.Cleanup(func() {
			if fs != nil {
				fs.Stop()
			}
		})
		start := func() {
			t.Helper()
			var err error
			fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
			require_NoError(t, err)
		}
		restart := func() {
			t.Helper()
			fs.Stop()
			start()
		}
		requireLastTime := func(ts int64) {
			t.Helper()
			want := time.Unix(0, ts).UTC()
			if got := fs.State().LastTime; !got.Equal(want) {
				t.Fatalf("last time: want %v, got %v", want, got)
			}
		}
		// Messages big enough to fill blocks quickly.
		msg := bytes.Repeat([]byte("X"), 2*1024*1024)
		storeOne := func() (uint64, int64) {
			t.Helper()
			seq, ts, err := fs.StoreMsg("foo", nil, msg, 0)
			require_NoError(t, err)
			return seq, ts
		}

		// The last time survives a removal and a restart.
		start()
		seq, ts := storeOne()
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
		requireLastTime(ts)
		restart()
		requireLastTime(ts)

		// ... a purge and a restart.
		seq, ts = storeOne()
		_, err = fs.LoadMsg(seq, nil)
		require_NoError(t, err)
		_, err = fs.Purge()
		require_NoError(t, err)
		restart()
		requireLastTime(ts)

		// ... expiry and a restart.
		storeOne()
		seq, ts = storeOne()
		require_Equal(t, seq, uint64(4))
		checkFor(t, 5*time.Second, 100*time.Millisecond, func() error {
			if n := fs.State().Msgs; n != 0 {
				return fmt.Errorf("still %d messages", n)
			}
			return nil
		})
		restart()
		requireLastTime(ts)

		// ... and removing the last messages, with the last sequence kept.
		storeOne()
		seq, ts = storeOne()
		require_Equal(t, seq, uint64(6))
		for _, rseq := range []uint64{seq, seq - 1} {
			removed, err := fs.RemoveMsg(rseq)
			require_NoError(t, err)
			require_True(t, removed)
		}
		restart()
		requireLastTime(ts)
		require_Equal(t, fs.State().LastSeq, uint64(6))
	})
}

func TestFileStoreRebuildStateDmapAccountingBug(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 1024 * 1024
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		for i := 0; i < 100; i++ {
			_, _, err := fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		for seq := uint64(2); seq <= 40; seq++ {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		mb := headBlock(fs)
		require_True(t, mb != nil)

		// The block's count must always equal its range less its deletes.
		consistent := func(step string) {
			t.Helper()
			mb.mu.RLock()
			defer mb.mu.RUnlock()
			dels := uint64(mb.deleted.Size())
			if span := mb.last.seq - mb.first.seq + 1; mb.msgs != span-dels {
				t.Fatalf("%s: msgs %d, but first %d last %d with %d deletes", step, mb.msgs, mb.first.seq, mb.last.seq, dels)
			}
		}
		consistent("after removes")
		require_Equal(t, mb.msgs, uint64(61))

		mb.mu.Lock()
		err := mb.compact()
		mb.mu.Unlock()
		require_NoError(t, err)

		// With the head gone the compacted gap 2-40 must not be counted
		// again when the block is rebuilt from its file.
		_, err = fs.RemoveMsg(1)
		require_NoError(t, err)
		mb.mu.Lock()
		_, _, err = mb.rebuildStateLocked()
		mb.mu.Unlock()
		require_NoError(t, err)
		consistent("after rebuild")
		require_Equal(t, mb.msgs, uint64(60))
	})
}

func TestFileStoreFilteredFirstMatchingBug(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo.>"}, Storage: FileStorage})
		for _, payload := range []string{"A", "B", "C"} {
			_, _, err := fs.StoreMsg("foo.foo", nil, []byte(payload), 0)
			require_NoError(t, err)
		}

		// Drop the subject state and build it again while the block holds a
		// single subject.
		fs.mu.RLock()
		mb := fs.lastBlock
		fs.mu.RUnlock()
		mb.mu.Lock()
		mb.subjects = nil
		err := mb.generatePerSubjectInfo()
		numSubjects := 0
		if mb.subjects != nil {
			numSubjects = mb.subjects.Size()
		}
		mb.mu.Unlock()
		require_NoError(t, err)
		require_Equal(t, numSubjects, 1)

		// A second subject joins the block: a filtered load past foo.foo's
		// messages must not return it.
		_, _, err = fs.StoreMsg("foo.bar", nil, []byte("X"), 0)
		require_NoError(t, err)
		sm, _, err := fs.LoadNextMsg("foo.foo", false, 4, nil)
		if err == nil || sm != nil {
			t.Fatalf("filtered load returned a message of another subject: %+v", sm)
		}
		sm, _, err = fs.LoadNextMsg("foo.bar", false, 4, nil)
		require_NoError(t, err)
		require_Equal(t, sm.seq, uint64(4))
	})
}

func TestFileStoreRecaluclateFirstForSubjBug(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})
	for _, subj := range []string{"foo", "bar", "foo"} {
		_, _, err := fs.StoreMsg(subj, nil, nil, 0)
		require_NoError(t, err)
	}
	for _, seq := range []uint64{1, 2} {
		_, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
	}
	mb := headBlock(fs)

	// A state whose first is stale, still pointing below the block's first,
	// recalculated with no cache loaded (upstream panicked here).
	ss := &SimpleState{Msgs: 1, First: 1, Last: 3, firstNeedsUpdate: true}
	mb.mu.Lock()
	mb.clearCacheAndOffset()
	err := mb.recalculateForSubj("foo", ss)
	mb.mu.Unlock()
	require_NoError(t, err)
	require_Equal(t, *ss, SimpleState{Msgs: 1, First: 3, Last: 3})
}

func TestFileStoreErrPartialLoad(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})
	put := func(n int) error {
		for i := 0; i < n; i++ {
			if _, _, err := fs.StoreMsg("Z", nil, []byte("ZZZZZZZZZZZZZ"), 0); err != nil {
				return err
			}
		}
		return nil
	}
	require_NoError(t, put(100))

	lastBlock := func() *msgBlock {
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		return fs.lastBlock
	}
	lmb := lastBlock()
	lmb.mu.Lock()
	lmb.clearCache()
	lmb.mu.Unlock()

	// Writers keep appending while the reader drops the last block's cache
	// now and then and loads from it: a load must never see a partial cache.
	quit := make(chan struct{})
	writeErrs := make(chan error, 4)
	var writers sync.WaitGroup
	for i := 0; i < 4; i++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				if err := put(5); err != nil {
					writeErrs <- err
					return
				}
			}
		}()
	}
	defer func() {
		close(quit)
		writers.Wait()
		close(writeErrs)
		for err := range writeErrs {
			t.Errorf("writer: %v", err)
		}
	}()
	time.Sleep(20 * time.Millisecond)

	var smv StoreMsg
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		lmb := lastBlock()
		lmb.mu.Lock()
		first, last := lmb.first.seq, lmb.last.seq
		if i%100 == 0 {
			lmb.clearCache()
		}
		lmb.mu.Unlock()
		if spread := int(last - first); spread > 0 {
			seq := first + uint64(rng.Intn(spread))
			sm, err := fs.LoadMsg(seq, &smv)
			require_NoError(t, err)
			require_Equal(t, sm.seq, seq)
		}
	}
}

func TestFileStoreErrPartialLoadOnSyncClose(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 500},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})
	// Records of 50 bytes, ten to a block; five fill half of it.
	msg := bytes.Repeat([]byte("A"), 19)
	for _, subj := range []string{"A", "B", "C", "D", "E"} {
		_, _, err := fs.StoreMsg(subj, nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.State().Bytes, uint64(5*50))

	// What the background sync does to an idle last block.
	fs.mu.RLock()
	lmb := fs.lastBlock
	fs.mu.RUnlock()
	require_True(t, lmb != nil)
	lmb.mu.Lock()
	lmb.tryExpireCacheLocked()
	err := lmb.dirtyCloseWithRemove(false)
	lmb.mu.Unlock()
	require_NoError(t, err)

	// The next write reopens it; earlier records must still load.
	seq, _, err := fs.StoreMsg("Z", nil, msg, 0)
	require_NoError(t, err)
	require_Equal(t, seq, uint64(6))
	sm, err := fs.LoadMsg(1, nil)
	require_NoError(t, err)
	require_Equal(t, sm.subj, "A")
	sm, err = fs.LoadMsg(6, nil)
	require_NoError(t, err)
	require_Equal(t, sm.subj, "Z")
}

func TestFileStoreRecalcFirstSequenceBug(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, MaxMsgsPer: 2, Storage: FileStorage})
	msg := bytes.Repeat([]byte("A"), 22)
	for _, subj := range []string{"A", "A", "B", "B"} {
		_, _, err := fs.StoreMsg(subj, nil, msg, 0)
		require_NoError(t, err)
	}
	clearLastCache := func() {
		fs.mu.RLock()
		mb := fs.lastBlock
		fs.mu.RUnlock()
		mb.mu.Lock()
		mb.clearCacheAndOffset()
		mb.mu.Unlock()
	}
	clearLastCache()
	_, _, err := fs.StoreMsg("A", nil, msg, 0)
	require_NoError(t, err)

	// Readers of the last "A" race with writers that push older "A"s out
	// under the per-subject limit, with the cache dropped between reads.
	const n = 1000
	var (
		wg         sync.WaitGroup
		start      = make(chan struct{})
		readErr    error
		writeErr   error
		readerSeen uint64
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-start
		for i := 0; i < n; i++ {
			sm, err := fs.LoadLastMsg("A", nil)
			if err != nil {
				readErr = err
				return
			}
			if sm.seq < readerSeen {
				readErr = fmt.Errorf("last A went back from %d to %d", readerSeen, sm.seq)
				return
			}
			readerSeen = sm.seq
			clearLastCache()
		}
	}()
	go func() {
		defer wg.Done()
		<-start
		for i := 0; i < n; i++ {
			if _, _, err := fs.StoreMsg("A", nil, msg, 0); err != nil {
				writeErr = err
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	require_NoError(t, readErr)
	require_NoError(t, writeErr)

	// Two of each subject remain, and the last A is the last message.
	lastSeq := uint64(5 + n)
	portCCheckState(t, fs, 4, 3, lastSeq)
	ss, err := fs.FilteredState(1, "A")
	require_NoError(t, err)
	require_Equal(t, ss, SimpleState{Msgs: 2, First: lastSeq - 1, Last: lastSeq})
	sm, err := fs.LoadLastMsg("A", nil)
	require_NoError(t, err)
	require_Equal(t, sm.seq, lastSeq)
}

func TestFileStoreMsgBlockHolesAndIndexing(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage, MaxMsgsPer: 1})

	// Write records straight into the block, leaving sequence holes.
	mb := headBlock(fs)
	write := func(subj string, seq uint64) {
		t.Helper()
		rl := fileStoreMsgSize(subj, nil, []byte(subj))
		require_NoError(t, mb.writeMsgRecord(rl, seq, subj, nil, []byte(subj), time.Now().UnixNano(), true))
		fs.rebuildState(nil)
	}
	blockRange := func() (uint64, uint64) {
		mb.mu.RLock()
		defer mb.mu.RUnlock()
		return mb.first.seq, mb.last.seq
	}
	requireRange := func(first, last uint64) {
		t.Helper()
		f, l := blockRange()
		if f != first || l != last {
			t.Fatalf("block range: want %d-%d, got %d-%d", first, last, f, l)
		}
	}
	// Each read rebuilds the block from disk first, so the holes must be
	// found again and indexed as deletes.
	read := func(seq uint64, subj string) {
		t.Helper()
		ld, tombs, err := mb.rebuildState()
		require_NoError(t, err)
		require_True(t, ld == nil)
		require_Len(t, len(tombs), 0)
		fs.rebuildState(nil)
		sm, _, err := mb.fetchMsg(seq, nil)
		require_NoError(t, err)
		require_Equal(t, sm.subj, subj)
		require_True(t, bytes.Equal(sm.msg, []byte(subj)))
	}

	write("A", 2)
	requireRange(2, 2)
	write("B", 4)
	requireRange(2, 4)
	write("C", 12)
	requireRange(2, 12)

	read(4, "B")
	mb.mu.RLock()
	holeDeleted := mb.deleted.Exists(3)
	mb.mu.RUnlock()
	require_True(t, holeDeleted)
	read(12, "C")
	read(2, "A")

	// Every hole reads as missing, and inside the block it is a delete.
	for _, seq := range []uint64{1, 3, 5, 6, 7, 8, 9, 10, 11} {
		_, _, err := mb.fetchMsg(seq, nil)
		require_Error(t, err, ErrStoreMsgNotFound, errDeletedMsg)
		mb.mu.RLock()
		inBlock, deleted := seq >= mb.first.seq, mb.deleted.Exists(seq)
		mb.mu.RUnlock()
		if inBlock && !deleted {
			t.Fatalf("hole %d is not in the delete map", seq)
		}
	}
	mb.mu.RLock()
	msgs := mb.msgs
	mb.mu.RUnlock()
	require_Equal(t, msgs, uint64(3))
}

func TestFileStoreMsgBlockCompactionAndHoles(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage, MaxMsgsPer: 1})
	msg := bytes.Repeat([]byte("Z"), 1024)
	for _, subj := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"} {
		_, _, err := fs.StoreMsg(subj, nil, msg, 0)
		require_NoError(t, err)
	}
	// Keep the first and last, remove everything between.
	for seq := uint64(2); seq < 10; seq++ {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
	}
	require_Equal(t, fs.numMsgBlocks(), 1)
	mb := headBlock(fs)
	require_True(t, mb != nil)
	totalBefore, usedBefore, err := fs.Utilization()
	require_NoError(t, err)
	require_True(t, totalBefore > usedBefore)

	// Compaction leaves exactly the live records (and no tombstones, which
	// are for this block's own messages).
	mb.mu.Lock()
	err = mb.compact()
	mb.mu.Unlock()
	require_NoError(t, err)
	totalAfter, usedAfter, err := fs.Utilization()
	require_NoError(t, err)
	require_Equal(t, usedAfter, usedBefore)
	require_Equal(t, totalAfter, usedAfter)

	for _, seq := range []uint64{1, 10} {
		sm, err := fs.LoadMsg(seq, nil)
		require_NoError(t, err)
		require_Equal(t, sm.seq, seq)
	}
	_, err = fs.LoadMsg(5, nil)
	require_Error(t, err, errDeletedMsg, ErrStoreMsgNotFound)
}

func TestFileStoreRemoveLastNoDoubleTombstones(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage, MaxMsgsPer: 1})
	_, _, err := fs.StoreMsg("A", nil, []byte("hello"), 0)
	require_NoError(t, err)

	// Removing the only message for a limit empties the last block: one
	// block with a single tombstone remains, not two.
	fs.mu.Lock()
	removed, err := fs.removeMsgViaLimits(1)
	fs.mu.Unlock()
	require_NoError(t, err)
	require_True(t, removed)

	require_Equal(t, fs.numMsgBlocks(), 1)
	mb := headBlock(fs)
	require_True(t, mb != nil)
	require_NoError(t, mb.loadMsgs())
	total, _, err := fs.Utilization()
	require_NoError(t, err)
	require_Equal(t, total, uint64(emptyRecordLen))
	require_Len(t, len(mb.tombs()), 1)
	portCCheckState(t, fs, 0, 2, 1)
}

// portCLoadedCaches counts the blocks whose cache is fully loaded.
func portCLoadedCaches(fs *fileStore) int {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	var loaded int
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		if mb.cacheAlreadyLoaded() {
			loaded++
		}
		mb.mu.RUnlock()
	}
	return loaded
}

func TestFileStoreFSSMeta(t *testing.T) {
	fs := newTestFileStore(t,
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 100, CacheExpire: 200 * time.Millisecond, SubjectStateExpire: time.Second},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})
	// Records of 50 bytes, two to a block: |A Z| |Z Z| |Z Z| |Z A|.
	msg := bytes.Repeat([]byte("Z"), 19)
	for _, subj := range []string{"A", "Z", "Z", "Z", "Z", "Z", "Z", "A"} {
		_, _, err := fs.StoreMsg(subj, nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), 4)

	// Let the caches expire; PurgeEx loads blocks back in.
	time.Sleep(500 * time.Millisecond)
	purged, err := fs.PurgeEx("A", 0, 0)
	require_NoError(t, err)
	require_Equal(t, purged, uint64(2))
	require_Equal(t, portCLoadedCaches(fs), 0)

	// The subject state goes after SubjectStateExpire.
	checkFor(t, 3*time.Second, 100*time.Millisecond, func() error {
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		for _, mb := range fs.blocks {
			mb.mu.RLock()
			notLoaded := mb.fssNotLoaded()
			mb.mu.RUnlock()
			if notLoaded {
				return nil
			}
		}
		return fmt.Errorf("every block still has its subject state")
	})
	ss, err := fs.FilteredState(1, "Z")
	require_NoError(t, err)
	require_Equal(t, ss, SimpleState{Msgs: 6, First: 2, Last: 7})
}

func TestFileStoreOptimizeFirstLoadNextMsgWithSequenceZero(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 4096}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage}
	fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
	require_NoError(t, err)
	msg := bytes.Repeat([]byte("ZZZ"), 33)
	// Many blocks of foo.A, then foo.B only in the last one.
	for i := 0; i < 5000; i++ {
		_, _, err := fs.StoreMsg("foo.A", nil, msg, 0)
		require_NoError(t, err)
	}
	for i := 0; i < 10; i++ {
		_, _, err := fs.StoreMsg("foo.B", nil, msg, 0)
		require_NoError(t, err)
	}
	require_True(t, fs.numMsgBlocks() > 100)
	// Restart so no block has its subject state loaded to skip with.
	require_NoError(t, fs.Stop())
	fs = newTestFileStore(t, fcfg, cfg)

	// A start of 0 means from the beginning; the store-wide subject index
	// must lead straight to the last block without loading the others.
	sm, nseq, err := fs.LoadNextMsg("foo.B", false, 0, nil)
	require_NoError(t, err)
	require_Equal(t, nseq, uint64(5001))
	require_Equal(t, sm.subj, "foo.B")
	require_Equal(t, fs.cacheLoads(), uint64(1))
}

func TestFileStoreEraseMsgWithDbitSlots(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
	_, _, err := fs.StoreMsg("foo", nil, []byte("abd"), 0)
	require_NoError(t, err)
	for i := 0; i < 10; i++ {
		_, err := fs.SkipMsg(0)
		require_NoError(t, err)
	}
	_, _, err = fs.StoreMsg("foo", nil, []byte("abd"), 0)
	require_NoError(t, err)

	// Compacting away the skips leaves dbit slots in the cache index
	// between the two messages.
	mb := headBlock(fs)
	mb.mu.Lock()
	err = mb.compact()
	mb.mu.Unlock()
	require_NoError(t, err)

	erased, err := fs.EraseMsg(1)
	require_NoError(t, err)
	require_True(t, erased)
	portCCheckState(t, fs, 1, 12, 12)
	sm, err := fs.LoadMsg(12, nil)
	require_NoError(t, err)
	require_Equal(t, string(sm.msg), "abd")
	_, err = fs.LoadMsg(1, nil)
	require_Error(t, err)
}

func TestFileStoreEraseMsgWithAllTrailingDbitSlots(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
	_, _, err := fs.StoreMsg("foo", nil, []byte("abc"), 0)
	require_NoError(t, err)
	_, _, err = fs.StoreMsg("foo", nil, []byte("abcdefg"), 0)
	require_NoError(t, err)
	for i := 0; i < 10; i++ {
		_, err := fs.SkipMsg(0)
		require_NoError(t, err)
	}

	// After compaction the message to erase is followed only by dbit
	// slots, so its length runs to the end of the buffer.
	mb := headBlock(fs)
	mb.mu.Lock()
	err = mb.compact()
	mb.mu.Unlock()
	require_NoError(t, err)

	erased, err := fs.EraseMsg(2)
	require_NoError(t, err)
	require_True(t, erased)
	portCCheckState(t, fs, 1, 1, 12)
	sm, err := fs.LoadMsg(1, nil)
	require_NoError(t, err)
	require_Equal(t, string(sm.msg), "abc")
	_, err = fs.LoadMsg(2, nil)
	require_Error(t, err)

	// The erased payload is gone from the file, not just hidden.
	require_NoError(t, fs.FlushAllPending())
	mb.mu.Lock()
	buf, err := mb.loadBlock(nil)
	mb.mu.Unlock()
	require_NoError(t, err)
	require_False(t, bytes.Contains(buf, []byte("abcdefg")))
	require_True(t, bytes.Contains(buf, []byte("abc")))
}

func TestFileStoreMsgBlockFirstAndLastSeqCorrupt(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	for i := 1; i <= 10; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("abc"), 0)
		require_NoError(t, err)
	}
	purged, err := fs.Purge()
	require_NoError(t, err)
	require_Equal(t, purged, uint64(10))

	// Corrupt the empty block's range: last below the tombstone it holds.
	mb := headBlock(fs)
	mb.mu.Lock()
	mb.tryForceExpireCacheLocked()
	atomic.StoreUint64(&mb.last.seq, 9)
	mb.mu.Unlock()

	// Loading notices, rebuilds from the file and recovers the range.
	require_NoError(t, mb.loadMsgs())
	mb.mu.RLock()
	fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
	mb.mu.RUnlock()
	require_Equal(t, fseq, uint64(11))
	require_Equal(t, lseq, uint64(10))
}

func TestFileStoreRecoverWithRemovesAndNoIndexDB(t *testing.T) {
	sd := t.TempDir()
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage}
	fs, err := newFileStoreWithCreated(FileStoreConfig{StoreDir: sd, BlockSize: 250}, cfg, time.Now(), nil)
	require_NoError(t, err)
	defer func() { fs.Stop() }()
	for i := 1; i <= 10; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("abc"), 0)
		require_NoError(t, err)
	}
	for _, seq := range []uint64{1, 2, 8} {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
	}
	requireState := func() {
		t.Helper()
		var ss StreamState
		fs.FastState(&ss)
		require_Equal(t, ss.FirstSeq, uint64(3))
		require_Equal(t, ss.LastSeq, uint64(10))
		require_Equal(t, ss.Msgs, uint64(7))
	}
	requireState()

	// Compact the last block, which holds the tombstones of the others.
	fs.mu.RLock()
	lmb := fs.lastBlock
	fs.mu.RUnlock()
	lmb.mu.Lock()
	err = lmb.compact()
	lmb.mu.Unlock()
	require_NoError(t, err)

	// Without index.db recovery must rebuild the same state from blocks.
	require_NoError(t, fs.Stop())
	require_NoError(t, os.Remove(filepath.Join(sd, msgDir, streamStreamStateFile)))
	fs, err = newFileStoreWithCreated(FileStoreConfig{StoreDir: sd}, cfg, time.Now(), nil)
	require_NoError(t, err)
	requireState()
	for seq := uint64(1); seq <= 10; seq++ {
		_, err := fs.LoadMsg(seq, nil)
		if seq == 1 || seq == 2 || seq == 8 {
			require_Error(t, err)
		} else {
			require_NoError(t, err)
		}
	}
}

func TestFileStoreMsgBlockShouldCompact(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	// 127 of these fit in a default block.
	msg := bytes.Repeat([]byte("Z"), 64*1024)
	for i := 0; i < 190; i++ {
		_, _, err := fs.StoreMsg("foo.22", nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), 2)

	// Removing the second half of the first block puts its tombstones in
	// the second block and compacts the first inline once it is half dead.
	for seq := uint64(64); seq <= 127; seq++ {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
	}
	first, second := msgBlockAt(fs, 0), msgBlockAt(fs, 1)

	first.mu.RLock()
	live, raw, should := first.bytes, first.rawBytes, first.shouldCompactInline()
	first.mu.RUnlock()
	require_Equal(t, live, raw)
	require_False(t, should)

	// The second block's tombstones alone never make it worth compacting.
	second.mu.RLock()
	should = second.shouldCompactInline()
	second.mu.RUnlock()
	require_False(t, should)
	portCCheckState(t, fs, 190-64, 1, 190)
}

func TestFileStoreDmapBlockRecoverAfterCompact(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 256},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage, MaxMsgsPer: 1})
	msg := []byte("hello")
	// Six records fill the first block.
	for i := 1; i <= 6; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), 1)
	// Replacing foo.2-foo.5 under MaxMsgsPer 1 punches holes 2-5 in it.
	for i := 2; i < 6; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), 2)

	// Compact the first block, forget its delete map, and rebuild it from
	// the file alone: the gaps compaction left must come back as deletes.
	mb := headBlock(fs)
	mb.mu.Lock()
	err := mb.compact()
	var (
		ld    *LostStreamData
		tombs []uint64
		dels  []uint64
		msgs  uint64
	)
	if err == nil {
		mb.deleted.Empty()
		ld, tombs, err = mb.rebuildStateLocked()
		mb.deleted.Range(func(seq uint64) bool {
			dels = append(dels, seq)
			return true
		})
		msgs = mb.msgs
	}
	mb.mu.Unlock()
	require_NoError(t, err)
	require_True(t, ld == nil)
	require_Len(t, len(tombs), 0)
	require_Equal(t, fmt.Sprint(dels), "[2 3 4 5]")
	require_Equal(t, msgs, uint64(2))
}

func TestFileStoreRestoreDeleteTombstonesExceedingMaxBlkSize(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		const blockSize = 256
		fcfg.BlockSize = blockSize
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})

		// Start the stream at a high sequence.
		const base = 1_000_000_000
		n, err := fs.PurgeEx(_EMPTY_, base, 0)
		require_NoError(t, err)
		require_Equal(t, n, uint64(0))

		// Six messages to a block; upstream stores 10,000, fewer keep the
		// point: 100 removals write more tombstones than one block holds.
		for i := 1; i <= 1000; i++ {
			_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, []byte("hello"), 0)
			require_NoError(t, err)
		}
		for seq := uint64(base + 1); seq < base+101; seq++ {
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
		}

		// No block, tombstone blocks included, outgrows the block size.
		fs.mu.RLock()
		blocks := append([]*msgBlock(nil), fs.blocks...)
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		var tombOnly []*msgBlock
		for _, mb := range blocks {
			mb.mu.RLock()
			live, raw := mb.bytes, mb.rawBytes
			mb.mu.RUnlock()
			if live >= blockSize || raw >= blockSize {
				t.Fatalf("block %d holds %d live and %d raw bytes, over the block size", mb.index, live, raw)
			}
			if live == 0 && mb != lmb {
				tombOnly = append(tombOnly, mb)
			}
		}
		require_True(t, len(tombOnly) > 0)

		// Blocks of tombstones look worth compacting, but compacting them
		// changes nothing while the tombstones are still needed.
		for _, mb := range tombOnly {
			mb.mu.Lock()
			lerr := mb.ensureRawBytesLoaded()
			live, raw, should := mb.bytes, mb.rawBytes, mb.shouldCompactSync()
			err := mb.compact()
			nlive, nraw := mb.bytes, mb.rawBytes
			mb.mu.Unlock()
			require_NoError(t, lerr)
			require_NoError(t, err)
			require_True(t, should)
			require_Equal(t, nlive, live)
			require_Equal(t, nraw, raw)
		}

		// Removing the first message leaves every tombstone below the first
		// sequence; the next sync drops them and their blocks.
		removed, err := fs.RemoveMsg(base)
		require_NoError(t, err)
		require_True(t, removed)
		fs.syncBlocks()
		for _, mb := range tombOnly {
			mb.mu.Lock()
			_ = mb.ensureRawBytesLoaded()
			index, live, raw := mb.index, mb.bytes, mb.rawBytes
			mb.mu.Unlock()
			require_Equal(t, live, uint64(0))
			require_Equal(t, raw, uint64(0))
			fs.mu.RLock()
			_, kept := fs.blockByIndex[index]
			fs.mu.RUnlock()
			if kept {
				t.Fatalf("tombstone block %d still listed after sync", index)
			}
		}
		portCCheckState(t, fs, 1000-101, base+101, base+999)
	})
}

func TestFileStoreDontSpamCompactWhenMostlyTombstones(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: defaultMediumBlockSize},
		StreamConfig{Name: "TEST", Subjects: []string{"foo"}, Storage: FileStorage})
	// Enough 133-byte records for five full blocks and two in a sixth. The
	// size cannot be scaled down: the tombstones must outgrow
	// compactMinimum for the block to look worth compacting.
	msg := bytes.Repeat([]byte("X"), 100)
	const numBlocks = 6
	const lastSeq = uint64(31_536*(numBlocks-1) + 2)
	for seq := uint64(1); seq <= lastSeq; seq++ {
		_, _, err := fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}
	require_Equal(t, fs.numMsgBlocks(), numBlocks)
	fs.mu.RLock()
	lmb := fs.lastBlock
	fs.mu.RUnlock()
	lmb.mu.RLock()
	fseq, lseq := lmb.first.seq, lmb.last.seq
	lmb.mu.RUnlock()
	require_Equal(t, fseq, lastSeq-1)
	require_Equal(t, lseq, lastSeq)

	// Removing everything before the last block fills it with tombstones
	// until a new block takes the rest.
	for seq := uint64(1); seq < fseq; seq++ {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
	}
	require_Equal(t, fs.numMsgBlocks(), 2)

	fs.mu.Lock()
	defer fs.mu.Unlock()
	fmb := fs.blocks[0]
	fmb.mu.Lock()
	defer fmb.mu.Unlock()

	// Mark one of its two messages deleted by hand (RemoveMsg would
	// compact on its own): ~4MB of file for one live message.
	fmb.deleted.Insert(lastSeq)
	fmb.bytes /= 2
	require_Equal(t, fmb.bytes, uint64(133))
	require_Equal(t, fmb.compactSize, uint64(0))
	require_True(t, fmb.shouldCompactInline())

	// Compaction keeps the tombstones, so it gains almost nothing; it must
	// not be tried again until enough more is removed.
	require_NoError(t, fmb.compact())
	require_False(t, fmb.shouldCompactInline())
	require_Equal(t, fmb.bytes, uint64(133))
	require_Equal(t, fmb.compactSize, fmb.bytes)

	fmb.bytes /= 2
	require_True(t, fmb.shouldCompactInline())
}

func TestFileStoreFirstMatchingMultiExpiry(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo.>"}, Storage: FileStorage})
		for _, payload := range []string{"A", "B", "C"} {
			_, _, err := fs.StoreMsg("foo.foo", nil, []byte(payload), 0)
			require_NoError(t, err)
		}
		fs.mu.RLock()
		mb := fs.lastBlock
		fs.mu.RUnlock()
		mb.mu.Lock()
		mb.tryExpireCacheLocked()
		mb.mu.Unlock()

		sl := gsl.NewSimpleSublist()
		require_NoError(t, sl.Insert("foo.foo", struct{}{}))

		// Only a linear walk reaching the block's last message may expire
		// the cache.
		for _, step := range []struct {
			start      uint64
			wantMsg    string
			wantExpire bool
		}{
			{start: 1, wantMsg: "A"},
			{start: 2, wantMsg: "B"},
			{start: 3, wantMsg: "C", wantExpire: true},
		} {
			sm, expire, err := mb.firstMatchingMulti(sl, step.start, nil)
			require_NoError(t, err)
			require_Equal(t, string(sm.msg), step.wantMsg)
			if expire != step.wantExpire {
				t.Fatalf("start %d: expire %v, want %v", step.start, expire, step.wantExpire)
			}
		}
	})
}

func TestFileStoreAtomicEraseMsg(t *testing.T) {
	for _, inLastBlock := range []bool{true, false} {
		t.Run(fmt.Sprintf("lmb=%v", inLastBlock), func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
				created := time.Now()
				fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
				require_NoError(t, err)
				defer func() { fs.Stop() }()
				for range 3 {
					_, _, err := fs.StoreMsg("foo", nil, nil, 0)
					require_NoError(t, err)
				}

				// compressed reports whether a block file starts with
				// compression metadata.
				compressed := func(mb *msgBlock) bool {
					t.Helper()
					mb.mu.Lock()
					buf, err := mb.loadBlock(nil)
					mb.mu.Unlock()
					require_NoError(t, err)
					var meta CompressionInfo
					n, err := meta.UnmarshalMetadata(buf)
					require_NoError(t, err)
					return n > 0 && meta.Algorithm != NoCompression
				}

				if !inLastBlock {
					// Roll so that the erased message sits in a finished
					// block, which compression would rewrite.
					smb := headBlock(fs)
					require_True(t, smb != nil)
					fs.mu.Lock()
					mb, err := fs.newMsgBlockForWrite()
					fs.mu.Unlock()
					require_NoError(t, err)
					require_False(t, compressed(mb))
					if fcfg.Compression != NoCompression {
						checkFor(t, 2*time.Second, 100*time.Millisecond, func() error {
							if !compressed(smb) {
								return fmt.Errorf("block %d not compressed yet", smb.index)
							}
							return nil
						})
					}
				}

				state := fs.State()
				require_Equal(t, state.Msgs, uint64(3))
				require_Equal(t, state.FirstSeq, uint64(1))
				require_Equal(t, state.LastSeq, uint64(3))
				require_Equal(t, state.NumDeleted, 0)

				erased, err := fs.EraseMsg(2)
				require_NoError(t, err)
				require_True(t, erased)
				state = fs.State()
				require_Equal(t, state.Msgs, uint64(2))
				require_Equal(t, state.FirstSeq, uint64(1))
				require_Equal(t, state.LastSeq, uint64(3))
				require_Equal(t, state.NumDeleted, 1)

				seq, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				require_Equal(t, seq, uint64(4))
				before := fs.State()

				// Only finished blocks are compressed, never the last.
				validateCompressed := func() {
					t.Helper()
					fs.mu.RLock()
					blocks, lmb := append([]*msgBlock(nil), fs.blocks...), fs.lastBlock
					fs.mu.RUnlock()
					for _, mb := range blocks {
						want := mb != lmb && fcfg.Compression != NoCompression
						require_Equal(t, compressed(mb), want)
					}
				}
				requireBefore := func(how string) {
					t.Helper()
					if state := fs.State(); !reflect.DeepEqual(state, before) {
						t.Fatalf("%s: want state\n%+v\ngot\n%+v", how, before, state)
					}
					validateCompressed()
				}
				validateCompressed()

				// The erase survives a restart with index.db ...
				require_NoError(t, fs.Stop())
				fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
				require_NoError(t, err)
				requireBefore("restart")

				// ... one from the blocks alone ...
				require_NoError(t, fs.Stop())
				require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
				fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
				require_NoError(t, err)
				requireBefore("restart without index.db")

				// ... and a rebuild of the store's state from its blocks.
				fs.rebuildState(nil)
				requireBefore("rebuild")
				_, err = fs.LoadMsg(2, nil)
				require_Error(t, err)
			})
		})
	}
}

func TestFileStoreCorruptedNonOrderedSequences(t *testing.T) {
	for _, tc := range []struct {
		title   string
		seqs    []uint64
		msgs    uint64
		deleted int
	}{
		{title: "Unordered", seqs: []uint64{1, 3, 2, 4}, msgs: 3, deleted: 1},
		{title: "Duplicated", seqs: []uint64{1, 2, 2, 3}, msgs: 3, deleted: 0},
	} {
		t.Run(tc.title, func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
				// Records written in a bad order, as a damaged or foreign
				// block could hold them.
				fs.mu.Lock()
				for _, seq := range tc.seqs {
					if _, err := fs.writeMsgRecord(seq, 0, _EMPTY_, nil, nil); err != nil {
						fs.mu.Unlock()
						t.Fatalf("write of %d: %v", seq, err)
					}
				}
				lmb := fs.lastBlock
				fs.mu.Unlock()

				lmb.mu.Lock()
				defer lmb.mu.Unlock()
				// Appending counted every record.
				require_Equal(t, lmb.msgs, uint64(4))
				require_Equal(t, lmb.deleted.Size(), 0)

				// A rebuild from the file sees through it: sequences only
				// move up, a repeat is not counted twice and a skipped
				// one is a delete. first is reset so the rebuild starts
				// from the records alone.
				atomic.StoreUint64(&lmb.first.seq, 0)
				_, _, err := lmb.rebuildStateLocked()
				require_NoError(t, err)
				require_Equal(t, lmb.msgs, tc.msgs)
				require_Equal(t, lmb.deleted.Size(), tc.deleted)

				// Indexing the file agrees with the rebuilt state.
				require_True(t, lmb.cacheNotLoaded())
				buf, err := lmb.loadBlock(nil)
				require_NoError(t, err)
				// The file holds the records encrypted in the cipher
				// permutations.
				require_NoError(t, lmb.encryptOrDecryptIfNeeded(buf))
				buf, err = lmb.decompressIfNeeded(buf)
				require_NoError(t, err)
				require_NoError(t, lmb.indexCacheBuf(buf))
				require_True(t, lmb.cacheAlreadyLoaded())
			})
		})
	}
}
