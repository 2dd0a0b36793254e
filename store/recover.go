package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"

	"github.com/porttracker/porttracker/store/avl"
	"github.com/porttracker/porttracker/store/vfs"
)

// lostData returns a copy of what recovery reported lost, or nil.
func (fs *fileStore) lostData() *LostStreamData {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	if fs.lost == nil {
		return nil
	}
	nld := *fs.lost
	nld.Msgs = slices.Clone(fs.lost.Msgs)
	return &nld
}

// addLostData merges ld into the store's lost data. fs.mu held.
func (fs *fileStore) addLostData(ld *LostStreamData) {
	if ld == nil {
		return
	}
	if fs.lost == nil {
		fs.lost = ld
		return
	}
	var added bool
	for _, seq := range ld.Msgs {
		if _, found := fs.lost.exists(seq); !found {
			fs.lost.Msgs = append(fs.lost.Msgs, seq)
			added = true
		}
	}
	if added {
		slices.Sort(fs.lost.Msgs)
		fs.lost.Bytes += ld.Bytes
	}
}

// exists reports whether seq is listed as lost, and where.
func (ld *LostStreamData) exists(seq uint64) (int, bool) {
	i := slices.Index(ld.Msgs, seq)
	return i, i > -1
}

// removeFromLostData unlists seq (its removal was applied anyway). fs.mu held.
func (fs *fileStore) removeFromLostData(seq uint64) {
	if fs.lost == nil {
		return
	}
	if i, found := fs.lost.exists(seq); found {
		fs.lost.Msgs = slices.Delete(fs.lost.Msgs, i, i+1)
		if len(fs.lost.Msgs) == 0 {
			fs.lost = nil
		}
	}
}

// rebuildState recomputes the store's counts from its blocks and records ld.
func (fs *fileStore) rebuildState(ld *LostStreamData) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rebuildStateLocked(ld)
}

// rebuildStateLocked recomputes the store's counts and range from its
// blocks and records ld. fs.mu held.
func (fs *fileStore) rebuildStateLocked(ld *LostStreamData) {
	fs.addLostData(ld)
	fs.state.Msgs, fs.state.Bytes = 0, 0
	fs.state.FirstSeq, fs.state.LastSeq = 0, 0
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		fseq := atomic.LoadUint64(&mb.first.seq)
		if firstFromBlock(fs.state.Msgs, fs.state.FirstSeq, mb.msgs, fseq) {
			fs.state.FirstSeq = fseq
			fs.state.FirstTime = timeFromNanos(mb.first.ts)
		}
		fs.state.Msgs += mb.msgs
		fs.state.Bytes += mb.bytes
		// >= so that a later tombstone-only block carries the last time.
		if lseq := atomic.LoadUint64(&mb.last.seq); lseq >= fs.state.LastSeq {
			fs.state.LastSeq = lseq
			fs.state.LastTime = timeFromNanos(mb.last.ts)
		}
		mb.mu.RUnlock()
	}
}

// timeFromNanos converts unix nanos to UTC time, keeping 0 as the zero time.
func timeFromNanos(ts int64) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return time.Unix(0, ts).UTC()
}

// rebuildState rebuilds the block's state from its file, returning lost
// data and the tombstones found.
func (mb *msgBlock) rebuildState() (*LostStreamData, []uint64, error) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.rebuildStateLocked()
}

// rebuildStateLocked rebuilds the block's state from its file. A missing or
// empty file loses everything the block claimed. mb.mu held.
func (mb *msgBlock) rebuildStateLocked() (*LostStreamData, []uint64, error) {
	ld, tombs, buf, err := mb.rebuildStateReadLocked()
	// The records were only counted, never kept.
	recycleMsgBlockBuf(buf)
	return ld, tombs, err
}

// rebuildStateReadLocked is rebuildStateLocked also returning the plain
// records it read, for a caller that can use them without reading the
// file again; the caller owns that buffer (it came from the block buffer
// pools) and recycles it unless it keeps it. mb.mu held.
func (mb *msgBlock) rebuildStateReadLocked() (*LostStreamData, []uint64, []byte, error) {
	mb.clearCacheAndOffset()

	buf, err := mb.loadBlockPlain()
	if err != nil || len(buf) == 0 {
		recycleMsgBlockBuf(buf)
		if err != nil && err != errNoBlkData {
			return nil, nil, nil, err
		}
		var ld *LostStreamData
		if mb.msgs > 0 {
			ld = &LostStreamData{Msgs: make([]uint64, 0, mb.msgs), Bytes: mb.bytes}
			firstSeq, lastSeq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
			for seq := firstSeq; seq <= lastSeq; seq++ {
				if !mb.deleted.Exists(seq) {
					ld.Msgs = append(ld.Msgs, seq)
				}
			}
			mb.msgs, mb.bytes, mb.rawBytes, mb.subjects = 0, 0, 0, nil
			mb.deleted.Empty()
			atomic.StoreUint64(&mb.first.seq, atomic.LoadUint64(&mb.last.seq)+1)
		}
		return ld, nil, nil, nil
	}
	// A compressed block cannot be cut at an offset of its plain records.
	ld, tombs, err := mb.rebuildStateFromBufLocked(buf, mb.cmp == NoCompression)
	return ld, tombs, buf, err
}

// cacheRebuiltBuf makes the plain records a clean rebuild just read the
// block's cache, exactly as loading the block would (indexCacheBuf builds
// the subject state and TTL and schedule counts too), so recovery reads
// each block file once instead of twice. When indexing fails nothing is
// kept and the ordinary load path takes over. It reports whether the cache
// took buf. mb.mu held.
func (mb *msgBlock) cacheRebuiltBuf(buf []byte) bool {
	if len(buf) == 0 || mb.cache != nil || mb.loading {
		return false
	}
	mb.lastLoad = accessTime()
	if err := mb.indexCacheBuf(buf); err != nil {
		mb.cache, mb.subjects = nil, nil
		return false
	}
	mb.cacheLoads++
	mb.startCacheExpireTimer()
	return true
}

// rebuildStateFromBufLocked recounts the block from its records in buf.
// Records must verify; at the first bad one the rest is reported lost and,
// with allowTruncate, cut off the file. Tombstones are returned for the
// caller to apply. mb.mu held.
func (mb *msgBlock) rebuildStateFromBufLocked(buf []byte, allowTruncate bool) (*LostStreamData, []uint64, error) {
	startLastSeq := atomic.LoadUint64(&mb.last.seq)

	mb.msgs, mb.bytes, mb.rawBytes, mb.subjects = 0, 0, 0, nil
	atomic.StoreUint64(&mb.last.seq, 0)
	mb.last.ts = 0
	firstNeedsSet := true
	mb.rawBytes = uint64(len(buf))

	addToDmap := func(seq uint64) {
		if seq != 0 {
			mb.deleted.Insert(seq)
		}
	}

	var (
		tombstones      []uint64
		maxTombstoneSeq uint64
		maxTombstoneTs  int64
	)

	// An empty block takes its range from its first sequence, or from its
	// newest tombstone, which is how sequences are remembered.
	fixEmpty := func() {
		if mb.msgs != 0 {
			return
		}
		fseq := atomic.LoadUint64(&mb.first.seq)
		if fseq > 0 {
			atomic.StoreUint64(&mb.last.seq, fseq-1)
		} else if maxTombstoneSeq > 0 {
			atomic.StoreUint64(&mb.first.seq, maxTombstoneSeq+1)
			mb.first.ts = 0
			if atomic.LoadUint64(&mb.last.seq) == 0 {
				atomic.StoreUint64(&mb.last.seq, maxTombstoneSeq)
				mb.last.ts = maxTombstoneTs
			}
		}
	}

	truncate := func(index uint32) error {
		fd := mb.file
		if fd == nil {
			f, err := mb.fs.fsys.OpenFile(mb.fileName, os.O_RDWR, defaultFilePerms)
			if err != nil {
				return nil
			}
			defer f.Close()
			fd = f
		}
		if err := fd.Truncate(int64(index)); err != nil {
			return err
		}
		mb.rawBytes = uint64(index)
		// From the plain records: the file may be encrypted.
		if index >= checksumSize {
			copy(mb.tailChecksum[:], buf[index-checksumSize:index])
		}
		mb.bek, mb.bekPos = nil, 0
		return fd.Sync()
	}

	gatherLost := func(lb uint32) *LostStreamData {
		var ld LostStreamData
		for seq := atomic.LoadUint64(&mb.last.seq) + 1; seq <= startLastSeq; seq++ {
			ld.Msgs = append(ld.Msgs, seq)
		}
		ld.Bytes = uint64(lb)
		return &ld
	}

	// Detects gaps left by compaction and keeps sequences moving up.
	var last uint64
	updateLast := func(seq uint64, ts int64) {
		if seq <= last {
			return
		}
		if last > 0 && seq != last+1 && mb.msgs != 0 {
			for dseq := last + 1; dseq < seq; dseq++ {
				addToDmap(dseq)
			}
		}
		last = seq
		atomic.StoreUint64(&mb.last.seq, last)
		mb.last.ts = ts
	}

	// A bad record ends the scan. With allowTruncate the bad tail is cut
	// off and reported as lost data only; without it the caller also gets
	// the errBadMsg.
	// Set below when the first message record is seen.
	var physSeen bool
	mb.physFirst, mb.physKnown = 0, true

	fail := func(index, lbuf uint32, detail string) (*LostStreamData, []uint64, error) {
		var err error = errBadMsg{mb.fileName, detail}
		if allowTruncate {
			if err = truncate(index); err != nil {
				return nil, nil, err
			}
		}
		fixEmpty()
		return gatherLost(lbuf - index), tombstones, err
	}

	for index, lbuf := uint32(0), uint32(len(buf)); index < lbuf; {
		if index+msgHdrSize > lbuf {
			return fail(index, lbuf, fmt.Sprintf("message overrun (index %d lbuf %d)", index, lbuf))
		}
		rh, ok := parseRecordHeader(buf[index:])
		if !ok {
			return fail(index, lbuf, fmt.Sprintf("sanity check failed (index %d lbuf %d)", index, lbuf))
		}
		rec := buf[index : index+rh.rl]
		if mb.hasher != nil {
			if !checksumMatches(mb.hasher, rec, rh) {
				return fail(index, lbuf, "invalid checksum")
			}
			if !recordShapeOK(rec, rh) {
				return fail(index, lbuf, "malformed subject or header")
			}
			copy(mb.tailChecksum[:], rec[rh.rl-recordHashSize:])
		}
		seq, ts := rh.seq, rh.ts
		if !physSeen && seq&(tbit|ebit) == 0 && seq != 0 {
			physSeen, mb.physFirst = true, seq
		}

		if seq&tbit != 0 {
			seq &^= tbit
			tombstones = append(tombstones, seq)
			if maxTombstoneSeq == 0 || seq > maxTombstoneSeq {
				maxTombstoneSeq, maxTombstoneTs = seq, ts
			}
			index += rh.rl
			continue
		}

		fseq := atomic.LoadUint64(&mb.first.seq)
		// Erased, skipped, or below the block's known first sequence.
		if seq == 0 || seq&ebit != 0 || seq < fseq {
			seq &^= ebit
			if seq >= fseq {
				updateLast(seq, ts)
				if mb.msgs == 0 {
					atomic.StoreUint64(&mb.first.seq, seq+1)
					mb.first.ts = 0
				} else if seq != 0 {
					addToDmap(seq)
				}
			}
			index += rh.rl
			continue
		}

		// index.db may have set first past deleted head messages.
		if firstNeedsSet && seq >= fseq {
			atomic.StoreUint64(&mb.first.seq, seq)
			firstNeedsSet, mb.first.ts = false, ts
		}
		if seq <= last {
			index += rh.rl
			continue
		}
		if !mb.deleted.Exists(seq) {
			mb.msgs++
			mb.bytes += uint64(rh.rl)
		}
		updateLast(seq, ts)
		index += rh.rl
	}
	fixEmpty()
	return nil, tombstones, nil
}

// firstFromBlock says whether a block's first sequence becomes the first of
// a state summed over blocks in order: the first block with messages wins;
// while none has messages, the highest empty block's first (last+1) does.
// Upstream takes the first block's first even when it is empty, so an empty
// block left before the last one made the sum disagree with the store.
func firstFromBlock(sumMsgs, sumFirst, blockMsgs, blockFirst uint64) bool {
	if blockMsgs > 0 {
		return sumMsgs == 0 || blockFirst < sumFirst
	}
	return sumMsgs == 0 && blockFirst > sumFirst
}

// updateTrackingState adds a block to a state summed over blocks, ignoring
// timestamps.
func updateTrackingState(state *StreamState, mb *msgBlock) {
	first := atomic.LoadUint64(&mb.first.seq)
	last := atomic.LoadUint64(&mb.last.seq)
	if firstFromBlock(state.Msgs, state.FirstSeq, mb.msgs, first) {
		state.FirstSeq = first
	}
	if last > state.LastSeq {
		state.LastSeq = last
	}
	state.Msgs += mb.msgs
	state.Bytes += mb.bytes
}

// trackingStatesEqual compares the store's state with the sum of its blocks.
// A new store may say first 0 where its block says 1; first is only
// compared when past 1.
func trackingStatesEqual(fs, mb *StreamState) bool {
	if (fs.FirstSeq > 1 && mb.FirstSeq > 1) || mb.FirstSeq > 1 {
		return fs.Msgs == mb.Msgs && fs.FirstSeq == mb.FirstSeq && fs.LastSeq == mb.LastSeq && fs.Bytes == mb.Bytes
	}
	return fs.Msgs == mb.Msgs && fs.LastSeq == mb.LastSeq && fs.Bytes == mb.Bytes
}

// recoverFullState loads index.db and checks it against the last block. Any
// doubt (missing file, bad checksum, newer blocks, mismatched last record)
// returns an error and the caller rebuilds from the blocks.
func (fs *fileStore) recoverFullState() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	if err := fs.recoverPartialPurge(); err != nil {
		return err
	}
	fn := filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile)
	buf, err := vfs.ReadFile(fs.fsys, fn)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			fs.warn("Could not read stream state file: %v", err)
		}
		return err
	}
	corrupt := func(format string, args ...any) error {
		_ = fs.fsys.Remove(fn)
		fs.warn(format, args...)
		return errCorruptState
	}

	const minLen = 32
	if len(buf) < minLen {
		return corrupt("Stream state too short (%d bytes)", len(buf))
	}
	h := buf[len(buf)-highwayhash.Size64:]
	buf = buf[:len(buf)-highwayhash.Size64]
	fs.hasher.Reset()
	fs.hasher.Write(buf)
	var hb [highwayhash.Size64]byte
	if !bytes.Equal(h, fs.hasher.Sum(hb[:0])) {
		return corrupt("Stream state checksum did not match")
	}
	// Encrypted stores seal index.db; the hash is over the sealed bytes. A
	// store restored from a plain snapshot has a plain one and no key yet.
	if fs.prf != nil && fs.aek != nil {
		plain, err := openSealed(fs.aek, buf)
		if err != nil {
			fs.warn("Stream state error reading encryption key: %v", err)
			return err
		}
		buf = plain
	}
	if len(buf) < hdrLen {
		return corrupt("Stream state too short")
	}

	version := buf[1]
	if buf[0] != fullStateMagic || version < fullStateMinVersion || version > fullStateVersion {
		return corrupt("Stream state magic and version mismatch")
	}

	bi := hdrLen
	readU64 := func() uint64 {
		if bi < 0 {
			return 0
		}
		v, n := binary.Uvarint(buf[bi:])
		if n <= 0 {
			bi = -1
			return 0
		}
		bi += n
		return v
	}
	readI64 := func() int64 {
		if bi < 0 {
			return 0
		}
		v, n := binary.Varint(buf[bi:])
		if n <= 0 {
			bi = -1
			return -1
		}
		bi += n
		return v
	}

	var state StreamState
	state.Msgs = readU64()
	state.Bytes = readU64()
	state.FirstSeq = readU64()
	baseTime := readI64()
	state.FirstTime = timeFromNanos(baseTime)
	state.LastSeq = readU64()
	state.LastTime = timeFromNanos(readI64())

	if numSubjects := int(readU64()); numSubjects > 0 {
		fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
		for i := 0; i < numSubjects; i++ {
			lsubj := int(readU64())
			if lsubj <= 0 {
				continue
			}
			if bi < 0 || bi+lsubj > len(buf) {
				return corrupt("Stream state bad subject len (%d)", lsubj)
			}
			subj := buf[bi : bi+lsubj]
			// Upstream once wrote corrupt subjects here; refuse them.
			if !isValidSubject(bytesToString(subj), true) {
				return corrupt("Stream state corrupt subject detected")
			}
			bi += lsubj
			p := psi{total: readU64(), fblk: uint32(readU64())}
			if p.total > 1 || version >= 4 {
				p.lblk = uint32(readU64())
			} else {
				p.lblk = p.fblk
			}
			fs.perSubject.Insert(subj, p)
			fs.subjectBytes += lsubj
		}
	}

	// The state as the blocks themselves describe it.
	var mstate StreamState
	if numBlocks := readU64(); numBlocks > 0 && bi >= 0 {
		fs.blocks = make([]*msgBlock, 0, min(numBlocks, 1<<16))
		for i := 0; i < int(numBlocks); i++ {
			index, nbytes, fseq, fts, lseq, lts, numDeleted := uint32(readU64()), readU64(), readU64(), readI64(), readU64(), readI64(), readU64()
			var ttls, schedules uint64
			if version >= 2 {
				ttls = readU64()
			}
			if version >= 3 {
				schedules = readU64()
			}
			if bi < 0 {
				return corrupt("Stream state block record truncated")
			}
			mb := fs.initMsgBlock(index)
			atomic.StoreUint64(&mb.first.seq, fseq)
			atomic.StoreUint64(&mb.last.seq, lseq)
			mb.msgs, mb.bytes = lseq-fseq+1, nbytes
			mb.first.ts, mb.last.ts = fts+baseTime, lts+baseTime
			mb.ttls, mb.schedules = ttls, schedules
			if numDeleted > 0 {
				dmap, n, err := avl.Decode(buf[bi:])
				if err != nil {
					return corrupt("Stream state error decoding avl dmap: %v", err)
				}
				mb.deleted = *dmap
				if mb.msgs > numDeleted {
					mb.msgs -= numDeleted
				} else {
					mb.msgs = 0
				}
				bi += n
			}
			// Assume gone until the directory listing shows the file.
			mb.closed = true
			// Upstream drops empty blocks here but leaves their files; such
			// a block may hold tombstones for earlier blocks, and its
			// orphaned file later looks like a block newer than the last
			// one, which sends recovery to rebuild from stale records.
			// Every listed block is kept.
			fs.addMsgBlock(mb)
			updateTrackingState(&mstate, mb)
		}
	}

	blkIndex := uint32(readU64())
	var lchk [8]byte
	if bi < 0 || bi+len(lchk) > len(buf) {
		return corrupt("Stream state has no checksum present")
	}
	copy(lchk[:], buf[bi:bi+len(lchk)])

	fs.state = state

	mb := fs.lastBlock
	if mb == nil || mb.index != blkIndex {
		return corrupt("Stream state block does not exist or index mismatch")
	}
	if _, err := fs.fsys.Stat(mb.fileName); err != nil && errors.Is(err, os.ErrNotExist) {
		if ld, _, _ := mb.rebuildState(); ld != nil {
			fs.addLostData(ld)
		}
		fs.warn("Stream state detected prior state, could not locate msg block %d", blkIndex)
		return errPriorState
	}
	if !bytes.Equal(mb.lastChecksum(), lchk[:]) {
		// index.db was not written at the last shutdown.
		fs.warn("Stream state outdated, last block has additional entries, will rebuild")
		return errPriorState
	}

	// Blocks newer than the recorded last one mean index.db is stale.
	dirs, _ := fs.fsys.ReadDir(filepath.Join(fs.fcfg.StoreDir, msgDir))
	for _, fi := range dirs {
		var index uint32
		if !strings.HasSuffix(fi.Name(), blkSuffix) {
			continue
		}
		if n, err := fmt.Sscanf(fi.Name(), blkScan, &index); err == nil && n == 1 {
			if index > blkIndex {
				fs.warn("Stream state outdated, found extra blocks, will rebuild")
				return errPriorState
			} else if mb, ok := fs.blockByIndex[index]; ok {
				mb.closed = false
			}
		}
	}

	var rebuild bool
	for _, mb := range fs.blocks {
		if mb.closed {
			rebuild = true
			if ld, _, _ := mb.rebuildState(); ld != nil {
				fs.addLostData(ld)
			}
			fs.warn("Stream state detected prior state, could not locate msg block %d", mb.index)
		}
	}
	if rebuild {
		return errPriorState
	}

	if !trackingStatesEqual(&fs.state, &mstate) {
		return corrupt("Stream state encountered internal inconsistency on recover")
	}
	return nil
}

// recoverMsgs rebuilds the store from its block files, in index order.
func (fs *fileStore) recoverMsgs() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	if err := fs.recoverPartialPurge(); err != nil {
		return err
	}
	mdir := filepath.Join(fs.fcfg.StoreDir, msgDir)
	dirs, err := fs.fsys.ReadDir(mdir)
	if err != nil {
		return errNotReadable
	}
	indices := make(sort.IntSlice, 0, len(dirs))
	for _, fi := range dirs {
		var index int
		// Sscanf alone would also accept "%d.blk.tmp".
		if !strings.HasSuffix(fi.Name(), blkSuffix) {
			continue
		}
		if n, err := fmt.Sscanf(fi.Name(), blkScan, &index); err == nil && n == 1 {
			indices = append(indices, index)
		}
	}
	indices.Sort()

	for _, index := range indices {
		mb, err := fs.recoverMsgBlock(uint32(index))
		if (errors.Is(err, errBadKeySize) || errors.Is(err, errKeyInvalid)) && mb != nil {
			// Without its key the block cannot be read; upstream drops it
			// too (a replicated stream catches up from a peer).
			mb.mu.Lock()
			derr := mb.dirtyCloseWithRemove(true)
			mb.mu.Unlock()
			if derr != nil {
				return derr
			}
			continue
		}
		if err != nil || mb == nil {
			return err
		}
		mb.mu.Lock()
		// A block with nothing at all (not even a tombstone) is dropped.
		if atomic.LoadUint64(&mb.first.seq) == 0 {
			if err := mb.dirtyCloseWithRemove(true); err != nil {
				mb.mu.Unlock()
				return err
			}
			fs.removeMsgBlockFromList(mb)
			mb.mu.Unlock()
			continue
		}
		// While empty, let the range follow tombstones spread over blocks.
		if fs.state.Msgs == 0 {
			fs.state.FirstSeq, fs.state.LastSeq = 0, 0
			fs.state.FirstTime, fs.state.LastTime = time.Time{}, time.Time{}
		}
		fseq := atomic.LoadUint64(&mb.first.seq)
		if fs.state.FirstSeq == 0 || (fseq < fs.state.FirstSeq && mb.first.ts != 0) {
			fs.state.FirstSeq = fseq
			fs.state.FirstTime = timeFromNanos(mb.first.ts)
		}
		if lseq := atomic.LoadUint64(&mb.last.seq); lseq >= fs.state.LastSeq {
			fs.state.LastSeq = lseq
			fs.state.LastTime = timeFromNanos(mb.last.ts)
		}
		fs.state.Msgs += mb.msgs
		fs.state.Bytes += mb.bytes
		// An empty block lines up with the store's range so far.
		if mb.msgs == 0 {
			atomic.StoreUint64(&mb.first.seq, fs.state.LastSeq+1)
			mb.first.ts = 0
			atomic.StoreUint64(&mb.last.seq, fs.state.LastSeq)
			mb.last.ts = fs.state.LastTime.UnixNano()
			if fs.state.LastTime.IsZero() {
				mb.last.ts = 0
			}
		}
		mb.mu.Unlock()
	}

	if len(fs.blocks) > 0 {
		fs.lastBlock = fs.blocks[len(fs.blocks)-1]
	} else if _, err = fs.newMsgBlockForWrite(); err != nil {
		return err
	}

	// After lost data, blocks left empty (other than the last) are dropped.
	if fs.lost != nil {
		var emptyBlks []*msgBlock
		for _, mb := range fs.blocks {
			if mb.msgs == 0 && mb.rawBytes == 0 && mb != fs.lastBlock {
				emptyBlks = append(emptyBlks, mb)
			}
		}
		for _, mb := range emptyBlks {
			mb.mu.Lock()
			err = fs.forceRemoveMsgBlock(mb)
			mb.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}

	// Key files without a block are orphans.
	if kms, err := vfs.Glob(fs.fsys, mdir, keyScanAll); err == nil && len(kms) > 0 {
		valid := make(map[uint32]bool)
		for _, mb := range fs.blocks {
			valid[mb.index] = true
		}
		for _, fn := range kms {
			var index uint32
			if n, err := fmt.Sscanf(filepath.Base(fn), keyScan, &index); err != nil || n != 1 || !valid[index] {
				_ = fs.fsys.Remove(fn)
			}
		}
	}
	return nil
}

// recoverMsgBlock rebuilds one block from its file and adds it. fs.mu held.
func (fs *fileStore) recoverMsgBlock(index uint32) (*msgBlock, error) {
	mb := fs.initMsgBlock(index)
	fi, err := fs.fsys.Stat(mb.fileName)
	if err != nil {
		return nil, err
	}
	mb.rawBytes = uint64(fi.Size())

	// A store upgraded from before 2.10 may have the block's state,
	// deletes included, in its .idx file.
	mb.mu.Lock()
	legacy := mb.recoverFromLegacyIndex()
	mb.mu.Unlock()
	if legacy {
		if mb.msgs > 0 && !mb.noTrack && fs.perSubject != nil {
			if err := fs.populateGlobalPerSubjectInfo(mb); err != nil {
				return nil, err
			}
			mb.tryForceExpireCache()
		}
		if err := mb.closeFDs(); err != nil {
			return nil, err
		}
		fs.addMsgBlock(mb)
		return mb, nil
	}

	mb.mu.Lock()
	ld, tombs, buf, err := mb.rebuildStateReadLocked()
	if !(err == nil && ld == nil && mb.msgs > 0 && !mb.noTrack && fs.perSubject != nil && mb.cacheRebuiltBuf(buf)) {
		recycleMsgBlockBuf(buf)
	}
	mb.mu.Unlock()
	if errors.Is(err, errBadKeySize) || errors.Is(err, errKeyInvalid) {
		return mb, err
	}
	if err != nil && !IsCorrupt(err) {
		return nil, err
	}
	if ld != nil {
		fs.addLostData(ld)
	}
	fs.tombs = append(fs.tombs, tombs...)

	if mb.msgs > 0 && !mb.noTrack && fs.perSubject != nil {
		if err := fs.populateGlobalPerSubjectInfo(mb); err != nil {
			return nil, err
		}
		mb.tryForceExpireCache()
	}
	if err := mb.closeFDs(); err != nil {
		return nil, err
	}
	fs.addMsgBlock(mb)
	return mb, nil
}

// cleanupOldMeta removes pre-2.10 per-block .idx and .fss files.
func (fs *fileStore) cleanupOldMeta() {
	mdir := filepath.Join(fs.fcfg.StoreDir, msgDir)
	dirs, err := fs.fsys.ReadDir(mdir)
	if err != nil {
		return
	}
	for _, fi := range dirs {
		if name := fi.Name(); strings.HasSuffix(name, ".idx") || strings.HasSuffix(name, ".fss") {
			_ = fs.fsys.Remove(filepath.Join(mdir, name))
		}
	}
}

// checkMsgs re-verifies every record of every block, rebuilding the state
// from what verifies, and returns what was lost.
func (fs *fileStore) checkMsgs() (*LostStreamData, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	var firstErr error
	storeErr := func(err error) {
		fs.warn("checkMsgs: %v", err)
		if firstErr == nil {
			firstErr = err
		}
	}
	if err := fs.checkAndFlushLastBlock(); err != nil {
		storeErr(fmt.Errorf("store: flush of last block failed: %w", err))
		return nil, firstErr
	}
	fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
	for _, mb := range fs.blocks {
		ld, _, err := mb.rebuildState()
		if err != nil && !IsCorrupt(err) {
			storeErr(fmt.Errorf("store: rebuildState for block %d failed: %w", mb.index, err))
			continue
		}
		if ld != nil {
			fs.rebuildStateLocked(ld)
		}
		if err = fs.populateGlobalPerSubjectInfo(mb); err != nil {
			storeErr(fmt.Errorf("store: populating per-subject info for block %d failed: %w", mb.index, err))
		}
	}
	return fs.lost, firstErr
}
