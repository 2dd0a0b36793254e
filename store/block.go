package store

import (
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"

	"github.com/porttracker/porttracker/store/avl"
	"github.com/porttracker/porttracker/store/elastic"
	"github.com/porttracker/porttracker/store/stree"
	"github.com/porttracker/porttracker/store/vfs"
)

// msgBlock is one block file, msgs/<index>.blk, and what the store knows of
// it: its sequence range, counts, delete map and, while loaded, its cache.
type msgBlock struct {
	// first and last bound the block's sequences. The seq fields are read
	// with atomics, without mu, by selectMsgBlock's search; they are written
	// under mu. The ts fields are guarded by mu.
	first msgId
	last  msgId

	// mu guards every field below.
	mu sync.RWMutex

	fs          *fileStore
	fileName    string   // the .blk path
	file        vfs.File // open for appending; nil when closed
	index       uint32
	bytes       uint64 // bytes of the live messages (what State reports)
	rawBytes    uint64 // size of the file, deleted records included
	compactSize uint64 // bytes after the last compaction; 0 if never compacted
	msgs        uint64 // live messages

	// subjects is the per-subject state of the block (upstream fss). It is
	// built lazily and dropped when idle; nil when not loaded.
	subjects *stree.SubjectTree[SimpleState]

	lastWrite    int64  // last write (unix nanos)
	lastLoad     int64  // last read through the cache
	lastRemove   int64  // last removal
	lastSubjects int64  // last use of subjects
	lastLoadSeq  uint64 // last sequence looked up, to spot linear scans

	hasher       *highwayhash.Digest64 // keyed for this block's records
	cache        *cache
	elasticCache elastic.Pointer[cache] // see cache_weak.go
	cacheLoads   uint64
	cacheExpire  time.Duration
	subjExpire   time.Duration
	cacheTimer   *time.Timer
	writeErr     error
	deleted      avl.SequenceSet // interior deletes (upstream dmap)
	tailChecksum [8]byte         // hash of the last record written or found
	loading      bool
	noTrack      bool // no per-subject state for this store
	needSync     bool
	writebackPos int64 // file offset up to which writeback was started early
	syncAlways   bool
	noCompact    bool // the last compaction gained nothing
	closed       bool
	ttls         uint64 // messages with a TTL header
	schedules    uint64 // messages with a schedule header

	// physFirst is the sequence of the first message record still in the
	// file (tombstones and erased records aside; 0: none), known when
	// physKnown. A removal from the head of a block only moves first, so
	// the records below it stay until the block is rewritten, and the
	// tombstones of their removal must stay too.
	physFirst uint64
	physKnown bool

	// Stored form. cmp is how the file is compressed now. In an encrypted
	// store seed and nonce key the block's stream; bek is that stream
	// positioned at file offset bekPos, for appends.
	cmp         StoreCompression
	seed        []byte
	nonce       []byte
	bek         cipher.Stream
	bekPos      int64
	keyFileName string
	needKeySync bool // the key file still needs an fsync

	// The asynchronous flusher (flush.go): fch kicks it, closing qch stops
	// it, flusher says it runs.
	fch     chan struct{}
	qch     chan struct{}
	flusher bool
}

// writeCacheInitialSize caps the capacity a new block's write cache starts
// with (the block size when smaller).
const writeCacheInitialSize = maxBlockSize

// initMsgBlock returns a block for index with its hasher and defaults set.
// fs.mu held.
func (fs *fileStore) initMsgBlock(index uint32) *msgBlock {
	mb := &msgBlock{
		fs:          fs,
		index:       index,
		cacheExpire: fs.fcfg.CacheExpire,
		subjExpire:  fs.fcfg.SubjectStateExpire,
		noTrack:     fs.noTrackSubjects(),
		syncAlways:  fs.fcfg.SyncAlways,
	}
	mb.fileName = filepath.Join(fs.fcfg.StoreDir, msgDir, fmt.Sprintf(blkScan, index))
	key := sha256.Sum256(fs.hashKeyForBlock(index))
	mb.hasher, _ = highwayhash.NewDigest64(key[:])
	return mb
}

// getIndex returns the block's file index.
func (mb *msgBlock) getIndex() uint32 {
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	return mb.index
}

// isEmpty reports whether the block holds no sequences.
func (mb *msgBlock) isEmpty() bool {
	return atomic.LoadUint64(&mb.first.seq) > atomic.LoadUint64(&mb.last.seq)
}

// blkSize returns the raw size of the block, deleted records included.
func (mb *msgBlock) blkSize() uint64 {
	if mb == nil {
		return 0
	}
	mb.mu.RLock()
	defer mb.mu.RUnlock()
	return mb.rawBytes
}

// newMsgBlockForWrite rolls to a new block for appending. fs.mu held.
func (fs *fileStore) newMsgBlockForWrite() (*msgBlock, error) {
	index := uint32(1)
	var rbuf []byte
	if lmb := fs.lastBlock; lmb != nil {
		lmb.mu.Lock()
		index = lmb.index + 1
		// A failed block must not be papered over by a fresh one.
		if err := lmb.writeErr; err != nil {
			lmb.mu.Unlock()
			return nil, err
		}
		if _, err := lmb.flushPendingMsgsLocked(); err != nil {
			lmb.mu.Unlock()
			return nil, err
		}
		// Sync the finished block before writing the next one. Upstream
		// leaves it to the sync timer; then a crash could keep a later block
		// and lose an earlier one, which is not a clean prefix.
		if lmb.needKeySync && lmb.keyFileName != _EMPTY_ {
			// Its data is useless without its key.
			if err := fs.syncFileAndDir(lmb.keyFileName); err != nil {
				lmb.writeErr = fmt.Errorf("store: sync of block %d key failed: %w", lmb.index, err)
				lmb.mu.Unlock()
				return nil, lmb.writeErr
			}
			lmb.needKeySync = false
		}
		if lmb.needSync {
			if err := lmb.syncFile(); err != nil {
				lmb.writeErr = fmt.Errorf("store: sync of block %d failed: %w", lmb.index, err)
				lmb.mu.Unlock()
				return nil, lmb.writeErr
			}
			lmb.needSync = false
		}
		// Flushed and synced: its flusher is done.
		lmb.stopFlusherLocked()
		lmb.closeFDsLockedNoCheck()
		if lmb.cache != nil {
			rbuf = lmb.tryExpireWriteCache()
		}
		lmb.mu.Unlock()
		// The finished block is stored compressed from now on.
		if fs.fcfg.Compression != NoCompression {
			fs.recompressAsync(lmb)
		}
	}

	mb := fs.initMsgBlock(index)
	mb.mu.Lock()
	// The write cache is sized for the block up front (or reuses the
	// previous block's dropped buffer), so appends do not keep
	// reallocating it as it grows.
	if want := int(min(fs.fcfg.BlockSize, writeCacheInitialSize)); cap(rbuf) < want {
		recycleMsgBlockBuf(rbuf)
		rbuf = getMsgBlockBuf(want)
	}
	wc := &cache{buf: rbuf}
	wc.registerRecycle()
	mb.setCache(wc)
	mb.physFirst, mb.physKnown = 0, true
	mb.subjects = stree.NewSubjectTree[SimpleState]()
	mb.lastLoad, mb.lastWrite = 0, accessTime()
	atomic.StoreUint64(&mb.first.seq, fs.state.LastSeq+1)
	atomic.StoreUint64(&mb.last.seq, fs.state.LastSeq)
	mb.startCacheExpireTimer()
	mb.mu.Unlock()

	// A failed setup removes what it made, so the store is as before and a
	// later write may succeed: the error is not sticky.
	abandon := func(err error) (*msgBlock, error) {
		mb.mu.Lock()
		rerr := mb.dirtyCloseWithRemove(true)
		mb.mu.Unlock()
		if rerr != nil {
			return nil, fmt.Errorf("store: error creating msg block %d (%v), cleanup failed: %w", index, err, rerr)
		}
		return nil, &rolledBackError{fmt.Errorf("store: error creating msg block %d: %w", index, err)}
	}

	// A stale file with this index cannot hold anything live (recovery
	// removed it or never listed it), so start it empty.
	file, err := fs.fsys.OpenFile(mb.fileName, os.O_CREATE|os.O_RDWR|os.O_TRUNC, defaultFilePerms)
	if err != nil {
		return abandon(err)
	}
	mb.file = file
	if fs.prf != nil {
		if err := fs.genEncryptionKeysForBlock(mb); err != nil {
			return abandon(err)
		}
	}
	// With SyncAlways a synced record must not vanish with an unsynced
	// directory entry, so the new file's entry is made durable now.
	if fs.fcfg.SyncAlways {
		if err := syncDir(fs.fsys, filepath.Dir(mb.fileName)); err != nil {
			return abandon(err)
		}
	}
	if !fs.inPlace.Load() {
		mb.spinUpFlushLoop()
	}
	fs.addMsgBlock(mb)
	return mb, nil
}

// addMsgBlock appends mb as the new last block. fs.mu held.
func (fs *fileStore) addMsgBlock(mb *msgBlock) {
	fs.blocks = append(fs.blocks, mb)
	fs.lastBlock = mb
	fs.blockByIndex[mb.index] = mb
}

// removeMsgBlockFromList drops mb from the block list. Both locks held.
func (fs *fileStore) removeMsgBlockFromList(mb *msgBlock) {
	for i, omb := range fs.blocks {
		if mb == omb {
			fs.dirty++
			// Copy so that callers iterating an older slice are not disturbed.
			fs.blocks = slices.Delete(slices.Clone(fs.blocks), i, i+1)
			delete(fs.blockByIndex, mb.index)
			break
		}
	}
}

// removeMsgBlock removes an emptied block. When it held the last sequence a
// tombstone keeps that sequence from being forgotten. A block that still
// carries tombstones for earlier blocks is kept. Both locks held.
func (fs *fileStore) removeMsgBlock(mb *msgBlock) error {
	lseq, lts := atomic.LoadUint64(&mb.last.seq), mb.last.ts
	if mb == fs.lastBlock {
		// Rolling needs the old last block's lock, so release ours.
		mb.mu.Unlock()
		lmb, err := fs.newMsgBlockForWrite()
		if err == nil {
			err = lmb.writeTombstone(lseq, lts)
		}
		mb.mu.Lock()
		if err != nil {
			return err
		}
	} else if lseq == fs.state.LastSeq {
		if err := fs.writeTombstone(lseq, lts); err != nil {
			return err
		}
	}
	if mb.numPriorTombsLocked() > 0 {
		// The block stays for its tombstones of earlier blocks. Upstream
		// leaves the removed messages' records in it with no tombstone, so a
		// recovery without index.db brings them back; rewriting it keeps
		// only the tombstones.
		if err := mb.compact(); err != nil {
			fs.warn("Compacting emptied block %d failed: %v", mb.index, err)
		}
		return nil
	}
	return fs.forceRemoveMsgBlock(mb)
}

// forceRemoveMsgBlock deletes mb's files and drops it, without tombstones.
// Both locks held.
func (fs *fileStore) forceRemoveMsgBlock(mb *msgBlock) error {
	if err := mb.dirtyCloseWithRemove(true); err != nil {
		return err
	}
	fs.removeMsgBlockFromList(mb)
	return nil
}

// selectMsgBlock returns the block holding seq, or nil. fs.mu held (read).
func (fs *fileStore) selectMsgBlock(seq uint64) *msgBlock {
	_, mb := fs.selectMsgBlockWithIndex(seq)
	return mb
}

// selectMsgBlockWithIndex returns the block holding seq and its position in
// fs.blocks, or -1 and nil. A seq that falls in a gap between blocks selects
// the next block. fs.mu held (read).
func (fs *fileStore) selectMsgBlockWithIndex(seq uint64) (int, *msgBlock) {
	if seq < fs.state.FirstSeq || seq > fs.state.LastSeq || fs.state.Msgs == 0 {
		return -1, nil
	}
	const linearThresh = 32
	nb := len(fs.blocks) - 1
	if nb < linearThresh {
		for i, mb := range fs.blocks {
			if seq <= atomic.LoadUint64(&mb.last.seq) {
				return i, mb
			}
		}
		return -1, nil
	}
	for low, high, mid := 0, nb, nb/2; low <= high; mid = (low + high) / 2 {
		mb := fs.blocks[mid]
		first, last := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
		if seq > last {
			low = mid + 1
		} else if seq < first {
			// In a gap below this block: it is the answer if the previous
			// block ends before seq.
			if mid == 0 || seq > atomic.LoadUint64(&fs.blocks[mid-1].last.seq) {
				return mid, mb
			}
			high = mid - 1
		} else {
			return mid, mb
		}
	}
	return -1, nil
}

// selectMsgBlockForStart returns the first block whose last message is at or
// after minTime.
func (fs *fileStore) selectMsgBlockForStart(minTime time.Time) *msgBlock {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	target := minTime.UnixNano()
	i, _ := slices.BinarySearchFunc(fs.blocks, target, func(mb *msgBlock, target int64) int {
		mb.mu.RLock()
		last := mb.last.ts
		mb.mu.RUnlock()
		switch {
		case last < target:
			return -1
		case last > target:
			return 1
		}
		return 0
	})
	if i < len(fs.blocks) {
		return fs.blocks[i]
	}
	return nil
}

// openBlock opens the block file for reading. mb.mu held.
func (mb *msgBlock) openBlock() (vfs.File, error) {
	return mb.fs.fsys.Open(mb.fileName)
}

// loadBlock reads the whole block file into a buffer (reusing buf when it is
// large enough). mb.mu held.
func (mb *msgBlock) loadBlock(buf []byte) ([]byte, error) {
	if err := mb.flushBeforeFileAccess(); err != nil {
		return nil, err
	}
	f := mb.file
	if f == nil {
		var err error
		if f, err = mb.openBlock(); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = errNoBlkData
			}
			return nil, err
		}
		defer f.Close()
	}
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sz64 := info.Size()
	if int64(int(sz64)) != sz64 {
		return nil, errMsgBlkTooBig
	}
	sz := int(sz64)
	if cap(buf) < sz {
		buf = getMsgBlockBuf(sz)
	}
	buf = buf[:sz]
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF && n == sz {
		err = nil
	}
	if err == nil {
		mb.rawBytes = uint64(n)
	}
	return buf[:n], err
}

// enableForWriting opens the block file for appending. mb.mu held.
func (mb *msgBlock) enableForWriting() error {
	if mb == nil {
		return errNoMsgBlk
	}
	if mb.file != nil {
		return nil
	}
	f, err := mb.fs.fsys.OpenFile(mb.fileName, os.O_CREATE|os.O_RDWR, defaultFilePerms)
	if err != nil {
		return fmt.Errorf("store: error opening msg block file %q: %w", mb.fileName, err)
	}
	mb.file = f
	if !mb.fs.inPlace.Load() {
		mb.spinUpFlushLoopLocked()
	}
	return nil
}

// closeFDs closes the block file unless writes are pending.
func (mb *msgBlock) closeFDs() error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.closeFDsLocked()
}

// closeFDsLocked closes the block file unless writes are pending. mb.mu held.
func (mb *msgBlock) closeFDsLocked() error {
	if buf, _ := mb.bytesPending(); len(buf) > 0 {
		return errPendingData
	}
	mb.closeFDsLockedNoCheck()
	return nil
}

// closeFDsLockedNoCheck closes the block file. mb.mu held.
func (mb *msgBlock) closeFDsLockedNoCheck() {
	if mb.file != nil {
		_ = mb.file.Close()
		mb.file = nil
	}
}

// ensureRawBytesLoaded fills rawBytes from the file size if unknown. mb.mu held.
func (mb *msgBlock) ensureRawBytesLoaded() error {
	if mb.rawBytes > 0 {
		return nil
	}
	fi, err := mb.fs.fsys.Stat(mb.fileName)
	if err != nil {
		return err
	}
	mb.rawBytes = uint64(fi.Size())
	return nil
}

// sinceLastActivity is the time since the last read, write, removal or use
// of the subject state. mb.mu held.
func (mb *msgBlock) sinceLastActivity() time.Duration {
	if mb.closed {
		return 0
	}
	last := max(mb.lastWrite, mb.lastRemove, mb.lastLoad, mb.lastSubjects)
	return time.Duration(accessTime() - last)
}

// sinceLastWriteActivity is the time since the last write or removal.
// mb.mu held.
func (mb *msgBlock) sinceLastWriteActivity() time.Duration {
	if mb.closed {
		return 0
	}
	return time.Duration(accessTime() - max(mb.lastWrite, mb.lastRemove))
}

// lastChecksum reads the hash of the last record from the block file, or
// nil when the file cannot be read. A file shorter than a hash gives zeros.
// mb.mu held.
func (mb *msgBlock) lastChecksum() []byte {
	f, err := mb.openBlock()
	if err != nil {
		return nil
	}
	defer f.Close()
	var lchk [8]byte
	if fi, _ := f.Stat(); fi != nil {
		mb.rawBytes = uint64(fi.Size())
	}
	if mb.rawBytes < checksumSize {
		return lchk[:]
	}
	if err := mb.checkAndLoadEncryption(); err != nil {
		return nil
	}
	if mb.seed != nil {
		// The stream cipher must run from offset 0 to reach the tail.
		buf, err := mb.loadBlock(nil)
		if err != nil || len(buf) < checksumSize || mb.encryptOrDecryptIfNeeded(buf) != nil {
			return nil
		}
		copy(lchk[:], buf[len(buf)-checksumSize:])
		recycleMsgBlockBuf(buf)
		return lchk[:]
	}
	// Compressed blocks keep the last record's hash at the end, plain.
	if _, err := f.ReadAt(lchk[:], int64(mb.rawBytes)-checksumSize); err != nil {
		return nil
	}
	return lchk[:]
}

// ensureLastChecksumLoaded fills tailChecksum from the file when unknown.
// mb.mu held.
func (mb *msgBlock) ensureLastChecksumLoaded() {
	var empty [8]byte
	if mb.tailChecksum != empty {
		return
	}
	copy(mb.tailChecksum[:], mb.lastChecksum())
}

// close flushes and closes the block for good.
func (mb *msgBlock) close(sync bool) {
	if mb == nil {
		return
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.closed {
		return
	}
	mb.stopFlusherLocked()
	if mb.cacheTimer != nil {
		mb.cacheTimer.Stop()
		mb.cacheTimer = nil
	}
	mb.subjects = nil
	// A flush error is already kept in writeErr; closing goes on.
	_, _ = mb.flushPendingMsgsLocked()
	mb.clearCacheAndOffset()
	if mb.file != nil {
		if sync {
			_ = mb.file.Sync()
		}
		_ = mb.file.Close()
	}
	mb.file = nil
	mb.closed = true
}

// closeAllMsgBlocks closes every block. fs.mu held.
func (fs *fileStore) closeAllMsgBlocks(sync bool) {
	for _, mb := range fs.blocks {
		mb.close(sync)
	}
}

// dirtyClose drops the cache and closes the file without flushing.
func (mb *msgBlock) dirtyClose() {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	_ = mb.dirtyCloseWithRemove(false)
}

// dirtyCloseWithRemove drops the cache and the file handle, and with remove
// also deletes the block's files. mb.mu held.
func (mb *msgBlock) dirtyCloseWithRemove(remove bool) error {
	if mb == nil {
		return nil
	}
	if mb.cacheTimer != nil {
		mb.cacheTimer.Stop()
		mb.cacheTimer = nil
	}
	mb.clearCacheAndOffset()
	if f := mb.file; f != nil {
		mb.file = nil
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if remove {
		mb.closed = true
		mb.stopFlusherLocked()
		mb.subjects = nil
		if mb.fileName != _EMPTY_ {
			if err := mb.fs.fsys.Remove(mb.fileName); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			// With SyncAlways a removal must not be undone by a crash.
			if mb.syncAlways {
				if err := syncDir(mb.fs.fsys, filepath.Dir(mb.fileName)); err != nil {
					return err
				}
			}
			mb.fileName = _EMPTY_
		}
		kfn := mb.keyFileName
		if kfn == _EMPTY_ && mb.fs.prf != nil {
			kfn = mb.fs.blockKeyFile(mb.index)
		}
		if kfn != _EMPTY_ {
			if err := mb.fs.fsys.Remove(kfn); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			mb.keyFileName = _EMPTY_
		}
	}
	return nil
}
