package store

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/porttracker/porttracker/store/avl"
)

// EncodedStreamState encodes the stream state for replication: counts, range,
// failed count and the deleted sequences as run lengths and sequence sets.
func (fs *fileStore) EncodedStreamState(failed uint64) ([]byte, error) {
	fs.mu.RLock()
	defer fs.mu.RUnlock()

	var numDeleted int64
	if fs.state.LastSeq > fs.state.FirstSeq {
		numDeleted = max(int64(fs.state.LastSeq-fs.state.FirstSeq+1)-int64(fs.state.Msgs), 0)
	}
	total := hdrLen + uvarintLen(fs.state.Msgs) + uvarintLen(fs.state.Bytes) +
		uvarintLen(fs.state.FirstSeq) + uvarintLen(fs.state.LastSeq) +
		uvarintLen(failed) + uvarintLen(uint64(numDeleted))

	var dbs DeleteBlocks
	if numDeleted > 0 {
		fs.readLockAllMsgBlocks()
		defer fs.readUnlockAllMsgBlocks()
		var sz int
		dbs, sz = fs.deleteBlocks()
		total += sz
	}

	b := make([]byte, 0, total)
	b = append(b, streamStateMagic, streamStateVersion)
	b = binary.AppendUvarint(b, fs.state.Msgs)
	b = binary.AppendUvarint(b, fs.state.Bytes)
	b = binary.AppendUvarint(b, fs.state.FirstSeq)
	b = binary.AppendUvarint(b, fs.state.LastSeq)
	b = binary.AppendUvarint(b, failed)
	b = binary.AppendUvarint(b, uint64(numDeleted))
	for _, db := range dbs {
		switch db := db.(type) {
		case *DeleteRange:
			b = appendRunLength(b, db.First, db.Num)
		case *avl.SequenceSet:
			b = append(b, db.Encode(nil)...)
		default:
			return nil, errors.New("store: unknown delete block type")
		}
	}
	return b, nil
}

// deleteBlocks describes the interior deletes: gaps between blocks as run
// lengths (merged when no messages lie between) and each block's delete map.
// It also returns their encoded size. Every block read locked.
func (fs *fileStore) deleteBlocks() (dbs DeleteBlocks, sz int) {
	var prevLast uint64
	var prevRange *DeleteRange
	var msgsSinceGap bool
	for _, mb := range fs.blocks {
		fseq := atomic.LoadUint64(&mb.first.seq)
		if prevLast > 0 && prevLast+1 != fseq {
			gapSize := fseq - prevLast - 1
			if prevRange != nil && !msgsSinceGap {
				sz -= runLengthEncodeLen(prevRange.First, prevRange.Num)
				prevRange.Num += gapSize
				sz += runLengthEncodeLen(prevRange.First, prevRange.Num)
			} else {
				prevRange = &DeleteRange{First: prevLast + 1, Num: gapSize}
				sz += runLengthEncodeLen(prevRange.First, prevRange.Num)
				msgsSinceGap = false
				dbs = append(dbs, prevRange)
			}
		}
		if mb.deleted.Size() > 0 {
			dbs = append(dbs, &mb.deleted)
			sz += mb.deleted.EncodeLen()
			prevRange = nil
		}
		prevLast = atomic.LoadUint64(&mb.last.seq)
		msgsSinceGap = msgsSinceGap || mb.msgs > 0
	}
	return dbs, sz
}

// interiorDeletes is a snapshot of every block's delete map, for checking
// whether a tombstone still covers a deleted message. Lookups need no
// locks; it is not safe for concurrent use.
type interiorDeletes struct {
	sets []*avl.SequenceSet // per-block clones, ascending disjoint ranges
	maxs []uint64           // last sequence of each clone's block
	// heads are the removed heads of the same blocks: sequences in
	// [headFrom, headTo) were removed but their records may still be in the
	// file. headFrom 0 with headTo set means the start is unknown.
	headFrom []uint64
	headTo   []uint64
	last     int // clone that answered the previous lookup
}

// Exists reports whether seq was deleted from a live block while its record
// may still be there: an interior delete, or a removal from a block's head
// (upstream's view only has the interior deletes, so compaction dropped
// tombstones for head removals whose records were still on disk).
func (v *interiorDeletes) Exists(seq uint64) bool {
	if v == nil {
		return false
	}
	i := v.last
	if !(i < len(v.maxs) && seq <= v.maxs[i] && (i == 0 || v.maxs[i-1] < seq)) {
		i, _ = slices.BinarySearch(v.maxs, seq)
		if i == len(v.sets) {
			return false
		}
		v.last = i
	}
	if i < len(v.headTo) && seq < v.headTo[i] && seq >= v.headFrom[i] {
		return true
	}
	return v.sets[i].Exists(seq)
}

// deleteMap snapshots the delete maps and removed heads of the given
// blocks. No locks held.
func deleteMap(blks []*msgBlock) *interiorDeletes {
	v := interiorDeletes{
		sets: make([]*avl.SequenceSet, 0, len(blks)),
		maxs: make([]uint64, 0, len(blks)),
	}
	for _, mb := range blks {
		mb.mu.RLock()
		first := atomic.LoadUint64(&mb.first.seq)
		var hfrom, hto uint64
		if !mb.physKnown || (mb.physFirst != 0 && mb.physFirst < first) {
			hfrom, hto = mb.physFirst, first
		}
		if !mb.closed && (mb.deleted.Size() > 0 || hto > 0) {
			v.sets = append(v.sets, mb.deleted.Clone())
			v.maxs = append(v.maxs, atomic.LoadUint64(&mb.last.seq))
			v.headFrom = append(v.headFrom, hfrom)
			v.headTo = append(v.headTo, hto)
		}
		mb.mu.RUnlock()
	}
	return &v
}

// SyncDeleted applies another replica's deleted sequences (dbs) within our
// range, skipping delete blocks we already have exactly.
func (fs *fileStore) SyncDeleted(dbs DeleteBlocks) error {
	if fs.isClosed() {
		return ErrStoreClosed
	}
	if len(dbs) == 0 {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.writeErr; err != nil {
		return err
	}
	lseq := fs.state.LastSeq
	fs.readLockAllMsgBlocks()
	mdbs, _ := fs.deleteBlocks()
	// Our delete maps are only safe under the block locks; copy them.
	for i, db := range mdbs {
		if ss, ok := db.(*avl.SequenceSet); ok {
			mdbs[i] = ss.Clone()
		}
	}
	fs.readUnlockAllMsgBlocks()

	for _, db := range dbs {
		first, last, _ := db.State()
		if first > lseq {
			break
		}
		var prune bool
		if prune, mdbs = pruneDeleteBlock(db, mdbs); prune {
			continue
		}
		var err error
		if _, ok := db.(*DeleteRange); ok {
			err = fs.removeMsgsInRange(first, last, true)
		} else {
			db.Range(func(dseq uint64) bool {
				_, err = fs.removeMsg(dseq, false, true, false)
				if err == ErrStoreEOF || err == ErrStoreMsgNotFound {
					err = nil
				}
				return err == nil
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pruneDeleteBlock reports whether blocks (ordered) holds a delete block equal
// to db, skipping those that end before it; it returns what is left to
// compare against.
func pruneDeleteBlock(db DeleteBlock, blocks DeleteBlocks) (bool, DeleteBlocks) {
	if len(blocks) == 0 {
		return false, blocks
	}
	aFirst, aLast, aNum := db.State()
	bFirst, bLast, bNum := blocks[0].State()
	for bLast < aFirst {
		blocks = blocks[1:]
		if len(blocks) == 0 {
			return false, blocks
		}
		bFirst, bLast, bNum = blocks[0].State()
	}
	if aFirst == bFirst && aLast == bLast && aNum == bNum {
		// Same state only proves equality for a dense block.
		if aNum == aLast-aFirst+1 || deleteBlockContentsEqual(db, blocks[0]) {
			return true, blocks[1:]
		}
	}
	return false, blocks
}

// deleteBlockContentsEqual compares two sparse delete blocks with the same
// State. Without a sequence set on either side it reports false.
func deleteBlockContentsEqual(a, b DeleteBlock) bool {
	ssa, aIsSet := a.(*avl.SequenceSet)
	ssb, bIsSet := b.(*avl.SequenceSet)
	if aIsSet && bIsSet {
		return ssa.Equal(ssb)
	}
	var ss *avl.SequenceSet
	var other DeleteBlock
	switch {
	case bIsSet:
		ss, other = ssb, a
	case aIsSet:
		ss, other = ssa, b
	default:
		return false
	}
	equal := true
	other.Range(func(seq uint64) bool {
		equal = ss.Exists(seq)
		return equal
	})
	return equal
}
