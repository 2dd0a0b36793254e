package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// MaxAge removing a subject's last message proposes a subject delete
// marker with the reason and the configured TTL; the messages before it
// are handed to the removal callback.
func TestFileStoreSubjectDeleteMarkers(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{
		Name: "zzz", Subjects: []string{"test"}, Storage: FileStorage,
		MaxAge: time.Second, AllowMsgTTL: true, SubjectDeleteMarkerTTL: time.Second,
	})
	var mu sync.Mutex
	var removed []uint64
	fs.RegisterStorageRemoveMsg(func(seq uint64) {
		mu.Lock()
		removed = append(removed, seq)
		mu.Unlock()
		_, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
	})
	markers := make(chan *inMsg, 4)
	fs.RegisterProcessJetStreamMsg(func(im *inMsg) { markers <- im })

	for range 3 {
		_, _, err := fs.StoreMsg("test", nil, nil, 0)
		require_NoError(t, err)
	}
	var im *inMsg
	select {
	case im = <-markers:
	case <-time.After(5 * time.Second):
		t.Fatalf("no subject delete marker proposed")
	}
	require_Equal(t, im.subj, "test")
	require_Equal(t, string(sliceHeader(JSMarkerReason, im.hdr)), JSMarkerReasonMaxAge)
	require_Equal(t, string(sliceHeader(JSMessageTTL, im.hdr)), "1s")
	require_Equal(t, string(sliceHeader(JSMsgRollup, im.hdr)), JSMsgRollupSubject)
	require_True(t, isSubjectDeleteMarker(im.hdr))

	mu.Lock()
	defer mu.Unlock()
	require_Equal(t, fmt.Sprint(removed), "[1 2]")
	// The last message stays until the marker (a subject rollup) replaces it.
	require_Equal(t, fs.State().Msgs, 1)
}

// Expiry waits for both callbacks before proposing anything; without them
// nothing is removed.
func TestFileStoreSubjectDeleteMarkersWaitForCallbacks(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{
		Name: "zzz", Subjects: []string{"test"}, Storage: FileStorage,
		MaxAge: 50 * time.Millisecond, SubjectDeleteMarkerTTL: time.Second,
	})
	for range 2 {
		_, _, err := fs.StoreMsg("test", nil, nil, 0)
		require_NoError(t, err)
	}
	time.Sleep(100 * time.Millisecond)
	fs.expireMsgs()
	require_Equal(t, fs.State().Msgs, 2)
	fs.mu.RLock()
	armed := fs.ageChk != nil
	fs.mu.RUnlock()
	require_True(t, armed)
}

// A message whose TTL expires is proposed for removal, or for a marker when
// it is its subject's last; the wheel keeps it until it is removed.
func TestFileStoreSubjectDeleteMarkersForMessageTTL(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{
		Name: "zzz", Subjects: []string{"a", "b"}, Storage: FileStorage,
		AllowMsgTTL: true, SubjectDeleteMarkerTTL: 5 * time.Second,
	})
	var mu sync.Mutex
	var removals []uint64
	var markers []string
	fs.RegisterStorageRemoveMsg(func(seq uint64) {
		mu.Lock()
		removals = append(removals, seq)
		mu.Unlock()
	})
	fs.RegisterProcessJetStreamMsg(func(im *inMsg) {
		mu.Lock()
		markers = append(markers, im.subj+" "+string(sliceHeader(JSMessageTTL, im.hdr)))
		mu.Unlock()
	})
	ttl := natsHeaderBlock(JSMessageTTL, "1")
	for _, subj := range []string{"a", "a", "b"} {
		_, _, err := fs.StoreMsg(subj, ttl, nil, 1)
		require_NoError(t, err)
	}
	// "b" also has a marker already: it is not marked again.
	_, _, err := fs.StoreMsg("b", natsHeaderBlock(JSMarkerReason, JSMarkerReasonMaxAge, JSMessageTTL, "1"), nil, 1)
	require_NoError(t, err)

	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(removals)+len(markers) < 4 {
			return fmt.Errorf("%d removals and %d markers so far", len(removals), len(markers))
		}
		return nil
	})
	mu.Lock()
	require_Equal(t, fmt.Sprint(removals), "[1 3 4]")
	require_Equal(t, fmt.Sprint(markers), "[a 5s]")
	mu.Unlock()
	// Nothing was removed by the store itself.
	require_Equal(t, fs.State().Msgs, 4)
	fs.mu.RLock()
	require_Equal(t, fs.ttls.Count(), 4)
	fs.mu.RUnlock()
}

// natsHeaderBlock builds a NATS header block from key, value pairs.
func natsHeaderBlock(kv ...string) []byte {
	b := []byte("NATS/1.0\r\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b = fmt.Appendf(b, "%s: %s\r\n", kv[i], kv[i+1])
	}
	return append(b, "\r\n"...)
}

func TestSDMMetaTracking(t *testing.T) {
	sdm := newSDMMeta()
	require_True(t, sdm.trackPending(1, "a", false) == false)
	require_True(t, sdm.trackPending(2, "a", true))
	// A tracked sequence keeps its first answer and is counted once.
	require_True(t, sdm.trackPending(2, "a", false))
	require_Equal(t, sdm.totals["a"], 2)
	require_Equal(t, len(sdm.pending), 2)
	require_True(t, sdm.pending[2].ts > 0)

	sdm.removeSeqAndSubject(1, "a")
	require_Equal(t, sdm.totals["a"], 1)
	// Untracked sequences change nothing.
	sdm.removeSeqAndSubject(9, "a")
	require_Equal(t, sdm.totals["a"], 1)
	sdm.removeSeqAndSubject(2, "a")
	_, ok := sdm.totals["a"]
	require_False(t, ok)
	require_Equal(t, len(sdm.pending), 0)

	sdm.trackPending(3, "b", true)
	sdm.empty()
	require_Equal(t, len(sdm.totals), 0)
	require_Equal(t, len(sdm.pending), 0)

	// A nil one is fine for the calls removal and purge make.
	var none *SDMMeta
	none.empty()
	none.removeSeqAndSubject(1, "a")
}

func TestIsSubjectDeleteMarker(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  []byte
		want bool
	}{
		{"reason", natsHeaderBlock(JSMarkerReason, JSMarkerReasonPurge), true},
		{"kv-purge", natsHeaderBlock(KVOperation, "PURGE"), true},
		{"kv-del", natsHeaderBlock(KVOperation, "DEL"), false},
		{"other", natsHeaderBlock("Foo", "bar"), false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require_Equal(t, isSubjectDeleteMarker(tc.hdr), tc.want)
		})
	}
}

// The decision for one expired message: a marker for a subject's last,
// a removal otherwise, and no second request within the re-propose window
// unless it has passed; then a message stored since turns a marker into a
// removal.
func TestFileStoreShouldProcessSdm(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"*"}})
	for _, subj := range []string{"a", "a", "b"} {
		_, _, err := fs.StoreMsg(subj, nil, nil, 0)
		require_NoError(t, err)
	}
	last, ok := fs.shouldProcessSdm(1, "a")
	require_True(t, ok)
	require_False(t, last)
	// With 1 pending, 2 is the last "a" left.
	last, ok = fs.shouldProcessSdm(2, "a")
	require_True(t, ok)
	require_True(t, last)
	// Asked again at once: not again.
	last, ok = fs.shouldProcessSdm(2, "a")
	require_False(t, ok)
	require_True(t, last)
	// No such subject: a plain removal.
	last, ok = fs.shouldProcessSdm(3, "zzz")
	require_True(t, ok)
	require_False(t, last)

	// Past the window, with another "a" stored, 2 is no longer the last.
	_, _, err := fs.StoreMsg("a", nil, nil, 0)
	require_NoError(t, err)
	fs.mu.Lock()
	p := fs.sdm.pending[2]
	p.ts -= int64(2 * sdmReproposeAfter)
	fs.sdm.pending[2] = p
	fs.mu.Unlock()
	last, ok = fs.shouldProcessSdm(2, "a")
	require_True(t, ok)
	require_False(t, last)

	// Removing a message forgets what was asked for it.
	_, err = fs.RemoveMsg(1)
	require_NoError(t, err)
	fs.mu.RLock()
	_, tracked := fs.sdm.pending[1]
	pendingA := fs.sdm.totals["a"]
	fs.mu.RUnlock()
	require_False(t, tracked)
	require_Equal(t, pendingA, 1)
	// A purge forgets everything.
	_, err = fs.Purge()
	require_NoError(t, err)
	fs.mu.RLock()
	require_Equal(t, len(fs.sdm.pending), 0)
	fs.mu.RUnlock()
}

// handleRemovalOrSdm calls the one callback asked for, and copes with a
// missing one.
func TestFileStoreHandleRemovalOrSdm(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"*"}})
	fs.handleRemovalOrSdm(1, "a", false, 1)
	fs.handleRemovalOrSdm(1, "a", true, 1)

	var removed []uint64
	var marked []*inMsg
	fs.RegisterStorageRemoveMsg(func(seq uint64) { removed = append(removed, seq) })
	fs.RegisterProcessJetStreamMsg(func(im *inMsg) { marked = append(marked, im) })
	fs.handleRemovalOrSdm(7, "a", false, 30)
	fs.handleRemovalOrSdm(8, "b", true, 30)
	require_Equal(t, fmt.Sprint(removed), "[7]")
	require_Equal(t, len(marked), 1)
	require_Equal(t, marked[0].subj, "b")
	require_Equal(t, string(marked[0].hdr),
		"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 30s\r\nNats-Rollup: sub\r\n\r\n")
}
