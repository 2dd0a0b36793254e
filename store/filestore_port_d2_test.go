package store

import (
	"bytes"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/avl"
)

// Ported upstream file store tests (batch 15, msgBlock internals, part D),
// continued from filestore_port_d_test.go: checksums, corruption, sync,
// read errors and races.

func TestFileStoreCorrectChecksumAfterTruncate(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

		// The tail checksum after seq 3 is what a truncate back to 3 must
		// restore, both in memory and as read from the file.
		var fileChk []byte
		var memChk [8]byte
		for i := range 5 {
			_, _, err := fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
			if i == 2 {
				mb := headBlock(fs)
				mb.mu.Lock()
				fileChk = mb.lastChecksum()
				memChk = mb.tailChecksum
				mb.mu.Unlock()
			}
		}
		require_True(t, bytes.Equal(fileChk, memChk[:]))

		require_NoError(t, fs.Truncate(3))
		mb := headBlock(fs)
		mb.mu.Lock()
		fileAfter := mb.lastChecksum()
		memAfter := mb.tailChecksum
		mb.mu.Unlock()
		require_True(t, bytes.Equal(fileAfter, memAfter[:]))
		require_True(t, bytes.Equal(fileChk, fileAfter))
	})
}

func TestFileStoreCorruptionSetsHbitWithoutHeaders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(mb *msgBlock, buf []byte) error
		check func(t *testing.T, err error)
	}{
		{
			name: "msgFromBuf",
			parse: func(mb *msgBlock, buf []byte) error {
				_, err := mb.msgFromBufNoCopy(buf, nil, mb.hasher)
				return err
			},
			check: requireSanityCheckFailed,
		},
		{
			name:  "indexCacheBuf",
			parse: func(mb *msgBlock, buf []byte) error { return mb.indexCacheBuf(buf) },
			check: func(t *testing.T, err error) { require_Error(t, err, errCorruptState) },
		},
		{
			name: "rebuildState",
			parse: func(mb *msgBlock, buf []byte) error {
				_, _, err := mb.rebuildStateFromBufLocked(buf, false)
				return err
			},
			check: requireSanityCheckFailed,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}})
				mb := headBlock(fs)
				if mb == nil {
					t.Fatalf("expected a write block")
				}

				// A record whose length claims headers but that has none
				// is too short for a header length: it must be rejected
				// rather than read past.
				fs.mu.Lock()
				mb.mu.Lock()
				err := mb.writeMsgRecordLocked(emptyRecordLen|hbit, 1, _EMPTY_, nil, nil, 0, false)
				var buf []byte
				if mb.cache != nil {
					buf = slices.Clone(mb.cache.buf)
				}
				mb.mu.Unlock()
				fs.mu.Unlock()
				require_NoError(t, err)
				if len(buf) == 0 {
					t.Fatalf("expected the record in the cache")
				}

				mb.mu.Lock()
				err = tc.parse(mb, buf)
				mb.mu.Unlock()
				tc.check(t, err)
			})
		})
	}
}

// requireSanityCheckFailed fails unless err reports a failed sanity check.
func requireSanityCheckFailed(t *testing.T, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "sanity check failed") {
		t.Fatalf("expected a sanity check error, got %v", err)
	}
}

func TestFileStoreSyncBlocksNoErrorOnConcurrentRemovedBlock(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir()}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	// Only this test runs syncBlocks.
	fs.mu.Lock()
	fs.cancelSyncTimer()
	fs.mu.Unlock()

	// 1.blk: 1, 2. 2.blk: 3 and the tombstone for 2. 3.blk: 4 and the
	// tombstone for 3, which leaves 2.blk all dead.
	storeFooMsgs(t, fs, 2)
	newMsgBlockForWriteT(t, fs)
	storeFooMsgs(t, fs, 1)
	removeMsgs(t, fs, 2)
	newMsgBlockForWriteT(t, fs)
	storeFooMsgs(t, fs, 1)
	removeMsgs(t, fs, 3)

	mb := msgBlockAt(fs, 1)
	require_Equal(t, mb.index, 2)
	mb.mu.Lock()
	require_NoError(t, mb.ensureRawBytesLoaded())
	shouldCompact := mb.shouldCompactSync()
	mb.mu.Unlock()
	require_True(t, shouldCompact)

	// Hold the block while syncBlocks queues up behind its lock, then
	// remove it: syncBlocks must skip the removed block without error.
	var removeErr error
	ready, done := make(chan struct{}), make(chan struct{})
	mb.mu.Lock()
	go func() {
		defer close(done)
		close(ready)
		time.Sleep(200 * time.Millisecond)
		fs.mu.Lock()
		removeErr = fs.forceRemoveMsgBlock(mb)
		fs.mu.Unlock()
		mb.mu.Unlock()
	}()
	<-ready
	fs.syncBlocks()
	<-done
	require_NoError(t, removeErr)

	fs.mu.RLock()
	defer fs.mu.RUnlock()
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	require_NoError(t, mb.writeErr)
	require_NoError(t, fs.writeErr)
}

func TestFileStoreDontExpireCacheWithRecentWrite(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}})

	_, _, err := fs.StoreMsg("foo", nil, nil, 0)
	require_NoError(t, err)

	// The write leaves the cache loaded.
	fmb := headBlock(fs)
	fmb.mu.Lock()
	cacheLoaded := fmb.cacheAlreadyLoaded()
	fmb.lastLoadSeq = 0
	fmb.mu.Unlock()
	require_True(t, cacheLoaded)

	// A read at the end of the block would expire the cache, but the
	// recent write keeps it.
	_, _, err = fs.LoadNextMsg(fwcs, true, 0, nil)
	require_NoError(t, err)
	fmb.mu.Lock()
	fmb.lastLoadSeq = 0
	cacheLoaded = fmb.cacheAlreadyLoaded()
	// Once the write is old, the same read may expire it.
	fmb.lastWrite = 0
	fmb.mu.Unlock()
	require_True(t, cacheLoaded)

	_, _, err = fs.LoadNextMsg(fwcs, true, 0, nil)
	require_NoError(t, err)
	fmb.mu.Lock()
	cacheLoaded = fmb.cacheAlreadyLoaded()
	fmb.mu.Unlock()
	require_False(t, cacheLoaded)
}

// zeroCacheAndDropSubjects loads the block's cache, zeroes its buffer (same
// length, so the cache still looks loaded but no record parses) and drops
// the per-subject state so that the next use rebuilds it from that cache.
// mb.mu held.
func zeroCacheAndDropSubjects(t *testing.T, mb *msgBlock) {
	t.Helper()
	require_NoError(t, mb.loadMsgsWithLock())
	mb.cache.buf = make([]byte, len(mb.cache.buf))
	mb.subjects = nil
}

func TestFileStoreMsgBlockWErrNotSetOnReadErrors(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{"foo"}})

	_, _, err := fs.StoreMsg("foo", nil, []byte("hello"), 0)
	require_NoError(t, err)

	mb := lastMsgBlock(fs)
	fs.mu.Lock()
	mb.mu.Lock()
	zeroCacheAndDropSubjects(t, mb)
	mb.mu.Unlock()
	fs.mu.Unlock()

	// Rebuilding the subject state fails on the unreadable cache. That is
	// a read error and must not disable writes.
	_, _, err = fs.StoreMsg("foo", nil, []byte("world"), 0)
	if err == nil || !isReadErr(err) {
		t.Fatalf("expected a read error, got %v", err)
	}
	checkWriteErr := func(want error) {
		t.Helper()
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		mb.mu.RLock()
		defer mb.mu.RUnlock()
		require_Equal(t, mb.writeErr, want)
		require_Equal(t, fs.writeErr, want)
	}
	checkWriteErr(nil)

	// The next write reloads from disk and succeeds.
	_, _, err = fs.StoreMsg("foo", nil, []byte("again"), 0)
	require_NoError(t, err)
	checkWriteErr(nil)

	// A real write error still sticks to both the block and the store.
	mb.mu.Lock()
	mb.writeErr = io.ErrShortWrite
	mb.mu.Unlock()
	_, _, err = fs.StoreMsg("foo", nil, []byte("again"), 0)
	require_Error(t, err, io.ErrShortWrite)
	checkWriteErr(io.ErrShortWrite)
}

func TestFileStoreGeneratePerSubjectInfoFssNilOnError(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{"foo"}})

	_, _, err := fs.StoreMsg("foo", nil, []byte("hello"), 0)
	require_NoError(t, err)

	fs.mu.Lock()
	defer fs.mu.Unlock()
	mb := fs.lastBlock
	mb.mu.Lock()
	defer mb.mu.Unlock()
	zeroCacheAndDropSubjects(t, mb)

	require_Error(t, mb.generatePerSubjectInfo())
	// A failed rebuild leaves no half-built state behind, so the next
	// ensurePerSubjectInfoLoaded tries again ...
	require_True(t, mb.subjects == nil)
	// ... and drops the bad cache, so that the retry reads the file.
	require_True(t, mb.cache == nil)

	require_NoError(t, mb.ensurePerSubjectInfoLoaded())
	ss, ok := mb.subjects.Find([]byte("foo"))
	require_True(t, ok)
	require_Equal(t, ss.Msgs, 1)
}

// raceDuration bounds the concurrent tests below; they are meant to be run
// with -race, which sees a bad interleaving quickly.
const raceDuration = 750 * time.Millisecond

func TestFileStoreSubjectForSeqAliasRace(t *testing.T) {
	// Many small blocks whose caches come and go under the readers.
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1024}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "TEST", Subjects: []string{"foo.>"}, Storage: FileStorage})

	const n = 256
	subjects := make([]string, n) // by seq-1
	for i := range subjects {
		// Long, distinct subjects: a view of a reused buffer shows.
		subjects[i] = fmt.Sprintf("foo.seq-%05d-%s", i+1, strings.Repeat("A", 40))
		_, _, err := fs.StoreMsg(subjects[i], nil, []byte("payload"), 0)
		require_NoError(t, err)
	}
	require_True(t, fs.numMsgBlocks() >= 4)

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		lookups  atomic.Int64
		mismatch atomic.Pointer[string]
	)
	for r := range 4 {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				seq := uint64(rng.IntN(n) + 1)
				got, err := fs.SubjectForSeq(seq)
				if err != nil {
					msg := fmt.Sprintf("seq %d: %v", seq, err)
					mismatch.CompareAndSwap(nil, &msg)
					return
				}
				lookups.Add(1)
				if got != subjects[seq-1] {
					msg := fmt.Sprintf("seq %d: got %q, want %q", seq, got, subjects[seq-1])
					mismatch.CompareAndSwap(nil, &msg)
					return
				}
			}
		}(r)
	}
	// Drop every block's cache over and over while the readers run.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			fs.mu.RLock()
			blks := slices.Clone(fs.blocks)
			fs.mu.RUnlock()
			for _, mb := range blks {
				mb.tryForceExpireCache()
			}
		}
	}()

	deadline := time.Now().Add(raceDuration)
	for time.Now().Before(deadline) && mismatch.Load() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if msg := mismatch.Load(); msg != nil {
		t.Fatalf("SubjectForSeq returned a wrong answer: %s", *msg)
	}
	if lookups.Load() == 0 {
		t.Fatalf("no lookups ran")
	}
}

func TestFileStoreUpdateConfigSyncAlwaysRace(t *testing.T) {
	cfg := StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{"foo"}, Replicas: 3, PersistMode: AsyncPersistMode}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, cfg)

	_, _, err := fs.StoreMsg("foo", nil, []byte("hello"), 0)
	require_NoError(t, err)

	// One side stores and flushes (reading the block's sync setting), the
	// other keeps applying the config (writing it).
	var (
		wg     sync.WaitGroup
		stored atomic.Uint64
		errs   atomic.Pointer[error]
	)
	stored.Store(1)
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := fs.StoreMsg("foo", nil, []byte("data"), 0); err != nil {
				errs.CompareAndSwap(nil, &err)
				return
			}
			stored.Add(1)
			if lmb := lastMsgBlock(fs); lmb != nil {
				if err := lmb.flushPendingMsgs(); err != nil {
					errs.CompareAndSwap(nil, &err)
					return
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer close(stop)
		for range 300 {
			ncfg := cfg
			if err := fs.UpdateConfig(&ncfg); err != nil {
				errs.CompareAndSwap(nil, &err)
				return
			}
		}
	}()
	wg.Wait()
	if err := errs.Load(); err != nil {
		t.Fatalf("unexpected error: %v", *err)
	}

	state := fs.State()
	require_Equal(t, state.Msgs, stored.Load())
	require_Equal(t, state.LastSeq, stored.Load())
	require_Equal(t, fs.SubjectsTotals("foo")["foo"], stored.Load())
}

func TestFileStoreStoreRawMsgTTLsRace(t *testing.T) {
	// One big block so that the writers' TTL counting and the readers'
	// reindexing both work on the last block.
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 8 * 1024 * 1024, CacheExpire: time.Millisecond}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"test"}, Storage: FileStorage, AllowMsgTTL: true})

	// Long enough that nothing expires during the test.
	ttl := int64(3600)
	hdr := fmt.Appendf(nil, "NATS/1.0\r\n%s: %d\r\n\r\n", JSMessageTTL, ttl)
	_, _, err := fs.StoreMsg("test", hdr, []byte("hello"), ttl)
	require_NoError(t, err)

	var (
		stop atomic.Bool
		wg   sync.WaitGroup
		errs atomic.Pointer[error]
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, _, err := fs.StoreMsg("test", hdr, []byte("hello"), ttl); err != nil {
					errs.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	// Reloading the block recounts its TTL headers.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				lmb := lastMsgBlock(fs)
				fseq := atomic.LoadUint64(&lmb.first.seq)
				lmb.mu.Lock()
				_, err := lmb.flushPendingMsgsLocked()
				lmb.clearCacheAndOffset()
				lmb.mu.Unlock()
				if err != nil {
					errs.CompareAndSwap(nil, &err)
					return
				}
				if _, err := fs.LoadMsg(fseq, nil); err != nil {
					errs.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	time.Sleep(raceDuration)
	stop.Store(true)
	wg.Wait()
	if err := errs.Load(); err != nil {
		t.Fatalf("unexpected error: %v", *err)
	}

	// Every message carries a TTL and all are in the one block.
	state := fs.State()
	require_Equal(t, fs.numMsgBlocks(), 1)
	lmb := lastMsgBlock(fs)
	lmb.mu.Lock()
	ttls := lmb.ttls
	lmb.clearCacheAndOffset()
	require_NoError(t, lmb.loadMsgsWithLock())
	recounted := lmb.ttls
	lmb.mu.Unlock()
	require_Equal(t, recounted, state.Msgs)
	require_Equal(t, ttls, state.Msgs)
}

func TestFileStoreSyncDeletedDmapAliasRace(t *testing.T) {
	// Small blocks, many of them.
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1024}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	msg := bytes.Repeat([]byte("Z"), 50)
	const total = 600
	for range total {
		_, _, err := fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}
	// Interior deletes in many blocks, then compaction so the records are
	// gone from disk and every reload rebuilds the delete maps.
	for seq := uint64(2); seq <= total-1; seq += 3 {
		removeMsgs(t, fs, seq)
	}
	fs.mu.RLock()
	blks := slices.Clone(fs.blocks)
	fs.mu.RUnlock()
	for _, mb := range blks[:len(blks)-1] {
		compactBlockT(t, mb)
	}

	// Our own delete blocks, copied, are what a follower would be told.
	fs.mu.Lock()
	fs.readLockAllMsgBlocks()
	live, _ := fs.deleteBlocks()
	dbs := make(DeleteBlocks, len(live))
	for i, db := range live {
		switch d := db.(type) {
		case *avl.SequenceSet:
			dbs[i] = d.Clone()
		case *DeleteRange:
			cp := *d
			dbs[i] = &cp
		default:
			dbs[i] = db
		}
	}
	fs.readUnlockAllMsgBlocks()
	fs.mu.Unlock()
	require_True(t, len(dbs) > 0)
	before := fs.State()

	// SyncDeleted reads the delete maps while reloads rebuild them.
	var (
		wg   sync.WaitGroup
		errs atomic.Pointer[error]
	)
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := fs.SyncDeleted(dbs); err != nil {
					errs.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, mb := range blks {
					mb.mu.Lock()
					mb.tryForceExpireCacheLocked()
					err := mb.loadMsgsWithLock()
					mb.mu.Unlock()
					if err != nil {
						errs.CompareAndSwap(nil, &err)
						return
					}
				}
			}
		}()
	}
	time.Sleep(raceDuration)
	close(stop)
	wg.Wait()
	if err := errs.Load(); err != nil {
		t.Fatalf("unexpected error: %v", *err)
	}

	// The deletes we already had change nothing.
	if after := fs.State(); !reflect.DeepEqual(before, after) {
		t.Fatalf("expected state\n %+v\ngot\n %+v", before, after)
	}
}
