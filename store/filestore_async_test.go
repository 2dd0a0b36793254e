package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// stopFlusher waits for mb's flusher to run, stops it as a closing block
// would, and waits for it to exit, so writes stay pending.
func stopFlusher(t *testing.T, mb *msgBlock) {
	t.Helper()
	flusher := func() bool {
		mb.mu.RLock()
		defer mb.mu.RUnlock()
		return mb.flusher
	}
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if !flusher() {
			return errors.New("flusher not running")
		}
		return nil
	})
	mb.mu.Lock()
	mb.stopFlusherLocked()
	mb.mu.Unlock()
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
		if flusher() {
			return errors.New("flusher still running")
		}
		return nil
	})
}

// A skip that rolls to a new block flushes the old one at once, and the
// new block's flusher writes what was left pending there.
func TestFileStoreAsyncFlushOnSkipMsgs(t *testing.T) {
	for _, noFlushLoop := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoFlushLoop=%v", noFlushLoop), func(t *testing.T) {
			testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
				fcfg.BlockSize, fcfg.AsyncFlush = 8192, true
				fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
				fmb := firstBlockOf(fs)
				if noFlushLoop {
					stopFlusher(t, fmb)
				}
				require_Equal(t, fmb.pendingWriteSize(), 0)
				_, _, err := fs.StoreMsg("foo", nil, nil, 0)
				require_NoError(t, err)
				if noFlushLoop {
					require_Equal(t, fmb.pendingWriteSize(), int(emptyRecordLen+3))
				}
				require_NoError(t, fs.SkipMsgs(2, 100_000))
				require_Equal(t, fs.numMsgBlocks(), 2)
				require_Equal(t, fmb.pendingWriteSize(), 0)
				fs.mu.RLock()
				lmb := fs.lastBlock
				fs.mu.RUnlock()
				checkFor(t, 2*time.Second, 20*time.Millisecond, func() error {
					if p := lmb.pendingWriteSize(); p > 0 {
						return fmt.Errorf("%d bytes still pending", p)
					}
					return nil
				})
			})
		})
	}
}

// Truncate flushes records still pending before it cuts the file.
func TestFileStoreAsyncTruncate(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize, fcfg.AsyncFlush = 8192, true
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		lmb := firstBlockOf(fs)
		stopFlusher(t, lmb)
		for i := uint64(1); i <= 2; i++ {
			seq, _, err := fs.StoreMsg("foo", nil, make([]byte, 100), 0)
			require_NoError(t, err)
			require_Equal(t, seq, i)
		}
		require_True(t, lmb.pendingWriteSize() > 0)
		require_NoError(t, fs.Truncate(1))
		state := fs.State()
		require_Equal(t, state.Msgs, 1)
		require_Equal(t, state.FirstSeq, 1)
		require_Equal(t, state.LastSeq, 1)
		fs.mu.RLock()
		for _, mb := range fs.blocks {
			require_Equal(t, mb.pendingWriteSize(), 0)
		}
		fs.mu.RUnlock()
		// The file agrees: a restart sees the same.
		require_NoError(t, fs.Stop())
		fs = newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		state = fs.State()
		require_Equal(t, state.Msgs, 1)
		require_Equal(t, state.LastSeq, 1)
	})
}

// With AsyncFlush, stores return before their records reach the file and
// the flusher writes them in batches soon after; reads see them at once.
// Operations that go to the file (compaction by removal, erasure,
// snapshot-style reads) flush first; Stop flushes what is left.
func TestFileStoreAsyncFlushWritesPending(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.AsyncFlush = true
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo.*"}, Storage: FileStorage}
		fs := newTestFileStore(t, fcfg, cfg)
		lmb := firstBlockOf(fs)
		for i := range 100 {
			_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i%5), nil, []byte(fmt.Sprintf("msg-%d", i)), 0)
			require_NoError(t, err)
		}
		sm, err := fs.LoadMsg(100, nil)
		require_NoError(t, err)
		require_Equal(t, string(sm.msg), "msg-99")
		checkFor(t, 2*time.Second, 5*time.Millisecond, func() error {
			if p := lmb.pendingWriteSize(); p > 0 {
				return fmt.Errorf("%d bytes pending", p)
			}
			return nil
		})

		stopFlusher(t, lmb)
		for i := range 10 {
			_, _, err := fs.StoreMsg("foo.9", nil, []byte(fmt.Sprintf("late-%d", i)), 0)
			require_NoError(t, err)
		}
		require_True(t, lmb.pendingWriteSize() > 0)
		// Reading the file back flushes first.
		lmb.mu.Lock()
		plain, err := lmb.loadBlockPlain()
		lmb.mu.Unlock()
		require_NoError(t, err)
		require_Equal(t, lmb.pendingWriteSize(), 0)
		require_True(t, len(plain) > 0)

		_, _, err = fs.StoreMsg("foo.9", nil, []byte("last"), 0)
		require_NoError(t, err)
		require_True(t, lmb.pendingWriteSize() > 0)
		require_NoError(t, fs.Stop())
		fs = newTestFileStore(t, fcfg, cfg)
		state := fs.State()
		require_Equal(t, state.Msgs, 111)
		sm, err = fs.LoadMsg(111, nil)
		require_NoError(t, err)
		require_Equal(t, string(sm.msg), "last")
	})
}

// UpdateConfig turns asynchronous flushing on for replicated streams and
// async persistence, and back off (flushing what is pending).
func TestFileStoreUpdateConfigAsyncFlush(t *testing.T) {
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, cfg)
	lmb := firstBlockOf(fs)
	require_True(t, fs.inPlace.Load())

	replicated := cfg
	replicated.Replicas = 3
	require_NoError(t, fs.UpdateConfig(&replicated))
	require_False(t, fs.inPlace.Load())
	require_True(t, fs.fileStoreConfig().AsyncFlush)
	stopFlusher(t, lmb)
	_, _, err := fs.StoreMsg("foo", nil, []byte("x"), 0)
	require_NoError(t, err)
	require_True(t, lmb.pendingWriteSize() > 0)

	require_NoError(t, fs.UpdateConfig(&cfg))
	require_True(t, fs.inPlace.Load())
	require_False(t, fs.fileStoreConfig().AsyncFlush)
	require_Equal(t, lmb.pendingWriteSize(), 0)

	async := cfg
	async.PersistMode = AsyncPersistMode
	require_NoError(t, fs.UpdateConfig(&async))
	require_False(t, fs.inPlace.Load())
	require_False(t, fs.fileStoreConfig().SyncAlways)
	lmb.mu.RLock()
	running := lmb.flusher
	lmb.mu.RUnlock()
	require_True(t, running)
}

func TestKickFlusher(t *testing.T) {
	kickFlusher(nil) // no flusher: nothing
	fch := make(chan struct{}, 1)
	kickFlusher(fch)
	kickFlusher(fch) // one pending kick is enough; never blocks
	require_Equal(t, len(fch), 1)

	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir(), AsyncFlush: true}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	lmb := firstBlockOf(fs)
	stopFlusher(t, lmb)
	_, _, err := fs.StoreMsg("foo", nil, []byte("x"), 0)
	require_NoError(t, err)
	// A flusher started by hand picks up the pending record when kicked.
	lmb.mu.Lock()
	lmb.spinUpFlushLoopLocked()
	lmb.mu.Unlock()
	lmb.kickFlusher()
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		if p := lmb.pendingWriteSize(); p > 0 {
			return fmt.Errorf("%d bytes pending", p)
		}
		return nil
	})
}

// The flusher's running mark: set when it starts, cleared (with its
// channels) when it ends.
func TestFileStoreFlusherMarks(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	lmb := firstBlockOf(fs)
	lmb.mu.RLock()
	require_False(t, lmb.flusher) // flushing in place: none
	lmb.mu.RUnlock()
	lmb.setInFlusher()
	lmb.mu.Lock()
	require_True(t, lmb.flusher)
	lmb.fch, lmb.qch = make(chan struct{}, 1), make(chan struct{})
	qch := lmb.qch
	lmb.mu.Unlock()
	lmb.clearInFlusher()
	lmb.mu.RLock()
	defer lmb.mu.RUnlock()
	require_False(t, lmb.flusher)
	require_True(t, lmb.fch == nil && lmb.qch == nil)
	select {
	case <-qch:
	default:
		t.Fatalf("quit channel not closed")
	}
}
