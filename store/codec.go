package store

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"time"

	"github.com/porttracker/porttracker/store/avl"
)

// Format constants shared by the encodings in this file. They are part of
// the on-disk and replication formats and must not change.
const (
	// magic opens file store files and the consumer state (o.dat).
	magic = uint8(22)
	// hdrLen is the size of the magic+version header.
	hdrLen = 2
	// seqsHdrSize bounds the fixed part of an encoded consumer state: the
	// header plus six uvarints.
	seqsHdrSize = 6*binary.MaxVarintLen64 + hdrLen

	// streamStateMagic opens an encoded StreamReplicatedState.
	streamStateMagic = uint8(42)
	// streamStateVersion is the only stream state version there is.
	streamStateVersion = uint8(1)
	// runLengthMagic tags a DeleteRange inside a stream state.
	runLengthMagic = uint8(33)
	// seqSetMagic tags an encoded avl.SequenceSet inside a stream state.
	seqSetMagic = uint8(22)
)

// DeleteBlock is one group of deleted sequences in a stream state: an
// avl.SequenceSet, a DeleteRange (run length) or a legacy DeleteSlice.
type DeleteBlock interface {
	State() (first, last, num uint64)
	Range(f func(uint64) bool)
}

// DeleteBlocks are the deleted sequences of a stream, in order.
type DeleteBlocks []DeleteBlock

// NumDeleted returns how many sequences the blocks hold in total.
func (dbs DeleteBlocks) NumDeleted() (total uint64) {
	for _, db := range dbs {
		_, _, num := db.State()
		total += num
	}
	return total
}

// DeleteRange is Num consecutive deleted sequences starting at First.
type DeleteRange struct {
	First uint64
	Num   uint64
}

// State returns the first and last sequence and the count. An empty range
// reports last == first.
func (dr *DeleteRange) State() (first, last, num uint64) {
	last = dr.First
	if dr.Num > 0 {
		last += dr.Num - 1
	}
	return dr.First, last, dr.Num
}

// Range calls f for each sequence in order until f returns false.
func (dr *DeleteRange) Range(f func(uint64) bool) {
	for seq := dr.First; seq < dr.First+dr.Num; seq++ {
		if !f(seq) {
			return
		}
	}
}

// DeleteSlice is the legacy form: an ascending list of deleted sequences.
type DeleteSlice []uint64

// State returns the first and last sequence and the count.
func (ds DeleteSlice) State() (first, last, num uint64) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	return ds[0], ds[len(ds)-1], uint64(len(ds))
}

// Range calls f for each sequence in order until f returns false.
func (ds DeleteSlice) Range(f func(uint64) bool) {
	for _, seq := range ds {
		if !f(seq) {
			return
		}
	}
}

// StreamReplicatedState is the binary stream snapshot exchanged by replicas.
//
// Encoding (all numbers unsigned varints):
//
//	42 1 | msgs | bytes | first_seq | last_seq | failed | num_deleted | delete blocks...
//
// When num_deleted is not zero, delete blocks follow until the end of the
// buffer, each either an encoded avl.SequenceSet (its first byte is 22) or
// a run length: 33 | first | num.
type StreamReplicatedState struct {
	Msgs     uint64
	Bytes    uint64
	FirstSeq uint64
	LastSeq  uint64
	Failed   uint64
	Deleted  DeleteBlocks
}

// IsEncodedStreamState reports whether buf starts like an encoded stream state.
func IsEncodedStreamState(buf []byte) bool {
	return len(buf) >= hdrLen && buf[0] == streamStateMagic && buf[1] == streamStateVersion
}

// DecodeStreamState parses an encoded StreamReplicatedState. Bytes after the
// counts are ignored when num_deleted is zero, as upstream does.
func DecodeStreamState(buf []byte) (*StreamReplicatedState, error) {
	if !IsEncodedStreamState(buf) {
		return nil, ErrBadStreamStateEncoding
	}
	r := uvarintReader{buf: buf, pos: hdrLen}
	ss := &StreamReplicatedState{
		Msgs:     r.next(),
		Bytes:    r.next(),
		FirstSeq: r.next(),
		LastSeq:  r.next(),
		Failed:   r.next(),
	}
	numDeleted := r.next()
	if r.failed() {
		return nil, ErrCorruptStreamState
	}
	if numDeleted == 0 {
		return ss, nil
	}
	for r.pos < len(buf) {
		switch buf[r.pos] {
		case seqSetMagic:
			dmap, n, err := avl.Decode(buf[r.pos:])
			if err != nil {
				return nil, ErrCorruptStreamState
			}
			r.pos += n
			ss.Deleted = append(ss.Deleted, dmap)
		case runLengthMagic:
			r.pos++
			dr := &DeleteRange{First: r.next(), Num: r.next()}
			if r.failed() {
				return nil, ErrCorruptStreamState
			}
			ss.Deleted = append(ss.Deleted, dr)
		default:
			return nil, ErrCorruptStreamState
		}
	}
	return ss, nil
}

// uvarintReader reads consecutive varints from buf. After the first failure
// pos is -1 and every further read returns 0, so a parse can check once.
type uvarintReader struct {
	buf []byte
	pos int
}

func (r *uvarintReader) next() uint64 {
	if r.pos < 0 || r.pos >= len(r.buf) {
		r.pos = -1
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.pos:])
	if n <= 0 {
		r.pos = -1
		return 0
	}
	r.pos += n
	return v
}

func (r *uvarintReader) nextSigned() int64 {
	if r.pos < 0 || r.pos >= len(r.buf) {
		r.pos = -1
		return 0
	}
	v, n := binary.Varint(r.buf[r.pos:])
	if n <= 0 {
		r.pos = -1
		return 0
	}
	r.pos += n
	return v
}

func (r *uvarintReader) failed() bool { return r.pos < 0 }

// remaining returns how many unread bytes are left.
func (r *uvarintReader) remaining() int {
	if r.pos < 0 {
		return 0
	}
	return len(r.buf) - r.pos
}

// uvarintLen returns how many bytes binary.AppendUvarint writes for v:
// one per started group of seven bits, and one for zero.
func uvarintLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// runLengthEncodeLen returns the size appendRunLength writes for a range.
func runLengthEncodeLen(first, num uint64) int {
	return 1 + uvarintLen(first) + uvarintLen(num)
}

// appendRunLength appends the run-length delete record 33 | first | num.
func appendRunLength(b []byte, first, num uint64) []byte {
	b = append(b, runLengthMagic)
	b = binary.AppendUvarint(b, first)
	return binary.AppendUvarint(b, num)
}

// encodeConsumerState encodes state in version 2 of the consumer state format
// (the o.dat file and the replicated consumer snapshot):
//
//	22 2 | ackfloor.consumer | ackfloor.stream | delivered.consumer | delivered.stream
//	     | num_pending [| base_ts | { sseq-ackfloor.stream | dseq-ackfloor.consumer | base_ts-ts }...]
//	     | num_redelivered | { sseq-ackfloor.stream | count }...
//
// Sequences and counts are uvarints; base_ts and the timestamp deltas are
// signed varints in seconds (base_ts is now, rounded to the second). The
// subtractions wrap, so pending entries below the ack floor still round trip.
// Entries follow map order, so two encodings of one state may differ in order.
func encodeConsumerState(state *ConsumerState) []byte {
	size := seqsHdrSize
	if n := len(state.Pending); n > 0 {
		size += n*3*binary.MaxVarintLen64 + binary.MaxVarintLen64
	}
	if n := len(state.Redelivered); n > 0 {
		size += n*2*binary.MaxVarintLen64 + binary.MaxVarintLen64
	}
	buf := make([]byte, 0, size)
	buf = append(buf, magic, 2)
	buf = binary.AppendUvarint(buf, state.AckFloor.Consumer)
	buf = binary.AppendUvarint(buf, state.AckFloor.Stream)
	buf = binary.AppendUvarint(buf, state.Delivered.Consumer)
	buf = binary.AppendUvarint(buf, state.Delivered.Stream)

	streamFloor, consumerFloor := state.AckFloor.Stream, state.AckFloor.Consumer

	// The pending count is always written, even when zero.
	buf = binary.AppendUvarint(buf, uint64(len(state.Pending)))
	if len(state.Pending) > 0 {
		// Recovery needs no sub-second precision, and deltas from a base
		// near now stay small.
		base := time.Now().Round(time.Second).Unix()
		buf = binary.AppendVarint(buf, base)
		for sseq, p := range state.Pending {
			buf = binary.AppendUvarint(buf, sseq-streamFloor)
			buf = binary.AppendUvarint(buf, p.Sequence-consumerFloor)
			buf = binary.AppendVarint(buf, base-p.Timestamp/int64(time.Second))
		}
	}

	buf = binary.AppendUvarint(buf, uint64(len(state.Redelivered)))
	for sseq, count := range state.Redelivered {
		buf = binary.AppendUvarint(buf, sseq-streamFloor)
		buf = binary.AppendUvarint(buf, count)
	}
	return buf
}

// checkConsumerHeader checks the magic of an encoded consumer state and
// returns its version (1 or 2).
func checkConsumerHeader(hdr []byte) (uint8, error) {
	if len(hdr) < hdrLen || hdr[0] != magic {
		return 0, errCorruptState
	}
	switch version := hdr[1]; version {
	case 1, 2:
		return version, nil
	default:
		return 0, fmt.Errorf("unsupported version: %d", version)
	}
}

// decodeConsumerState parses what encodeConsumerState writes, and version 1,
// where pending entries have no consumer sequence, timestamps are added to
// the base and the delivered sequences were stored relative to the floor.
//
// Unlike upstream, malformed input never panics or hangs: a count larger than
// the bytes left is errCorruptState (upstream sized a map by it, which can
// exhaust memory, and looped that many times), and so is a truncated or
// garbled redelivered section (upstream returned the entries read so far).
func decodeConsumerState(buf []byte) (*ConsumerState, error) {
	version, err := checkConsumerHeader(buf)
	if err != nil {
		return nil, err
	}
	r := uvarintReader{buf: buf, pos: hdrLen}

	state := &ConsumerState{}
	state.AckFloor.Consumer = r.next()
	state.AckFloor.Stream = r.next()
	state.Delivered.Consumer = r.next()
	state.Delivered.Stream = r.next()
	if r.failed() {
		return nil, errCorruptState
	}
	if version == 1 {
		// Version 1 stored delivered as the next sequence to deliver,
		// relative to the ack floor.
		if state.AckFloor.Consumer > 1 {
			state.Delivered.Consumer += state.AckFloor.Consumer - 1
		}
		if state.AckFloor.Stream > 1 {
			state.Delivered.Stream += state.AckFloor.Stream - 1
		}
	}
	// A stream sequence with the top bit set is a wrapped negative value: a
	// state that rolled backwards.
	const highBit = 1 << 63
	if state.AckFloor.Stream&highBit != 0 || state.Delivered.Stream&highBit != 0 {
		return nil, errCorruptState
	}

	numPending := r.next()
	if r.failed() {
		return nil, errCorruptState
	}
	if numPending > 0 {
		base := r.nextSigned()
		// Every entry takes at least one byte per field.
		minEntry := uint64(3)
		if version == 1 {
			minEntry = 2
		}
		if r.failed() || numPending > uint64(r.remaining())/minEntry {
			return nil, errCorruptState
		}
		state.Pending = make(map[uint64]*Pending, numPending)
		for range numPending {
			sseq := r.next()
			var dseq uint64
			if version == 2 {
				dseq = r.next()
			}
			ts := r.nextSigned()
			if r.failed() {
				return nil, errCorruptState
			}
			sseq += state.AckFloor.Stream
			if sseq == 0 {
				return nil, errCorruptState
			}
			if version == 2 {
				dseq += state.AckFloor.Consumer
				ts = (base - ts) * int64(time.Second)
			} else {
				ts = (ts + base) * int64(time.Second)
			}
			state.Pending[sseq] = &Pending{Sequence: dseq, Timestamp: ts}
		}
	}

	// A state that ends before the redelivered count reads as having none,
	// as upstream accepts it; a garbled count is an error.
	if r.remaining() == 0 {
		return state, nil
	}
	numRedelivered := r.next()
	if r.failed() || numRedelivered > uint64(r.remaining())/2 {
		return nil, errCorruptState
	}
	if numRedelivered > 0 {
		state.Redelivered = make(map[uint64]uint64, numRedelivered)
		for range numRedelivered {
			sseq, count := r.next(), r.next()
			if r.failed() {
				return nil, errCorruptState
			}
			// Entries with a zero sequence or count carry nothing; old
			// servers wrote some, so skip them rather than fail.
			if sseq > 0 && count > 0 {
				state.Redelivered[sseq+state.AckFloor.Stream] = count
			}
		}
	}
	return state, nil
}
