package store

import (
	"runtime"
	"testing"

	"github.com/porttracker/porttracker/store/vfs"
)

// TestFileStoreStartsWritebackEarly checks that the last block's writeback
// is started a chunk at a time as it fills on the OS file system (so the
// sync when it is finished has little left), and that file systems which
// cannot take the hint are left alone.
func TestFileStoreStartsWritebackEarly(t *testing.T) {
	msg := make([]byte, 1024)
	const n = 3 * writebackChunk / 1024
	for _, tc := range []struct {
		name    string
		fsys    vfs.FS
		started bool
	}{
		{"os", vfs.Default, runtime.GOOS == "linux"},
		{"mem", vfs.NewMem(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.name == "mem" {
				dir = "/store"
			}
			fs, err := newTestFileStoreFS(t, tc.fsys, FileStoreConfig{StoreDir: dir}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
			require_NoError(t, err)
			defer fs.Stop()
			for i := 0; i < n; i++ {
				_, _, err := fs.StoreMsg("foo", nil, msg, 0)
				require_NoError(t, err)
			}
			fs.mu.RLock()
			lmb := fs.lastBlock
			fs.mu.RUnlock()
			lmb.mu.RLock()
			pos, size := lmb.writebackPos, int64(lmb.rawBytes)
			lmb.mu.RUnlock()
			if !tc.started {
				require_Equal(t, pos, int64(0))
				return
			}
			// Started up to within a chunk of the end, never past it.
			if pos <= size-writebackChunk || pos > size {
				t.Fatalf("writeback started up to %d of %d bytes", pos, size)
			}
		})
	}
}
