package store

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// testLogger keeps the lines logged, by level.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, args...))
}

func (l *testLogger) Warnf(format string, args ...any)  { l.add("WRN", format, args...) }
func (l *testLogger) Errorf(format string, args ...any) { l.add("ERR", format, args...) }
func (l *testLogger) Debugf(format string, args ...any) { l.add("DBG", format, args...) }

// matching returns the lines containing substr.
func (l *testLogger) matching(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

func openLogged(t *testing.T, fsys vfs.FS, fcfg FileStoreConfig, cfg StreamConfig) (*fileStore, *testLogger) {
	t.Helper()
	log := &testLogger{}
	ss, err := NewFileStoreWithOptions(fcfg, cfg, FileStoreOptions{FS: fsys, Logger: log})
	require_NoError(t, err)
	fs := ss.(*fileStore)
	t.Cleanup(func() { fs.Stop() })
	return fs, log
}

// Each level goes to its logger method with upstream's prefix; a store
// without a logger logs nothing and does not fail.
func TestFileStoreLogLevels(t *testing.T) {
	fs, log := openLogged(t, nil, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Storage: FileStorage})
	fs.warn("w %d", 1)
	fs.error("e %d", 2)
	fs.debug("d %d", 3)
	require_Equal(t, strings.Join(log.matching(""), "|"), "WRN Filestore [zzz] w 1|ERR Filestore [zzz] e 2|DBG Filestore [zzz] d 3")

	quiet := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "q"})
	quiet.warn("w")
	quiet.error("e")
	quiet.debug("d")
	quiet.rateLimitWarn("r")
}

// The same line is logged once per interval; a different line is not held
// back by it.
func TestFileStoreRateLimitWarn(t *testing.T) {
	fs, log := openLogged(t, nil, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Storage: FileStorage})
	for range 5 {
		fs.rateLimitWarn("disk %s", "slow")
	}
	fs.rateLimitWarn("disk %s", "gone")
	require_Equal(t, len(log.matching("disk slow")), 1)
	require_Equal(t, len(log.matching("disk gone")), 1)
	require_Equal(t, log.matching("disk slow")[0], "WRN Filestore [zzz] disk slow")

	// Once the interval has passed the line is logged again, and lines
	// past their interval are forgotten.
	fs.logMu.Lock()
	for k := range fs.rateLimited {
		fs.rateLimited[k] = time.Now().Add(-2 * rateLimitWarnInterval)
	}
	fs.logMu.Unlock()
	fs.rateLimitWarn("disk %s", "slow")
	require_Equal(t, len(log.matching("disk slow")), 2)
	fs.logMu.Lock()
	_, kept := fs.rateLimited["disk gone"]
	fs.logMu.Unlock()
	require_False(t, kept)
}

// A write that fails leaving the disk unknown is logged as critical.
func TestFileStoreLogsCriticalWriteError(t *testing.T) {
	mem := vfs.NewMem()
	inj := vfs.OnNth(vfs.Kinds(vfs.OpSync).PathSuffix(blkSuffix), 1, vfs.ErrEIO)
	fs, log := openLogged(t, vfs.NewFaultFS(mem, inj), FileStoreConfig{StoreDir: "/s", SyncAlways: true}, StreamConfig{Name: "zzz", Storage: FileStorage})
	_, _, err := fs.StoreMsg("foo", nil, []byte("x"), 0)
	require_Error(t, err)
	lines := log.matching("Critical write error")
	require_Equal(t, len(lines), 1)
	require_True(t, strings.HasPrefix(lines[0], "ERR Filestore [zzz] "))
}

// index.db's size estimate allows for an average delete map per block; a
// block whose map is far larger makes the buffer grow, which is logged at
// debug level.
func TestFileStoreLogsFullStateReallocation(t *testing.T) {
	fs, log := openLogged(t, nil, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1 << 20}, StreamConfig{Name: "zzz", Storage: FileStorage})
	for range 20000 {
		_, _, err := fs.StoreMsg("foo", nil, nil, 0)
		require_NoError(t, err)
	}
	// Every third message, so the map is neither a run nor empty.
	for seq := uint64(2); seq < 20000; seq += 3 {
		_, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
	}
	require_NoError(t, fs.forceWriteFullState())
	require_Equal(t, len(log.matching("DBG Filestore [zzz] WriteFullState reallocated")), 1)
}
