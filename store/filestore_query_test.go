package store

import (
	"fmt"
	"testing"
	"time"
)

// storeEach stores one small message on each subject, in order.
func storeEach(t *testing.T, fs *fileStore, subjects ...string) {
	t.Helper()
	for _, subj := range subjects {
		_, _, err := fs.StoreMsg(subj, nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
}

// firstBlockHint returns the store-wide index entry of subj.
func firstBlockHint(t *testing.T, fs *fileStore, subj string) psi {
	t.Helper()
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	p, ok := fs.perSubject.Find([]byte(subj))
	if !ok || p == nil {
		t.Fatalf("%q is not in the subject index", subj)
	}
	return *p
}

// waitForFirstBlockHint waits for the background hint update to move subj's
// first block to fblk, checking that its total and last block are kept.
func waitForFirstBlockHint(t *testing.T, fs *fileStore, subj string, total uint64, fblk, lblk uint32) {
	t.Helper()
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		p := firstBlockHint(t, fs, subj)
		if p.total != total || p.lblk != lblk {
			t.Fatalf("%q: total %d lblk %d, want %d and %d", subj, p.total, p.lblk, total, lblk)
		}
		if p.fblk != fblk {
			return fmt.Errorf("%q: first block hint %d, want %d", subj, p.fblk, fblk)
		}
		return nil
	})
}

// filteredPending runs numFilteredPending under the lock callers hold.
func filteredPending(t *testing.T, fs *fileStore, filter string, write bool) SimpleState {
	t.Helper()
	var ss SimpleState
	var err error
	if write {
		fs.mu.Lock()
		err = fs.numFilteredPending(filter, &ss)
		fs.mu.Unlock()
	} else {
		fs.mu.RLock()
		err = fs.numFilteredPending(filter, &ss)
		fs.mu.RUnlock()
	}
	require_NoError(t, err)
	return ss
}

// Removing a subject's first message leaves its first-block hint behind;
// a filtered count that has to walk past the stale hint moves it.
func TestFileStoreFilteredPendingPSIMFirstBlockUpdate(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	// One lone message would be tracked exactly; two are needed.
	storeEach(t, fs, "foo.baz")
	for range 1000 {
		storeEach(t, fs, "foo.foo")
	}
	storeEach(t, fs, "foo.baz", "foo.baz")
	removed, err := fs.RemoveMsg(1)
	require_NoError(t, err)
	require_True(t, removed)

	nblocks := uint32(fs.numMsgBlocks())
	require_True(t, nblocks > 10)
	p := firstBlockHint(t, fs, "foo.baz")
	require_Equal(t, p.total, 2)
	require_Equal(t, p.fblk, 1)
	require_Equal(t, p.lblk, nblocks)

	ss := filteredPending(t, fs, "foo.baz", false)
	require_Equal(t, ss.Msgs, 2)
	require_Equal(t, ss.First, 1002)
	require_Equal(t, ss.Last, 1003)
	waitForFirstBlockHint(t, fs, "foo.baz", 2, nblocks, nblocks)
}

// The same through a wildcard: every matching subject's hint moves.
func TestFileStoreWildcardFilteredPendingPSIMFirstBlockUpdate(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*.*"}, Storage: FileStorage})
	storeEach(t, fs, "foo.22.baz", "foo.22.bar")
	for range 1000 {
		storeEach(t, fs, "foo.1.foo")
	}
	storeEach(t, fs, "foo.22.baz", "foo.22.baz", "foo.22.bar", "foo.22.bar")
	for _, seq := range []uint64{1, 2} {
		removed, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		require_True(t, removed)
	}

	nblocks := uint32(fs.numMsgBlocks())
	for _, subj := range []string{"foo.22.baz", "foo.22.bar"} {
		p := firstBlockHint(t, fs, subj)
		require_Equal(t, p.total, 2)
		require_Equal(t, p.fblk, 1)
		require_Equal(t, p.lblk, nblocks)
	}

	ss := filteredPending(t, fs, "foo.22.*", false)
	require_Equal(t, ss.Msgs, 4)
	require_Equal(t, ss.First, 1003)
	require_Equal(t, ss.Last, 1006)
	waitForFirstBlockHint(t, fs, "foo.22.baz", 2, nblocks, nblocks)
	waitForFirstBlockHint(t, fs, "foo.22.bar", 2, nblocks, nblocks)
	// The subject the filter does not match keeps its hint.
	require_Equal(t, firstBlockHint(t, fs, "foo.1.foo").fblk, 1)
}

// A hint one block behind moves too, also when the hinted block is gone,
// and with the caller holding the write lock.
func TestFileStoreFilteredPendingPSIMFirstBlockUpdateNextBlock(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 128},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*.*"}, Storage: FileStorage})
	for range 4 {
		storeEach(t, fs, "foo.22.bar", "foo.22.baz")
	}
	require_Equal(t, fs.numMsgBlocks(), 4)
	p := firstBlockHint(t, fs, "foo.22.bar")
	require_Equal(t, p.total, 4)
	require_Equal(t, p.fblk, 1)
	require_Equal(t, p.lblk, 4)

	removed, err := fs.RemoveMsg(1)
	require_NoError(t, err)
	require_True(t, removed)
	ss := filteredPending(t, fs, "foo.22.bar", true)
	require_Equal(t, ss.Msgs, 3)
	require_Equal(t, ss.First, 3)
	require_Equal(t, ss.Last, 7)
	waitForFirstBlockHint(t, fs, "foo.22.bar", 3, 2, 4)

	// Block 1 empties and goes; the baz hint still names it.
	removed, err = fs.RemoveMsg(2)
	require_NoError(t, err)
	require_True(t, removed)
	require_Equal(t, fs.numMsgBlocks(), 3)
	p = firstBlockHint(t, fs, "foo.22.baz")
	require_Equal(t, p.total, 3)
	require_Equal(t, p.fblk, 1)
	require_Equal(t, p.lblk, 4)

	ss = filteredPending(t, fs, "foo.*.baz", true)
	require_Equal(t, ss.Msgs, 3)
	require_Equal(t, ss.First, 4)
	require_Equal(t, ss.Last, 8)
	waitForFirstBlockHint(t, fs, "foo.22.baz", 3, 2, 4)
}

// A hint update computed before a truncation replaced the blocks it walked
// must not be applied: the subject's new first message may sit below it.
func TestFileStoreFirstBlockHintNotRaisedAfterBlocksChange(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 128},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage})
	for range 4 {
		storeEach(t, fs, "foo.a", "foo.b")
	}
	fs.mu.RLock()
	stale := []*msgBlock{fs.blockByIndex[1], fs.blockByIndex[2]}
	fs.mu.RUnlock()
	// Blocks 2..4 go, and block 1 is the last now.
	require_NoError(t, fs.Truncate(2))
	storeEach(t, fs, "foo.b")
	before := firstBlockHint(t, fs, "foo.b")

	fs.raiseFirstBlockHints("foo.b", false, 1, 3, stale)
	require_Equal(t, firstBlockHint(t, fs, "foo.b").fblk, before.fblk)

	// With the blocks it saw still in place the same update applies.
	fs.mu.RLock()
	current := []*msgBlock{fs.blockByIndex[1], fs.blockByIndex[2]}
	fs.mu.RUnlock()
	fs.raiseFirstBlockHints("foo.b", false, before.fblk, before.lblk, current[:before.lblk-before.fblk])
	require_Equal(t, firstBlockHint(t, fs, "foo.b").fblk, before.lblk)
}
