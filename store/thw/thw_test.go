package thw

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"slices"
	"testing"
	"time"
)

func TestHashWheelBasics(t *testing.T) {
	hw := NewHashWheel()
	seq, expires := uint64(1), time.Now().Add(5*time.Second).UnixNano()

	require_NoError(t, hw.Add(seq, expires))
	require_Equal(t, hw.Count(), 1)
	checkWheel(t, hw)

	// Unknown sequence, or the right one with the wrong expiry.
	require_Error(t, hw.Remove(999, expires), ErrTaskNotFound)
	require_Error(t, hw.Remove(seq, expires+int64(time.Minute)), ErrTaskNotFound)
	require_Equal(t, hw.Count(), 1)

	require_NoError(t, hw.Remove(seq, expires))
	require_Equal(t, hw.Count(), 0)
	require_True(t, hw.wheel[hw.getPosition(expires)] == nil)

	require_Error(t, hw.Remove(seq, expires), ErrTaskNotFound)
	require_Equal(t, hw.Count(), 0)
}

func TestHashWheelUpdate(t *testing.T) {
	hw := NewHashWheel()
	now := time.Now()
	oldExpires := now.Add(5 * time.Second).UnixNano()
	newExpires := now.Add(10 * time.Second).UnixNano()

	require_NoError(t, hw.Add(1, oldExpires))
	require_NoError(t, hw.Update(1, oldExpires, newExpires))
	require_Equal(t, hw.Count(), 1)
	checkWheel(t, hw)

	// Gone from the old slot, present in the new one.
	require_Error(t, hw.Remove(1, oldExpires), ErrTaskNotFound)
	require_Equal(t, hw.Count(), 1)
	require_NoError(t, hw.Remove(1, newExpires))
	require_Equal(t, hw.Count(), 0)

	// Updating what is not there fails and adds nothing.
	require_Error(t, hw.Update(1, oldExpires, newExpires), ErrTaskNotFound)
	require_Equal(t, hw.Count(), 0)
}

func TestHashWheelExpiration(t *testing.T) {
	hw := NewHashWheel()
	now := time.Now()
	seqs := map[uint64]int64{
		1: now.Add(-time.Second).UnixNano(), // already expired
		2: now.Add(time.Second).UnixNano(),
		3: now.Add(10 * time.Second).UnixNano(),
		4: now.Add(time.Minute).UnixNano(),
	}
	for seq, expires := range seqs {
		require_NoError(t, hw.Add(seq, expires))
	}
	require_Equal(t, hw.Count(), uint64(len(seqs)))

	expired := make(map[uint64]int64)
	hw.ExpireTasks(func(seq uint64, expires int64) bool {
		expired[seq] = expires
		return true
	})
	require_Equal(t, len(expired), 1)
	require_Equal(t, expired[1], seqs[1])
	require_Equal(t, hw.Count(), 3)
	checkWheel(t, hw)
	// The next expiry is now sequence 2's.
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), seqs[2])
}

func TestHashWheelManualExpiration(t *testing.T) {
	hw := NewHashWheel()
	now := time.Now().UnixNano()
	for seq := uint64(1); seq <= 4; seq++ {
		require_NoError(t, hw.Add(seq, now))
	}

	// A callback that keeps everything sees everything, every time.
	seen := make(map[uint64]int)
	for round := 1; round <= 2; round++ {
		hw.ExpireTasks(func(seq uint64, expires int64) bool {
			seen[seq]++
			return false
		})
		require_Equal(t, len(seen), 4)
		for seq := uint64(1); seq <= 4; seq++ {
			require_Equal(t, seen[seq], round)
		}
		require_Equal(t, hw.Count(), 4)
	}

	// Removing only the even ones leaves the odd ones to be seen again.
	for round := 0; round <= 1; round++ {
		hw.ExpireTasks(func(seq uint64, expires int64) bool {
			seen[seq]++
			return seq%2 == 0
		})
		require_Equal(t, seen[1], 3+round)
		require_Equal(t, seen[2], 3)
		require_Equal(t, seen[3], 3+round)
		require_Equal(t, seen[4], 3)
		require_Equal(t, hw.Count(), 2)
		checkWheel(t, hw)
	}

	require_NoError(t, hw.Remove(1, now))
	require_NoError(t, hw.Remove(3, now))
	require_Equal(t, hw.Count(), 0)
}

func TestHashWheelExpirationLargerThanWheel(t *testing.T) {
	hw := NewHashWheel()
	require_NoError(t, hw.Add(1, 0))
	require_NoError(t, hw.Add(2, int64(time.Second)))

	// A time a whole turn of the wheel later expires both.
	var expired []uint64
	hw.expireTasks(int64(time.Second)*wheelMask, func(seq uint64, expires int64) bool {
		expired = append(expired, seq)
		return true
	})
	slices.Sort(expired)
	require_True(t, slices.Equal(expired, []uint64{1, 2}))
	require_Equal(t, hw.Count(), 0)
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), math.MaxInt64)
}

func TestHashWheelNextExpiration(t *testing.T) {
	hw := NewHashWheel()
	now := time.Now()
	seqs := map[uint64]int64{
		1: now.Add(5 * time.Second).UnixNano(),
		2: now.Add(3 * time.Second).UnixNano(), // earliest
		3: now.Add(10 * time.Second).UnixNano(),
	}
	for seq, expires := range seqs {
		require_NoError(t, hw.Add(seq, expires))
	}

	require_Equal(t, hw.GetNextExpiration(now.Add(6*time.Second).UnixNano()), seqs[2])
	// Nothing before the earliest, nor exactly at it.
	require_Equal(t, hw.GetNextExpiration(now.Add(time.Second).UnixNano()), math.MaxInt64)
	require_Equal(t, hw.GetNextExpiration(seqs[2]), math.MaxInt64)

	require_Equal(t, NewHashWheel().GetNextExpiration(now.Add(time.Second).UnixNano()), math.MaxInt64)
}

func TestHashWheelStress(t *testing.T) {
	hw := NewHashWheel()
	now := time.Now()
	const num = 100_000
	at := func(sec int) int64 { return now.Add(time.Duration(sec) * time.Second).UnixNano() }

	for seq := range num {
		require_NoError(t, hw.Add(uint64(seq), at(seq)))
	}
	require_Equal(t, hw.Count(), num)
	// Move every even sequence a full num seconds later.
	for seq := 0; seq < num; seq += 2 {
		require_NoError(t, hw.Update(uint64(seq), at(seq), at(seq+num)))
	}
	// Remove every odd one.
	for seq := 1; seq < num; seq += 2 {
		require_NoError(t, hw.Remove(uint64(seq), at(seq)))
	}
	require_Equal(t, hw.Count(), num/2)
	checkWheel(t, hw)

	// Exactly the even ones remain, at their new times.
	for seq := 0; seq < num; seq += 2 {
		require_NoError(t, hw.Remove(uint64(seq), at(seq+num)))
	}
	require_Equal(t, hw.Count(), 0)
	for _, s := range hw.wheel {
		require_True(t, s == nil)
	}
}

func TestHashWheelEncodeDecode(t *testing.T) {
	hw := NewHashWheel()
	now := time.Now()
	for seq := range 100_000 {
		require_NoError(t, hw.Add(uint64(seq), now.Add(time.Duration(seq)*time.Second).UnixNano()))
	}

	b := hw.Encode(12345)
	require_True(t, len(b) > headerLen)

	nhw := NewHashWheel()
	stamp, err := nhw.Decode(b)
	require_NoError(t, err)
	require_Equal(t, stamp, 12345)
	require_Equal(t, nhw.Count(), hw.Count())
	require_Equal(t, nhw.GetNextExpiration(math.MaxInt64), hw.GetNextExpiration(math.MaxInt64))
	checkWheel(t, nhw)

	for pos, s := range hw.wheel {
		ns := nhw.wheel[pos]
		require_Equal(t, ns.lowest, s.lowest)
		require_Equal(t, len(ns.entries), len(s.entries))
		for seq, expires := range s.entries {
			got, ok := ns.entries[seq]
			require_True(t, ok)
			require_Equal(t, got, expires)
		}
	}
}

func TestHashWheelDecodeRejectsMalformed(t *testing.T) {
	header := func(count uint64) []byte {
		b := []byte{1}
		b = binary.LittleEndian.AppendUint64(b, count)
		return binary.LittleEndian.AppendUint64(b, 0)
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		err  error
	}{
		{"Empty", nil, io.ErrShortBuffer},
		{"ShortHeader", make([]byte, headerLen-1), io.ErrShortBuffer},
		{"BadVersion", append([]byte{2}, header(0)[1:]...), ErrInvalidVersion},
		{"VersionZero", append([]byte{0}, header(0)[1:]...), ErrInvalidVersion},
		// One entry claimed, none there.
		{"TruncatedAtVarints", header(1), io.ErrUnexpectedEOF},
		// The expiry is there, the sequence is not.
		{"TruncatedSeq", append(header(1), binary.AppendVarint(nil, 12345)...), io.ErrUnexpectedEOF},
		// Two bytes present, but the expiry varint never ends.
		{"TruncatedExpiryVarint", append(header(1), 0x80, 0x80), io.ErrUnexpectedEOF},
		{"ExpiryVarintOverflow", append(header(1), bytes.Repeat([]byte{0xff}, 11)...), io.ErrUnexpectedEOF},
		{"SeqVarintOverflow", append(append(header(1), 2), bytes.Repeat([]byte{0xff}, 11)...), io.ErrUnexpectedEOF},
		{"HugeCount", append(header(math.MaxUint64), 2, 2), io.ErrUnexpectedEOF},
		{"SecondEntryMissing", append(header(2), 2, 2), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hw := NewHashWheel()
			_, err := hw.Decode(tc.buf)
			require_Error(t, err, tc.err)
		})
	}
}

// The tests below are this port's own.

func TestHashWheelGetPosition(t *testing.T) {
	hw := NewHashWheel()
	sec := int64(time.Second)
	for _, tc := range []struct {
		name    string
		expires int64
		want    int64
	}{
		{"Zero", 0, 0},
		{"JustUnderASecond", sec - 1, 0},
		{"OneSecond", sec, 1},
		{"LastSlot", 4095 * sec, 4095},
		{"WrapsAround", 4096 * sec, 0},
		{"WrapsPlusThree", 4099*sec + 5, 3},
		// Division truncates toward zero, so -1s..0 shares slot 0 with 0..1s.
		{"SmallNegative", -sec + 1, 0},
		{"MinusOneSecond", -sec, 4095},
		{"MinusThreeSeconds", -3 * sec, 4093},
		{"MaxInt64", math.MaxInt64, (math.MaxInt64 / sec) & 4095},
		{"MinInt64", math.MinInt64, (math.MinInt64 / sec) & 4095},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hw.getPosition(tc.expires)
			require_Equal(t, got, tc.want)
			require_True(t, got >= 0 && got < wheelSize)
		})
	}
}

func TestHashWheelAddSameSeq(t *testing.T) {
	hw := NewHashWheel()
	base := int64(100 * time.Second)

	// Same slot: the expiry is replaced, the count does not grow.
	require_NoError(t, hw.Add(7, base+1))
	require_NoError(t, hw.Add(7, base+2))
	require_Equal(t, hw.Count(), 1)
	require_Equal(t, hw.wheel[hw.getPosition(base)].entries[7], base+2)

	// Another slot: a second, independent entry.
	require_NoError(t, hw.Add(7, base+int64(time.Second)))
	require_Equal(t, hw.Count(), 2)
	checkWheel(t, hw)
	require_NoError(t, hw.Remove(7, base+2))
	require_NoError(t, hw.Remove(7, base+int64(time.Second)))
	require_Equal(t, hw.Count(), 0)
}

func TestHashWheelExpireKeepsLowestAccurate(t *testing.T) {
	hw := NewHashWheel()
	sec := int64(time.Second)
	// Two entries in one slot, a whole wheel turn apart, plus one elsewhere.
	require_NoError(t, hw.Add(1, 10*sec))
	require_NoError(t, hw.Add(2, (10+wheelSize)*sec))
	require_NoError(t, hw.Add(3, 20*sec))

	hw.expireTasks(15*sec, func(uint64, int64) bool { return true })
	require_Equal(t, hw.Count(), 2)
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), 20*sec)
	require_Equal(t, hw.wheel[10].lowest, (10+wheelSize)*sec)
	checkWheel(t, hw)

	// Nothing is due before the lowest: the callback is not called.
	hw.expireTasks(19*sec, func(uint64, int64) bool { t.Fatalf("nothing is due"); return true })

	hw.expireTasks(math.MaxInt64, func(uint64, int64) bool { return true })
	require_Equal(t, hw.Count(), 0)
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), math.MaxInt64)
}

func TestHashWheelExpireCallbackReentrant(t *testing.T) {
	hw := NewHashWheel()
	sec := int64(time.Second)
	require_NoError(t, hw.Add(1, 5*sec))
	require_NoError(t, hw.Add(2, 5*sec))
	require_NoError(t, hw.Add(3, 9*sec))
	require_NoError(t, hw.Add(4, 30*sec))

	hw.expireTasks(10*sec, func(seq uint64, expires int64) bool {
		switch seq {
		case 1, 2:
			// Remove itself, then reschedule into a slot already scanned
			// and into this very slot a wheel turn later.
			require_NoError(t, hw.Remove(seq, expires))
			require_NoError(t, hw.Add(seq+100, 2*sec))
			require_NoError(t, hw.Add(seq+200, (5+wheelSize)*sec))
			return true
		case 3:
			// Empty this slot through Remove, refill it with a new slot,
			// and drop an entry of a slot not scanned yet.
			require_NoError(t, hw.Remove(3, expires))
			require_NoError(t, hw.Add(303, (9+wheelSize)*sec))
			require_NoError(t, hw.Remove(4, 30*sec))
			return true
		}
		return false
	})
	checkWheel(t, hw)
	require_Equal(t, hw.Count(), 5) // 101, 102, 201, 202, 303
	require_Equal(t, hw.wheel[9].entries[303], (9+wheelSize)*sec)
	// The entries added to slot 2 during the scan are due now and must not
	// be hidden behind a stale lowest.
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), 2*sec)
	var due []uint64
	hw.expireTasks(3*sec, func(seq uint64, _ int64) bool {
		due = append(due, seq)
		return true
	})
	slices.Sort(due)
	require_True(t, slices.Equal(due, []uint64{101, 102}))
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), (5+wheelSize)*sec)
}

// Regression: nats-server's Decode replaces the slots but keeps the old
// count, so decoding into a wheel that held two entries reports four.
func TestHashWheelDecodeResetsCount(t *testing.T) {
	hw := NewHashWheel()
	require_NoError(t, hw.Add(1, int64(5*time.Second)))
	require_NoError(t, hw.Add(2, int64(7*time.Second)))
	snap := hw.Encode(9)

	require_NoError(t, hw.Add(3, int64(8*time.Second)))
	stamp, err := hw.Decode(snap)
	require_NoError(t, err)
	require_Equal(t, stamp, 9)
	require_Equal(t, hw.Count(), 2)
	checkWheel(t, hw)
}

func TestHashWheelDecodeErrorKeepsWheel(t *testing.T) {
	hw := NewHashWheel()
	require_NoError(t, hw.Add(1, int64(5*time.Second)))
	require_NoError(t, hw.Add(2, int64(7*time.Second)))
	before := hw.Encode(1)

	good := hw.Encode(1)
	for _, bad := range [][]byte{good[:headerLen-1], append([]byte{9}, good[1:]...), good[:len(good)-1]} {
		_, err := hw.Decode(bad)
		require_True(t, err != nil)
		require_True(t, bytes.Equal(hw.Encode(1), before))
		checkWheel(t, hw)
	}
}

func TestHashWheelEncodeLayout(t *testing.T) {
	hw := NewHashWheel()
	sec := int64(time.Second)
	// Slot 3 holds two sequences, written in ascending order; slot 0 one
	// with a negative expiry that needs zig-zag encoding.
	require_NoError(t, hw.Add(300, 3*sec))
	require_NoError(t, hw.Add(5, 3*sec+1))
	require_NoError(t, hw.Add(1, -1))

	got := hw.Encode(0x0102030405060708)
	want := []byte{1}
	want = binary.LittleEndian.AppendUint64(want, 3)
	want = binary.LittleEndian.AppendUint64(want, 0x0102030405060708)
	want = append(want, 0x01, 0x01) // slot 0: expires -1 (zig-zag 1), seq 1
	want = binary.AppendVarint(want, 3*sec+1)
	want = append(want, 0x05)
	want = binary.AppendVarint(want, 3*sec)
	want = append(want, 0xac, 0x02) // 300
	require_True(t, bytes.Equal(got, want))

	// Encoding is deterministic however the entries were added.
	other := NewHashWheel()
	require_NoError(t, other.Add(1, -1))
	require_NoError(t, other.Add(5, 3*sec+1))
	require_NoError(t, other.Add(300, 3*sec))
	require_True(t, bytes.Equal(other.Encode(0x0102030405060708), got))

	// An empty wheel is just the header.
	require_True(t, bytes.Equal(NewHashWheel().Encode(7), []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0}))
}

// upstreamWheel rebuilds the wheel whose encoding nats-server v2.14.5 wrote
// to testdata/thw-four-slots.bin (one entry per slot, so its order is fixed).
func upstreamWheel(t *testing.T) *HashWheel {
	hw := NewHashWheel()
	require_NoError(t, hw.Add(1, 1_700_000_000_000_000_000))
	require_NoError(t, hw.Add(2, 1_700_000_005_000_000_000))
	require_NoError(t, hw.Add(300, 5))
	require_NoError(t, hw.Add(1<<40, -3_000_000_000))
	return hw
}

func TestHashWheelEncodeMatchesUpstream(t *testing.T) {
	want := readFixture(t, "thw-four-slots.bin")
	require_True(t, bytes.Equal(upstreamWheel(t).Encode(987654321), want))
}

func TestHashWheelDecodeUpstream(t *testing.T) {
	hw := NewHashWheel()
	stamp, err := hw.Decode(readFixture(t, "thw-four-slots.bin"))
	require_NoError(t, err)
	require_Equal(t, stamp, 987654321)
	require_True(t, sameEntries(hw, upstreamWheel(t)))
	require_Equal(t, hw.Count(), 4)
	require_Equal(t, hw.GetNextExpiration(math.MaxInt64), -3_000_000_000)
	checkWheel(t, hw)
}

func TestHashWheelDecodeIgnoresTrailingBytes(t *testing.T) {
	enc := upstreamWheel(t).Encode(3)
	hw := NewHashWheel()
	stamp, err := hw.Decode(append(enc, 0xff, 0xff, 0xff))
	require_NoError(t, err)
	require_Equal(t, stamp, 3)
	require_True(t, sameEntries(hw, upstreamWheel(t)))
}
