package store

import (
	"slices"
	"testing"

	"github.com/porttracker/porttracker/store/avl"
)

// exists finds a listed seq and its index; removeFromLostData unlists
// one seq at a time and drops the record once none is left.
func TestLostStreamDataExistsAndRemoval(t *testing.T) {
	fs := &fileStore{lost: &LostStreamData{Msgs: []uint64{3, 5, 9}, Bytes: 30}}
	for _, tc := range []struct {
		seq   uint64
		index int
		found bool
	}{{3, 0, true}, {5, 1, true}, {9, 2, true}, {4, -1, false}, {10, -1, false}} {
		i, found := fs.lost.exists(tc.seq)
		if i != tc.index || found != tc.found {
			t.Fatalf("exists(%d) = %d, %v; want %d, %v", tc.seq, i, found, tc.index, tc.found)
		}
	}
	fs.removeFromLostData(4)
	require_True(t, slices.Equal(fs.lost.Msgs, []uint64{3, 5, 9}))
	fs.removeFromLostData(5)
	require_True(t, slices.Equal(fs.lost.Msgs, []uint64{3, 9}))
	fs.removeFromLostData(3)
	fs.removeFromLostData(9)
	if fs.lost != nil {
		t.Fatalf("lost data kept after its last seq went: %+v", fs.lost)
	}
	// Merging lost data does not list a seq twice.
	fs.addLostData(&LostStreamData{Msgs: []uint64{7}, Bytes: 10})
	fs.addLostData(&LostStreamData{Msgs: []uint64{7, 8}, Bytes: 20})
	require_True(t, slices.Equal(fs.lost.Msgs, []uint64{7, 8}))
}

// A follower told the leader's delete blocks removes the same messages, a
// range as one, and ignores blocks past its own last sequence.
func TestFileStoreSyncDeletedAppliesLeaderDeletes(t *testing.T) {
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
	leader := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512}, cfg)
	follower := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 512}, cfg)
	for range 60 {
		for _, fs := range []*fileStore{leader, follower} {
			_, _, err := fs.StoreMsg("foo", nil, []byte("hello"), 0)
			require_NoError(t, err)
		}
	}
	removeMsgs(t, leader, 3, 7, 8, 30, 31, 45)
	leader.mu.Lock()
	leader.readLockAllMsgBlocks()
	live, _ := leader.deleteBlocks()
	var dbs DeleteBlocks
	for _, db := range live {
		if ss, ok := db.(*avl.SequenceSet); ok {
			dbs = append(dbs, ss.Clone())
		} else {
			dbs = append(dbs, db)
		}
	}
	leader.readUnlockAllMsgBlocks()
	leader.mu.Unlock()
	dbs = append(dbs, &DeleteRange{First: 10, Num: 5}, &DeleteRange{First: 100, Num: 3})

	require_NoError(t, follower.SyncDeleted(dbs))
	state := follower.State()
	require_Equal(t, state.Msgs, 60-6-5)
	require_Equal(t, state.LastSeq, 60)
	want := []uint64{3, 7, 8, 10, 11, 12, 13, 14, 30, 31, 45}
	if !slices.Equal(state.Deleted, want) {
		t.Fatalf("follower deleted %v, want %v", state.Deleted, want)
	}
	for _, seq := range want {
		_, err := follower.LoadMsg(seq, nil)
		require_Error(t, err)
	}
	// Applying the same blocks again changes nothing.
	require_NoError(t, follower.SyncDeleted(dbs))
	require_Equal(t, follower.State().Msgs, state.Msgs)
}
