package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/ats"
)

// Reaching the end of a block on a linear walk, forward or backward and
// across deleted messages, drops the block's cache at once. The tombstones
// written by the removals carry the removed messages' old times, so they do
// not count as recent writes that keep the cache.
func TestFileStoreExpireCacheOnLinearWalk(t *testing.T) {
	const expire = 250 * time.Millisecond
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), CacheExpire: expire},
		StreamConfig{Name: "zzz", Subjects: []string{"*"}, Storage: FileStorage})
	for range 10 {
		_, _, err := fs.StoreMsg("Z", nil, bytes.Repeat([]byte("Z"), 19), 0)
		require_NoError(t, err)
	}
	// Past the expiry the walks load every block themselves.
	time.Sleep(expire + 2*ats.TickInterval)

	cached := func() int {
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		n := 0
		for _, mb := range fs.blocks {
			mb.mu.RLock()
			if mb.cacheAlreadyLoaded() {
				n++
			}
			mb.mu.RUnlock()
		}
		return n
	}
	walk := func(seqs []uint64, deleted map[uint64]bool) {
		t.Helper()
		var smv StoreMsg
		for _, seq := range seqs {
			_, err := fs.LoadMsg(seq, &smv)
			if deleted[seq] {
				require_Error(t, err, errDeletedMsg)
			} else {
				require_NoError(t, err)
			}
		}
		require_Equal(t, cached(), 0)
	}
	var forward, backward []uint64
	for seq := uint64(1); seq <= 10; seq++ {
		forward, backward = append(forward, seq), append(backward, 11-seq)
	}
	walk(forward, nil)
	walk(backward, nil)

	for _, seq := range []uint64{2, 9} {
		_, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
	}
	walk(forward, map[uint64]bool{2: true, 9: true})
}

// Per-block .idx and .fss files written by versions before 2.10 are removed
// when the store opens, and the messages are untouched.
func TestFileStoreLargeFullStateMetaCleanup(t *testing.T) {
	sd := t.TempDir()
	cfg := StreamConfig{Name: "zzz", Subjects: []string{">"}, Storage: FileStorage}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: sd}, cfg)
	for range 1000 {
		_, _, err := fs.StoreMsg("foo.bar.baz", nil, nil, 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.Stop())

	junk := bytes.Repeat([]byte("ABC"), 33)
	var legacy []string
	for _, name := range []string{"1.idx", "1.fss"} {
		p := filepath.Join(sd, msgDir, name)
		require_NoError(t, os.WriteFile(p, junk, defaultFilePerms))
		legacy = append(legacy, p)
	}

	fs = newTestFileStore(t, FileStoreConfig{StoreDir: sd}, cfg)
	for _, p := range legacy {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s should be gone after open (stat err %v)", filepath.Base(p), err)
		}
	}
	require_Equal(t, fs.State().Msgs, 1000)
	_, err := fs.LoadMsg(1000, nil)
	require_NoError(t, err)
}

// A subject purge walks every block; once done only the block that was
// last when it started (its write cache, read by the purge) is still
// loaded: blocks that were only ever written do not count their writes as
// recent activity once they stop being the last. (The purge's tombstones
// fill new blocks, which hold no messages.)
func TestFileStorePurgeExBufPool(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 1024},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	msg := bytes.Repeat([]byte("ABC"), 33)
	for range 1000 {
		for _, subj := range []string{"foo.foo", "foo.bar"} {
			_, _, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
		}
	}
	require_True(t, fs.numMsgBlocks() > 100)

	fs.mu.RLock()
	lastBefore := fs.lastBlock.index
	fs.mu.RUnlock()
	purged, err := fs.PurgeEx("foo.bar", 0, 0)
	require_NoError(t, err)
	require_Equal(t, purged, 1000)

	fs.mu.RLock()
	var loaded []uint32
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		if mb.cacheAlreadyLoaded() {
			loaded = append(loaded, mb.index)
		}
		mb.mu.RUnlock()
	}
	fs.mu.RUnlock()
	require_Equal(t, len(loaded), 1)
	require_Equal(t, loaded[0], lastBefore)
	state := fs.State()
	require_Equal(t, state.Msgs, 1000)
	require_Equal(t, state.FirstSeq, 1)
	require_Equal(t, state.LastSeq, 2000)
}
