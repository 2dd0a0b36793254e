package store

import (
	"errors"
	"fmt"
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

// testFileStoreAllPermutations runs fn for every cipher and compression
// combination the port supports. Upstream runs six (none/AES/ChaCha x
// none/S2); only the plain one exists so far.
func testFileStoreAllPermutations(t *testing.T, fn func(t *testing.T, fcfg FileStoreConfig)) {
	for _, fcfg := range []FileStoreConfig{
		{Cipher: NoCipher, Compression: NoCompression},
	} {
		t.Run(fmt.Sprintf("%s-%s", fcfg.Cipher, fcfg.Compression), func(t *testing.T) {
			fcfg.StoreDir = t.TempDir()
			fn(t, fcfg)
		})
	}
}

// newTestFileStore opens a store and stops it when the test ends.
func newTestFileStore(t testing.TB, fcfg FileStoreConfig, cfg StreamConfig) *fileStore {
	t.Helper()
	if cfg.Storage == 0 {
		cfg.Storage = FileStorage
	}
	fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
	require_NoError(t, err)
	t.Cleanup(func() { fs.Stop() })
	return fs
}

// newTestFileStoreFS opens a store on fsys.
func newTestFileStoreFS(t testing.TB, fsys vfs.FS, fcfg FileStoreConfig, cfg StreamConfig) (*fileStore, error) {
	t.Helper()
	if cfg.Storage == 0 {
		cfg.Storage = FileStorage
	}
	return newFileStoreWithCreated(fcfg, cfg, time.Now(), fsys)
}
