package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// The port's own tests for store methods that upstream's tests reach only
// through the server (callback registration, replication state, consumer
// stores) or whose effect they do not observe.

// The removal handler is kept for the expiry path; the one stored must be
// the one given, and registering nil clears it.
func TestFileStoreRegisterStorageRemoveMsgCallback(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})

	var got []uint64
	fs.RegisterStorageRemoveMsg(func(seq uint64) { got = append(got, seq) })
	fs.mu.RLock()
	cb := fs.removeCB
	fs.mu.RUnlock()
	if cb == nil {
		t.Fatal("RegisterStorageRemoveMsg did not keep the handler")
	}
	cb(22)
	if !slices.Equal(got, []uint64{22}) {
		t.Fatalf("stored handler got %v, want [22]", got)
	}

	fs.RegisterStorageRemoveMsg(nil)
	fs.mu.RLock()
	cleared := fs.removeCB == nil
	fs.mu.RUnlock()
	require_True(t, cleared)
}

// The publish handler is kept for subject delete markers; the one stored
// must be the one given, and registering nil clears it.
func TestFileStoreRegisterProcessJetStreamMsgCallback(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})

	var got []string
	fs.RegisterProcessJetStreamMsg(func(m *inMsg) { got = append(got, m.subj) })
	fs.mu.RLock()
	cb := fs.processMsgCB
	fs.mu.RUnlock()
	if cb == nil {
		t.Fatal("RegisterProcessJetStreamMsg did not keep the handler")
	}
	cb(&inMsg{subj: "foo"})
	if !slices.Equal(got, []string{"foo"}) {
		t.Fatalf("stored handler got %q, want [foo]", got)
	}

	fs.RegisterProcessJetStreamMsg(nil)
	fs.mu.RLock()
	cleared := fs.processMsgCB == nil
	fs.mu.RUnlock()
	require_True(t, cleared)
}

// rebuildFirst is the fallback when the first message cannot be removed
// because the first block's state is stale. Here the first block's file was
// lost under the store: the block must go, its messages count as lost, and
// the stream's state and per-subject counts must follow the blocks left.
func TestFileStoreRebuildFirstDropsLostFirstBlock(t *testing.T) {
	msg := []byte("hello")
	rl := fileStoreMsgSize("foo.1", nil, msg)
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 3 * rl},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}})

	const total = 9
	for i := 1; i <= total; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i), nil, msg, 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.FlushAllPending())

	fs.mu.RLock()
	nblocks := len(fs.blocks)
	fmb, next := fs.blocks[0], fs.blocks[1]
	fmb.mu.RLock()
	lostCount, lostBytes := fmb.msgs, fmb.bytes
	fmb.mu.RUnlock()
	nextFirst := next.first.seq
	fs.mu.RUnlock()
	if nblocks < 3 || lostCount == 0 {
		t.Fatalf("setup: want at least 3 blocks and a non-empty first, got %d blocks, %d msgs in the first", nblocks, lostCount)
	}

	require_NoError(t, os.Truncate(fmb.fileName, 0))

	fs.mu.Lock()
	err := fs.rebuildFirst()
	remaining := len(fs.blocks)
	firstIsNext := len(fs.blocks) > 0 && fs.blocks[0] == next
	fs.mu.Unlock()
	require_NoError(t, err)

	require_Equal(t, remaining, nblocks-1)
	require_True(t, firstIsNext)

	state := fs.State()
	require_Equal(t, state.Msgs, total-lostCount)
	require_Equal(t, state.FirstSeq, nextFirst)
	require_Equal(t, state.LastSeq, uint64(total))
	if state.Lost == nil {
		t.Fatal("state reports no lost data")
	}
	wantLost := make([]uint64, 0, lostCount)
	for seq := uint64(1); seq <= lostCount; seq++ {
		wantLost = append(wantLost, seq)
	}
	if !slices.Equal(state.Lost.Msgs, wantLost) {
		t.Fatalf("lost msgs %v, want %v", state.Lost.Msgs, wantLost)
	}
	require_Equal(t, state.Lost.Bytes, lostBytes)

	subjects := fs.SubjectsState("foo.*")
	require_Len(t, len(subjects), int(total-lostCount))
	if _, ok := subjects["foo.1"]; ok {
		t.Fatal("per-subject state still counts a lost message's subject")
	}
	if _, ok := subjects[fmt.Sprintf("foo.%d", total)]; !ok {
		t.Fatal("per-subject state lost a surviving subject")
	}
}

// fileStoreMsgSizeEstimate sizes a record whose headers and payload together
// take maxPayload bytes: the empty record plus subject, header length field
// and payload. It must bound every real record of that shape.
func TestFileStoreMsgSizeEstimate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		slen       int
		maxPayload int
		want       uint64
	}{
		{"empty", 0, 0, 34},
		{"subject only", 3, 0, 37},
		{"subject and payload", 3, 100, 137},
		{"one MiB payload", 10, 1 << 20, 44 + 1<<20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fileStoreMsgSizeEstimate(tc.slen, tc.maxPayload)
			require_Equal(t, got, tc.want)
			// Without headers the record is 4 bytes (the header length
			// field) under the estimate; with them it takes exactly the
			// estimate, however headers and body split the payload.
			require_Equal(t, got, fileStoreMsgSizeRaw(tc.slen, 0, tc.maxPayload)+4)
			if hlen := tc.maxPayload / 3; hlen > 0 {
				require_Equal(t, got, fileStoreMsgSizeRaw(tc.slen, hlen, tc.maxPayload-hlen))
			}
		})
	}

	// A stored message's accounted size stays within the estimate.
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo.>"}})
	subj, hdr, body := "foo.bar", []byte("NATS/1.0\r\nk: v\r\n\r\n"), bytes.Repeat([]byte("x"), 64)
	_, _, err := fs.StoreMsg(subj, hdr, body, 0)
	require_NoError(t, err)
	if got, est := fs.State().Bytes, fileStoreMsgSizeEstimate(len(subj), len(hdr)+len(body)); got > est {
		t.Fatalf("stored %d bytes, over the estimate %d", got, est)
	}
}

// fileStoreConfig returns the config the store runs with, defaults filled
// in, as a copy the caller cannot use to change the store.
func TestFileStoreConfigCopy(t *testing.T) {
	dir := t.TempDir()
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: dir, Compression: S2Compression, SyncAlways: true}, cfg)

	got := fs.fileStoreConfig()
	want := FileStoreConfig{
		StoreDir:           dir,
		BlockSize:          dynBlkSize(cfg.Retention, cfg.MaxBytes, false),
		CacheExpire:        defaultCacheBufferExpiration,
		SubjectStateExpire: defaultFssExpiration,
		SyncInterval:       defaultSyncInterval,
		SyncAlways:         true,
		Compression:        S2Compression,
	}
	if got != want {
		t.Fatalf("fileStoreConfig() = %+v, want %+v", got, want)
	}

	got.BlockSize, got.StoreDir = 1, "elsewhere"
	again := fs.fileStoreConfig()
	require_Equal(t, again, want)

	// Values given explicitly are kept as given.
	fs2 := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 4096, SyncInterval: time.Minute}, cfg)
	got2 := fs2.fileStoreConfig()
	require_Equal(t, got2.BlockSize, uint64(4096))
	require_Equal(t, got2.SyncInterval, time.Minute)
}

// EncodedStreamState must decode to the store's own state: counts, range,
// the failed count given, and exactly the deleted sequences, whether they
// are a block's interior deletes or a gap left by a removed block.
func TestFileStoreEncodedStreamStateRoundTrip(t *testing.T) {
	msg := []byte("hello")
	rl := fileStoreMsgSize("foo", nil, msg)

	deletedOf := func(t *testing.T, dbs DeleteBlocks) []uint64 {
		t.Helper()
		var seqs []uint64
		for _, db := range dbs {
			db.Range(func(seq uint64) bool {
				seqs = append(seqs, seq)
				return true
			})
		}
		slices.Sort(seqs)
		return seqs
	}
	check := func(t *testing.T, fs *fileStore, failed uint64) *StreamReplicatedState {
		t.Helper()
		enc, err := fs.EncodedStreamState(failed)
		require_NoError(t, err)
		require_True(t, IsEncodedStreamState(enc))
		ss, err := DecodeStreamState(enc)
		require_NoError(t, err)
		state := fs.State()
		require_Equal(t, ss.Msgs, state.Msgs)
		require_Equal(t, ss.Bytes, state.Bytes)
		require_Equal(t, ss.FirstSeq, state.FirstSeq)
		require_Equal(t, ss.LastSeq, state.LastSeq)
		require_Equal(t, ss.Failed, failed)
		require_Equal(t, ss.Deleted.NumDeleted(), uint64(state.NumDeleted))
		if got, want := deletedOf(t, ss.Deleted), state.Deleted; !slices.Equal(got, want) {
			t.Fatalf("decoded deleted %v, want %v", got, want)
		}
		return ss
	}

	t.Run("no deletes", func(t *testing.T) {
		fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
		for range 5 {
			_, _, err := fs.StoreMsg("foo", nil, msg, 0)
			require_NoError(t, err)
		}
		ss := check(t, fs, 3)
		require_Equal(t, ss.Msgs, uint64(5))
		require_Len(t, len(ss.Deleted), 0)
	})

	t.Run("interior deletes and a removed block", func(t *testing.T) {
		fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 4 * rl},
			StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
		for range 20 {
			_, _, err := fs.StoreMsg("foo", nil, msg, 0)
			require_NoError(t, err)
		}
		fs.mu.RLock()
		second := fs.blocks[1]
		first, last := second.first.seq, second.last.seq
		fs.mu.RUnlock()
		// Emptying the second block removes it, leaving a gap.
		for seq := first; seq <= last; seq++ {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		// Interior deletes stay in their blocks' delete maps.
		for _, seq := range []uint64{2, 3, 18} {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		ss := check(t, fs, 7)
		require_Equal(t, ss.Deleted.NumDeleted(), last-first+1+3)
		var ranges, sets int
		for _, db := range ss.Deleted {
			if _, ok := db.(*DeleteRange); ok {
				ranges++
			} else {
				sets++
			}
		}
		if ranges == 0 || sets == 0 {
			t.Fatalf("want both a run length and a sequence set, got %d and %d", ranges, sets)
		}
	})
}

// ConsumerStore opens a consumer under the stream's obs/ directory, sealed
// with the stream's key generator, and registers it with the stream; opening
// it again recovers its state.
func TestFileStoreConsumerStoreOpensEncryptedRegisteredConsumer(t *testing.T) {
	dir := t.TempDir()
	encryptedTestDirs.Store(dir, true)
	t.Cleanup(func() { encryptedTestDirs.Delete(dir) })
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: dir, Cipher: AES}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})

	cfg := &ConsumerConfig{Durable: "dlc", AckPolicy: AckExplicit}
	created := time.Now().UTC()
	o, err := fs.ConsumerStore("dlc", created, cfg)
	require_NoError(t, err)
	if o == nil {
		t.Fatal("ConsumerStore returned no store")
	}
	require_Equal(t, fs.numConsumers(), 1)
	require_Equal(t, o.Type(), FileStorage)

	odir := filepath.Join(dir, consumerDir, "dlc")
	if _, err := os.Stat(filepath.Join(odir, JetStreamMetaFileKey)); err != nil {
		t.Fatalf("consumer of an encrypted stream has no key file: %v", err)
	}
	meta, err := os.ReadFile(filepath.Join(odir, JetStreamMetaFile))
	require_NoError(t, err)
	// Sealed meta is random bytes: neither JSON nor holding the durable's
	// JSON field (a bare "dlc" could turn up in ciphertext by chance).
	if json.Valid(meta) || bytes.Contains(meta, []byte(`"durable_name":"dlc"`)) {
		t.Fatalf("consumer meta is stored in the clear: %q", meta)
	}

	require_NoError(t, o.UpdateDelivered(1, 1, 1, time.Now().UnixNano()))
	require_NoError(t, o.UpdateDelivered(2, 2, 1, time.Now().UnixNano()))
	require_NoError(t, o.UpdateAcks(1, 1))
	want, err := o.State()
	require_NoError(t, err)
	require_NoError(t, o.Stop())

	o2, err := fs.ConsumerStore("dlc", created, cfg)
	require_NoError(t, err)
	t.Cleanup(func() { _ = o2.Stop() })
	got, err := o2.State()
	require_NoError(t, err)
	// Pending timestamps are stored in whole seconds, so compare the rest.
	require_Equal(t, got.Delivered, want.Delivered)
	require_Equal(t, got.AckFloor, want.AckFloor)
	require_Len(t, len(got.Pending), 1)
	if p := got.Pending[2]; p == nil || p.Sequence != 2 {
		t.Fatalf("recovered pending %v, want consumer sequence 2 pending", fmtConsumerState(got))
	}
}

// syncFileAndDir makes both a file's contents and its directory entry
// durable, so both survive a crash; a file that is gone is not an error.
func TestFileStoreSyncFileAndDirMakesFileDurable(t *testing.T) {
	mem := vfs.NewMem()
	fs, err := newTestFileStoreFS(t, mem, FileStoreConfig{StoreDir: "/s"}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	require_NoError(t, err)
	t.Cleanup(func() { _ = fs.Stop() })

	// A directory of the test's own, durable, that the store never syncs.
	pdir := "/s/probe"
	require_NoError(t, mem.MkdirAll(pdir, defaultDirPerms))
	require_NoError(t, mem.SyncDir("/s"))

	name := filepath.Join(pdir, "data")
	data := []byte("durable bytes")
	require_NoError(t, vfs.WriteFile(mem, name, data, defaultFilePerms))
	if vfs.Exists(mem.CrashClone(vfs.CrashOptions{}), name) {
		t.Fatal("setup: an unsynced file survived a crash")
	}

	require_NoError(t, fs.syncFileAndDir(name))
	got, err := vfs.ReadFile(mem.CrashClone(vfs.CrashOptions{}), name)
	require_NoError(t, err)
	if !bytes.Equal(got, data) {
		t.Fatalf("after a crash the file holds %q, want %q", got, data)
	}

	require_NoError(t, fs.syncFileAndDir(filepath.Join(pdir, "missing")))
}

// checkAndFlushLastBlock writes the last block's buffered records to its
// file, and reports a block's sticky write error instead of writing.
func TestFileStoreCheckAndFlushLastBlock(t *testing.T) {
	open := func(t *testing.T) *fileStore {
		fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
		for range 3 {
			_, _, err := fs.StoreMsg("foo", nil, []byte("hello"), 0)
			require_NoError(t, err)
		}
		return fs
	}
	fileSize := func(t *testing.T, name string) int64 {
		t.Helper()
		fi, err := os.Stat(name)
		require_NoError(t, err)
		return fi.Size()
	}

	t.Run("flushes pending records", func(t *testing.T) {
		fs := open(t)
		fs.mu.Lock()
		lmb := fs.lastBlock
		fs.mu.Unlock()
		before := fileSize(t, lmb.fileName)

		// Tombstones written in bulk are buffered until a flush.
		fs.mu.Lock()
		err := fs.writeTombstoneNoFlush(2, time.Now().UnixNano())
		fs.mu.Unlock()
		require_NoError(t, err)
		if lmb.pendingWriteSize() == 0 {
			t.Fatal("setup: the tombstone was not left pending")
		}
		require_Equal(t, fileSize(t, lmb.fileName), before)

		require_NoError(t, fs.FlushAllPending())
		require_Equal(t, lmb.pendingWriteSize(), 0)
		require_Equal(t, fileSize(t, lmb.fileName), before+emptyRecordLen)
	})

	t.Run("reports the block's write error", func(t *testing.T) {
		fs := open(t)
		errFailed := errors.New("store: injected block write failure")
		fs.mu.Lock()
		lmb := fs.lastBlock
		lmb.mu.Lock()
		lmb.writeErr = errFailed
		lmb.mu.Unlock()
		fs.mu.Unlock()
		require_Error(t, fs.FlushAllPending(), errFailed)
	})
}
