package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// Assertion helpers named like upstream's so ported tests read alike.

func require_True(t testing.TB, b bool) {
	t.Helper()
	if !b {
		t.Fatalf("require true, but got false")
	}
}

func require_False(t testing.TB, b bool) {
	t.Helper()
	if b {
		t.Fatalf("require false, but got true")
	}
}

func require_NoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("require no error, but got: %v", err)
	}
}

// require_Error fails unless err is non-nil and, when expected are given,
// matches one of them.
func require_Error(t testing.TB, err error, expected ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("require error, but got none")
	}
	if len(expected) == 0 {
		return
	}
	for _, e := range expected {
		if errors.Is(err, e) || err.Error() == e.Error() {
			return
		}
	}
	t.Fatalf("expected one of %v, got %v", expected, err)
}

func require_Equal[T comparable](t testing.TB, a, b T) {
	t.Helper()
	if a != b {
		t.Fatalf("require %T equal, but got: %v != %v", a, a, b)
	}
}

func require_Len(t testing.TB, a, b int) {
	t.Helper()
	if a != b {
		t.Fatalf("require len, but got: %v != %v", a, b)
	}
}

// checkFor retries f until it succeeds or totalWait passes.
func checkFor(t testing.TB, totalWait, sleepDur time.Duration, f func() error) {
	t.Helper()
	timeout := time.Now().Add(totalWait)
	var err error
	for time.Now().Before(timeout) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(sleepDur)
	}
	if err != nil {
		t.Fatal(err.Error())
	}
}

// allPermutations are upstream's: none, AES and ChaCha, each without and
// with S2.
var allPermutations = []FileStoreConfig{
	{Cipher: NoCipher, Compression: NoCompression},
	{Cipher: NoCipher, Compression: S2Compression},
	{Cipher: AES, Compression: NoCompression},
	{Cipher: AES, Compression: S2Compression},
	{Cipher: ChaCha, Compression: NoCompression},
	{Cipher: ChaCha, Compression: S2Compression},
}

// testFileStoreAllPermutations runs fn for all six cipher and compression
// combinations, as upstream does. With -short only the plain one runs.
func testFileStoreAllPermutations(t *testing.T, fn func(t *testing.T, fcfg FileStoreConfig)) {
	perms := allPermutations
	if testing.Short() {
		perms = perms[:1]
	}
	runPermutations(t, perms, fn)
}

// testFileStoreEncryptedPermutations is the name tests used while only
// some of them ran encrypted; it now runs the same six combinations.
func testFileStoreEncryptedPermutations(t *testing.T, fn func(t *testing.T, fcfg FileStoreConfig)) {
	testFileStoreAllPermutations(t, fn)
}

func runPermutations(t *testing.T, perms []FileStoreConfig, fn func(t *testing.T, fcfg FileStoreConfig)) {
	for _, fcfg := range perms {
		t.Run(fmt.Sprintf("%s-%s", fcfg.Cipher, fcfg.Compression), func(t *testing.T) {
			fcfg.StoreDir = t.TempDir()
			if fcfg.Cipher != NoCipher {
				encryptedTestDirs.Store(fcfg.StoreDir, true)
				t.Cleanup(func() { encryptedTestDirs.Delete(fcfg.StoreDir) })
			}
			fn(t, fcfg)
		})
	}
}

// encryptedTestDirs holds the store directories of encrypted permutations.
// The zero StoreCipher is ChaCha, so the cipher alone cannot tell a test
// that asked for encryption from one that left the field unset.
var encryptedTestDirs sync.Map

// prf is the key generator tests give a store, as upstream's: HMAC-SHA256
// with a fixed key for an encrypted permutation's directory, none otherwise.
func prf(fcfg *FileStoreConfig) keyGen {
	if _, ok := encryptedTestDirs.Load(fcfg.StoreDir); !ok || fcfg.Cipher == NoCipher {
		return nil
	}
	return hmacKeyGen("dlc22")
}

// newTestFileStore opens a store (encrypted when fcfg asks for a cipher)
// and stops it when the test ends.
func newTestFileStore(t testing.TB, fcfg FileStoreConfig, cfg StreamConfig) *fileStore {
	t.Helper()
	if cfg.Storage == 0 {
		cfg.Storage = FileStorage
	}
	fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), prf(&fcfg))
	require_NoError(t, err)
	t.Cleanup(func() { fs.Stop() })
	return fs
}

// newTestFileStoreFS opens a store on fsys (encrypted when fcfg asks).
func newTestFileStoreFS(t testing.TB, fsys vfs.FS, fcfg FileStoreConfig, cfg StreamConfig) (*fileStore, error) {
	t.Helper()
	if cfg.Storage == 0 {
		cfg.Storage = FileStorage
	}
	return openFileStore(fsys, fcfg, cfg, time.Now(), prf(&fcfg), nil)
}
