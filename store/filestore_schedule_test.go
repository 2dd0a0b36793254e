package store

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scheduleHeader is a schedule firing pattern on target.
func scheduleHeader(pattern, target string) []byte {
	hdr := genHeader(nil, JSSchedulePattern, pattern)
	if target != "" {
		hdr = genHeader(hdr, JSScheduleTarget, target)
	}
	return hdr
}

// firstBlockOf returns the store's first block.
func firstBlockOf(fs *fileStore) *msgBlock {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.blocks[0]
}

// A one-shot schedule hands its message to the registered handler when
// due: on the target subject, naming its schedule, marked as the last.
func TestFileStoreMessageSchedule(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "TEST", Subjects: []string{"foo.*"}, Storage: FileStorage, AllowMsgSchedules: true})
	ch := make(chan *inMsg, 1)
	fs.RegisterProcessJetStreamMsg(func(im *inMsg) { ch <- im })

	at := time.Now().Add(time.Second).Format(time.RFC3339Nano)
	hdr := genHeader(scheduleHeader("@at "+at, "foo.target"), "Custom", "kept")
	_, _, err := fs.StoreMsg("foo.schedule", hdr, []byte("body"), 0)
	require_NoError(t, err)

	var im *inMsg
	select {
	case im = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no scheduled message")
	}
	require_Equal(t, im.subj, "foo.target")
	require_Equal(t, im.seq, 1)
	require_Equal(t, string(getHeader(JSScheduler, im.hdr)), "foo.schedule")
	require_Equal(t, string(getHeader(JSScheduleNext, im.hdr)), JSScheduleNextPurge)
	require_Equal(t, string(getHeader("Custom", im.hdr)), "kept")
	require_True(t, sliceHeader(JSSchedulePattern, im.hdr) == nil)
	require_True(t, sliceHeader(JSScheduleTarget, im.hdr) == nil)
	require_Equal(t, string(im.msg), "body")
}

// Without sched.db, the schedules are found again by scanning the blocks
// that hold any (index.db keeps the per-block count).
func TestFileStoreMessageScheduleRecovered(t *testing.T) {
	dir := t.TempDir()
	cfg := StreamConfig{Name: "TEST", Subjects: []string{"foo.*"}, Storage: FileStorage, AllowMsgSchedules: true}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: dir}, cfg)
	at := time.Now().Add(time.Hour).Format(time.RFC3339Nano)
	_, _, err := fs.StoreMsg("foo.schedule", scheduleHeader("@at "+at, "foo.target"), nil, 0)
	require_NoError(t, err)
	require_NoError(t, fs.Stop())

	require_NoError(t, os.Remove(filepath.Join(dir, msgDir, msgSchedulingStreamStateFile)))
	fs = newTestFileStore(t, FileStoreConfig{StoreDir: dir}, cfg)
	require_Equal(t, fs.numMsgBlocks(), 1)
	mb := firstBlockOf(fs)
	mb.mu.RLock()
	require_Equal(t, mb.schedules, 1)
	mb.mu.RUnlock()
	var ss StreamState
	fs.FastState(&ss)
	require_Equal(t, ss.Msgs, 1)
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	require_Equal(t, fs.scheduling.seqToSubj[1], "foo.schedule")
	at2, _ := time.Parse(time.RFC3339Nano, at)
	require_Equal(t, fs.scheduling.schedules["foo.schedule"].ts, at2.UnixNano())
}

func TestFileStoreMessageScheduleEncodeDecode(t *testing.T) {
	ms := newMsgScheduling(func() {})
	now := time.Now()
	const n = 100_000
	for seq := range n {
		ms.add(uint64(seq), fmt.Sprintf("foo.%d", seq), now.Add(time.Duration(seq)*time.Second).UnixNano())
	}
	defer clearTimer(&ms.timer)
	b := ms.encode(12345)
	require_True(t, len(b) > headerLen)

	nms := newMsgScheduling(func() {})
	stamp, err := nms.decode(b)
	require_NoError(t, err)
	require_Equal(t, stamp, 12345)
	require_Equal(t, ms.ttls.GetNextExpiration(math.MaxInt64), nms.ttls.GetNextExpiration(math.MaxInt64))
	require_Len(t, len(nms.seqToSubj), len(ms.seqToSubj))
	for seq, subj := range ms.seqToSubj {
		require_Equal(t, nms.seqToSubj[seq], subj)
	}
	require_Len(t, len(nms.schedules), len(ms.schedules))
	for subj, sched := range ms.schedules {
		nsched := nms.schedules[subj]
		require_True(t, nsched != nil)
		require_Equal(t, nsched.ts, sched.ts)
		require_Equal(t, nsched.seq, sched.seq)
	}
}

func TestFileStoreMessageScheduleDecodeRejectsMalformed(t *testing.T) {
	header := func(count uint64) []byte {
		b := make([]byte, headerLen)
		b[0] = 1
		binary.LittleEndian.PutUint64(b[1:], count)
		return b
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		err  error
	}{
		{"ShortHeader", make([]byte, headerLen-1), io.ErrShortBuffer},
		{"BadVersion", func() []byte { b := header(0); b[0] = 2; return b }(), ErrMsgScheduleInvalidVersion},
		{"TruncatedAtSubjLen", header(1), io.ErrUnexpectedEOF},
		{"TruncatedSubj", append(header(1), 5, 0), io.ErrUnexpectedEOF},
		{"TruncatedVarints", append(header(1), 3, 0, 'f', 'o', 'o'), io.ErrUnexpectedEOF},
		{"TruncatedSeq", append(append(header(1), 3, 0, 'f', 'o', 'o'), binary.AppendVarint(nil, 12345)...), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newMsgScheduling(func() {}).decode(tc.buf)
			require_Error(t, err, tc.err)
		})
	}
}

// Purging a block drops the schedules whose messages were in it.
func TestFileStorePurgeMsgBlockRemovesSchedules(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		at := "@at " + time.Now().Add(time.Hour).Format(time.RFC3339Nano)
		fcfg.BlockSize = fileStoreMsgSize("foo.sched.0", scheduleHeader(at, "foo.target.0"), []byte("x")) * 5
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage, AllowMsgSchedules: true})
		for i := range 10 {
			_, _, err := fs.StoreMsg(fmt.Sprintf("foo.sched.%d", i), scheduleHeader(at, fmt.Sprintf("foo.target.%d", i)), []byte("x"), 0)
			require_NoError(t, err)
		}
		fs.mu.RLock()
		require_True(t, len(fs.blocks) >= 2)
		require_Equal(t, len(fs.scheduling.seqToSubj), int(fs.state.Msgs))
		fs.mu.RUnlock()

		fmb := firstBlockOf(fs)
		fs.mu.Lock()
		require_NoError(t, fs.purgeMsgBlock(fmb))
		fs.mu.Unlock()
		state := fs.State()
		require_Equal(t, state.Msgs, 5)
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		require_Equal(t, len(fs.scheduling.seqToSubj), 5)
		for seq := uint64(1); seq < state.FirstSeq; seq++ {
			if _, ok := fs.scheduling.seqToSubj[seq]; ok {
				t.Fatalf("schedule of seq %d should be gone", seq)
			}
		}
	})
}

// A block's TTL and schedule counts are the same after a rebuild without
// index.db as when stored.
func TestFileStoreRecoverTTLAndScheduleStateAndCounters(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{">"}, AllowMsgTTL: true, AllowMsgSchedules: true}
		fs := newTestFileStore(t, fcfg, cfg)
		const ttl = 5
		hdr := genHeader(nil, JSMessageTTL, strconv.Itoa(ttl))
		hdr = genHeader(hdr, JSSchedulePattern, "@at "+time.Now().Add(5*time.Second).Format(time.RFC3339))
		_, _, err := fs.StoreMsg("foo", hdr, nil, ttl)
		require_NoError(t, err)
		counts := func(fs *fileStore) (uint64, uint64) {
			mb := firstBlockOf(fs)
			mb.mu.RLock()
			defer mb.mu.RUnlock()
			return mb.ttls, mb.schedules
		}
		ttls, scheds := counts(fs)
		require_Equal(t, ttls, 1)
		require_Equal(t, scheds, 1)

		require_NoError(t, fs.Stop())
		require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))
		fs = newTestFileStore(t, fcfg, cfg)
		ttls, scheds = counts(fs)
		require_Equal(t, ttls, 1)
		require_Equal(t, scheds, 1)
	})
}

// The recovery scan keys schedules by subjects copied out of the block
// caches, which are reused as it moves from block to block.
func TestFileStoreSchedulingRecoveryAliasCorruption(t *testing.T) {
	dir := t.TempDir()
	cfg := StreamConfig{Name: "SCHED", Subjects: []string{"sched.>"}, Storage: FileStorage, AllowMsgSchedules: true}
	fcfg := FileStoreConfig{StoreDir: dir, BlockSize: 4 * 1024}
	const n = 40
	subjects := make([]string, n)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("sched.AAAA-%05d-%s", i, strings.Repeat("A", 40))
	}
	fs := newTestFileStore(t, fcfg, cfg)
	at := "@at " + time.Now().Add(24*time.Hour).Format(time.RFC3339Nano)
	for i, subj := range subjects {
		hdr := genHeader(scheduleHeader(at, fmt.Sprintf("target.%d", i)), "Pad", strings.Repeat("X", 200))
		_, _, err := fs.StoreMsg(subj, hdr, nil, 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.Stop())
	require_NoError(t, os.Remove(filepath.Join(dir, msgDir, msgSchedulingStreamStateFile)))

	fs = newTestFileStore(t, fcfg, cfg)
	require_True(t, fs.numMsgBlocks() >= 2)
	expected := make(map[string]bool, n)
	for _, s := range subjects {
		expected[s] = true
	}
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	require_Len(t, len(fs.scheduling.schedules), n)
	for subj, sched := range fs.scheduling.schedules {
		_, ok := fs.scheduling.schedules[subj]
		require_True(t, ok)
		require_True(t, expected[subj])
		require_Equal(t, fs.scheduling.seqToSubj[sched.seq], subj)
	}
}
