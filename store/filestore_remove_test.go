package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestFileStorePurge(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		blkSize := uint64(64 * 1024)
		fcfg.BlockSize = blkSize
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		subj, msg := "foo", make([]byte, 8*1024)
		storedMsgSize := fileStoreMsgSize(subj, nil, msg)
		toStore := uint64(1024)
		for i := uint64(0); i < toStore; i++ {
			fs.StoreMsg(subj, nil, msg, 0)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, toStore)
		require_Equal(t, state.Bytes, storedMsgSize*toStore)
		require_True(t, fs.numMsgBlocks() > int(storedMsgSize*toStore/blkSize))

		_, err = fs.Purge()
		require_NoError(t, err)
		require_Equal(t, fs.numMsgBlocks(), 1)

		checkPurgeState := func(stored uint64) {
			t.Helper()
			state := fs.State()
			require_Equal(t, state.Msgs, uint64(0))
			require_Equal(t, state.Bytes, uint64(0))
			require_Equal(t, state.LastSeq, stored)
			require_Equal(t, state.FirstSeq, stored+1)
		}
		checkPurgeState(toStore)

		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		require_Equal(t, fs.numMsgBlocks(), 1)
		checkPurgeState(toStore)

		for i := uint64(0); i < toStore; i++ {
			fs.StoreMsg(subj, nil, msg, 0)
		}
		require_Equal(t, fs.State().Msgs, toStore)

		// Simulate a crash before the purge directory was removed: move the
		// messages aside, purge, then put them back as __msgs__.
		mdir := filepath.Join(fcfg.StoreDir, msgDir)
		pdir := filepath.Join(fcfg.StoreDir, "ptest")
		require_NoError(t, os.Rename(mdir, pdir))
		require_NoError(t, os.MkdirAll(mdir, 0o755))

		_, err = fs.Purge()
		require_NoError(t, err)
		checkPurgeState(toStore * 2)
		require_NoError(t, fs.Stop())

		leftover := filepath.Join(fcfg.StoreDir, purgeDir)
		require_NoError(t, os.Rename(pdir, leftover))

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		require_Equal(t, fs.numMsgBlocks(), 1)
		checkPurgeState(toStore * 2)
		_, err = os.Stat(leftover)
		require_True(t, os.IsNotExist(err))
	})
}

func TestFileStoreCompact(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 350
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		for i := 0; i < 10; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(10))
		n, err := fs.Compact(6)
		require_NoError(t, err)
		require_Equal(t, n, uint64(5))
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(5))
		require_Equal(t, state.FirstSeq, uint64(6))

		// Past the last sequence, Compact resets the first too.
		n, err = fs.Compact(100)
		require_NoError(t, err)
		require_Equal(t, n, uint64(5))
		require_Equal(t, fs.State().FirstSeq, uint64(100))

		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		require_Equal(t, fs.State().FirstSeq, uint64(100))
	})
}

func TestFileStoreCompactLastPlusOne(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 8192
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		msg := make([]byte, 10_000)
		for i := 0; i < 1_000; i++ {
			_, _, err := fs.StoreMsg("foo", nil, msg, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.State().Msgs, uint64(1_000))
		_, err := fs.Compact(1_001)
		require_NoError(t, err)
		require_Equal(t, fs.State().Msgs, uint64(0))
		_, _, err = fs.StoreMsg("foo", nil, msg, 0)
		require_NoError(t, err)
		require_Equal(t, fs.State().Msgs, uint64(1))
	})
}

func TestFileStoreCompactMsgCountBug(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		for i := 0; i < 10; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		for _, seq := range []uint64{2, 3, 4} {
			_, err := fs.EraseMsg(seq)
			require_NoError(t, err)
		}
		for _, seq := range []uint64{7, 8, 9} {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		n, err := fs.Compact(6)
		require_NoError(t, err)
		require_Equal(t, n, uint64(2)) // 1 and 5
		require_Equal(t, fs.State().Msgs, uint64(2))
	})
}

func TestFileStoreStreamTruncate(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 350
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		tseq, toStore := uint64(50), uint64(100)
		for i := uint64(1); i < tseq; i++ {
			_, _, err := fs.StoreMsg("foo", nil, []byte("ok"), 0)
			require_NoError(t, err)
		}
		for i := tseq; i <= toStore; i++ {
			_, _, err := fs.StoreMsg("bar", nil, []byte("ok"), 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.State().Msgs, toStore)

		require_NoError(t, fs.Truncate(tseq))
		require_Equal(t, fs.State().Msgs, tseq)

		for _, seq := range []uint64{10, 20, 30, 40} {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		tseq = 25
		require_NoError(t, fs.Truncate(tseq))
		state := fs.State()
		require_Equal(t, state.Msgs, tseq-2)
		if !reflect.DeepEqual(state.Deleted, []uint64{10, 20}) {
			t.Fatalf("deleted %v, want [10 20]", state.Deleted)
		}
		before := state

		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		if state := fs.State(); !reflect.DeepEqual(state, before) {
			t.Fatalf("state %+v, want %+v", state, before)
		}

		// Without index.db, the tombstones of removed blocks must have been
		// kept for the same state to come back.
		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		if state := fs.State(); !reflect.DeepEqual(state, before) {
			t.Fatalf("without index.db state %+v, want %+v", state, before)
		}
	})
}

func TestFileStoreRemovePartialRecovery(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		toStore := 100
		for i := 0; i < toStore; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		for i := 1; i <= toStore/2; i++ {
			_, err := fs.RemoveMsg(uint64(i))
			require_NoError(t, err)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(toStore/2))
		require_NoError(t, fs.Stop())

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		if state2 := fs.State(); !reflect.DeepEqual(state2, state) {
			t.Fatalf("recovered %+v, want %+v", state2, state)
		}
	})
}

func TestFileStoreRemoveOutOfOrderRecovery(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		toStore := 100
		for i := 0; i < toStore; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		for i := 2; i <= toStore; i += 2 {
			removed, err := fs.RemoveMsg(uint64(i))
			require_NoError(t, err)
			require_True(t, removed)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(toStore/2))
		check := func() {
			t.Helper()
			_, err := fs.LoadMsg(1, nil)
			require_NoError(t, err)
			for i := 2; i <= toStore; i += 2 {
				_, err := fs.LoadMsg(uint64(i), nil)
				require_Error(t, err)
			}
		}
		check()
		require_NoError(t, fs.Stop())

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		if state2 := fs.State(); !reflect.DeepEqual(state2, state) {
			t.Fatalf("recovered %+v, want %+v", state2, state)
		}
		check()
	})
}

func TestFileStoreBitRot(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		for i := 0; i < 100; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(100))
		ld, err := fs.checkMsgs()
		require_NoError(t, err)
		if ld != nil && len(ld.Msgs) > 0 {
			t.Fatalf("expected no corrupt messages, got %d", len(ld.Msgs))
		}

		rng := rand.New(rand.NewSource(22))
		for i := 0; i < 10; i++ {
			// Reverse the bits of one byte somewhere in the last block.
			fs.mu.Lock()
			fn := fs.lastBlock.fileName
			contents, err := os.ReadFile(fn)
			require_NoError(t, err)
			require_True(t, len(contents) > 0)
			var index int
			for {
				index = rng.Intn(len(contents))
				b := contents[index]
				if contents[index] = bits.Reverse8(b); b != contents[index] {
					break
				}
			}
			require_NoError(t, os.WriteFile(fn, contents, 0o644))
			fs.mu.Unlock()

			ld, err := fs.checkMsgs()
			require_NoError(t, err)
			if ld != nil && len(ld.Msgs) > 0 {
				break
			}
			if fs.State().Msgs == 0 {
				break
			}
			if i == 9 {
				t.Fatalf("expected corrupt messages to be reported, changed byte %d", index)
			}
		}

		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		// checkMsgs repaired the store, so it is clean now.
		ld, err = fs.checkMsgs()
		require_NoError(t, err)
		if ld != nil && fs.State().Msgs > 0 {
			t.Fatalf("expected a clean store after repair, got %+v", ld)
		}
	})
}

func TestFileStoreEraseMsg(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir()}
	fs, err := newFileStore(fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
	require_NoError(t, err)
	defer fs.Stop()

	subj, msg := "foo", []byte("Hello World")
	fs.StoreMsg(subj, nil, msg, 0)
	fs.StoreMsg(subj, nil, msg, 0) // keeps the block from being removed
	var smv StoreMsg
	sm, err := fs.LoadMsg(1, &smv)
	require_NoError(t, err)
	require_True(t, bytes.Equal(msg, sm.msg))
	removed, err := fs.EraseMsg(1)
	require_NoError(t, err)
	require_True(t, removed)
	sm2, _ := fs.msgForSeq(1, nil)
	require_True(t, sm2 == nil)

	// On disk the record is overwritten: erased flag, no subject, random body.
	rl := fileStoreMsgSize(subj, nil, msg)
	buf := make([]byte, rl)
	fp, err := os.Open(filepath.Join(fcfg.StoreDir, msgDir, fmt.Sprintf(blkScan, 1)))
	require_NoError(t, err)
	defer fp.Close()
	_, err = fp.ReadAt(buf, 0)
	require_NoError(t, err)
	require_True(t, binary.LittleEndian.Uint64(buf[4:])&ebit != 0)
	fs.mu.RLock()
	mb := fs.blocks[0]
	fs.mu.RUnlock()
	mb.mu.Lock()
	sm, err = mb.msgFromBuf(buf, nil, mb.hasher)
	mb.mu.Unlock()
	require_NoError(t, err)
	require_True(t, sm.subj != subj)
	require_Equal(t, sm.seq, uint64(0))
	require_Equal(t, sm.ts, int64(0))
	require_False(t, bytes.Equal(sm.msg, msg))
}

func TestFileStoreEraseAndNoIndexRecovery(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		toStore := 100
		for i := 0; i < toStore; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		for i := 2; i <= toStore; i += 2 {
			removed, err := fs.EraseMsg(uint64(i))
			require_NoError(t, err)
			require_True(t, removed)
		}
		require_Equal(t, fs.State().Msgs, uint64(toStore/2))
		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		require_Equal(t, fs.State().Msgs, uint64(toStore/2))
		for i := 2; i <= toStore; i += 2 {
			_, err := fs.LoadMsg(uint64(i), nil)
			require_Error(t, err)
		}
	})
}

func TestFileStoreWriteAndReadSameBlock(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		for i := uint64(1); i <= 10; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World!"), 0)
			_, err := fs.LoadMsg(i, nil)
			require_NoError(t, err)
		}
	})
}

func TestFileStoreAndRetrieveMultiBlock(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		subj, msg := "foo", []byte("Hello World!")
		fcfg.BlockSize = 4 * fileStoreMsgSize(subj, nil, msg)
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		for i := 0; i < 20; i++ {
			fs.StoreMsg(subj, nil, msg, 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(20))
		require_Equal(t, fs.numMsgBlocks(), 5)
		require_NoError(t, fs.Stop())

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		var smv StoreMsg
		for i := uint64(1); i <= 20; i++ {
			_, err := fs.LoadMsg(i, &smv)
			require_NoError(t, err)
		}
	})
}

func TestFileStoreCollapseDmap(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		subj, msg := "foo", []byte("Hello World!")
		fcfg.BlockSize = 4 * fileStoreMsgSize(subj, nil, msg)
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		for i := 0; i < 10; i++ {
			fs.StoreMsg(subj, nil, msg, 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(10))
		checkDmapTotal := func(total int) {
			t.Helper()
			require_Equal(t, fs.dmapEntries(), total)
		}
		checkFirstSeq := func(seq uint64) {
			t.Helper()
			require_Equal(t, fs.State().FirstSeq, seq)
		}
		remove := func(seq uint64) {
			t.Helper()
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		remove(2)
		checkFirstSeq(1)
		remove(4)
		checkFirstSeq(1)
		remove(8)
		checkFirstSeq(1)
		require_Equal(t, fs.State().Msgs, uint64(7))
		checkDmapTotal(3)

		remove(1)
		checkDmapTotal(2)
		checkFirstSeq(3)
		remove(3)
		checkDmapTotal(1)
		checkFirstSeq(5)
		remove(5)
		checkDmapTotal(1)
		checkFirstSeq(6)
		remove(7)
		checkDmapTotal(2)
		remove(6)
		checkDmapTotal(0)
	})
}

func TestFileStoreReadCache(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.CacheExpire = 50 * time.Millisecond
		subj, msg := "foo.bar", make([]byte, 1024)
		storedMsgSize := fileStoreMsgSize(subj, nil, msg)
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})

		toStore := 500
		totalBytes := uint64(toStore) * storedMsgSize
		for i := 0; i < toStore; i++ {
			fs.StoreMsg(subj, nil, msg, 0)
		}
		waitEmpty := func() {
			t.Helper()
			checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
				if csz := fs.cacheSize(); csz != 0 {
					return fmt.Errorf("cache size not 0, got %d", csz)
				}
				return nil
			})
		}
		waitEmpty()
		_, err := fs.LoadMsg(1, nil)
		require_NoError(t, err)
		require_Equal(t, fs.cacheSize(), totalBytes)
		waitEmpty()
		require_Equal(t, fs.cacheLoads(), uint64(1))

		// Activity keeps the cache: no reload while reading.
		fs.LoadMsg(1, nil)
		for deadline := time.Now().Add(250 * time.Millisecond); time.Now().Before(deadline); {
			require_Equal(t, fs.cacheLoads(), uint64(2))
			time.Sleep(5 * time.Millisecond)
			fs.LoadMsg(1, nil)
		}
	})
}

func TestFileStorePartialCacheExpiration(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cexp := 10 * time.Millisecond
		fcfg.CacheExpire = cexp
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		fs.StoreMsg("foo", nil, []byte("msg1"), 0)
		time.Sleep(2 * cexp)
		fs.StoreMsg("bar", nil, []byte("msg2"), 0)
		time.Sleep(2 * cexp)
		_, err := fs.LoadMsg(1, nil)
		require_NoError(t, err)
	})
}

func TestFileStoreInvalidIndexesRebuilt(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		for i := 0; i < 5; i++ {
			_, _, err := fs.StoreMsg("foo", nil, []byte("ok-1"), 0)
			require_NoError(t, err)
		}
		require_NoError(t, fs.FlushAllPending())

		// Mangle the cached copy's sequence and mark its hash checked, so
		// only the sequence check can notice.
		fs.mu.RLock()
		mb := fs.selectMsgBlock(1)
		fs.mu.RUnlock()
		require_NoError(t, mb.loadMsgs())
		mb.mu.Lock()
		require_True(t, mb.cacheAlreadyLoaded())
		ri, rl, _, err := mb.slotInfo(0)
		require_NoError(t, err)
		slot := mb.cache.buf[ri : ri+rl]
		require_Equal(t, binary.LittleEndian.Uint64(slot[4:]), uint64(1))
		binary.LittleEndian.PutUint64(slot[4:], 12345)
		mb.cache.offsets[0] |= cbit
		_, err = mb.cacheLookupEx(1, nil, false)
		require_Error(t, err)
		require_True(t, mb.cache == nil)
		mb.mu.Unlock()

		// fetchMsg reloads from disk with the right sequence.
		sm, _, err := mb.fetchMsg(1, nil)
		require_NoError(t, err)
		require_Equal(t, sm.seq, uint64(1))
	})
}
