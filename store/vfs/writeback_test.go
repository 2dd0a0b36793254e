package vfs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestStartWriteback checks the hint is taken by OS files on Linux, turned
// down for empty or negative ranges, and ignored by in-memory files, and
// that it leaves the file's contents alone.
func TestStartWriteback(t *testing.T) {
	data := make([]byte, 64*1024)
	for i := range data {
		data[i] = byte(i)
	}
	osName := filepath.Join(t.TempDir(), "f")
	mem := NewMem()
	for _, tc := range []struct {
		name   string
		fsys   FS
		file   string
		off, n int64
		want   bool
	}{
		{"os range", Default, osName, 0, int64(len(data)), runtime.GOOS == "linux"},
		{"os empty range", Default, osName, 0, 0, false},
		{"os negative offset", Default, osName, -1, 10, false},
		{"mem range", mem, "/f", 0, int64(len(data)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.fsys.OpenFile(tc.file, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
			if got := StartWriteback(f, tc.off, tc.n); got != tc.want {
				t.Fatalf("StartWriteback = %v, want %v", got, tc.want)
			}
			back := make([]byte, len(data))
			if _, err := f.ReadAt(back, 0); err != nil || string(back) != string(data) {
				t.Fatalf("contents changed (err %v)", err)
			}
		})
	}
}
