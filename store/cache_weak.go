package store

import (
	"runtime"
	"sync"
)

// Block buffers come from pools in four sizes, so that loading blocks one
// after another reuses memory instead of making garbage for every load.
// A cache that is dropped hands its buffer back: explicitly when the block
// drops it (clearCache), or through a runtime cleanup when the garbage
// collector takes a cache that was only weakly held (finishedWithCache).
//
// msgBlock.cache is the block's cache while in use. msgBlock.elasticCache
// points to the same cache or, when cache is nil, to one a finished read
// left behind: weakly, so the collector may take it, or strongly while it
// holds writes not yet flushed. promoteCache takes it back. Whatever
// replaces or drops the cache sets both (setCache, clearCache), so the
// elastic pointer never holds a cache that no longer matches the file.
const (
	// defaultSmallBlockSize is the second pool tier.
	defaultSmallBlockSize = 1 * 1024 * 1024
	// defaultTinyBlockSize is the smallest pool tier.
	defaultTinyBlockSize = 256 * 1024
)

// The pools hold pointers to arrays, so Put does not allocate a slice
// header each time and a buffer's tier is its type.
var (
	blkPoolTiny = &sync.Pool{New: func() any {
		return new([defaultTinyBlockSize]byte)
	}}
	blkPoolSmall = &sync.Pool{New: func() any {
		return new([defaultSmallBlockSize]byte)
	}}
	blkPoolMedium = &sync.Pool{New: func() any {
		return new([defaultMediumBlockSize]byte)
	}}
	blkPoolBig = &sync.Pool{New: func() any {
		return new([defaultLargeBlockSize]byte)
	}}
)

// getMsgBlockBuf returns an empty buffer with room for at least sz bytes,
// from the smallest pool tier that fits. Above the largest tier it makes a
// buffer of exactly sz, which recycleMsgBlockBuf will not keep.
func getMsgBlockBuf(sz int) []byte {
	switch {
	case sz <= defaultTinyBlockSize:
		return blkPoolTiny.Get().(*[defaultTinyBlockSize]byte)[:0]
	case sz <= defaultSmallBlockSize:
		return blkPoolSmall.Get().(*[defaultSmallBlockSize]byte)[:0]
	case sz <= defaultMediumBlockSize:
		return blkPoolMedium.Get().(*[defaultMediumBlockSize]byte)[:0]
	case sz <= defaultLargeBlockSize:
		return blkPoolBig.Get().(*[defaultLargeBlockSize]byte)[:0]
	default:
		return make([]byte, 0, sz)
	}
}

// recycleMsgBlockBuf returns buf to the pool of its tier. Buffers whose
// capacity is not exactly a tier (made with make, or oversized) are left to
// the garbage collector, so the pools never grow beyond the tiers. The
// caller must not use buf afterwards, nor recycle it twice.
func recycleMsgBlockBuf(buf []byte) {
	switch cap(buf) {
	case defaultTinyBlockSize:
		blkPoolTiny.Put((*[defaultTinyBlockSize]byte)(buf[:defaultTinyBlockSize]))
	case defaultSmallBlockSize:
		blkPoolSmall.Put((*[defaultSmallBlockSize]byte)(buf[:defaultSmallBlockSize]))
	case defaultMediumBlockSize:
		blkPoolMedium.Put((*[defaultMediumBlockSize]byte)(buf[:defaultMediumBlockSize]))
	case defaultLargeBlockSize:
		blkPoolBig.Put((*[defaultLargeBlockSize]byte)(buf[:defaultLargeBlockSize]))
	}
}

// registerRecycle arranges for the cache's buffer to go back to its pool
// when the garbage collector takes the cache, which happens once the block
// holds it only weakly. Without this every collected cache would leave its
// buffer as garbage, and the next load would allocate again. Any earlier
// registration is cancelled, so a buffer is never recycled twice.
func (c *cache) registerRecycle() {
	if c == nil {
		return
	}
	c.stopRecycle()
	if c.noRecycle || cap(c.buf) == 0 {
		return
	}
	// The cleanup gets the buffer, not the cache: it must not keep the
	// cache reachable.
	c.clean = runtime.AddCleanup(c, recycleMsgBlockBuf, c.buf)
}

// stopRecycle cancels a registration by registerRecycle. It must come
// before the buffer is recycled explicitly or handed on, or the cleanup
// could put it into a pool a second time while someone uses it.
func (c *cache) stopRecycle() {
	if c.clean != (runtime.Cleanup{}) {
		c.clean.Stop()
		c.clean = runtime.Cleanup{}
	}
}

// finishedWithCache drops the block's strong reference to its cache once a
// read is done with it, leaving the elastic one. A cache with writes not
// yet flushed is kept, and the elastic pointer of the last block is strong
// while it has pending writes. A later access picks the cache up again if
// the collector has not taken it (promoteCache); otherwise it reloads.
// mb.mu held.
func (mb *msgBlock) finishedWithCache() {
	// Pending bytes are checked directly, not through
	// pendingWriteSizeLocked, which reports none once the file is closed:
	// such bytes must stay strongly held all the same.
	if mb.cache != nil && len(mb.cache.buf) <= mb.cache.writePos {
		mb.cache = nil
	}
}

// promoteCache makes the elastic cache, if it is still alive, the block's
// strong cache again, and reports whether it did. mb.mu held.
func (mb *msgBlock) promoteCache() bool {
	if mb.cache != nil {
		return false
	}
	mb.cache = mb.elasticCache.Value()
	return mb.cache != nil
}

// setCache makes c the block's cache, strong and elastic. mb.mu held.
func (mb *msgBlock) setCache(c *cache) {
	mb.cache = c
	mb.elasticCache.Set(c)
}

// sameBuffer reports whether a and b share their backing array.
func sameBuffer(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
