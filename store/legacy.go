package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/porttracker/porttracker/store/avl"
	"github.com/porttracker/porttracker/store/vfs"
)

// Stores written before 2.10 kept each block's state in msgs/<n>.idx, and
// recorded interior deletes only there (no tombstones). A store upgraded
// from such a version and opened without index.db takes a block's state
// from its .idx when that file matches the block; the .idx files are
// removed once the store is open (cleanupOldMeta).
//
// <n>.idx layout (sealed with the block's key in an encrypted store):
//
//	magic(1)=22 | version(1): 1, or 2 with an avl delete map
//	msgs uvarint | bytes uvarint
//	first seq uvarint | first ts varint | last seq uvarint | last ts varint
//	delete count uvarint
//	last record's checksum (8)
//	deletes: v1, count uvarints of seq-first; v2, an avl-encoded set
const (
	legacyIndexMagic      = uint8(22)
	legacyIndexVersion    = uint8(1)
	legacyIndexNewVersion = uint8(2)
)

// checkNewHeader checks the magic and version of a .idx file.
func checkNewHeader(hdr []byte) error {
	if len(hdr) < 2 || hdr[0] != legacyIndexMagic ||
		(hdr[1] != legacyIndexVersion && hdr[1] != legacyIndexNewVersion) {
		return errCorruptState
	}
	return nil
}

// readIndexInfo loads the block's counts, range, last checksum (into
// tailChecksum) and delete map from its .idx file. A file that is damaged
// or inconsistent is removed and an error returned. mb.mu held.
func (mb *msgBlock) readIndexInfo() error {
	ifn := filepath.Join(mb.fs.fcfg.StoreDir, msgDir, fmt.Sprintf(indexScan, mb.index))
	buf, err := vfs.ReadFile(mb.fs.fsys, ifn)
	if err != nil {
		return err
	}
	if err := mb.checkAndLoadEncryption(); err != nil {
		return err
	}
	if mb.seed != nil {
		aek, err := genEncryptionKey(mb.fs.fcfg.Cipher, mb.seed)
		if err != nil {
			return err
		}
		if buf, err = aek.Open(buf[:0], mb.nonce, buf, nil); err != nil {
			return err
		}
	}
	bad := func(why string) error {
		_ = mb.fs.fsys.Remove(ifn)
		return errors.New("store: " + why)
	}
	if err := checkNewHeader(buf); err != nil {
		return bad("bad index file")
	}

	bi := hdrLen
	readU := func() uint64 {
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
	readI := func() int64 {
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
	msgs, nbytes := readU(), readU()
	first, firstTs := readU()&^ebit, readI()
	last, lastTs := readU()&^ebit, readI()
	dmapLen := readU()
	if bi < 0 || bi+checksumSize > len(buf) {
		return bad("short index file")
	}
	if msgs != (last-first+1)-dmapLen {
		return bad("accounting inconsistent")
	}
	var deleted avl.SequenceSet
	lchk := buf[bi : bi+checksumSize]
	bi += checksumSize
	if dmapLen > 0 {
		if buf[1] == legacyIndexNewVersion {
			dmap, _, err := avl.Decode(buf[bi:])
			if err != nil {
				return fmt.Errorf("store: could not decode avl dmap: %w", err)
			}
			deleted = *dmap
		} else {
			for range dmapLen {
				seq := readU() &^ ebit
				if seq == 0 {
					break
				}
				deleted.Insert(seq + first)
			}
		}
	}
	mb.msgs, mb.bytes = msgs, nbytes
	atomic.StoreUint64(&mb.first.seq, first)
	mb.first.ts = firstTs
	atomic.StoreUint64(&mb.last.seq, last)
	mb.last.ts = lastTs
	copy(mb.tailChecksum[:], lchk)
	mb.deleted = deleted
	return nil
}

// recoverFromLegacyIndex takes the block's state from its .idx file when
// there is one and it describes the block as it is (same last checksum, or
// both empty). It reports whether it did; otherwise the block is left for
// a rebuild. mb.mu held.
func (mb *msgBlock) recoverFromLegacyIndex() bool {
	if err := mb.readIndexInfo(); err != nil {
		return false
	}
	lchk := mb.lastChecksum()
	if (mb.rawBytes == 0 && mb.msgs == 0) || (lchk != nil && bytes.Equal(lchk, mb.tailChecksum[:])) {
		return true
	}
	// Stale: forget it.
	mb.msgs, mb.bytes = 0, 0
	atomic.StoreUint64(&mb.first.seq, 0)
	atomic.StoreUint64(&mb.last.seq, 0)
	mb.first.ts, mb.last.ts = 0, 0
	mb.deleted = avl.SequenceSet{}
	mb.tailChecksum = [8]byte{}
	return false
}
