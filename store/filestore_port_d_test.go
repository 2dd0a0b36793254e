package store

import (
	"bytes"
	crand "crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Ported upstream file store tests (batch 15, msgBlock internals, part D):
// compaction, tombstones, cache index mismatches, delete blocks and ranges,
// checksums, sync and races.

// lastMsgBlock returns the store's last block.
func lastMsgBlock(fs *fileStore) *msgBlock {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.lastBlock
}

// newMsgBlockForWriteT rolls to a new last block and returns it.
func newMsgBlockForWriteT(t *testing.T, fs *fileStore) *msgBlock {
	t.Helper()
	fs.mu.Lock()
	mb, err := fs.newMsgBlockForWrite()
	fs.mu.Unlock()
	require_NoError(t, err)
	return mb
}

// removeIndexDB deletes index.db so the next open rebuilds from the blocks.
func removeIndexDB(t *testing.T, fcfg FileStoreConfig) {
	t.Helper()
	err := os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("removing index.db: %v", err)
	}
}

func TestFileStoreCacheLookupOnEmptyBlock(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs := newTestFileStore(t, fcfg, cfg)

		// A store with nothing in it still has a (fresh, empty) write block.
		lmb := lastMsgBlock(fs)
		if lmb == nil {
			t.Fatalf("expected a last block")
		}

		lmb.mu.Lock()
		defer lmb.mu.Unlock()
		lmb.clearCacheAndOffset()
		require_True(t, lmb.cache == nil)

		// An empty block has nothing to find: the answer must be "not
		// found", not a complaint about the missing cache.
		_, err := lmb.cacheLookup(atomic.LoadUint64(&lmb.first.seq), nil)
		require_Error(t, err, ErrStoreMsgNotFound)

		// And the lookup must not have loaded a cache to find that out.
		require_True(t, lmb.cache == nil)
	})
}

func TestFileStoreEraseMsgDoesNotLoseTombstonesInEmptyBlock(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		created := time.Now()
		fs, err := newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)
		defer func() { fs.Stop() }()

		// Seq 1 stays; seq 2 is removed later, leaving a tombstone in the
		// second block.
		for range 2 {
			_, _, err = fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		mb := newMsgBlockForWriteT(t, fs)

		secret := []byte("secret!")
		_, _, err = fs.StoreMsg("foo", nil, secret, 0)
		require_NoError(t, err)

		_, err = fs.RemoveMsg(2)
		require_NoError(t, err)
		// Erasing seq 3 empties its block, but the block also carries the
		// tombstone for seq 2 and must keep it.
		_, err = fs.EraseMsg(3)
		require_NoError(t, err)

		before := fs.State()
		require_Equal(t, before.Msgs, 1)
		require_Equal(t, before.FirstSeq, 1)
		require_Equal(t, before.LastSeq, 3)
		require_True(t, slices.Equal(before.Deleted, []uint64{2, 3}))

		_, err = fs.LoadMsg(2, nil)
		require_Error(t, err, errDeletedMsg)
		_, err = fs.LoadMsg(3, nil)
		require_Error(t, err, ErrStoreMsgNotFound)

		// Erased means the payload is gone from the file.
		mb.mu.Lock()
		buf, err := mb.loadBlock(nil)
		mb.mu.Unlock()
		require_NoError(t, err)
		require_False(t, bytes.Contains(buf, secret))

		// Recovery from the blocks alone must find the same state.
		fs.Stop()
		removeIndexDB(t, fcfg)
		fs, err = newFileStoreWithCreated(fcfg, cfg, created, nil)
		require_NoError(t, err)

		if state := fs.State(); !reflect.DeepEqual(state, before) {
			t.Fatalf("expected state\n %+v\ngot\n %+v\nwithout index.db", before, state)
		}
		_, err = fs.LoadMsg(2, nil)
		require_Error(t, err, errDeletedMsg)
		_, err = fs.LoadMsg(3, nil)
		require_Error(t, err, ErrStoreMsgNotFound)
	})
}

func TestFileStoreMissingDeletesAfterCompact(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs := newTestFileStore(t, fcfg, cfg)

		// Six messages; remove the first, the last and a gap in between.
		for range 6 {
			_, _, err := fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		for _, seq := range []uint64{1, 3, 4, 6} {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}

		// Block compaction is never done on the last block.
		fmb := headBlock(fs)
		newMsgBlockForWriteT(t, fs)

		fmb.mu.Lock()
		defer fmb.mu.Unlock()
		require_Equal(t, atomic.LoadUint64(&fmb.first.seq), 2)
		require_Equal(t, atomic.LoadUint64(&fmb.last.seq), 6)
		require_Equal(t, fmb.msgs, 2)
		require_Len(t, fmb.deleted.Size(), 3)
		for _, seq := range []uint64{3, 4, 6} {
			require_True(t, fmb.deleted.Exists(seq))
		}

		// After compacting, a reload from the file alone (delete map
		// forgotten) must rediscover the interior deletes.
		require_NoError(t, fmb.compact())
		fmb.clearCache()
		fmb.deleted.Empty()
		require_NoError(t, fmb.loadMsgsWithLock())
		require_Equal(t, atomic.LoadUint64(&fmb.first.seq), 2)
		require_Equal(t, atomic.LoadUint64(&fmb.last.seq), 5)
		require_Equal(t, fmb.msgs, 2)
		require_Len(t, fmb.deleted.Size(), 2)
		require_True(t, fmb.deleted.Exists(3))
		require_True(t, fmb.deleted.Exists(4))

		_, _, err := fmb.rebuildStateLocked()
		require_NoError(t, err)
		require_Equal(t, atomic.LoadUint64(&fmb.first.seq), 2)
		require_Equal(t, atomic.LoadUint64(&fmb.last.seq), 5)
		require_Equal(t, fmb.msgs, 2)

		// With seq 5 gone too, compaction leaves a single message.
		fmb.mu.Unlock()
		_, err = fs.RemoveMsg(5)
		fmb.mu.Lock()
		require_NoError(t, err)
		require_NoError(t, fmb.compact())
		fmb.clearCache()
		fmb.deleted.Empty()
		require_NoError(t, fmb.loadMsgsWithLock())
		require_Equal(t, atomic.LoadUint64(&fmb.first.seq), 2)
		require_Equal(t, atomic.LoadUint64(&fmb.last.seq), 2)
		require_Equal(t, fmb.msgs, 1)
		require_Len(t, fmb.deleted.Size(), 0)

		_, _, err = fmb.rebuildStateLocked()
		require_NoError(t, err)
		require_Equal(t, atomic.LoadUint64(&fmb.first.seq), 2)
		require_Equal(t, atomic.LoadUint64(&fmb.last.seq), 2)
		require_Equal(t, fmb.msgs, 1)
		require_Len(t, fmb.deleted.Size(), 0)
	})
}

func TestFileStoreIdxAccountingForSkipMsgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		skipMany bool
	}{
		{"SkipMsg", false},
		{"SkipMsgs", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
				fs := newTestFileStore(t, fcfg, cfg)

				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				if tc.skipMany {
					require_NoError(t, fs.SkipMsgs(2, 10))
				} else {
					for i := range 10 {
						_, err = fs.SkipMsg(uint64(i + 2))
						require_NoError(t, err)
					}
				}
				_, _, err = fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)

				fmb := headBlock(fs)
				fmb.mu.Lock()
				defer fmb.mu.Unlock()
				for i := range 12 {
					seq := uint64(i + 1)
					_, err = fmb.cacheLookupNoCopy(seq, nil)
					if seq >= 2 && seq <= 11 {
						require_Error(t, err, errDeletedMsg)
					} else {
						require_NoError(t, err)
					}
				}
				// One index slot per sequence, skipped ones included.
				if fmb.cache == nil {
					t.Fatalf("expected a loaded cache")
				}
				require_Len(t, len(fmb.cache.offsets), 12)
			})
		})
	}
}

func TestFileStoreCompactTombstonesBelowFirstSeq(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs := newTestFileStore(t, fcfg, cfg)

		// Block 1 holds 1..3, block 2 holds 4 and the tombstones for 3 and 2.
		for range 3 {
			_, _, err := fs.StoreMsg("foo", nil, nil, 0)
			require_NoError(t, err)
		}
		lmb := newMsgBlockForWriteT(t, fs)
		_, _, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		for _, seq := range []uint64{3, 2} {
			_, err = fs.RemoveMsg(seq)
			require_NoError(t, err)
		}

		state := fs.State()
		require_Equal(t, state.Msgs, 2)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 4)
		require_True(t, slices.Equal(state.Deleted, []uint64{2, 3}))
		fs.mu.RLock()
		nblks := len(fs.blocks)
		fs.mu.RUnlock()
		require_Equal(t, nblks, 2)

		priorTombs := func() int {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			lmb.mu.Lock()
			defer lmb.mu.Unlock()
			return lmb.numPriorTombsLocked()
		}
		require_Equal(t, priorTombs(), 2)

		// Removing seq 1 moves the first sequence past both tombstones,
		// so they no longer count.
		_, err = fs.RemoveMsg(1)
		require_NoError(t, err)
		require_Equal(t, priorTombs(), 0)

		// No longer the last block, the tombstone-heavy block can be
		// compacted by the sync pass, dropping the stale tombstones.
		newMsgBlockForWriteT(t, fs)
		lmb.mu.Lock()
		require_NoError(t, lmb.ensureRawBytesLoaded())
		rawBytes := lmb.rawBytes
		shouldCompact := lmb.shouldCompactSync()
		lmb.mu.Unlock()
		require_True(t, shouldCompact)
		fs.syncBlocks()

		lmb.mu.RLock()
		defer lmb.mu.RUnlock()
		if lmb.rawBytes == rawBytes {
			t.Fatalf("expected the block to shrink from %d bytes", rawBytes)
		}
	})
}

func TestFileStoreSyncBlocksFlushesAndSyncsMessages(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.AsyncFlush = true
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

		seq, _, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		require_Equal(t, seq, 1)

		// The port has no background block flusher; a write that such a
		// flusher has not picked up yet is a record appended to the
		// block's cache without a flush, which is what this makes.
		lmb := lastMsgBlock(fs)
		if lmb == nil {
			t.Fatalf("expected a last block")
		}
		fs.mu.Lock()
		seq, ts := fs.state.LastSeq+1, time.Now().UnixNano()
		rl := fileStoreMsgSize("foo", nil, []byte("pending"))
		require_NoError(t, lmb.writeMsgRecord(rl, seq, "foo", nil, []byte("pending"), ts, false))
		fs.mu.Unlock()
		require_True(t, lmb.pendingWriteSize() > 0)

		// Pretend the write happened long ago.
		lmb.mu.Lock()
		lastWrite := lmb.lastWrite
		lmb.lastWrite = 0
		lmb.mu.Unlock()
		if lastWrite == 0 {
			t.Fatalf("expected a last write time")
		}

		fs.syncBlocks()
		require_Equal(t, lmb.pendingWriteSize(), 0)
		lmb.mu.RLock()
		needSync := lmb.needSync
		lmb.mu.RUnlock()
		require_False(t, needSync)

		// With the cache gone, both messages must come from the file.
		lmb.mu.Lock()
		lmb.clearCacheAndOffset()
		lmb.mu.Unlock()
		for _, want := range []struct {
			seq uint64
			msg string
		}{{1, ""}, {2, "pending"}} {
			sm, _, err := lmb.fetchMsg(want.seq, nil)
			require_NoError(t, err)
			require_Equal(t, sm.seq, want.seq)
			require_Equal(t, sm.subj, "foo")
			require_Equal(t, string(sm.msg), want.msg)
		}
		sm, err := fs.LoadMsg(1, nil)
		require_NoError(t, err)
		require_Equal(t, sm.subj, "foo")
	})
}

func TestFileStoreSkipMsgAndCompactRequiresAppend(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

		// One big message, then a skip, then compact to the skip: the
		// block keeps its old bytes and gets tombstones.
		_, _, err := fs.StoreMsg("foo", nil, make([]byte, 256*1024), 0)
		require_NoError(t, err)
		_, err = fs.SkipMsg(2)
		require_NoError(t, err)
		_, err = fs.Compact(2)
		require_NoError(t, err)

		state := fs.State()
		require_Equal(t, state.Msgs, 0)
		require_Equal(t, state.FirstSeq, 3)
		require_Equal(t, state.LastSeq, 2)

		// The next skip must append, not write over the start of a file
		// that still holds the old message.
		_, err = fs.SkipMsg(3)
		require_NoError(t, err)

		mb := headBlock(fs)
		mb.mu.Lock()
		defer mb.mu.Unlock()
		mb.clearCacheAndOffset()
		require_NoError(t, mb.loadMsgsWithLock())
	})
}

func TestFileStoreCompactRewritesFileWithSwap(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir()}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	msg := make([]byte, 256*1024)
	for range 20 {
		_, _, err := fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}

	// Nearly all of the block is removed, so Compact rewrites the file
	// starting at the surviving message.
	_, err := fs.Compact(20)
	require_NoError(t, err)

	state := fs.State()
	require_Equal(t, state.Msgs, 1)
	require_Equal(t, state.FirstSeq, 20)
	require_Equal(t, state.LastSeq, 20)

	mb := headBlock(fs)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.clearCacheAndOffset()
	require_NoError(t, mb.loadMsgsWithLock())
	if mb.cache == nil {
		t.Fatalf("expected a loaded cache")
	}
	require_Len(t, len(mb.cache.offsets), 1)
	require_Equal(t, mb.cache.offsets[0]&^cbit, 0)
}

func TestFileStoreIndexCacheBufIdxMismatch(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		truncate                 int // 0 none, 1 to empty, 2 to half
		compactHead, compactTail bool
	}{
		{name: "TruncateFull", truncate: 1},
		{name: "TruncatePartial", truncate: 2},
		{name: "CompactHead", compactHead: true},
		{name: "CompactTail", compactTail: true},
		{name: "Compact", compactHead: true, compactTail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
				for range 5 {
					_, _, err := fs.StoreMsg("foo", nil, nil, 0)
					require_NoError(t, err)
				}

				mb := headBlock(fs)
				mb.mu.Lock()
				defer mb.mu.Unlock()

				// Rewrite the file without the head and/or tail, then put
				// the in-memory range back: the next load must notice the
				// mismatch and follow the file.
				var deleted uint64
				if tc.compactHead || tc.compactTail {
					require_Equal(t, atomic.LoadUint64(&mb.first.seq), 1)
					require_Equal(t, atomic.LoadUint64(&mb.last.seq), 5)
					if tc.compactHead {
						atomic.StoreUint64(&mb.first.seq, 2)
						deleted++
					}
					if tc.compactTail {
						mb.deleted.Insert(5)
						deleted++
					}
					require_NoError(t, mb.compactWithFloor(0, nil))
					atomic.StoreUint64(&mb.first.seq, 1)
					atomic.StoreUint64(&mb.last.seq, 5)
				}
				mb.clearCacheAndOffset()

				switch tc.truncate {
				case 1:
					require_NoError(t, os.Truncate(mb.fileName, 0))
					require_NoError(t, mb.loadMsgsWithLock())
					require_Equal(t, mb.msgs, 0)
					require_Equal(t, atomic.LoadUint64(&mb.first.seq), 6)
					require_Equal(t, atomic.LoadUint64(&mb.last.seq), 5)
					for seq := uint64(1); seq <= 5; seq++ {
						_, err := mb.cacheLookup(seq, nil)
						require_Error(t, err, ErrStoreMsgNotFound)
					}
				case 2:
					fi, err := os.Stat(mb.fileName)
					require_NoError(t, err)
					require_NoError(t, os.Truncate(mb.fileName, fi.Size()/2))
					require_NoError(t, mb.loadMsgsWithLock())
					require_Equal(t, mb.msgs, 2)
					require_Equal(t, atomic.LoadUint64(&mb.first.seq), 1)
					require_Equal(t, atomic.LoadUint64(&mb.last.seq), 2)
					for seq := uint64(1); seq <= 5; seq++ {
						_, err = mb.cacheLookup(seq, nil)
						if seq <= 2 {
							require_NoError(t, err)
						} else {
							require_Error(t, err, ErrStoreMsgNotFound)
						}
					}
				default:
					require_NoError(t, mb.loadMsgsWithLock())
					require_Equal(t, mb.msgs, 5-deleted)
					wantFirst, wantLast := uint64(1), uint64(5)
					if tc.compactHead {
						wantFirst = 2
					}
					if tc.compactTail {
						wantLast = 4
					}
					require_Equal(t, atomic.LoadUint64(&mb.first.seq), wantFirst)
					require_Equal(t, atomic.LoadUint64(&mb.last.seq), wantLast)
					for seq := uint64(1); seq <= 5; seq++ {
						_, err := mb.cacheLookup(seq, nil)
						if seq < wantFirst || seq > wantLast {
							require_Error(t, err, ErrStoreMsgNotFound)
						} else {
							require_NoError(t, err)
						}
					}
				}
			})
		})
	}
}

// storeFooMsgs stores n empty messages on "foo" and returns their timestamps.
func storeFooMsgs(t *testing.T, fs *fileStore, n int) []int64 {
	t.Helper()
	var tss []int64
	for range n {
		_, ts, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		tss = append(tss, ts)
	}
	return tss
}

func TestFileStoreIndexCacheBufTombstoneMismatch(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		storeFooMsgs(t, fs, 3)
		_, err := fs.RemoveMsg(2)
		require_NoError(t, err)

		mb := headBlock(fs)
		mb.mu.Lock()
		defer mb.mu.Unlock()

		// Even with the delete map forgotten, the tombstone written for
		// seq 2 must not be indexed as a message slot.
		mb.clearCacheAndOffset()
		mb.deleted.Empty()
		require_NoError(t, mb.loadMsgsWithLock())
		if mb.cache == nil {
			t.Fatalf("expected a loaded cache")
		}
		// Each empty "foo" record is 33 bytes.
		require_Len(t, len(mb.cache.offsets), 3)
		for i, want := range []uint32{0, 33, 66} {
			require_Equal(t, mb.cache.offsets[i]&^cbit, want)
		}
	})
}

func TestFileStoreIndexCacheBufTombstoneMismatchAfterCompact(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		storeFooMsgs(t, fs, 3)
		_, err := fs.RemoveMsg(2)
		require_NoError(t, err)

		mb := headBlock(fs)
		mb.mu.Lock()
		defer mb.mu.Unlock()
		require_NoError(t, mb.compactWithFloor(0, nil))

		// After compaction seq 2 has no record at all; a reload without
		// the delete map must find the hole and record it.
		mb.clearCacheAndOffset()
		mb.deleted.Empty()
		require_NoError(t, mb.loadMsgsWithLock())
		require_Equal(t, mb.deleted.Size(), 1)
		require_True(t, mb.deleted.Exists(2))
		if mb.cache == nil {
			t.Fatalf("expected a loaded cache")
		}
		require_Len(t, len(mb.cache.offsets), 3)
		require_Equal(t, mb.cache.offsets[0]&^cbit, 0)
		require_Equal(t, mb.cache.offsets[1], dbit)
		// Seq 3 moved up one record in the rewritten file.
		require_Equal(t, mb.cache.offsets[2]&^cbit, 33)
	})
}

func TestFileStoreIndexCacheBufEraseMsgMismatch(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir()}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
	storeFooMsgs(t, fs, 3)
	_, err := fs.EraseMsg(2)
	require_NoError(t, err)

	// Put back a stale count in the store and forget the block's delete
	// map, as a recovery from an old index.db would: the next load must
	// spot the erased record and correct both.
	before := fs.State()
	fs.mu.Lock()
	msgs := fs.state.Msgs
	fs.state.Msgs = 3
	fs.mu.Unlock()
	require_Equal(t, msgs, 2)

	mb := headBlock(fs)
	mb.mu.Lock()
	mb.clearCacheAndOffset()
	mb.deleted.Empty()
	err = mb.loadMsgsWithLock()
	var offsets []uint32
	if mb.cache != nil {
		offsets = slices.Clone(mb.cache.offsets)
	}
	mb.mu.Unlock()
	require_NoError(t, err)
	require_Len(t, len(offsets), 3)
	for i, want := range []uint32{0, 33, 66} {
		require_Equal(t, offsets[i]&^cbit, want)
	}

	checkFor(t, 2*time.Second, 100*time.Millisecond, func() error {
		if state := fs.State(); !reflect.DeepEqual(state, before) {
			return fmt.Errorf("expected state\n %+v\ngot\n %+v", before, state)
		}
		return nil
	})
}

func TestFileStoreCompactRestoresLastSeq(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		tss := storeFooMsgs(t, fs, 4)

		checkMbState := func(fseq, lseq, msgs uint64) {
			t.Helper()
			mb := headBlock(fs)
			mb.mu.Lock()
			defer mb.mu.Unlock()
			require_Equal(t, atomic.LoadUint64(&mb.first.seq), fseq)
			require_Equal(t, atomic.LoadUint64(&mb.last.seq), lseq)
			require_Equal(t, mb.first.ts, tss[fseq-1])
			require_Equal(t, mb.last.ts, tss[lseq-1])
			require_Equal(t, mb.msgs, msgs)
			require_Equal(t, mb.deleted.Size(), int(lseq-fseq+1-msgs))
		}
		checkMbState(1, 4, 4)

		_, err := fs.RemoveMsg(1)
		require_NoError(t, err)
		checkMbState(2, 4, 3)

		// Removing the last message keeps it as the block's last until
		// compaction rewrites the file.
		_, err = fs.RemoveMsg(4)
		require_NoError(t, err)
		checkMbState(2, 4, 2)

		mb := headBlock(fs)
		mb.mu.Lock()
		err = mb.compactWithFloor(0, nil)
		mb.mu.Unlock()
		require_NoError(t, err)
		checkMbState(2, 3, 2)
	})
}

func TestFileStoreCompactFullyResetsFirstAndLastSeq(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		tss := storeFooMsgs(t, fs, 2)

		// lseq 0 means the block is expected to be empty.
		checkMbState := func(fseq, lseq, msgs uint64) {
			t.Helper()
			mb := headBlock(fs)
			mb.mu.Lock()
			defer mb.mu.Unlock()
			require_Equal(t, atomic.LoadUint64(&mb.first.seq), fseq)
			require_Equal(t, mb.first.ts, tss[fseq-1])
			if lseq == 0 {
				require_Equal(t, atomic.LoadUint64(&mb.last.seq), fseq-1)
				require_Equal(t, mb.last.ts, 0)
			} else {
				require_Equal(t, atomic.LoadUint64(&mb.last.seq), lseq)
				require_Equal(t, mb.last.ts, tss[lseq-1])
			}
			require_Equal(t, mb.msgs, msgs)
			require_Equal(t, mb.deleted.Size(), int(lseq-fseq+1-msgs))
		}
		checkMbState(1, 2, 2)

		mb := headBlock(fs)
		require_NoError(t, mb.loadMsgs())
		mb.mu.Lock()
		// Mark everything deleted behind the block's back: only compaction
		// itself can then put the range right.
		mb.deleted.Insert(1)
		mb.deleted.Insert(2)
		mb.msgs = 0
		err := mb.compactWithFloor(0, nil)
		mb.mu.Unlock()
		require_NoError(t, err)
		checkMbState(1, 0, 0)
	})
}

func TestFileStoreCompactHeadReclaimRecompressedBlock(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 8 * 1024 * 1024 // everything in one block
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"zzz"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer func() { fs.Stop() }()

		// Random payloads, so the block stays over compactMinimum.
		const num = 50
		msgs := make([][]byte, num)
		for i := range num {
			msgs[i] = make([]byte, 64*1024)
			_, err = crand.Read(msgs[i])
			require_NoError(t, err)
			_, _, err = fs.StoreMsg("zzz", nil, msgs[i], 0)
			require_NoError(t, err)
		}

		// Only plain blocks exist here, so the block on disk is already in
		// its final form (upstream recompresses it first when compressed).
		smb := lastMsgBlock(fs)
		smb.mu.Lock()
		rawBytes := smb.rawBytes
		smb.mu.Unlock()
		require_True(t, rawBytes > compactMinimum)

		// Compacting most of the block away rewrites it without the head.
		_, err = fs.Compact(num - 5)
		require_NoError(t, err)
		smb.mu.Lock()
		rawAfter := smb.rawBytes
		smb.mu.Unlock()
		if rawAfter >= rawBytes/2 {
			t.Fatalf("expected the head to be reclaimed: %d bytes before, %d after", rawBytes, rawAfter)
		}

		checkTail := func() {
			t.Helper()
			var smv StoreMsg
			for seq := uint64(num - 5); seq <= num; seq++ {
				sm, err := fs.LoadMsg(seq, &smv)
				require_NoError(t, err)
				require_True(t, bytes.Equal(sm.msg, msgs[seq-1]))
			}
		}
		checkTail()

		// The rewritten block must read back after a restart too.
		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		var state StreamState
		fs.FastState(&state)
		require_Equal(t, state.Msgs, 6)
		checkTail()
	})
}

// requireDeleteBlocks checks fs.deleteBlocks against exp: same kinds of
// block, same first, last and count each.
func requireDeleteBlocks(t *testing.T, fs *fileStore, exp DeleteBlocks) {
	t.Helper()
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	requireDeleteBlocksLocked(t, fs, exp)
}

// requireDeleteBlocksLocked is requireDeleteBlocks with fs.mu held.
func requireDeleteBlocksLocked(t *testing.T, fs *fileStore, exp DeleteBlocks) {
	t.Helper()
	dbs, _ := fs.deleteBlocks()
	if len(dbs) != len(exp) {
		t.Fatalf("expected %d delete blocks, got %d: %s", len(exp), len(dbs), describeDeleteBlocks(dbs))
	}
	for i, found := range dbs {
		ef, el, en := exp[i].State()
		ff, fl, fn := found.State()
		if reflect.TypeOf(exp[i]) != reflect.TypeOf(found) || ef != ff || el != fl || en != fn {
			t.Fatalf("delete block %d: expected %T{%d..%d #%d}, got %s", i, exp[i], ef, el, en, describeDeleteBlocks(dbs))
		}
	}
}

// describeDeleteBlocks renders delete blocks for failure messages.
func describeDeleteBlocks(dbs DeleteBlocks) string {
	var b bytes.Buffer
	for _, db := range dbs {
		f, l, n := db.State()
		fmt.Fprintf(&b, "%T{%d..%d #%d} ", db, f, l, n)
	}
	return b.String()
}

// newOneMsgPerBlockStore opens a store whose blocks each hold one 256-byte
// message and stores 20 of them.
func newOneMsgPerBlockStore(t *testing.T) *fileStore {
	t.Helper()
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir(), BlockSize: 256}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
	msg := make([]byte, 256)
	for range 20 {
		_, _, err := fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}
	fs.mu.RLock()
	nblks := len(fs.blocks)
	fs.mu.RUnlock()
	require_Equal(t, nblks, 20)
	return fs
}

// removeMsgs removes each of seqs, failing on errors.
func removeMsgs(t *testing.T, fs *fileStore, seqs ...uint64) {
	t.Helper()
	for _, seq := range seqs {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		if !removed {
			t.Fatalf("seq %d was not removed", seq)
		}
	}
}

func TestFileStoreDeleteRangeTwoGaps(t *testing.T) {
	fs := newOneMsgPerBlockStore(t)

	// Two gaps with live blocks between them must stay two ranges.
	removeMsgs(t, fs, 10, 15)
	requireDeleteBlocks(t, fs, DeleteBlocks{
		&DeleteRange{First: 10, Num: 1},
		&DeleteRange{First: 15, Num: 1},
	})
}

func TestFileStoreDeleteBlocksWithSingleMessageBlocks(t *testing.T) {
	fs := newOneMsgPerBlockStore(t)

	steps := []struct {
		name   string
		remove []uint64
		want   DeleteBlocks
	}{
		{"one gap", []uint64{10}, DeleteBlocks{&DeleteRange{First: 10, Num: 1}}},
		{"gap extended", []uint64{11}, DeleteBlocks{&DeleteRange{First: 10, Num: 2}}},
		{"second gap", []uint64{5}, DeleteBlocks{
			&DeleteRange{First: 5, Num: 1},
			&DeleteRange{First: 10, Num: 2},
		}},
		{"gaps joined", []uint64{6, 7, 8, 9}, DeleteBlocks{&DeleteRange{First: 5, Num: 7}}},
		{"more gaps", []uint64{3, 16, 17, 18}, DeleteBlocks{
			&DeleteRange{First: 3, Num: 1},
			&DeleteRange{First: 5, Num: 7},
			&DeleteRange{First: 16, Num: 3},
		}},
		{"first removed changes nothing", []uint64{1}, DeleteBlocks{
			&DeleteRange{First: 3, Num: 1},
			&DeleteRange{First: 5, Num: 7},
			&DeleteRange{First: 16, Num: 3},
		}},
		{"last removed is a gap", []uint64{20}, DeleteBlocks{
			&DeleteRange{First: 3, Num: 1},
			&DeleteRange{First: 5, Num: 7},
			&DeleteRange{First: 16, Num: 3},
			&DeleteRange{First: 20, Num: 1},
		}},
		{"last gap extended", []uint64{19}, DeleteBlocks{
			&DeleteRange{First: 3, Num: 1},
			&DeleteRange{First: 5, Num: 7},
			&DeleteRange{First: 16, Num: 5},
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			removeMsgs(t, fs, step.remove...)
			requireDeleteBlocks(t, fs, step.want)
		})
	}
}

func TestFileStoreDeleteBlocks(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir(), BlockSize: 256}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	msg := make([]byte, 20)
	for range 20 {
		_, _, err := fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}
	// Five blocks of four: [1,4] [5,8] [9,12] [13,16] [17,20].
	fs.mu.RLock()
	nblks := len(fs.blocks)
	fs.mu.RUnlock()
	require_Equal(t, nblks, 5)

	steps := []struct {
		name   string
		remove []uint64
		want   DeleteBlocks
	}{
		{"gap between blocks", []uint64{9}, DeleteBlocks{&DeleteRange{First: 9, Num: 1}}},
		{"gap extended", []uint64{10}, DeleteBlocks{&DeleteRange{First: 9, Num: 2}}},
		{"interior delete before the gap", []uint64{8}, DeleteBlocks{
			seqSetOf(8),
			&DeleteRange{First: 9, Num: 2},
		}},
		{"head of the last block", []uint64{18, 17}, DeleteBlocks{
			seqSetOf(8),
			&DeleteRange{First: 9, Num: 2},
			&DeleteRange{First: 17, Num: 2},
		}},
		{"whole block removed", []uint64{6, 5, 7}, DeleteBlocks{
			&DeleteRange{First: 5, Num: 6},
			&DeleteRange{First: 17, Num: 2},
		}},
		{"last message removed", []uint64{20}, DeleteBlocks{
			&DeleteRange{First: 5, Num: 6},
			&DeleteRange{First: 17, Num: 2},
			seqSetOf(20),
		}},
		{"last block emptied", []uint64{19}, DeleteBlocks{
			&DeleteRange{First: 5, Num: 6},
			&DeleteRange{First: 17, Num: 4},
		}},
		{"middle block removed", []uint64{11, 12}, DeleteBlocks{
			&DeleteRange{First: 5, Num: 8},
			&DeleteRange{First: 17, Num: 4},
		}},
		{"first block removed", []uint64{1, 2, 3, 4}, DeleteBlocks{
			&DeleteRange{First: 17, Num: 4},
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			removeMsgs(t, fs, step.remove...)
			requireDeleteBlocks(t, fs, step.want)
		})
	}
}

func TestFileStoreDeleteBlocksWithManyEmptyBlocks(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir(), BlockSize: 33 * 6}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	// 1.blk holds six messages. Each later block gets a tombstone for
	// 1.blk, tombstones for the two messages of the block before it and
	// (all but the last) two messages of its own.
	storeFooMsgs(t, fs, 6)
	for i := range 5 {
		newMsgBlockForWriteT(t, fs)
		removeMsgs(t, fs, uint64(i+2))
		if i > 0 {
			removeMsgs(t, fs, uint64(7+(i-1)*2), uint64(8+(i-1)*2))
		}
		if i < 4 {
			storeFooMsgs(t, fs, 2)
		}
	}
	requireDeleteBlocks(t, fs, DeleteBlocks{
		seqSetOf(2, 3, 4, 5, 6),
		&DeleteRange{First: 7, Num: 8},
	})

	// Compacting every block turns 1.blk's interior deletes into a
	// trailing gap that joins the run of empty blocks.
	fs.mu.Lock()
	for _, mb := range fs.blocks {
		mb.mu.Lock()
		err := mb.compact()
		mb.mu.Unlock()
		require_NoError(t, err)
	}
	fs.mu.Unlock()
	requireDeleteBlocks(t, fs, DeleteBlocks{
		&DeleteRange{First: 2, Num: 13},
	})
}

// blockRange returns a block's first and last sequence.
func blockRange(mb *msgBlock) (uint64, uint64) {
	return atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
}

// requireBlockRange checks a block's first and last sequence.
func requireBlockRange(t *testing.T, mb *msgBlock, first, last uint64) {
	t.Helper()
	if f, l := blockRange(mb); f != first || l != last {
		t.Fatalf("expected block %d to span [%d,%d], got [%d,%d]", mb.index, first, last, f, l)
	}
}

// compactBlockT compacts mb under its lock.
func compactBlockT(t *testing.T, mb *msgBlock) {
	t.Helper()
	mb.mu.Lock()
	err := mb.compact()
	mb.mu.Unlock()
	require_NoError(t, err)
}

func TestFileStoreRemoveMsgsInRange(t *testing.T) {
	fs := newOneMsgPerBlockStore(t)

	fs.mu.Lock()
	defer fs.mu.Unlock()

	remove := func(first, last uint64) {
		t.Helper()
		require_NoError(t, fs.removeMsgsInRange(first, last, true))
	}
	checkDeleteBlocks := func(exp DeleteBlocks) {
		t.Helper()
		requireDeleteBlocksLocked(t, fs, exp)
	}
	requireHead := func(nblks int, first uint64) {
		t.Helper()
		require_Equal(t, len(fs.blocks), nblks)
		require_Equal(t, atomic.LoadUint64(&fs.blocks[0].first.seq), first)
	}

	remove(1, 1)
	requireHead(19, 2)
	// Again: nothing left to remove.
	remove(1, 1)
	requireHead(19, 2)
	remove(1, 2)
	requireHead(18, 3)
	remove(3, 4)
	requireHead(16, 5)

	// [5,8] [14,20] are left.
	remove(9, 13)
	require_Equal(t, len(fs.blocks), 11)
	checkDeleteBlocks(DeleteBlocks{&DeleteRange{First: 9, Num: 5}})

	remove(8, 8)
	require_Equal(t, len(fs.blocks), 10)
	checkDeleteBlocks(DeleteBlocks{&DeleteRange{First: 8, Num: 6}})

	remove(17, 17)
	require_Equal(t, len(fs.blocks), 9)
	checkDeleteBlocks(DeleteBlocks{
		&DeleteRange{First: 8, Num: 6},
		&DeleteRange{First: 17, Num: 1},
	})

	// The last message goes; an empty block keeps its sequence.
	remove(20, 20)
	checkDeleteBlocks(DeleteBlocks{
		&DeleteRange{First: 8, Num: 6},
		&DeleteRange{First: 17, Num: 1},
		&DeleteRange{First: 20, Num: 1},
	})

	// [5,6] and [19] are left.
	remove(7, 18)
	require_Equal(t, len(fs.blocks), 4)
	checkDeleteBlocks(DeleteBlocks{
		&DeleteRange{First: 7, Num: 12},
		&DeleteRange{First: 20, Num: 1},
	})

	// Everything goes but the empty last block.
	remove(1, 20)
	require_Equal(t, len(fs.blocks), 1)
	require_Equal(t, fs.blocks[0].msgs, 0)
}

func TestFileStoreRemoveMsgsInRangePartialBlocks(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir(), BlockSize: 256}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	msg := make([]byte, 16)
	for range 20 {
		_, _, err := fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	remove := func(first, last uint64) {
		t.Helper()
		require_NoError(t, fs.removeMsgsInRange(first, last, true))
	}

	// Blocks of five: [1,5] [6,10] [11,15] [16,20].
	require_Equal(t, len(fs.blocks), 4)

	// The tail of block 0 and the head of block 1.
	remove(5, 6)
	compactBlockT(t, fs.blocks[0])
	require_Equal(t, len(fs.blocks), 4)
	requireBlockRange(t, fs.blocks[0], 1, 4)
	requireBlockRange(t, fs.blocks[1], 7, 10)

	// Across blocks: block 1 goes whole.
	remove(4, 11)
	compactBlockT(t, fs.blocks[0])
	require_Equal(t, len(fs.blocks), 3)
	requireBlockRange(t, fs.blocks[0], 1, 3)
	requireBlockRange(t, fs.blocks[1], 12, 15)

	// Inside one block: 12 and 15 stay.
	remove(13, 14)
	compactBlockT(t, fs.blocks[1])
	require_Equal(t, len(fs.blocks), 3)
	requireBlockRange(t, fs.blocks[0], 1, 3)
	require_Equal(t, fs.blocks[1].msgs, 2)
	requireBlockRange(t, fs.blocks[1], 12, 15)

	// To the end: 12 stays, the last block is emptied.
	remove(13, 20)
	compactBlockT(t, fs.blocks[1])
	require_Equal(t, len(fs.blocks), 3)
	requireBlockRange(t, fs.blocks[0], 1, 3)
	require_Equal(t, fs.blocks[1].msgs, 1)
	requireBlockRange(t, fs.blocks[1], 12, 12)

	remove(10, 20)
	require_Equal(t, len(fs.blocks), 2)

	// Past the end: only the empty last block stays.
	remove(1, 30)
	require_Equal(t, len(fs.blocks), 1)
	requireBlockRange(t, fs.blocks[0], 21, 20)
}

func TestFileStoreRemoveMsgsInRangeWithTombstones(t *testing.T) {
	fcfg := FileStoreConfig{Cipher: NoCipher, Compression: NoCompression, StoreDir: t.TempDir(), BlockSize: 256}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

	// [1,4]; [5,8]; [9,12] with tombstones 4,3,2,10; [13,16] with
	// tombstones 14,15; [17,20].
	storeFooMsgs(t, fs, 4)
	newMsgBlockForWriteT(t, fs)
	storeFooMsgs(t, fs, 4)
	newMsgBlockForWriteT(t, fs)
	storeFooMsgs(t, fs, 4)
	removeMsgs(t, fs, 4, 3, 2, 10)
	newMsgBlockForWriteT(t, fs)
	storeFooMsgs(t, fs, 4)
	removeMsgs(t, fs, 14, 15)
	newMsgBlockForWriteT(t, fs)
	storeFooMsgs(t, fs, 4)

	checkBlock := func(mb *msgBlock, fseq, lseq uint64, tombs []uint64) {
		t.Helper()
		requireBlockRange(t, mb, fseq, lseq)
		var got []uint64
		for _, id := range mb.tombs() {
			got = append(got, id.seq)
		}
		if !slices.Equal(tombs, got) {
			t.Fatalf("block %d: expected tombstones %v, got %v", mb.index, tombs, got)
		}
	}

	fs.mu.Lock()
	defer fs.mu.Unlock()
	require_Equal(t, len(fs.blocks), 5)
	checkBlock(fs.blocks[0], 1, 4, nil)
	checkBlock(fs.blocks[1], 5, 8, nil)
	checkBlock(fs.blocks[2], 9, 12, []uint64{4, 3, 2, 10})
	checkBlock(fs.blocks[3], 13, 16, []uint64{14, 15})
	checkBlock(fs.blocks[4], 17, 20, nil)

	// Removing 4..17: block 1's tail is already gone; block 2 has no
	// prior tombstones and goes whole; block 3 keeps tombstones for
	// block 1 and stays (empty); block 4's tombstones are its own, so it
	// goes whole; block 5 loses its head.
	require_NoError(t, fs.removeMsgsInRange(4, 17, false))
	checkBlock(fs.blocks[0], 1, 4, nil)
	checkBlock(fs.blocks[1], 13, 12, []uint64{4, 3, 2, 10})
	checkBlock(fs.blocks[2], 18, 20, []uint64{9, 11, 17})

	// Past the last sequence: one empty block with the last tombstone.
	require_NoError(t, fs.removeMsgsInRange(1, 100, false))
	require_Equal(t, len(fs.blocks), 1)
	checkBlock(fs.blocks[0], 21, 20, []uint64{20})

	// Nothing more to remove.
	require_NoError(t, fs.removeMsgsInRange(1, 100, false))
	require_Equal(t, len(fs.blocks), 1)
	checkBlock(fs.blocks[0], 21, 20, []uint64{20})
}
