package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/minio/highwayhash"
)

// Message record framing (format fact, nats-server v2.14.5).
//
// A block file (msgs/<index>.blk) is a plain concatenation of records. Every
// integer is little endian:
//
//	 0               4               12              20      22
//	+---------------+---------------+---------------+-------+------ ... -----+--------------+
//	| rl      (u32) | seq     (u64) | ts      (i64) | slen  | subject        |              |
//	+---------------+---------------+---------------+-------+------ ... -----+              |
//	|  without headers:  msg ...                                             | hash (8)     |
//	|  with headers:     hlen (u32) | hdr ... | msg ...                      |              |
//	+-------------------------------------------------------------------------+--------------+
//
//	rl    the whole record length, header and hash included. Its top bit
//	      (hbit) says a header block is present.
//	seq   the stream sequence. Top bit (ebit): erased or skipped, the record
//	      only reserves the sequence. Next bit (tbit): a tombstone, a marker
//	      that the message with this sequence was removed.
//	ts    nanoseconds since the Unix epoch.
//	hash  highwayhash-64 over bytes 4..20 of the record (seq and ts), the
//	      subject, the header block (without hlen) and the payload, keyed
//	      with sha256("<stream name>-<block index>").
//
// A tombstone or skip record has no subject and no payload: 30 bytes.
const (
	// msgHdrSize is the fixed part of a record before the subject.
	msgHdrSize = 22
	// checksumSize is the size of the trailing record hash.
	checksumSize = 8
	// recordHashSize is the same trailing hash seen from the parser.
	recordHashSize = 8
	// emptyRecordLen is the size of a record with no subject or payload:
	// tombstones and skip markers.
	emptyRecordLen = msgHdrSize + checksumSize

	// hbit in rl marks a record carrying a header block.
	hbit = 1 << 31
	// ebit in seq marks an erased (or skipped) sequence.
	ebit = 1 << 63
	// tbit in seq marks a tombstone.
	tbit = 1 << 62

	// cbit in a cache index slot marks a record whose hash was verified.
	cbit = 1 << 31
	// dbit as a whole cache index slot marks a sequence with no record.
	dbit = 1 << 30

	// rlBadThresh: any record claiming to be longer is corrupt.
	rlBadThresh = 32 * 1024 * 1024
)

// fileStoreMsgSizeRaw is the on-disk size of a record, which is also what a
// message counts for in the stream's byte total.
func fileStoreMsgSizeRaw(slen, hlen, mlen int) uint64 {
	if hlen == 0 {
		// rl(4) seq(8) ts(8) slen(2) subject msg hash(8)
		return uint64(msgHdrSize + slen + mlen + checksumSize)
	}
	// rl(4) seq(8) ts(8) slen(2) subject hlen(4) hdr msg hash(8)
	return uint64(msgHdrSize + slen + 4 + hlen + mlen + checksumSize)
}

// fileStoreMsgSize is fileStoreMsgSizeRaw for a message's parts.
func fileStoreMsgSize(subj string, hdr, msg []byte) uint64 {
	return fileStoreMsgSizeRaw(len(subj), len(hdr), len(msg))
}

// isFileStoreMsgTooLarge reports whether a record length cannot be framed:
// it would collide with hbit or exceed the corruption threshold.
func isFileStoreMsgTooLarge(rl uint64) bool {
	return rl&hbit != 0 || rl > rlBadThresh
}

// fileStoreMsgSizeEstimate is an upper bound for a message of a given
// subject length and payload size, headers included.
func fileStoreMsgSizeEstimate(slen, maxPayload int) uint64 {
	return uint64(emptyRecordLen + slen + 4 + maxPayload)
}

// errBadMsg is a record that fails its sanity checks or its hash.
type errBadMsg struct{ fn, detail string }

func (e errBadMsg) Error() string {
	if e.detail != _EMPTY_ {
		return fmt.Sprintf("store: malformed or corrupt message in %s: %s", filepath.Base(e.fn), e.detail)
	}
	return fmt.Sprintf("store: malformed or corrupt message in %s", filepath.Base(e.fn))
}

// IsCorrupt reports whether err says stored data failed a checksum or a
// sanity check: a corrupt record, index.db or stream state. Callers can treat
// such errors as data loss rather than as I/O failures.
func IsCorrupt(err error) bool {
	var bad errBadMsg
	return errors.As(err, &bad) || errors.Is(err, errCorruptState) || errors.Is(err, ErrCorruptStreamState)
}

// recordHeader is the parsed fixed part of a record.
type recordHeader struct {
	rl         uint32 // record length, hbit cleared
	hasHeaders bool
	seq        uint64 // raw, ebit and tbit still set
	ts         int64
	slen       int
}

// parseRecordHeader decodes and sanity checks the record at buf[0:]; avail
// is how many bytes are available for it. ok is false when the record is
// malformed or runs past the end.
func parseRecordHeader(buf []byte) (rh recordHeader, ok bool) {
	if len(buf) < msgHdrSize {
		return rh, false
	}
	le := binary.LittleEndian
	rl := le.Uint32(buf[0:])
	rh.hasHeaders = rl&hbit != 0
	rh.rl = rl &^ hbit
	rh.seq = le.Uint64(buf[4:])
	rh.ts = int64(le.Uint64(buf[12:]))
	rh.slen = int(le.Uint16(buf[20:]))
	shlen := rh.slen
	if rh.hasHeaders {
		shlen += 4
	}
	dlen := int(rh.rl) - msgHdrSize
	if dlen < 0 || shlen > dlen-recordHashSize || int64(rh.rl) > int64(len(buf)) || rh.rl > rlBadThresh {
		return rh, false
	}
	return rh, true
}

// recordChecksum computes the hash of the record in rec (exactly one record,
// rl bytes long) into out.
func recordChecksum(hh *highwayhash.Digest64, rec []byte, rh recordHeader, out []byte) []byte {
	data := rec[msgHdrSize:rh.rl]
	dlen := len(data)
	hh.Reset()
	hh.Write(rec[4:20])
	hh.Write(data[:rh.slen])
	if rh.hasHeaders {
		hh.Write(data[rh.slen+4 : dlen-recordHashSize])
	} else {
		hh.Write(data[rh.slen : dlen-recordHashSize])
	}
	return hh.Sum(out[:0])
}

// checksumMatches verifies the record's trailing hash.
func checksumMatches(hh *highwayhash.Digest64, rec []byte, rh recordHeader) bool {
	var hb [highwayhash.Size64]byte
	sum := recordChecksum(hh, rec, rh, hb[:0])
	return bytes.Equal(sum, rec[rh.rl-recordHashSize:rh.rl])
}

// recordShapeOK checks what the record hash cannot: the hash runs over the
// subject, header and payload as one byte string, so a flipped bit in the
// subject or header length moves a boundary without changing the hash. The
// server only stores valid subjects, and a NATS header block ends with an
// empty line, so a moved boundary almost always shows here.
func recordShapeOK(rec []byte, rh recordHeader) bool {
	data := rec[msgHdrSize : rh.rl-recordHashSize]
	if rh.slen > 0 && !isValidSubject(bytesToString(data[:rh.slen]), true) {
		return false
	}
	if rh.hasHeaders {
		hl := int(binary.LittleEndian.Uint32(data[rh.slen:]))
		if rh.slen+4+hl > len(data) {
			return false
		}
		hdr := data[rh.slen+4 : rh.slen+4+hl]
		if bytes.HasPrefix(hdr, natsHdrLine) && !bytes.HasSuffix(hdr, natsHdrEnd) {
			return false
		}
	}
	return true
}

var (
	natsHdrLine = []byte("NATS/1.0")
	natsHdrEnd  = []byte("\r\n\r\n")
)

// appendRecord frames one record onto buf and returns it along with the
// record's hash (which is also its last 8 bytes).
func appendRecord(buf []byte, hh *highwayhash.Digest64, rl uint64, seq uint64, subj string, hdr, msg []byte, ts int64) []byte {
	le := binary.LittleEndian
	l := uint32(rl)
	if len(hdr) > 0 {
		l |= hbit
	}
	start := len(buf)
	var fixed [msgHdrSize]byte
	le.PutUint32(fixed[0:], l)
	le.PutUint64(fixed[4:], seq)
	le.PutUint64(fixed[12:], uint64(ts))
	le.PutUint16(fixed[20:], uint16(len(subj)))
	buf = append(buf, fixed[:]...)
	buf = append(buf, subj...)
	if len(hdr) > 0 {
		var hlen [4]byte
		le.PutUint32(hlen[:], uint32(len(hdr)))
		buf = append(buf, hlen[:]...)
		buf = append(buf, hdr...)
	}
	buf = append(buf, msg...)

	hh.Reset()
	hh.Write(buf[start+4 : start+20])
	hh.Write(stringToBytes(subj))
	if len(hdr) > 0 {
		hh.Write(hdr)
	}
	hh.Write(msg)
	var hb [highwayhash.Size64]byte
	return append(buf, hh.Sum(hb[:0])...)
}
