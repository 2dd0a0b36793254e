package store

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// A block recovered from index.db other than the last one has never had its
// tail read; ensureLastChecksumLoaded reads the last record's hash from the
// file (decrypting it first when it must) and keeps one it already knows.
func TestFileStoreEnsureLastChecksumLoaded(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 1024
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage}
		fs := newTestFileStore(t, fcfg, cfg)
		for i := range 60 {
			_, _, err := fs.StoreMsg("foo."+string(rune('a'+i%26)), nil, bytes.Repeat([]byte{byte(i)}, 40), 0)
			require_NoError(t, err)
		}
		require_NoError(t, fs.Stop())
		fs = newTestFileStore(t, fcfg, cfg)

		fs.mu.RLock()
		require_True(t, len(fs.blocks) > 2)
		mb := fs.blocks[0]
		fs.mu.RUnlock()

		mb.mu.Lock()
		defer mb.mu.Unlock()
		var empty [8]byte
		require_True(t, mb.tailChecksum == empty)
		mb.ensureLastChecksumLoaded()
		got := mb.tailChecksum
		require_True(t, got != empty)

		require_NoError(t, mb.loadMsgsWithLock())
		buf := mb.cache.buf
		if !bytes.Equal(got[:], buf[len(buf)-checksumSize:]) {
			t.Fatalf("tail checksum %x, the block's last record ends in %x", got, buf[len(buf)-checksumSize:])
		}

		// A known checksum is kept, not read again.
		mb.tailChecksum = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		mb.ensureLastChecksumLoaded()
		require_True(t, mb.tailChecksum == [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	})
}

// closeFDs refuses while the block has unflushed writes and closes the file
// once they are flushed.
func TestFileStoreMsgBlockCloseFDs(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), AsyncFlush: true}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	_, _, err := fs.StoreMsg("foo", nil, []byte("pending"), 0)
	require_NoError(t, err)
	fs.mu.RLock()
	mb := fs.lastBlock
	fs.mu.RUnlock()

	mb.mu.Lock()
	mb.stopFlusherLocked() // keep the write pending
	open := mb.file != nil
	mb.mu.Unlock()
	require_True(t, open)
	require_Error(t, mb.closeFDs(), errPendingData)
	mb.mu.RLock()
	require_True(t, mb.file != nil)
	mb.mu.RUnlock()

	require_NoError(t, mb.flushPendingMsgs())
	require_NoError(t, mb.closeFDs())
	mb.mu.RLock()
	require_True(t, mb.file == nil)
	mb.mu.RUnlock()
	sm, err := fs.LoadMsg(1, nil)
	require_NoError(t, err)
	require_Equal(t, string(sm.msg), "pending")
}

// A stream written under one cipher and reopened under the other converts
// each block as it loads it: the messages read back, the key files open
// with the new cipher only, and a further restart needs nothing converted.
// A stream written without encryption is encrypted the same way.
func TestFileStoreMsgBlockConvertCipher(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to StoreCipher
		fromKeys bool
	}{
		{"ChaChaToAES", ChaCha, AES, true},
		{"AESToChaCha", AES, ChaCha, true},
		{"PlainToAES", NoCipher, AES, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage}
			created := time.Now()
			kg := hmacKeyGen("dlc22")
			open := func(c StoreCipher, kg keyGen) *fileStore {
				t.Helper()
				fs, err := newFileStoreWithCreated(FileStoreConfig{StoreDir: dir, BlockSize: 1024, Cipher: c}, cfg, created, kg, nil)
				require_NoError(t, err)
				return fs
			}
			var fromKG keyGen
			if tc.fromKeys {
				fromKG = kg
			}
			fs := open(tc.from, fromKG)
			want := map[uint64]string{}
			for i := range 50 {
				body := fmt.Sprintf("secret message %03d", i)
				seq, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i%5), nil, []byte(body), 0)
				require_NoError(t, err)
				want[seq] = body
			}
			require_True(t, fs.numMsgBlocks() > 2)
			require_NoError(t, fs.Stop())

			for round := range 2 {
				fs = open(tc.to, kg)
				for seq, body := range want {
					sm, err := fs.LoadMsg(seq, nil)
					require_NoError(t, err)
					if string(sm.msg) != body {
						t.Fatalf("round %d seq %d: got %q, want %q", round, seq, sm.msg, body)
					}
				}
				fs.mu.RLock()
				blocks := slices.Clone(fs.blocks)
				fs.mu.RUnlock()
				for _, mb := range blocks {
					ekey, err := os.ReadFile(fs.blockKeyFile(mb.index))
					require_NoError(t, err)
					_, _, err = openKeyFile(kg, tc.to, blockKeyContext(cfg.Name, mb.index), ekey)
					require_NoError(t, err)
					raw, err := os.ReadFile(mb.fileName)
					require_NoError(t, err)
					if bytes.Contains(raw, []byte("secret message")) {
						t.Fatalf("round %d: block %d still holds plaintext", round, mb.index)
					}
				}
				require_NoError(t, fs.Stop())
			}
		})
	}
}

// ensureRawBytesLoaded takes an unknown file size from the file, keeps a
// known one, and reports a missing file.
func TestFileStoreMsgBlockEnsureRawBytesLoaded(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1024}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	for range 30 {
		_, _, err := fs.StoreMsg("foo", nil, make([]byte, 40), 0)
		require_NoError(t, err)
	}
	fs.mu.RLock()
	mb := fs.blocks[0]
	fs.mu.RUnlock()
	fi, err := os.Stat(mb.fileName)
	require_NoError(t, err)

	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.rawBytes = 0
	require_NoError(t, mb.ensureRawBytesLoaded())
	require_Equal(t, mb.rawBytes, uint64(fi.Size()))
	mb.rawBytes = 7
	require_NoError(t, mb.ensureRawBytesLoaded())
	require_Equal(t, mb.rawBytes, 7)

	mb.rawBytes = 0
	saved := mb.fileName
	mb.fileName = saved + ".gone"
	require_Error(t, mb.ensureRawBytesLoaded())
	mb.fileName = saved
}

// sinceLastWriteActivity counts from the later of the last write and the
// last removal (0 once closed), and the sync pass closes the file of a
// block idle for longer than closeFDsIdle while a busy one stays open.
func TestFileStoreMsgBlockSinceLastWriteActivity(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512}
	fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	for range 40 {
		_, _, err := fs.StoreMsg("foo", nil, make([]byte, 40), 0)
		require_NoError(t, err)
	}
	fs.mu.RLock()
	idle, busy := fs.blocks[0], fs.blocks[1]
	fs.mu.RUnlock()

	now := accessTime()
	for _, mb := range []*msgBlock{idle, busy} {
		mb.mu.Lock()
		if mb.file == nil {
			f, err := mb.openBlock()
			require_NoError(t, err)
			mb.file = f
		}
		mb.mu.Unlock()
	}
	idle.mu.Lock()
	idle.lastWrite, idle.lastRemove = now-int64(45*time.Second), now-int64(40*time.Second)
	since := idle.sinceLastWriteActivity()
	idle.mu.Unlock()
	if since < 40*time.Second || since > 50*time.Second {
		t.Fatalf("sinceLastWriteActivity = %v, want about 40s (the last removal)", since)
	}
	busy.mu.Lock()
	busy.lastWrite, busy.lastRemove = now, 0
	busy.mu.Unlock()

	fs.syncBlocks()
	idle.mu.RLock()
	idleOpen := idle.file != nil
	idle.mu.RUnlock()
	busy.mu.RLock()
	busyOpen := busy.file != nil
	busy.mu.RUnlock()
	require_False(t, idleOpen)
	require_True(t, busyOpen)

	idle.mu.Lock()
	idle.closed = true
	require_Equal(t, idle.sinceLastWriteActivity(), 0)
	idle.closed = false
	idle.mu.Unlock()
}

// dirtyClose drops a block's cache and file handle without flushing or
// removing anything: its file stays, and reopening reads it all back.
func TestFileStoreMsgBlockDirtyClose(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}}
	fs := newTestFileStore(t, fcfg, cfg)
	for range 20 {
		_, _, err := fs.StoreMsg("foo", nil, make([]byte, 40), 0)
		require_NoError(t, err)
	}
	fs.mu.RLock()
	mb := fs.blocks[0]
	fs.mu.RUnlock()
	require_NoError(t, mb.loadMsgs())
	mb.mu.Lock()
	if mb.file == nil {
		f, err := mb.openBlock()
		require_NoError(t, err)
		mb.file = f
	}
	mb.mu.Unlock()

	mb.dirtyClose()
	mb.mu.RLock()
	cached, open, name := mb.cache != nil, mb.file != nil, mb.fileName
	mb.mu.RUnlock()
	require_False(t, cached)
	require_False(t, open)
	_, err := os.Stat(name)
	require_NoError(t, err)

	sm, err := fs.LoadMsg(1, nil)
	require_NoError(t, err)
	require_Equal(t, len(sm.msg), 40)
}
