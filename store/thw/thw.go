// Package thw implements HashWheel, a timed hash wheel that tracks when each
// message sequence expires, for per-message TTLs.
//
// The wheel has 4096 slots of one second each; an entry lives in the slot of
// its expiry second modulo 4096, so expiring means scanning only the slots
// whose lowest expiry has passed.
//
// # Encoding
//
// The store persists the wheel as msgs/thw.db in nats-server's format, byte
// for byte. Integers in the header are little endian; entries use Go's
// encoding/binary varints.
//
//	offset  size  field
//	0       1     version (1)
//	1       8     entry count (uint64)
//	9       8     high sequence stamp (uint64), returned by Decode
//	17      ...   per entry: expires (signed varint, unix nanoseconds),
//	              then sequence (unsigned varint)
//
// Entries follow slot order. nats-server writes the entries of a slot in map
// order; this package sorts them by sequence so equal wheels encode equally.
// Either order decodes the same.
package thw

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"time"
)

// ErrTaskNotFound is returned when no entry matches a removal or update.
var ErrTaskNotFound = errors.New("thw: task not found")

// ErrInvalidVersion is returned by Decode for an encoding of an unknown version.
var ErrInvalidVersion = errors.New("thw: encoded version not known")

const (
	tickDuration = int64(time.Second) // width of a slot, in nanoseconds
	wheelBits    = 12
	wheelSize    = 1 << wheelBits // number of slots
	wheelMask    = wheelSize - 1

	// Format constants; part of the encoding.
	encodingVersion = 1
	headerLen       = 1 + 8 + 8 // version, entry count, high sequence
)

// slot holds the entries whose expiry second maps to it.
type slot struct {
	entries map[uint64]int64 // sequence to expiry, unix nanoseconds
	// lowest is at or below the earliest expiry in entries. Removals may
	// leave it lower than needed, which only costs an early look.
	lowest int64
}

// HashWheel maps sequences to expiry times. Create one with NewHashWheel.
// A HashWheel is not safe for concurrent use.
type HashWheel struct {
	wheel []*slot // wheelSize slots, nil while empty
	// lowest is at or below the earliest expiry of any entry, and
	// math.MaxInt64 for an empty wheel.
	lowest int64
	count  uint64 // number of entries
}

// HashWheelEntry is a sequence and its expiry, in unix nanoseconds.
type HashWheelEntry struct {
	Seq     uint64
	Expires int64
}

// NewHashWheel returns an empty wheel.
func NewHashWheel() *HashWheel {
	return &HashWheel{
		wheel:  make([]*slot, wheelSize),
		lowest: math.MaxInt64,
	}
}

// getPosition returns the slot for an expiry time.
func (hw *HashWheel) getPosition(expires int64) int64 {
	// The mask also maps negative times (before 1970) into range.
	return (expires / tickDuration) & wheelMask
}

// newSlot returns an empty slot.
func newSlot() *slot {
	return &slot{entries: make(map[uint64]int64), lowest: math.MaxInt64}
}

// Add schedules seq to expire at expires (unix nanoseconds). A sequence
// already in the same slot gets the new expiry; the error is always nil.
func (hw *HashWheel) Add(seq uint64, expires int64) error {
	pos := hw.getPosition(expires)
	s := hw.wheel[pos]
	if s == nil {
		s = newSlot()
		hw.wheel[pos] = s
	}
	if _, ok := s.entries[seq]; !ok {
		hw.count++
	}
	s.entries[seq] = expires
	s.lowest = min(s.lowest, expires)
	hw.lowest = min(hw.lowest, expires)
	return nil
}

// Remove unschedules seq, which must have been added with this expiry.
func (hw *HashWheel) Remove(seq uint64, expires int64) error {
	pos := hw.getPosition(expires)
	s := hw.wheel[pos]
	if s == nil {
		return ErrTaskNotFound
	}
	if _, ok := s.entries[seq]; !ok {
		return ErrTaskNotFound
	}
	delete(s.entries, seq)
	hw.count--
	if len(s.entries) == 0 {
		hw.wheel[pos] = nil
	}
	return nil
}

// Update moves seq from oldExpires to newExpires.
func (hw *HashWheel) Update(seq uint64, oldExpires int64, newExpires int64) error {
	if err := hw.Remove(seq, oldExpires); err != nil {
		return err
	}
	return hw.Add(seq, newExpires)
}

// ExpireTasks calls callback for every entry that has expired by now and
// removes those for which it returns true.
func (hw *HashWheel) ExpireTasks(callback func(seq uint64, expires int64) bool) {
	hw.expireTasks(time.Now().UnixNano(), callback)
}

// expireTasks is ExpireTasks at time ts. The callback may Add and Remove
// entries itself.
func (hw *HashWheel) expireTasks(ts int64, callback func(seq uint64, expires int64) bool) {
	if hw.lowest > ts {
		return
	}
	// Recompute the lowest expiry from the slots scanned; Add lowers
	// hw.lowest too, which covers entries a callback adds to slots already
	// scanned.
	lowest := int64(math.MaxInt64)
	hw.lowest = math.MaxInt64
	for pos, s := range hw.wheel {
		if s == nil {
			continue
		}
		if s.lowest > ts {
			lowest = min(lowest, s.lowest)
			continue
		}
		// Entries a callback adds to this slot while it is ranged over may
		// be skipped; Add lowering s.lowest from here on accounts for them.
		s.lowest = math.MaxInt64
		for seq, expires := range s.entries {
			if expires <= ts && callback(seq, expires) {
				// The callback may have removed it already.
				if _, ok := s.entries[seq]; ok {
					delete(s.entries, seq)
					hw.count--
				}
				continue
			}
			s.lowest = min(s.lowest, expires)
		}
		switch {
		case hw.wheel[pos] != s:
			// A callback emptied the slot with Remove; any slot there now
			// is new and its entries lowered hw.lowest as they were added.
		case len(s.entries) == 0:
			hw.wheel[pos] = nil
		default:
			lowest = min(lowest, s.lowest)
		}
	}
	hw.lowest = min(hw.lowest, lowest)
}

// GetNextExpiration returns the earliest expiry if it is before before, and
// math.MaxInt64 otherwise. The answer may be early after removals, never late.
func (hw *HashWheel) GetNextExpiration(before int64) int64 {
	if hw.lowest < before {
		return hw.lowest
	}
	return math.MaxInt64
}

// Count returns the number of entries.
func (hw *HashWheel) Count() uint64 {
	return hw.count
}

// Encode returns a snapshot of the wheel stamped with highSeq, the highest
// sequence it accounts for, which Decode hands back.
func (hw *HashWheel) Encode(highSeq uint64) []byte {
	b := make([]byte, 0, headerLen+hw.count*2*binary.MaxVarintLen64)
	b = append(b, encodingVersion)
	b = binary.LittleEndian.AppendUint64(b, hw.count)
	b = binary.LittleEndian.AppendUint64(b, highSeq)
	var seqs []uint64
	for _, s := range hw.wheel {
		if s == nil {
			continue
		}
		seqs = seqs[:0]
		for seq := range s.entries {
			seqs = append(seqs, seq)
		}
		slices.Sort(seqs)
		for _, seq := range seqs {
			b = binary.AppendVarint(b, s.entries[seq])
			b = binary.AppendUvarint(b, seq)
		}
	}
	return b
}

// Decode replaces the wheel's contents with a snapshot made by Encode and
// returns its high sequence stamp. Bytes after the last entry are ignored.
// On error the wheel is left as it was.
func (hw *HashWheel) Decode(b []byte) (uint64, error) {
	if len(b) < headerLen {
		return 0, io.ErrShortBuffer
	}
	if b[0] != encodingVersion {
		return 0, ErrInvalidVersion
	}
	count := binary.LittleEndian.Uint64(b[1:])
	stamp := binary.LittleEndian.Uint64(b[9:])
	b = b[headerLen:]
	// Each entry takes at least two bytes; fail fast on absurd counts.
	if count > uint64(len(b))/2 {
		return 0, io.ErrUnexpectedEOF
	}
	fresh := NewHashWheel()
	for range count {
		expires, n := binary.Varint(b)
		if n <= 0 {
			return 0, io.ErrUnexpectedEOF
		}
		seq, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return 0, io.ErrUnexpectedEOF
		}
		fresh.Add(seq, expires)
		b = b[n+m:]
	}
	*hw = *fresh
	return stamp, nil
}
