package store

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"
)

// index.db layout (format fact, nats-server v2.14.5), all integers uvarint
// unless marked varint:
//
//	magic (u8 = 11) | version (u8 = 4)
//	msgs | bytes | first seq | first ts (varint) | last seq | last ts (varint)
//	num subjects, then per subject:
//	    len | subject | total | first block | last block
//	num blocks, then per block:
//	    index | bytes | first seq | first ts - base (varint) |
//	    last seq | last ts - base (varint) | num deleted |
//	    ttls (v2+) | schedules (v3+) | [avl-encoded delete map]
//	last block index | last record hash (8 bytes)
//	highwayhash-64 of everything above (8 bytes), keyed sha256(stream name)
//
// base is the first ts. Version 1 and 3 files omit a subject's last block
// when its total is 1.
const (
	fullStateMagic      = uint8(11)
	fullStateMinVersion = uint8(1)
	fullStateVersion    = uint8(4)
)

// flushStreamStateLoop writes index.db every couple of minutes, jittered so
// that many stores do not write at once.
func (fs *fileStore) flushStreamStateLoop(qch, done chan struct{}) {
	defer close(done)
	const writeThreshold = 2 * time.Minute
	jitter := time.Duration(rand.Int63n(int64(30 * time.Second)))
	t := time.NewTicker(writeThreshold + jitter)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// Best effort: a missing index.db only slows the next start.
			_ = fs.writeFullState()
		case <-qch:
			return
		}
	}
}

// timestampNormalized is UnixNano with the zero time as 0.
func timestampNormalized(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// writeFullState writes index.db unless it would be too costly.
func (fs *fileStore) writeFullState() error {
	return fs._writeFullState(false)
}

// forceWriteFullState writes index.db whatever its size.
func (fs *fileStore) forceWriteFullState() error {
	return fs._writeFullState(true)
}

// _writeFullState encodes the stream state (summary, subject index, blocks
// with their delete maps, and the last block's last record hash) and writes
// it to index.db, then writes thw.db.
func (fs *fileStore) _writeFullState(force bool) error {
	if fs.isClosed() {
		return nil
	}
	// Unforced writes do not queue up behind a running one.
	if fs.writeStateRunning.Add(1) > 1 && !force {
		fs.writeStateRunning.Add(-1)
		return nil
	}
	defer fs.writeStateRunning.Add(-1)

	fs.writeStateMu.Lock()
	defer fs.writeStateMu.Unlock()

	fs.mu.RLock()
	if fs.dirty == 0 {
		fs.mu.RUnlock()
		return nil
	}
	if fs.prf != nil && fs.aek == nil {
		// Making the key writes meta.key, which needs the write lock.
		fs.mu.RUnlock()
		fs.mu.Lock()
		err := fs.setupAEK()
		fs.mu.Unlock()
		if err != nil {
			return err
		}
		fs.mu.RLock()
	}
	numSubjects := fs.numSubjects()
	if !force {
		var numDeleted int
		if fs.state.LastSeq > fs.state.FirstSeq {
			numDeleted = int((fs.state.LastSeq - fs.state.FirstSeq + 1) - fs.state.Msgs)
		}
		if numSubjects > highCardinalityThreshold || numDeleted > highCardinalityThreshold {
			fs.mu.RUnlock()
			return errStateTooBig
		}
	}

	avgDmapLen := fs.avgDmapLen
	if avgDmapLen == 0 && ((fs.state.LastSeq-fs.state.FirstSeq+1)-fs.state.Msgs) > 0 {
		avgDmapLen = 1024
	}
	sz := hdrLen + binary.MaxVarintLen64*6 +
		binary.MaxVarintLen64 + fs.subjectBytes +
		numSubjects*binary.MaxVarintLen64*4 +
		binary.MaxVarintLen64 +
		len(fs.blocks)*(binary.MaxVarintLen64*8+avgDmapLen) +
		binary.MaxVarintLen64 + 8 + 8
	buf := make([]byte, hdrLen, sz)
	buf[0], buf[1] = fullStateMagic, fullStateVersion
	buf = binary.AppendUvarint(buf, fs.state.Msgs)
	buf = binary.AppendUvarint(buf, fs.state.Bytes)
	buf = binary.AppendUvarint(buf, fs.state.FirstSeq)
	buf = binary.AppendVarint(buf, timestampNormalized(fs.state.FirstTime))
	buf = binary.AppendUvarint(buf, fs.state.LastSeq)
	buf = binary.AppendVarint(buf, timestampNormalized(fs.state.LastTime))

	buf = binary.AppendUvarint(buf, uint64(numSubjects))
	if numSubjects > 0 {
		fs.perSubject.Match([]byte(fwcs), func(subj []byte, p *psi) {
			buf = binary.AppendUvarint(buf, uint64(len(subj)))
			buf = append(buf, subj...)
			buf = binary.AppendUvarint(buf, p.total)
			buf = binary.AppendUvarint(buf, uint64(p.fblk))
			buf = binary.AppendUvarint(buf, uint64(p.lblk))
		})
	}

	var lbi uint32
	var lchk [8]byte
	buf = binary.AppendUvarint(buf, uint64(len(fs.blocks)))
	baseTime := timestampNormalized(fs.state.FirstTime)
	var mstate StreamState
	var dmapTotalLen int
	var scratch [8 * 1024]byte
	for _, mb := range fs.blocks {
		// Write lock: ensureLastChecksumLoaded may fill tailChecksum.
		mb.mu.Lock()
		buf = binary.AppendUvarint(buf, uint64(mb.index))
		buf = binary.AppendUvarint(buf, mb.bytes)
		buf = binary.AppendUvarint(buf, atomic.LoadUint64(&mb.first.seq))
		buf = binary.AppendVarint(buf, mb.first.ts-baseTime)
		buf = binary.AppendUvarint(buf, atomic.LoadUint64(&mb.last.seq))
		buf = binary.AppendVarint(buf, mb.last.ts-baseTime)
		numDeleted := mb.deleted.Size()
		buf = binary.AppendUvarint(buf, uint64(numDeleted))
		buf = binary.AppendUvarint(buf, mb.ttls)
		buf = binary.AppendUvarint(buf, mb.schedules)
		if numDeleted > 0 {
			dmap := mb.deleted.Encode(scratch[:0])
			dmapTotalLen += len(dmap)
			buf = append(buf, dmap...)
		}
		if mb == fs.lastBlock {
			lbi = mb.index
			mb.ensureLastChecksumLoaded()
			copy(lchk[:], mb.tailChecksum[:])
		}
		updateTrackingState(&mstate, mb)
		mb.mu.Unlock()
	}
	if dmapTotalLen > 0 && len(fs.blocks) > 0 {
		fs.avgDmapLen = dmapTotalLen / len(fs.blocks)
	}
	buf = binary.AppendUvarint(buf, uint64(lbi))
	buf = append(buf, lchk[:]...)

	if fs.aek != nil {
		sealed, err := sealWithRandomNonce(fs.aek, buf)
		if err != nil {
			fs.mu.RUnlock()
			return err
		}
		buf = sealed
	}

	fn := filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile)
	// Our own hasher: fs.hasher is not ours to use under a read lock.
	key := sha256.Sum256([]byte(fs.cfg.Name))
	hh, _ := highwayhash.NewDigest64(key[:])
	hh.Write(buf)
	buf = hh.Sum(buf)

	priorDirty := fs.dirty
	statesEqual := trackingStatesEqual(&fs.state, &mstate)
	fs.mu.RUnlock()

	if !statesEqual {
		fs.warn("Stream state encountered internal inconsistency on write")
		fs.rebuildState(nil)
		return errCorruptState
	}
	if cap(buf) > sz {
		// The size estimate was short (large delete maps, say).
		fs.debug("WriteFullState reallocated from %d to %d", sz, cap(buf))
	}

	if err := fs.writeFileWithOptionalSync(fn, buf, defaultFilePerms); err != nil {
		return err
	}
	fs.mu.Lock()
	fs.dirty -= priorDirty
	fs.mu.Unlock()

	// Both are written even if one fails.
	ttlErr := fs.writeTTLState()
	schedErr := fs.writeMsgSchedulingState()
	if ttlErr != nil {
		return ttlErr
	}
	return schedErr
}
