package store

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

// The weak block cache (cache_weak.go): reads let go of a block's cache
// (finishedWithCache), leaving it elastically held so a later read can take
// it up again, and the collector returns its buffer to the block pools.

// newWeakCacheTestStore makes a store with messages on "foo" and "bar" in
// one flushed block, and returns that block.
func newWeakCacheTestStore(t *testing.T, foo, bar int) (*fileStore, *msgBlock) {
	t.Helper()
	fs, err := newFileStore(
		FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 8192},
		StreamConfig{Name: "zzz", Storage: FileStorage, Subjects: []string{"foo", "bar"}},
	)
	require_NoError(t, err)
	t.Cleanup(func() { fs.Stop() })
	for range foo {
		_, _, err = fs.StoreMsg("foo", nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	for range bar {
		_, _, err = fs.StoreMsg("bar", nil, []byte("hello"), 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.FlushAllPending())
	fs.mu.RLock()
	mb := fs.lastBlock
	fs.mu.RUnlock()
	return fs, mb
}

// holdPools stops automatic collections (which empty the pools) and keeps
// every goroutine on one P (pooled items are per P), so what a test puts
// into a pool it can get back.
func holdPools(t *testing.T) {
	t.Helper()
	gcPercent := debug.SetGCPercent(-1)
	procs := runtime.GOMAXPROCS(1)
	t.Cleanup(func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gcPercent)
	})
}

// tinyArray is the identity of a tiny-tier buffer: its backing array.
func tinyArray(buf []byte) *[defaultTinyBlockSize]byte {
	return (*[defaultTinyBlockSize]byte)(buf[:defaultTinyBlockSize])
}

// takeTiny takes up to n buffers out of the tiny pool and counts those
// that are among want into seen. Taking them out also keeps them from
// being counted again.
func takeTiny(n int, want map[*[defaultTinyBlockSize]byte]bool, seen map[*[defaultTinyBlockSize]byte]int) {
	for range n {
		if arr := blkPoolTiny.Get().(*[defaultTinyBlockSize]byte); want[arr] {
			seen[arr]++
		}
	}
}

// recycledCounts collects garbage rounds times, and after each collection
// polls the tiny pool for arrs, counting how often each came back. Cleanups
// run on their own goroutine after a collection, hence the polling; a
// collection also empties the pools, so none runs while polling. With
// untilOne it stops at the first buffer seen.
func recycledCounts(arrs map[*[defaultTinyBlockSize]byte]bool, rounds int, untilOne bool) map[*[defaultTinyBlockSize]byte]int {
	seen := make(map[*[defaultTinyBlockSize]byte]int)
	for range rounds {
		runtime.GC()
		for range 25 {
			takeTiny(4, arrs, seen)
			if untilOne && len(seen) > 0 {
				return seen
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return seen
}

// waitRecycled reports whether one of arrs came back to the tiny pool.
func waitRecycled(arrs map[*[defaultTinyBlockSize]byte]bool) bool {
	return len(recycledCounts(arrs, 10, true)) > 0
}

// neverRecycled reports whether none of arrs came back to the tiny pool
// over a few collections.
func neverRecycled(arrs map[*[defaultTinyBlockSize]byte]bool) bool {
	return len(recycledCounts(arrs, 3, false)) == 0
}

// recycledOnce reports whether some of arrs came back to the tiny pool
// over a few collections, none of them twice.
func recycledOnce(t *testing.T, arrs map[*[defaultTinyBlockSize]byte]bool, seen map[*[defaultTinyBlockSize]byte]int) {
	t.Helper()
	for arr, n := range recycledCounts(arrs, 4, false) {
		seen[arr] += n
	}
	if len(seen) == 0 {
		t.Fatalf("no buffer came back to the pool")
	}
	for _, n := range seen {
		if n != 1 {
			t.Fatalf("a buffer came back to the pool %d times", n)
		}
	}
}

// weakenAll leaves mb's cache only weakly held, as a finished read does
// once the flusher has weakened the elastic pointer. mb.mu held.
func weakenAll(mb *msgBlock) {
	mb.finishedWithCache()
	mb.elasticCache.Weaken()
}

// TestFileStoreWeakCachePromotionCleanup checks that operations which take
// up a block's weakly held cache let it go again when they are done.
func TestFileStoreWeakCachePromotionCleanup(t *testing.T) {
	// setup leaves the block's loaded cache only weakly held, with no
	// subject state, and returns it.
	setup := func(t *testing.T) (*fileStore, *msgBlock, *cache) {
		t.Helper()
		fs, mb := newWeakCacheTestStore(t, 4, 1)
		fs.mu.Lock()
		defer fs.mu.Unlock()
		mb.mu.Lock()
		defer mb.mu.Unlock()
		require_NoError(t, mb.loadMsgsWithLock())
		c := mb.cache
		require_True(t, c != nil)
		mb.elasticCache.Set(c)
		mb.elasticCache.Weaken()
		mb.cache = nil
		mb.subjects = nil
		for _, subj := range []string{"foo", "bar"} {
			if info, ok := fs.perSubject.Find(stringToBytes(subj)); ok {
				info.fblk, info.lblk = mb.index, mb.index
			}
		}
		require_True(t, mb.elasticCache.Value() == c)
		return fs, mb, c
	}
	// noStrongCache checks the block went back to holding c only
	// elastically. mb.mu held.
	noStrongCache := func(t *testing.T, mb *msgBlock, c *cache) {
		t.Helper()
		require_True(t, mb.cache == nil)
		require_True(t, mb.elasticCache.Value() == c)
		runtime.KeepAlive(c)
	}

	t.Run("removeMsgFromBlock", func(t *testing.T) {
		fs, mb, c := setup(t)
		removed, err := fs.removeMsg(2, false, true, true)
		require_NoError(t, err)
		require_True(t, removed)
		mb.mu.Lock()
		defer mb.mu.Unlock()
		noStrongCache(t, mb, c)
	})

	t.Run("generatePerSubjectInfo", func(t *testing.T) {
		_, mb, c := setup(t)
		mb.mu.Lock()
		defer mb.mu.Unlock()
		require_NoError(t, mb.generatePerSubjectInfo())
		require_True(t, mb.subjects != nil)
		noStrongCache(t, mb, c)
	})

	t.Run("filteredPending", func(t *testing.T) {
		_, mb, c := setup(t)
		total, first, last, err := mb.filteredPending("foo", false, 1)
		require_NoError(t, err)
		require_Equal(t, total, uint64(4))
		require_Equal(t, first, uint64(1))
		require_Equal(t, last, uint64(4))
		mb.mu.Lock()
		defer mb.mu.Unlock()
		noStrongCache(t, mb, c)
	})

	t.Run("loadLast", func(t *testing.T) {
		fs, mb, c := setup(t)
		sm, err := fs.loadLast("foo", nil)
		require_NoError(t, err)
		require_True(t, sm != nil)
		require_Equal(t, sm.seq, uint64(4))
		mb.mu.Lock()
		defer mb.mu.Unlock()
		noStrongCache(t, mb, c)
	})

	t.Run("recalculateForSubj", func(t *testing.T) {
		fs, mb, c := setup(t)
		// Removing foo's first message leaves its first to recalculate.
		removed, err := fs.removeMsg(1, false, true, true)
		require_NoError(t, err)
		require_True(t, removed)
		mb.mu.Lock()
		defer mb.mu.Unlock()
		ss, ok := mb.subjects.Find(stringToBytes("foo"))
		require_True(t, ok)
		require_True(t, ss.firstNeedsUpdate)
		require_True(t, mb.cache == nil)
		require_NoError(t, mb.recalculateForSubj("foo", ss))
		require_Equal(t, ss.First, uint64(2))
		noStrongCache(t, mb, c)
	})

	t.Run("firstSeqForSubj", func(t *testing.T) {
		fs, mb, _ := setup(t)
		// Without the weak cache the block is read from disk.
		mb.mu.Lock()
		mb.elasticCache.Set(nil)
		mb.mu.Unlock()
		fs.mu.Lock()
		seq, err := fs.firstSeqForSubj("foo")
		fs.mu.Unlock()
		require_NoError(t, err)
		require_Equal(t, seq, uint64(1))
		mb.mu.Lock()
		defer mb.mu.Unlock()
		require_True(t, mb.cache == nil)
		require_True(t, mb.elasticCache.Value() != nil)
	})

	t.Run("firstSeqForSubjRecalculate", func(t *testing.T) {
		fs, mb, c := setup(t)
		removed, err := fs.removeMsg(1, false, true, true)
		require_NoError(t, err)
		require_True(t, removed)
		fs.mu.Lock()
		seq, err := fs.firstSeqForSubj("foo")
		fs.mu.Unlock()
		require_NoError(t, err)
		require_Equal(t, seq, uint64(2))
		mb.mu.Lock()
		defer mb.mu.Unlock()
		noStrongCache(t, mb, c)
	})
}

// TestNoRaceFileStoreWeakCacheGCRecyclesBuf checks that the collector
// returns the buffer of a cache that is only weakly held to its pool, once,
// and never one whose recycling was stopped or handed back already.
//
// Under the race detector sync.Pool drops a quarter of its Puts at random,
// so each case that expects a recycle makes several caches and needs one
// of their buffers back.
func TestNoRaceFileStoreWeakCacheGCRecyclesBuf(t *testing.T) {
	const copies = 8
	// detached makes n caches with tiny buffers through mk and returns
	// their arrays; the caches themselves are unreachable afterwards.
	detached := func(n int, mk func() *cache) map[*[defaultTinyBlockSize]byte]bool {
		arrs := make(map[*[defaultTinyBlockSize]byte]bool)
		for range n {
			arrs[tinyArray(mk().buf)] = true
		}
		return arrs
	}

	t.Run("recycledOnGC", func(t *testing.T) {
		holdPools(t)
		arrs := detached(copies, func() *cache {
			c := &cache{buf: getMsgBlockBuf(1)}
			c.registerRecycle()
			require_True(t, c.clean != (runtime.Cleanup{}))
			return c
		})
		require_True(t, waitRecycled(arrs))
	})

	t.Run("stopRecycle", func(t *testing.T) {
		holdPools(t)
		arrs := detached(copies, func() *cache {
			c := &cache{buf: getMsgBlockBuf(1)}
			c.registerRecycle()
			c.stopRecycle()
			require_True(t, c.clean == (runtime.Cleanup{}))
			return c
		})
		require_True(t, neverRecycled(arrs))
	})

	t.Run("registerRecycleTwice", func(t *testing.T) {
		holdPools(t)
		arrs := detached(copies, func() *cache {
			c := &cache{buf: getMsgBlockBuf(1)}
			// The second registration replaces the first; both
			// running would put the buffer into the pool twice.
			c.registerRecycle()
			c.registerRecycle()
			return c
		})
		recycledOnce(t, arrs, make(map[*[defaultTinyBlockSize]byte]int))
	})

	t.Run("noRecycle", func(t *testing.T) {
		holdPools(t)
		arrs := detached(copies, func() *cache {
			c := &cache{buf: getMsgBlockBuf(1), noRecycle: true}
			c.registerRecycle()
			require_True(t, c.clean == (runtime.Cleanup{}))
			return c
		})
		require_True(t, neverRecycled(arrs))
	})

	t.Run("noRecycleEmptyBuf", func(t *testing.T) {
		c := &cache{}
		c.registerRecycle()
		require_True(t, c.clean == (runtime.Cleanup{}))
		// Stopping with nothing registered, twice, and registering on a nil
		// cache are all harmless.
		c.stopRecycle()
		c.stopRecycle()
		(*cache)(nil).registerRecycle()
	})

	// weakBlockCache leaves the last block of a new store with its cache
	// only weakly held, after prepare (mb.mu held) set the cache up, and
	// returns the block and the cache's array.
	weakBlockCache := func(t *testing.T, prepare func(mb *msgBlock)) (*msgBlock, *[defaultTinyBlockSize]byte) {
		t.Helper()
		_, mb := newWeakCacheTestStore(t, 4, 0)
		mb.mu.Lock()
		defer mb.mu.Unlock()
		prepare(mb)
		require_True(t, mb.cache != nil)
		require_True(t, mb.cache.clean != (runtime.Cleanup{}))
		require_Equal(t, cap(mb.cache.buf), defaultTinyBlockSize)
		arr := tinyArray(mb.cache.buf)
		weakenAll(mb)
		require_True(t, mb.cache == nil)
		require_True(t, mb.elasticCache.Value() != nil)
		return mb, arr
	}
	// The elastic pointer is cleared by the collection whether or not the
	// pool kept the buffer, so each case runs until one buffer comes back.
	collectWeakCaches := func(t *testing.T, prepare func(mb *msgBlock)) {
		t.Helper()
		holdPools(t)
		arrs := make(map[*[defaultTinyBlockSize]byte]bool)
		var blocks []*msgBlock
		for range copies {
			mb, arr := weakBlockCache(t, prepare)
			arrs[arr] = true
			blocks = append(blocks, mb)
		}
		require_True(t, waitRecycled(arrs))
		for _, mb := range blocks {
			mb.mu.Lock()
			gone := mb.elasticCache.Value() == nil
			mb.mu.Unlock()
			require_True(t, gone)
		}
	}

	t.Run("weakWriteCacheGC", func(t *testing.T) {
		// The write cache came from the pool when the block was made.
		collectWeakCaches(t, func(*msgBlock) {})
	})

	t.Run("weakLoadedCacheGC", func(t *testing.T) {
		// A cache loaded from disk registers its buffer too.
		collectWeakCaches(t, func(mb *msgBlock) {
			mb.clearCache()
			require_True(t, mb.cache == nil)
			require_NoError(t, mb.loadMsgsWithLock())
		})
	})

	t.Run("clearCacheNoDoubleRecycle", func(t *testing.T) {
		holdPools(t)
		arrs := make(map[*[defaultTinyBlockSize]byte]bool)
		// All stores first: making one takes a buffer from the pool,
		// which could be one an earlier clearCache put back.
		var blocks []*msgBlock
		for range copies {
			_, mb := newWeakCacheTestStore(t, 4, 0)
			blocks = append(blocks, mb)
		}
		for _, mb := range blocks {
			mb.mu.Lock()
			require_True(t, mb.cache != nil)
			require_Equal(t, cap(mb.cache.buf), defaultTinyBlockSize)
			arrs[tinyArray(mb.cache.buf)] = true
			mb.clearCache()
			require_True(t, mb.cache == nil)
			require_True(t, mb.elasticCache.Value() == nil)
			mb.mu.Unlock()
		}
		// clearCache put the buffers back itself; the collection of the
		// dropped caches must not put them back again.
		seen := make(map[*[defaultTinyBlockSize]byte]int)
		takeTiny(4*copies, arrs, seen)
		recycledOnce(t, arrs, seen)
	})
}

func TestGetMsgBlockBufPicksSmallestTierThatFits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		wantCap int
	}{
		{"zero", 0, defaultTinyBlockSize},
		{"one byte", 1, defaultTinyBlockSize},
		{"tiny exactly", defaultTinyBlockSize, defaultTinyBlockSize},
		{"just over tiny", defaultTinyBlockSize + 1, defaultSmallBlockSize},
		{"small exactly", defaultSmallBlockSize, defaultSmallBlockSize},
		{"just over small", defaultSmallBlockSize + 1, defaultMediumBlockSize},
		{"medium exactly", defaultMediumBlockSize, defaultMediumBlockSize},
		{"just over medium", defaultMediumBlockSize + 1, defaultLargeBlockSize},
		{"large exactly", defaultLargeBlockSize, defaultLargeBlockSize},
		{"over every tier", defaultLargeBlockSize + 1, defaultLargeBlockSize + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := getMsgBlockBuf(tc.size)
			require_Equal(t, len(buf), 0)
			require_Equal(t, cap(buf), tc.wantCap)
		})
	}
}

func TestRecycleMsgBlockBufReturnsBufferToItsTier(t *testing.T) {
	holdPools(t)
	for _, size := range []int{defaultTinyBlockSize, defaultSmallBlockSize, defaultMediumBlockSize, defaultLargeBlockSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			// The race detector makes Put drop an item now and then, so
			// a few tries are allowed.
			back := false
			for range 16 {
				buf := append(getMsgBlockBuf(size), "in use"...)
				recycleMsgBlockBuf(buf)
				if again := getMsgBlockBuf(size); sameBuffer(again, buf) {
					back = true
					break
				}
			}
			require_True(t, back)
		})
	}
	t.Run("not a tier", func(t *testing.T) {
		// A buffer whose capacity is no tier stays out of the pools (it
		// cannot even be given their type); this must not panic.
		recycleMsgBlockBuf(make([]byte, 10, 100))
		recycleMsgBlockBuf(make([]byte, 0, defaultLargeBlockSize+1))
		recycleMsgBlockBuf(nil)
	})
}

func TestSameBufferComparesBackingArrays(t *testing.T) {
	a := make([]byte, 4, 8)
	b := make([]byte, 4, 8)
	for _, tc := range []struct {
		name string
		x, y []byte
		want bool
	}{
		{"same slice", a, a, true},
		{"resliced to empty", a, a[:0], true},
		{"other array", a, b, false},
		{"later start", a, a[1:], false},
		{"nil", a, nil, false},
		{"both nil", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require_Equal(t, sameBuffer(tc.x, tc.y), tc.want)
		})
	}
}

func TestCacheRegisterAndStopRecycle(t *testing.T) {
	c := &cache{buf: getMsgBlockBuf(1)}
	c.registerRecycle()
	require_True(t, c.clean != (runtime.Cleanup{}))
	first := c.clean
	// Registering again replaces the registration.
	c.registerRecycle()
	require_True(t, c.clean != (runtime.Cleanup{}))
	require_True(t, c.clean != first)
	c.stopRecycle()
	require_True(t, c.clean == (runtime.Cleanup{}))
	// The buffer stays the cache's to recycle explicitly.
	recycleMsgBlockBuf(c.buf)
}

func TestFileStoreFinishedWithCacheLeavesCacheElastic(t *testing.T) {
	fs, mb := newWeakCacheTestStore(t, 4, 1)
	mb.mu.Lock()
	require_NoError(t, mb.loadMsgsWithLock())
	c := mb.cache
	require_True(t, c != nil)
	loads := mb.cacheLoads
	mb.finishedWithCache()
	require_True(t, mb.cache == nil)
	require_True(t, mb.elasticCache.Value() == c)
	mb.mu.Unlock()

	// A read takes the same cache up again, with no load from disk, and
	// lets it go once done.
	sm, err := fs.LoadMsg(3, nil)
	require_NoError(t, err)
	require_Equal(t, sm.subj, "foo")
	// It still counts as cached memory.
	require_True(t, fs.cacheSize() > 0)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	require_Equal(t, mb.cacheLoads, loads)
	require_True(t, mb.cache == nil)
	require_True(t, mb.elasticCache.Value() == c)
}

func TestFileStoreFinishedWithCacheKeepsPendingWrites(t *testing.T) {
	fs, mb := newWeakCacheTestStore(t, 1, 0)
	fs.mu.Lock()
	mb.mu.Lock()
	seq := fs.state.LastSeq + 1
	msg := []byte("not yet on disk")
	err := mb.writeMsgRecordLocked(fileStoreMsgSize("foo", nil, msg), seq, "foo", nil, msg, time.Now().UnixNano(), false)
	if err == nil {
		fs.state.LastSeq, fs.state.Msgs = seq, fs.state.Msgs+1
	}
	require_NoError(t, err)
	require_True(t, mb.pendingWriteSizeLocked() > 0)
	c := mb.cache
	// The pending bytes exist only in the cache: it must stay.
	mb.finishedWithCache()
	require_True(t, mb.cache == c)
	mb.mu.Unlock()
	fs.mu.Unlock()

	runtime.GC()
	require_NoError(t, fs.FlushAllPending())
	sm, err := fs.LoadMsg(seq, nil)
	require_NoError(t, err)
	require_Equal(t, string(sm.msg), string(msg))
}

// collectElastic drops mb's hold on its cache and collects garbage until
// the cache is gone. mb.mu not held.
func collectElastic(t *testing.T, mb *msgBlock) {
	t.Helper()
	mb.mu.Lock()
	weakenAll(mb)
	mb.mu.Unlock()
	for range 20 {
		runtime.GC()
		mb.mu.Lock()
		gone := mb.elasticCache.Value() == nil
		mb.mu.Unlock()
		if gone {
			return
		}
	}
	t.Fatalf("weakly held cache was not collected")
}

func TestFileStoreWeakCacheCollectedReloadsOnRead(t *testing.T) {
	fs, mb := newWeakCacheTestStore(t, 4, 1)
	mb.mu.Lock()
	require_NoError(t, mb.loadMsgsWithLock())
	loads := mb.cacheLoads
	mb.mu.Unlock()
	collectElastic(t, mb)
	require_Equal(t, fs.cacheSize(), uint64(0))

	for seq := uint64(1); seq <= 5; seq++ {
		sm, err := fs.LoadMsg(seq, nil)
		require_NoError(t, err)
		require_Equal(t, sm.seq, seq)
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	require_Equal(t, mb.cacheLoads, loads+1)
}

func TestFileStoreWeakWriteCacheResumedByNextWrite(t *testing.T) {
	fs, mb := newWeakCacheTestStore(t, 3, 0)
	mb.mu.Lock()
	c := mb.cache
	require_True(t, c != nil)
	weakenAll(mb)
	require_True(t, mb.cache == nil)
	mb.mu.Unlock()

	// The next write appends to the same cache, still alive.
	_, _, err := fs.StoreMsg("bar", nil, []byte("more"), 0)
	require_NoError(t, err)
	mb.mu.Lock()
	require_True(t, mb.cache == c)
	require_Equal(t, len(c.offsets), 4)
	mb.mu.Unlock()
	runtime.KeepAlive(c)

	// And once collected, the next write reloads the block first.
	require_NoError(t, fs.FlushAllPending())
	c = nil
	collectElastic(t, mb)
	_, _, err = fs.StoreMsg("bar", nil, []byte("again"), 0)
	require_NoError(t, err)
	require_NoError(t, fs.FlushAllPending())
	for seq := uint64(1); seq <= 5; seq++ {
		sm, err := fs.LoadMsg(seq, nil)
		require_NoError(t, err)
		require_Equal(t, sm.seq, seq)
	}
}

func TestFileStoreClearCacheDropsElasticCache(t *testing.T) {
	_, mb := newWeakCacheTestStore(t, 2, 0)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	require_NoError(t, mb.loadMsgsWithLock())
	mb.finishedWithCache()
	require_True(t, mb.elasticCache.Value() != nil)
	// A dropped cache must not come back through the elastic pointer: it
	// may no longer match the file.
	mb.clearCache()
	require_True(t, mb.cache == nil)
	require_True(t, mb.elasticCache.Value() == nil)
}

func TestFileStoreExpireWeakCache(t *testing.T) {
	_, mb := newWeakCacheTestStore(t, 2, 0)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	require_NoError(t, mb.loadMsgsWithLock())
	mb.finishedWithCache()
	// Recently used: expiry keeps it, still only elastically held.
	mb.tryExpireCacheLocked()
	require_True(t, mb.cache == nil)
	require_True(t, mb.elasticCache.Value() != nil)
	// Idle: expiry drops it altogether.
	mb.lastLoad, mb.lastWrite = 0, 0
	mb.tryExpireCacheLocked()
	require_True(t, mb.cache == nil)
	require_True(t, mb.elasticCache.Value() == nil)
}

func TestFileStoreCacheLookupOnEmptyBlockStaysWeak(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
	lmb := lastMsgBlock(fs)
	require_True(t, lmb != nil)
	lmb.mu.Lock()
	defer lmb.mu.Unlock()
	lmb.finishedWithCache()
	require_True(t, lmb.cache == nil)
	// An empty block answers "not found" without taking its cache up.
	_, err := lmb.cacheLookup(atomic.LoadUint64(&lmb.first.seq), nil)
	require_Error(t, err, ErrStoreMsgNotFound)
	require_True(t, lmb.cache == nil)
}
