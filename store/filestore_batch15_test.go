package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// Ported upstream file store tests (batch 15): encryption and compression
// of blocks across restarts, expiry, compaction, truncation and conversion.

// An encrypted last block whose messages all expired stays as the sequence
// marker; later appends must encrypt from the file's true offset, not from
// wherever the block's key stream was left, or they read back as garbage.
func TestFileStoreEncryptedKeepIndexNeedBekResetBug(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		maxAge := time.Second
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage, MaxAge: maxAge})

		payload := []byte("expires, then more")
		store := func(n int) {
			t.Helper()
			for range n {
				_, _, err := fs.StoreMsg("foo", nil, payload, 0)
				require_NoError(t, err)
			}
		}
		store(5)
		checkFor(t, 5*time.Second, maxAge/4, func() error {
			if msgs := fs.State().Msgs; msgs != 0 {
				return fmt.Errorf("%d messages left, want all expired", msgs)
			}
			return nil
		})

		store(5)
		fs.mu.RLock()
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		// Reads must come from the file.
		lmb.mu.Lock()
		lmb.clearCacheAndOffset()
		lmb.mu.Unlock()

		var smv StoreMsg
		for seq := uint64(6); seq <= 10; seq++ {
			sm, err := fs.LoadMsg(seq, &smv)
			require_NoError(t, err)
			require_Equal(t, sm.seq, seq)
			require_True(t, bytes.Equal(sm.msg, payload))
		}
	})
}

// Messages and a consumer's state written encrypted read back after a
// restart.
func TestFileStoreEncrypted(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		created := time.Now()
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		open := func() *fileStore {
			t.Helper()
			fs, err := newFileStoreWithCreated(fcfg, cfg, created, prf(&fcfg))
			require_NoError(t, err)
			t.Cleanup(func() { fs.Stop() })
			return fs
		}
		fs := open()

		for i := range 50 {
			_, _, err := fs.StoreMsg("foo", nil, fmt.Appendf(nil, "secret %d", i+1), 0)
			require_NoError(t, err)
		}
		o, err := fs.ConsumerStore("o22", time.Time{}, &ConsumerConfig{})
		require_NoError(t, err)
		want := &ConsumerState{
			Delivered: SequencePair{Consumer: 22, Stream: 22},
			AckFloor:  SequencePair{Consumer: 11, Stream: 11},
		}
		require_NoError(t, o.Update(want))
		require_NoError(t, o.Stop())
		require_NoError(t, fs.Stop())

		fs = open()
		var smv StoreMsg
		for _, seq := range []uint64{1, 10, 50} {
			sm, err := fs.LoadMsg(seq, &smv)
			require_NoError(t, err)
			require_Equal(t, string(sm.msg), fmt.Sprintf("secret %d", seq))
		}
		o, err = fs.ConsumerStore("o22", time.Time{}, &ConsumerConfig{})
		require_NoError(t, err)
		got, err := o.State()
		require_NoError(t, err)
		if got.Delivered != want.Delivered || got.AckFloor != want.AckFloor {
			t.Fatalf("recovered consumer state %+v, want %+v", got, want)
		}
	})
}

// The periodic sync compacts a mostly deleted block only while that can
// gain something: a block left holding only needed tombstones is marked not
// to be tried again, until one of its messages is removed. Upstream runs
// this without a cipher or compression, on its sync timer; a compressed
// block must be told apart the same way, so every permutation runs here,
// and the sync pass is run by the test so it cannot come before the first
// check on a slow machine.
func TestFileStoreSyncCompressOnlyIfDirty(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 256
		fcfg.SyncInterval = time.Hour
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})

		store := func(n int) {
			t.Helper()
			for range n {
				_, _, err := fs.StoreMsg("foo.BB", nil, []byte("hello"), 0)
				require_NoError(t, err)
			}
		}
		// Six records a block: two full blocks and one message in a third.
		store(13)
		require_Equal(t, fs.numMsgBlocks(), 3)

		// Two thirds of the first two blocks go; their tombstones fill the
		// third block and spill into a fourth.
		for _, seq := range []uint64{2, 3, 4, 5, 8, 9, 10, 11} {
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
		}
		// Enough to leave the tombstone blocks behind the last one.
		store(6)
		require_Equal(t, fs.numMsgBlocks(), 5)

		shouldCompact := func() map[uint32]bool {
			fs.mu.RLock()
			defer fs.mu.RUnlock()
			res := make(map[uint32]bool)
			for _, mb := range fs.blocks {
				mb.mu.Lock()
				if mb.ensureRawBytesLoaded() == nil && mb.shouldCompactSync() {
					res[mb.index] = true
				}
				mb.mu.Unlock()
			}
			return res
		}
		// Full blocks are compressed in the background; their stored
		// size decides what is worth compacting.
		fs.compressWG.Wait()
		// The first three blocks are more than half dead. Compressed, the
		// first two may already be small enough not to be worth it; the
		// third, mostly tombstones, always is.
		got := shouldCompact()
		first := uint32(1)
		if fcfg.Compression != NoCompression {
			first = 3
		}
		for index := first; index <= 3; index++ {
			if !got[index] {
				t.Fatalf("block %d should be a compaction candidate: %v", index, got)
			}
		}

		// The sync pass compacts them; the third keeps its tombstones
		// (for live blocks before it) and gains nothing, so no block is a
		// candidate any more.
		checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			fs.syncBlocks()
			if got := shouldCompact(); len(got) > 0 {
				return fmt.Errorf("blocks still compaction candidates: %v", got)
			}
			return nil
		})
		var ss StreamState
		fs.FastState(&ss)
		require_Equal(t, ss.Msgs, 11)

		// A removal from the third block makes it worth trying again.
		removed, err := fs.RemoveMsg(13)
		require_NoError(t, err)
		require_True(t, removed)
		fs.mu.RLock()
		mb := fs.blocks[2]
		fs.mu.RUnlock()
		mb.mu.Lock()
		index, noCompact := mb.index, mb.noCompact
		mb.mu.Unlock()
		require_Equal(t, index, 3)
		require_False(t, noCompact)
	})
}

// A full block is stored compressed; one that truncation, or removals
// before it, turns back into the last block must be written plain again
// before it takes appends, while blocks before the last stay compressed.
func TestFileStoreCompressionAfterTruncate(t *testing.T) {
	actions := []struct {
		title  string
		remove func(t *testing.T, fs *fileStore, seq uint64)
	}{
		{"RemoveMsg", func(t *testing.T, fs *fileStore, seq uint64) {
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
		}},
		{"EraseMsg", func(t *testing.T, fs *fileStore, seq uint64) {
			erased, err := fs.EraseMsg(seq)
			require_NoError(t, err)
			require_True(t, erased)
		}},
		{"Tombstone", func(t *testing.T, fs *fileStore, seq uint64) {
			removed, err := fs.removeMsg(seq, false, false, true)
			require_NoError(t, err)
			require_True(t, removed)
		}},
	}
	for _, action := range actions {
		for _, recompress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/Recompress=%v", action.title, recompress), func(t *testing.T) {
				testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
					testCompressionAfterTruncate(t, fcfg, recompress, action.remove)
				})
			})
		}
	}
}

func testCompressionAfterTruncate(t *testing.T, fcfg FileStoreConfig, recompress bool, remove func(*testing.T, *fileStore, uint64)) {
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
	compressing := fcfg.Compression != NoCompression

	// storedCompressed reads the block's file as stored (decrypted only)
	// and reports whether it carries a compression header.
	storedCompressed := func(mb *msgBlock) (bool, error) {
		mb.mu.Lock()
		defer mb.mu.Unlock()
		buf, err := mb.loadBlock(nil)
		if err != nil {
			return false, err
		}
		if err := mb.encryptOrDecryptIfNeeded(buf); err != nil {
			return false, err
		}
		var meta CompressionInfo
		n, err := meta.UnmarshalMetadata(buf)
		if err != nil {
			return false, err
		}
		return n > 0 && meta.Algorithm != NoCompression, nil
	}
	requireCompressed := func(mb *msgBlock, want bool) {
		t.Helper()
		got, err := storedCompressed(mb)
		require_NoError(t, err)
		require_Equal(t, got, want)
	}
	waitCompressed := func(mb *msgBlock) {
		t.Helper()
		checkFor(t, 2*time.Second, 20*time.Millisecond, func() error {
			if got, err := storedCompressed(mb); err != nil {
				return err
			} else if !got {
				return errors.New("block not compressed yet")
			}
			return nil
		})
	}
	store := func(want uint64) {
		t.Helper()
		seq, _, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
		require_Equal(t, seq, want)
	}
	requireState := func(msgs, last uint64, deleted int) {
		t.Helper()
		state := fs.State()
		require_Equal(t, state.Msgs, msgs)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, last)
		require_Equal(t, state.NumDeleted, deleted)
	}

	store(1)
	store(2)
	fs.mu.RLock()
	smb := fs.blocks[0]
	fs.mu.RUnlock()
	// The block being appended to is never compressed.
	requireCompressed(smb, false)

	// Once another block takes the appends it is stored compressed.
	fs.mu.Lock()
	_, err := fs.newMsgBlockForWrite()
	fs.mu.Unlock()
	require_NoError(t, err)
	if compressing {
		waitCompressed(smb)
	} else {
		requireCompressed(smb, false)
	}

	store(3)
	remove(t, fs, 2)
	requireState(2, 3, 1)

	// Truncating away seq 3 leaves seq 2 deleted below the new last.
	require_NoError(t, fs.Truncate(2))
	requireState(1, 2, 1)

	fs.mu.RLock()
	lmb := fs.lastBlock
	fs.mu.RUnlock()
	if smb == lmb {
		// The compressed block took the appends back: it is plain again.
		requireCompressed(smb, false)
	} else {
		requireCompressed(lmb, false)
		if compressing {
			waitCompressed(smb)
		}
	}

	if recompress {
		// Drive the state write (and with it any pending compression of
		// full blocks) before appending again.
		require_NoError(t, fs.forceWriteFullState())
	}
	store(3)
	require_NoError(t, fs.forceWriteFullState())

	// Reloading the first block from its file sees its messages, in the
	// form its position calls for.
	smb.mu.Lock()
	smb.clearCacheAndOffset()
	smb.mu.Unlock()
	smb.mu.Lock()
	err = smb.loadMsgsWithLock()
	smb.mu.Unlock()
	require_NoError(t, err)
	requireCompressed(smb, smb != lmb && compressing)
	requireCompressed(lmb, false)

	var smv StoreMsg
	for _, seq := range []uint64{1, 3} {
		sm, err := fs.LoadMsg(seq, &smv)
		require_NoError(t, err)
		require_Equal(t, sm.seq, seq)
	}
	_, err = fs.LoadMsg(2, &smv)
	require_Error(t, err, ErrStoreMsgNotFound, errDeletedMsg)
}

// Converting a plain block to encrypted rewrites it from key stream offset
// 0 whatever the block's stream was used for before, and leaves no cache
// behind: one loaded before describes the file as it was, and upstream once
// kept one that aliased the buffer it had just encrypted in place.
func TestFileStoreConvertToEncryptedDoesNotResurrectXoredCache(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 8192}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
	payload := bytes.Repeat([]byte("PLAINTEXT-MARKER-"), 32)

	fs, err := newFileStore(fcfg, cfg)
	require_NoError(t, err)
	_, _, err = fs.StoreMsg("foo", nil, payload, 0)
	require_NoError(t, err)
	require_NoError(t, fs.Stop())

	// Reopened encrypted, the plain block is converted.
	fcfg.Cipher = AES
	encryptedTestDirs.Store(fcfg.StoreDir, true)
	t.Cleanup(func() { encryptedTestDirs.Delete(fcfg.StoreDir) })
	fs = newTestFileStore(t, fcfg, cfg)
	fs.mu.RLock()
	mb := fs.lastBlock
	fs.mu.RUnlock()

	mb.mu.Lock()
	require_NoError(t, mb.checkAndLoadEncryption())
	require_True(t, mb.seed != nil)
	stored, err := mb.loadBlock(nil)
	require_NoError(t, err)
	require_False(t, bytes.Contains(stored, payload))

	// Put the records back on disk plain, so there is something to
	// convert again.
	require_NoError(t, mb.encryptOrDecryptIfNeeded(stored))
	require_True(t, bytes.Contains(stored, payload))
	require_NoError(t, writeFileWithSync(fs.fsys, mb.fileName, stored, defaultFilePerms))

	// The block's key stream has been used, as by earlier appends, and a
	// stale cache is in place.
	_, err = mb.streamAt(int64(len(stored)))
	require_NoError(t, err)
	stale := &cache{buf: bytes.Repeat([]byte{0xCA, 0xFE}, 64)}
	mb.cache = stale

	require_NoError(t, mb.convertToEncrypted())
	if mb.cache == stale {
		mb.mu.Unlock()
		t.Fatalf("convertToEncrypted kept the cache loaded before the conversion")
	}

	// The converted file decrypts to the records, so a fresh load finds
	// the message instead of truncating the block to nothing.
	converted, err := vfs.ReadFile(fs.fsys, mb.fileName)
	require_NoError(t, err)
	require_False(t, bytes.Contains(converted, payload))
	mb.clearCacheAndOffset()
	err = mb.setupWriteCache()
	loaded := mb.cache != nil && len(mb.cache.buf) > 0
	mb.mu.Unlock()
	require_NoError(t, err)
	require_True(t, loaded)

	var smv StoreMsg
	sm, err := fs.LoadMsg(1, &smv)
	require_NoError(t, err)
	require_True(t, bytes.Equal(sm.msg, payload))
}
