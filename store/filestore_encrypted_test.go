package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Encrypted-store scenarios from upstream's list whose first porters had to
// leave them pending until encryption existed.

// A crash inside Purge after the new tombstone block's key file reached
// __new_msgs__ but before the block itself did must roll the purge back:
// the old messages stay and the half-moved files go.
func TestFileStoreEncryptedPurgeRecoveryAfterKeyRename(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), Cipher: AES, BlockSize: 64 * 1024}
	cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
	created := time.Now()
	fs, err := newFileStoreWithCreated(fcfg, cfg, created, hmacKeyGen("dlc22"), nil)
	require_NoError(t, err)

	payload := make([]byte, 8*1024)
	for range 1024 {
		_, _, err := fs.StoreMsg("foo", nil, payload, 0)
		require_NoError(t, err)
	}
	want := fs.State()

	mdir := filepath.Join(fcfg.StoreDir, msgDir)
	before := filepath.Join(fcfg.StoreDir, "msgs.before")
	copyTree(t, mdir, before)

	// A real purge gives a real encrypted tombstone block and its key.
	_, err = fs.Purge()
	require_NoError(t, err)
	fs.mu.RLock()
	tombIndex := fs.lastBlock.index
	fs.mu.RUnlock()
	require_NoError(t, fs.stop(false, false))

	// Put the pre-purge directory back (without index.db, so the blocks are
	// scanned) and stage the crash: key moved, block not yet.
	after := filepath.Join(fcfg.StoreDir, "msgs.after")
	require_NoError(t, os.Rename(mdir, after))
	copyTree(t, before, mdir)
	require_NoError(t, os.RemoveAll(filepath.Join(mdir, streamStreamStateFile)))
	tombBlk, tombKey := fmt.Sprintf(blkScan, tombIndex), fmt.Sprintf(keyScan, tombIndex)
	require_NoError(t, os.Rename(filepath.Join(after, tombBlk), filepath.Join(mdir, tombBlk)))
	ndir := filepath.Join(fcfg.StoreDir, newMsgDir)
	require_NoError(t, os.MkdirAll(ndir, defaultDirPerms))
	require_NoError(t, os.Rename(filepath.Join(after, tombKey), filepath.Join(ndir, tombKey)))

	fs, err = newFileStoreWithCreated(fcfg, cfg, created, hmacKeyGen("dlc22"), nil)
	require_NoError(t, err)
	defer fs.Stop()

	got := fs.State()
	require_Equal(t, got.Msgs, want.Msgs)
	require_Equal(t, got.Bytes, want.Bytes)
	require_Equal(t, got.FirstSeq, want.FirstSeq)
	require_Equal(t, got.LastSeq, want.LastSeq)
	for _, p := range []string{filepath.Join(mdir, tombBlk), ndir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("rollback should have removed %s (stat err %v)", p, err)
		}
	}
	var smv StoreMsg
	sm, err := fs.LoadMsg(want.LastSeq, &smv)
	require_NoError(t, err)
	require_True(t, bytes.Equal(sm.msg, payload))
}

// An encrypted store opened again without a key generator must refuse to
// open rather than read ciphertext as messages.
func TestFileStoreRestoreEncryptedWithNoKeyFuncFails(t *testing.T) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), Cipher: AES}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"zzz"}, Storage: FileStorage}
	fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), hmacKeyGen("dlc22"), nil)
	require_NoError(t, err)
	for range 100 {
		_, _, err := fs.StoreMsg("zzz", nil, bytes.Repeat([]byte("X"), 100), 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.Stop())

	_, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil, nil)
	require_Error(t, err, errNoMainKey)
}

// A block's key file is written unsynced and marked for the next sync
// pass, which clears the mark; with SyncAlways it is synced at once.
func TestFileStoreEncryptionKeyFileSyncedBySyncBlocks(t *testing.T) {
	keyState := func(fs *fileStore) (bool, string) {
		fs.mu.RLock()
		lmb := fs.lastBlock
		fs.mu.RUnlock()
		require_True(t, lmb != nil)
		lmb.mu.RLock()
		defer lmb.mu.RUnlock()
		return lmb.needKeySync, lmb.keyFileName
	}

	fcfg := FileStoreConfig{StoreDir: t.TempDir(), Cipher: AES}
	fs, err := newFileStoreWithCreated(fcfg, StreamConfig{Name: "S1", Storage: FileStorage}, time.Now(), hmacKeyGen("dlc22"), nil)
	require_NoError(t, err)
	defer fs.Stop()
	_, _, err = fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
	require_NoError(t, err)
	needSync, name := keyState(fs)
	require_True(t, needSync)
	require_True(t, name != "")
	fs.syncBlocks()
	needSync, _ = keyState(fs)
	require_False(t, needSync)

	fcfg = FileStoreConfig{StoreDir: t.TempDir(), Cipher: AES, SyncAlways: true}
	fs2, err := newFileStoreWithCreated(fcfg, StreamConfig{Name: "S2", Storage: FileStorage}, time.Now(), hmacKeyGen("dlc22"), nil)
	require_NoError(t, err)
	defer fs2.Stop()
	_, _, err = fs2.StoreMsg("foo", nil, []byte("Hello World"), 0)
	require_NoError(t, err)
	needSync, _ = keyState(fs2)
	require_False(t, needSync)
}
