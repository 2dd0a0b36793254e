package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/avl"
)

// collect returns the sequences a DeleteBlock ranges over, stopping after max.
func collect(db DeleteBlock, max int) []uint64 {
	var seqs []uint64
	db.Range(func(seq uint64) bool {
		seqs = append(seqs, seq)
		return len(seqs) < max
	})
	return seqs
}

func TestStoreDeleteSlice(t *testing.T) {
	ds := DeleteSlice{2}
	if got := collect(ds, 10); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("range: got %v", got)
	}
	first, last, num := ds.State()
	typesEqual(t, first, uint64(2))
	typesEqual(t, last, uint64(2))
	typesEqual(t, num, uint64(1))
}

func TestStoreDeleteRange(t *testing.T) {
	dr := DeleteRange{First: 2, Num: 1}
	if got := collect(&dr, 10); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("range: got %v", got)
	}
	first, last, num := dr.State()
	typesEqual(t, first, uint64(2))
	typesEqual(t, last, uint64(2))
	typesEqual(t, num, uint64(1))
}

func TestDeleteRangeStateAndRange(t *testing.T) {
	for _, tc := range []struct {
		name             string
		dr               DeleteRange
		first, last, num uint64
		seqs             []uint64
	}{
		{"empty", DeleteRange{First: 7, Num: 0}, 7, 7, 0, nil},
		{"several", DeleteRange{First: 10, Num: 4}, 10, 13, 4, []uint64{10, 11, 12, 13}},
		{"zero first", DeleteRange{First: 0, Num: 2}, 0, 1, 2, []uint64{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, last, num := tc.dr.State()
			if first != tc.first || last != tc.last || num != tc.num {
				t.Fatalf("state: got %d %d %d, want %d %d %d", first, last, num, tc.first, tc.last, tc.num)
			}
			if got := collect(&tc.dr, 100); !slices.Equal(got, tc.seqs) {
				t.Fatalf("range: got %v, want %v", got, tc.seqs)
			}
		})
	}
	// Range stops as soon as the callback says so.
	dr := DeleteRange{First: 1, Num: 1000}
	if got := collect(&dr, 3); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("early stop: got %v", got)
	}
}

func TestDeleteSliceStateAndRange(t *testing.T) {
	var empty DeleteSlice
	first, last, num := empty.State()
	if first != 0 || last != 0 || num != 0 {
		t.Fatalf("empty state: %d %d %d", first, last, num)
	}
	if got := collect(empty, 10); len(got) != 0 {
		t.Fatalf("empty range: %v", got)
	}
	ds := DeleteSlice{3, 5, 9, 12}
	first, last, num = ds.State()
	if first != 3 || last != 12 || num != 4 {
		t.Fatalf("state: %d %d %d", first, last, num)
	}
	if got := collect(ds, 2); !slices.Equal(got, []uint64{3, 5}) {
		t.Fatalf("early stop: got %v", got)
	}
}

func TestDeleteBlocksNumDeleted(t *testing.T) {
	var ss avl.SequenceSet
	ss.Insert(40)
	ss.Insert(42)
	dbs := DeleteBlocks{&DeleteRange{First: 10, Num: 5}, DeleteSlice{1, 2, 3}, &ss}
	typesEqual(t, dbs.NumDeleted(), uint64(10))
	typesEqual(t, DeleteBlocks(nil).NumDeleted(), uint64(0))
}

func TestUvarintLen(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		want int
	}{
		{0, 1}, {1, 1}, {127, 1}, {128, 2}, {16383, 2}, {16384, 3},
		{1<<56 - 1, 8}, {1 << 56, 9}, {1<<63 - 1, 9}, {1 << 63, 10}, {math.MaxUint64, 10},
	} {
		typesEqual(t, uvarintLen(tc.v), tc.want)
	}
	// And it agrees with the encoder at every bit length.
	for shift := range 64 {
		for _, v := range []uint64{1<<shift - 1, 1 << shift, 1<<shift + 1} {
			typesEqual(t, uvarintLen(v), len(binary.AppendUvarint(nil, v)))
		}
	}
}

func TestAppendRunLength(t *testing.T) {
	for _, tc := range []struct {
		first, num uint64
		want       []byte
	}{
		{3, 2, []byte{33, 3, 2}},
		{300, 1, []byte{33, 0xac, 0x02, 1}}, // 300 = 0b10_0101100
		{0, 0, []byte{33, 0, 0}},
	} {
		got := appendRunLength(nil, tc.first, tc.num)
		if !bytes.Equal(got, tc.want) {
			t.Fatalf("appendRunLength(%d, %d): got % x, want % x", tc.first, tc.num, got, tc.want)
		}
		typesEqual(t, runLengthEncodeLen(tc.first, tc.num), len(tc.want))
	}
	// It appends to what is there.
	got := appendRunLength([]byte{9}, 1, 1)
	if !bytes.Equal(got, []byte{9, 33, 1, 1}) {
		t.Fatalf("got % x", got)
	}
	typesEqual(t, runLengthEncodeLen(math.MaxUint64, 1<<20), 1+10+3)
}

func TestIsEncodedStreamState(t *testing.T) {
	for _, tc := range []struct {
		name string
		buf  []byte
		want bool
	}{
		{"nil", nil, false},
		{"one byte", []byte{42}, false},
		{"header only", []byte{42, 1}, true},
		{"wrong magic", []byte{22, 1, 0}, false},
		{"wrong version", []byte{42, 2, 0}, false},
		{"full", []byte{42, 1, 0, 0, 0, 0, 0, 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typesEqual(t, IsEncodedStreamState(tc.buf), tc.want)
		})
	}
}

// encodeStreamStateForTest writes a StreamReplicatedState the way the file
// store's EncodedStreamState does, from the format rules.
func encodeStreamStateForTest(t testing.TB, ss *StreamReplicatedState, numDeleted uint64) []byte {
	b := []byte{streamStateMagic, streamStateVersion}
	for _, v := range []uint64{ss.Msgs, ss.Bytes, ss.FirstSeq, ss.LastSeq, ss.Failed, numDeleted} {
		b = binary.AppendUvarint(b, v)
	}
	for _, db := range ss.Deleted {
		switch db := db.(type) {
		case *DeleteRange:
			b = appendRunLength(b, db.First, db.Num)
		case *avl.SequenceSet:
			b = append(b, db.Encode(nil)...)
		default:
			t.Fatalf("unexpected delete block %T", db)
		}
	}
	return b
}

func TestDecodeStreamStateGolden(t *testing.T) {
	// 42 1 | msgs=5 | bytes=300 | first=1 | last=9 | failed=2 | num_deleted=4
	//      | run length 33 first=3 num=2 | run length 33 first=7 num=2
	buf := []byte{42, 1, 5, 0xac, 0x02, 1, 9, 2, 4, 33, 3, 2, 33, 7, 2}
	ss, err := DecodeStreamState(buf)
	typesNoErr(t, err)
	typesEqual(t, ss.Msgs, uint64(5))
	typesEqual(t, ss.Bytes, uint64(300))
	typesEqual(t, ss.FirstSeq, uint64(1))
	typesEqual(t, ss.LastSeq, uint64(9))
	typesEqual(t, ss.Failed, uint64(2))
	want := DeleteBlocks{&DeleteRange{First: 3, Num: 2}, &DeleteRange{First: 7, Num: 2}}
	if !reflect.DeepEqual(ss.Deleted, want) {
		t.Fatalf("deleted: got %+v", ss.Deleted)
	}
	typesEqual(t, ss.Deleted.NumDeleted(), uint64(4))
	// The test encoder writes the same bytes back.
	if got := encodeStreamStateForTest(t, ss, 4); !bytes.Equal(got, buf) {
		t.Fatalf("re-encoded: got % x, want % x", got, buf)
	}
}

func TestDecodeStreamStateNoDeletes(t *testing.T) {
	buf := []byte{42, 1, 3, 30, 1, 3, 0, 0}
	ss, err := DecodeStreamState(buf)
	typesNoErr(t, err)
	want := &StreamReplicatedState{Msgs: 3, Bytes: 30, FirstSeq: 1, LastSeq: 3}
	if !reflect.DeepEqual(ss, want) {
		t.Fatalf("got %+v", ss)
	}
	// With no deletes announced, trailing bytes are ignored, as upstream.
	ss, err = DecodeStreamState(append(slices.Clone(buf), 0xff, 0xff))
	typesNoErr(t, err)
	if !reflect.DeepEqual(ss, want) {
		t.Fatalf("with trailing bytes got %+v", ss)
	}
}

func TestDecodeStreamStateWithSequenceSet(t *testing.T) {
	var dmap avl.SequenceSet
	for _, seq := range []uint64{4, 5, 900, 901, 5000} {
		dmap.Insert(seq)
	}
	in := &StreamReplicatedState{
		Msgs: 10, Bytes: 1000, FirstSeq: 1, LastSeq: 6000, Failed: 0,
		Deleted: DeleteBlocks{&DeleteRange{First: 2, Num: 1}, &dmap, &DeleteRange{First: 5001, Num: 10}},
	}
	buf := encodeStreamStateForTest(t, in, in.Deleted.NumDeleted())
	ss, err := DecodeStreamState(buf)
	typesNoErr(t, err)
	typesEqual(t, len(ss.Deleted), 3)
	got, ok := ss.Deleted[1].(*avl.SequenceSet)
	if !ok {
		t.Fatalf("second block is %T", ss.Deleted[1])
	}
	if g, w := collect(got, 100), collect(&dmap, 100); !slices.Equal(g, w) {
		t.Fatalf("sequence set: got %v, want %v", g, w)
	}
	if !reflect.DeepEqual(ss.Deleted[2], &DeleteRange{First: 5001, Num: 10}) {
		t.Fatalf("third block: %+v", ss.Deleted[2])
	}
	typesEqual(t, ss.Deleted.NumDeleted(), uint64(16))
}

func TestDecodeStreamStateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrBadStreamStateEncoding},
		{"wrong magic", []byte{22, 1, 0, 0, 0, 0, 0, 0}, ErrBadStreamStateEncoding},
		{"wrong version", []byte{42, 2, 0, 0, 0, 0, 0, 0}, ErrBadStreamStateEncoding},
		{"header only", []byte{42, 1}, ErrCorruptStreamState},
		{"truncated counts", []byte{42, 1, 1, 2, 3}, ErrCorruptStreamState},
		{"unterminated varint", []byte{42, 1, 1, 2, 3, 4, 5, 0x80}, ErrCorruptStreamState},
		{"overlong varint", append([]byte{42, 1}, bytes.Repeat([]byte{0xff}, 11)...), ErrCorruptStreamState},
		{"unknown block tag", []byte{42, 1, 1, 1, 1, 3, 0, 1, 99}, ErrCorruptStreamState},
		{"truncated run length", []byte{42, 1, 1, 1, 1, 3, 0, 1, 33, 2}, ErrCorruptStreamState},
		{"run length tag only", []byte{42, 1, 1, 1, 1, 3, 0, 1, 33}, ErrCorruptStreamState},
		{"bad sequence set", []byte{42, 1, 1, 1, 1, 3, 0, 1, 22, 2, 0}, ErrCorruptStreamState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := DecodeStreamState(tc.buf)
			if ss != nil {
				t.Fatalf("expected no state, got %+v", ss)
			}
			typesErrIs(t, err, tc.want)
		})
	}
}

func TestEncodeConsumerStateGoldenNoPending(t *testing.T) {
	state := &ConsumerState{
		Delivered: SequencePair{Consumer: 100, Stream: 200},
		AckFloor:  SequencePair{Consumer: 50, Stream: 150},
	}
	// 22 2 | ackfloor 50, 150 | delivered 100, 200 | 0 pending | 0 redelivered
	want := []byte{22, 2, 50, 0x96, 0x01, 100, 0xc8, 0x01, 0, 0}
	if got := encodeConsumerState(state); !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

func TestEncodeConsumerStateGoldenRedelivered(t *testing.T) {
	state := &ConsumerState{
		Delivered:   SequencePair{Consumer: 20, Stream: 170},
		AckFloor:    SequencePair{Consumer: 10, Stream: 150},
		Redelivered: map[uint64]uint64{160: 3},
	}
	// ... | 0 pending | 1 redelivered | 160-150=10, count 3
	want := []byte{22, 2, 10, 0x96, 0x01, 20, 0xaa, 0x01, 0, 1, 10, 3}
	if got := encodeConsumerState(state); !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

func TestEncodeConsumerStateGoldenPending(t *testing.T) {
	deliveredAt := time.Date(2024, 3, 1, 12, 0, 0, 700_000_000, time.UTC)
	state := &ConsumerState{
		Delivered: SequencePair{Consumer: 12, Stream: 22},
		AckFloor:  SequencePair{Consumer: 10, Stream: 20},
		Pending:   map[uint64]*Pending{22: {Sequence: 12, Timestamp: deliveredAt.UnixNano()}},
	}
	before := time.Now().Round(time.Second).Unix()
	got := encodeConsumerState(state)
	after := time.Now().Round(time.Second).Unix()

	// The base timestamp is now, rounded to the second; read it back to
	// build the expected bytes.
	const baseAt = 2 + 4 + 1 // header, four one-byte seqs, pending count
	if len(got) <= baseAt {
		t.Fatalf("encoding too short: % x", got)
	}
	base, n := binary.Varint(got[baseAt:])
	if n <= 0 || base < before || base > after {
		t.Fatalf("base timestamp %d not within [%d, %d]", base, before, after)
	}
	want := []byte{22, 2, 10, 20, 12, 22, 1}
	want = binary.AppendVarint(want, base)
	want = append(want, 22-20, 12-10)
	// Sub-second precision is dropped: the delta is in whole seconds.
	want = binary.AppendVarint(want, base-deliveredAt.Unix())
	want = append(want, 0) // no redelivered
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}

	decoded, err := decodeConsumerState(got)
	typesNoErr(t, err)
	typesEqual(t, decoded.Pending[22].Timestamp, deliveredAt.Truncate(time.Second).UnixNano())
	typesEqual(t, decoded.Pending[22].Sequence, uint64(12))
}

func TestConsumerStateRoundTrip(t *testing.T) {
	now := time.Now().Truncate(time.Second).UnixNano()
	for _, tc := range []struct {
		name  string
		state ConsumerState
	}{
		{"zero", ConsumerState{}},
		{"floors only", ConsumerState{Delivered: SequencePair{5, 9}, AckFloor: SequencePair{5, 9}}},
		{"large sequences", ConsumerState{
			Delivered: SequencePair{1 << 40, 1<<62 + 3},
			AckFloor:  SequencePair{1<<40 - 10, 1<<62 - 7},
		}},
		{"pending and redelivered", ConsumerState{
			Delivered: SequencePair{10, 110},
			AckFloor:  SequencePair{2, 102},
			Pending: map[uint64]*Pending{
				103: {3, now - int64(time.Hour)},
				107: {7, now},
				110: {10, now + int64(time.Minute)}, // in the future: negative delta
			},
			Redelivered: map[uint64]uint64{103: 4, 107: 2},
		}},
		{"pending below ack floor", ConsumerState{
			Delivered: SequencePair{3, 30},
			AckFloor:  SequencePair{3, 30},
			Pending:   map[uint64]*Pending{25: {1, now}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeConsumerState(encodeConsumerState(&tc.state))
			typesNoErr(t, err)
			if !reflect.DeepEqual(*got, tc.state) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", *got, tc.state)
			}
		})
	}
}

func TestDecodeConsumerStateVersion1(t *testing.T) {
	// Version 1: delivered is stored relative to the ack floor, pending
	// entries have no consumer sequence and timestamps add to the base.
	buf := []byte{22, 1, 5, 10, 3, 4, 1}
	buf = binary.AppendVarint(buf, 1_700_000_000) // base
	buf = append(buf, 2)                          // sseq 10+2
	buf = binary.AppendVarint(buf, -60)           // a minute before the base
	buf = append(buf, 1, 2, 5)                    // redelivered: 10+2 -> 5
	state, err := decodeConsumerState(buf)
	typesNoErr(t, err)
	want := &ConsumerState{
		Delivered:   SequencePair{Consumer: 3 + 5 - 1, Stream: 4 + 10 - 1},
		AckFloor:    SequencePair{Consumer: 5, Stream: 10},
		Pending:     map[uint64]*Pending{12: {Sequence: 0, Timestamp: (1_700_000_000 - 60) * int64(time.Second)}},
		Redelivered: map[uint64]uint64{12: 5},
	}
	if !reflect.DeepEqual(state, want) {
		t.Fatalf("got %+v\nwant %+v", state, want)
	}

	// Floors of 0 or 1 leave delivered as stored.
	state, err = decodeConsumerState([]byte{22, 1, 1, 0, 3, 4, 0, 0})
	typesNoErr(t, err)
	typesEqual(t, state.Delivered, SequencePair{Consumer: 3, Stream: 4})
}

func TestCheckConsumerHeader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		buf     []byte
		version uint8
		err     string
	}{
		{"v1", []byte{22, 1}, 1, ""},
		{"v2", []byte{22, 2, 0}, 2, ""},
		{"short", []byte{22}, 0, "corrupt state file"},
		{"bad magic", []byte{42, 2}, 0, "corrupt state file"},
		{"unsupported", []byte{22, 3}, 0, "unsupported version: 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := checkConsumerHeader(tc.buf)
			typesEqual(t, v, tc.version)
			if tc.err == "" {
				typesNoErr(t, err)
			} else if err == nil || err.Error() != tc.err {
				t.Fatalf("got error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestDecodeConsumerStateErrors(t *testing.T) {
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		buf  []byte
		want string
	}{
		{"empty", nil, "corrupt state file"},
		{"bad magic", []byte{42, 2, 0, 0, 0, 0, 0, 0}, "corrupt state file"},
		{"unsupported version", []byte{22, 9, 0, 0, 0, 0, 0, 0}, "unsupported version: 9"},
		{"truncated sequences", []byte{22, 2, 1, 2, 3}, "corrupt state file"},
		{"missing pending count", []byte{22, 2, 1, 2, 3, 4}, "corrupt state file"},
		{"rolled back ack floor", cat([]byte{22, 2, 0}, uv(1<<63), []byte{0, 0, 0, 0}), "corrupt state file"},
		{"rolled back delivered", cat([]byte{22, 2, 0, 0, 0}, uv(1<<63+5), []byte{0, 0}), "corrupt state file"},
		{"pending without base", []byte{22, 2, 0, 0, 0, 0, 1}, "corrupt state file"},
		{"truncated pending entry", []byte{22, 2, 0, 0, 0, 0, 1, 2, 1, 1}, "corrupt state file"},
		{"pending at sequence zero", []byte{22, 2, 0, 0, 0, 0, 1, 2, 0, 1, 0, 0}, "corrupt state file"},
		{"truncated redelivered", []byte{22, 2, 0, 0, 0, 0, 0, 2, 1, 1, 2}, "corrupt state file"},
		{"garbled redelivered count", []byte{22, 2, 0, 0, 0, 0, 0, 0x80}, "corrupt state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, err := decodeConsumerState(tc.buf)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %+v, %v; want error %q", state, err, tc.want)
			}
			if state != nil {
				t.Fatalf("expected no state with the error, got %+v", state)
			}
		})
	}
}

// Regression: upstream sizes the pending map by the count it reads, so a
// few corrupt bytes announcing 2^36 entries made the process die of memory
// exhaustion (a fatal error, not a recoverable panic).
func TestDecodeConsumerStateHugePendingCountIsCorrupt(t *testing.T) {
	buf := binary.AppendUvarint([]byte{22, 2, 0, 0, 0, 0}, 1<<36)
	buf = append(buf, 2, 1, 1, 0, 0)
	_, err := decodeConsumerState(buf)
	typesErrIs(t, err, errCorruptState)
}

// Regression: upstream loops once per announced redelivered entry even after
// the bytes run out, so a count of 2^62 hung the caller; it also returned the
// partial state without an error.
func TestDecodeConsumerStateHugeRedeliveredCountIsCorrupt(t *testing.T) {
	buf := binary.AppendUvarint([]byte{22, 2, 0, 0, 0, 0, 0}, 1<<62)
	buf = append(buf, 1, 1)
	done := make(chan error, 1)
	go func() {
		_, err := decodeConsumerState(buf)
		done <- err
	}()
	select {
	case err := <-done:
		typesErrIs(t, err, errCorruptState)
	case <-time.After(10 * time.Second):
		t.Fatalf("decodeConsumerState did not return")
	}
}

func TestDecodeConsumerStateMissingRedeliveredCount(t *testing.T) {
	// A state ending before the redelivered count reads as having none, as upstream.
	state, err := decodeConsumerState([]byte{22, 2, 1, 2, 3, 4, 0})
	typesNoErr(t, err)
	want := &ConsumerState{Delivered: SequencePair{3, 4}, AckFloor: SequencePair{1, 2}}
	if !reflect.DeepEqual(state, want) {
		t.Fatalf("got %+v", state)
	}
}

func TestDecodeConsumerStateSkipsEmptyRedelivered(t *testing.T) {
	// Entries with sequence or count zero carry nothing and are dropped.
	state, err := decodeConsumerState([]byte{22, 2, 0, 5, 0, 9, 0, 3, 0, 1, 2, 0, 3, 4})
	typesNoErr(t, err)
	if !reflect.DeepEqual(state.Redelivered, map[uint64]uint64{8: 4}) {
		t.Fatalf("got %v", state.Redelivered)
	}
}

func TestFileStoreConsumerEncodeDecodeRedelivered(t *testing.T) {
	state := &ConsumerState{
		Delivered:   SequencePair{Consumer: 100, Stream: 100},
		AckFloor:    SequencePair{Consumer: 50, Stream: 50},
		Redelivered: map[uint64]uint64{122: 3, 144: 8},
	}
	rstate, err := decodeConsumerState(encodeConsumerState(state))
	typesNoErr(t, err)
	if !reflect.DeepEqual(state, rstate) {
		t.Fatalf("states differ: %+v vs %+v", state, rstate)
	}
}

func TestFileStoreConsumerEncodeDecodePendingBelowStreamAckFloor(t *testing.T) {
	// The stream ack floor is above two of the pending sequences, so their
	// deltas wrap; they must still come back unchanged.
	base := time.Now().Round(time.Second).Add(-10 * time.Second).UnixNano()
	state := &ConsumerState{
		Delivered: SequencePair{Consumer: 1192, Stream: 10185},
		AckFloor:  SequencePair{Consumer: 1189, Stream: 10815},
		Pending: map[uint64]*Pending{
			10782: {1190, base},
			10810: {1191, base + int64(time.Second)},
			10815: {1192, base + int64(2*time.Second)},
		},
	}
	rstate, err := decodeConsumerState(encodeConsumerState(state))
	typesNoErr(t, err)
	if !reflect.DeepEqual(state, rstate) {
		t.Fatalf("states differ: %+v vs %+v", state, rstate)
	}
}

// A redelivered entry with sequence 0 once made the server panic; it must
// decode without an error.
func TestFileStoreBadConsumerState(t *testing.T) {
	bs := []byte("\x16\x02\x01\x01\x03\x02\x01\x98\xf4\x8a\x8a\f\x01\x03\x86\xfa\n\x01\x00\x01")
	cs, err := decodeConsumerState(bs)
	if err != nil || cs == nil {
		t.Fatalf("expected a state and no error, got %v and %+v", err, cs)
	}
	typesEqual(t, len(cs.Pending), 1)
	typesEqual(t, len(cs.Redelivered), 0)
}

// A pending timestamp slightly in the future encodes a negative delta; when
// that delta was exactly -1 second the decoder once failed.
func TestNoRaceEncodeConsumerStateBug(t *testing.T) {
	iterations := 200_000
	if testing.Short() {
		iterations = 20_000
	}
	for range iterations {
		pending := Pending{Sequence: 1, Timestamp: time.Now().Add(time.Second).UnixNano()}
		state := ConsumerState{
			Delivered: SequencePair{Consumer: 1, Stream: 1},
			Pending:   map[uint64]*Pending{1: &pending},
		}
		if _, err := decodeConsumerState(encodeConsumerState(&state)); err != nil {
			t.Fatalf("decode failed: %v", err)
		}
	}
}

// consumerStateSeeds are valid and near-valid encodings for the fuzzer.
func consumerStateSeeds() [][]byte {
	now := time.Now().UnixNano()
	states := []ConsumerState{
		{},
		{Delivered: SequencePair{10, 20}, AckFloor: SequencePair{5, 15}},
		{Delivered: SequencePair{10, 20}, AckFloor: SequencePair{5, 15},
			Pending:     map[uint64]*Pending{16: {6, now}, 18: {8, now - int64(time.Hour)}},
			Redelivered: map[uint64]uint64{16: 2}},
	}
	var seeds [][]byte
	for i := range states {
		seeds = append(seeds, encodeConsumerState(&states[i]))
	}
	return append(seeds,
		[]byte("\x16\x02\x01\x01\x03\x02\x01\x98\xf4\x8a\x8a\f\x01\x03\x86\xfa\n\x01\x00\x01"),
		[]byte{22, 1, 5, 10, 3, 4, 1, 2, 2, 3, 1, 2, 5},
		[]byte{22, 2, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01},
	)
}

func FuzzDecodeConsumerState(f *testing.F) {
	for _, seed := range consumerStateSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		first, err := decodeConsumerState(buf)
		if err != nil {
			if first != nil {
				t.Fatalf("state returned with error %v", err)
			}
			return
		}
		second, err := decodeConsumerState(encodeConsumerState(first))
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v (state %+v)", err, first)
		}
		if second.Delivered != first.Delivered || second.AckFloor != first.AckFloor {
			t.Fatalf("sequences changed: %+v -> %+v", first, second)
		}
		if len(second.Pending) != len(first.Pending) {
			t.Fatalf("pending count changed: %d -> %d", len(first.Pending), len(second.Pending))
		}
		for seq, p := range first.Pending {
			q, ok := second.Pending[seq]
			if !ok || q.Sequence != p.Sequence {
				t.Fatalf("pending %d changed: %+v -> %+v", seq, p, q)
			}
			// Timestamps are kept in whole seconds; one that overflowed
			// while decoding comes back truncated, and is stable after that.
			if want := p.Timestamp / int64(time.Second) * int64(time.Second); q.Timestamp != want {
				t.Fatalf("pending %d timestamp: %d -> %d, want %d", seq, p.Timestamp, q.Timestamp, want)
			}
		}
		if len(second.Redelivered) != len(first.Redelivered) {
			t.Fatalf("redelivered changed: %v -> %v", first.Redelivered, second.Redelivered)
		}
		for seq, n := range first.Redelivered {
			if second.Redelivered[seq] != n {
				t.Fatalf("redelivered %d changed: %d -> %d", seq, n, second.Redelivered[seq])
			}
		}
	})
}

func FuzzDecodeStreamState(f *testing.F) {
	var dmap avl.SequenceSet
	for _, seq := range []uint64{3, 4, 700, 10_000} {
		dmap.Insert(seq)
	}
	full := &StreamReplicatedState{Msgs: 9, Bytes: 999, FirstSeq: 1, LastSeq: 20_000, Failed: 1,
		Deleted: DeleteBlocks{&DeleteRange{First: 2, Num: 1}, &dmap}}
	f.Add(encodeStreamStateForTest(f, full, full.Deleted.NumDeleted()))
	f.Add([]byte{42, 1, 5, 0xac, 0x02, 1, 9, 2, 4, 33, 3, 2, 33, 7, 2})
	f.Add([]byte{42, 1, 3, 30, 1, 3, 0, 0})
	f.Add([]byte{42, 1, 1, 1, 1, 3, 0, 1, 22, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, buf []byte) {
		ss, err := DecodeStreamState(buf)
		if err != nil {
			if ss != nil {
				t.Fatalf("state returned with error %v", err)
			}
			if !errors.Is(err, ErrBadStreamStateEncoding) && !errors.Is(err, ErrCorruptStreamState) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !IsEncodedStreamState(buf) {
			t.Fatalf("decoded a buffer IsEncodedStreamState rejects")
		}
		// Re-encode and decode again: the same state must come back.
		numDeleted := ss.Deleted.NumDeleted()
		if len(ss.Deleted) > 0 && numDeleted == 0 {
			numDeleted = 1 // blocks are only read after a non-zero count
		}
		again, err := DecodeStreamState(encodeStreamStateForTest(t, ss, numDeleted))
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if again.Msgs != ss.Msgs || again.Bytes != ss.Bytes || again.FirstSeq != ss.FirstSeq ||
			again.LastSeq != ss.LastSeq || again.Failed != ss.Failed || len(again.Deleted) != len(ss.Deleted) {
			t.Fatalf("state changed: %+v -> %+v", ss, again)
		}
		for i, db := range ss.Deleted {
			f1, l1, n1 := db.State()
			f2, l2, n2 := again.Deleted[i].State()
			if f1 != f2 || l1 != l2 || n1 != n2 || reflect.TypeOf(db) != reflect.TypeOf(again.Deleted[i]) {
				t.Fatalf("block %d changed: %T(%d %d %d) -> %T(%d %d %d)", i, db, f1, l1, n1, again.Deleted[i], f2, l2, n2)
			}
			if _, isSet := db.(*avl.SequenceSet); isSet && !slices.Equal(collect(db, 1<<16), collect(again.Deleted[i], 1<<16)) {
				t.Fatalf("block %d sequences changed", i)
			}
		}
	})
}

func TestDecodersRejectOrAcceptEveryTruncation(t *testing.T) {
	// Every prefix of a valid encoding is decoded or rejected, never both,
	// and never with a panic.
	var dmap avl.SequenceSet
	dmap.Insert(77)
	ss := &StreamReplicatedState{Msgs: 1, LastSeq: 80, Deleted: DeleteBlocks{&DeleteRange{First: 1, Num: 70}, &dmap}}
	streamBuf := encodeStreamStateForTest(t, ss, 71)
	accepted := 0
	for i := range len(streamBuf) + 1 {
		st, err := DecodeStreamState(streamBuf[:i])
		if (st == nil) == (err == nil) {
			t.Fatalf("prefix %d: state %v with error %v", i, st, err)
		}
		if err == nil {
			accepted++
		}
	}
	// Only the prefixes ending exactly after a block decode (three of them:
	// after the counts, after the run length, after the set).
	typesEqual(t, accepted, 3)

	consumerBuf := consumerStateSeeds()[2]
	for i := range len(consumerBuf) + 1 {
		st, err := decodeConsumerState(consumerBuf[:i])
		if (st == nil) == (err == nil) {
			t.Fatalf("prefix %d: state %v with error %v", i, st, err)
		}
		// Only the full encoding, or one missing just the redelivered
		// section, decodes.
		if err == nil && i < len(consumerBuf)-3 {
			t.Fatalf("prefix %d of %d decoded: %+v", i, len(consumerBuf), st)
		}
	}
}

func benchConsumerState() *ConsumerState {
	now := time.Now().UnixNano()
	state := &ConsumerState{
		Delivered:   SequencePair{Consumer: 2000, Stream: 12_000},
		AckFloor:    SequencePair{Consumer: 1000, Stream: 11_000},
		Pending:     make(map[uint64]*Pending, 1000),
		Redelivered: make(map[uint64]uint64, 100),
	}
	for i := range uint64(1000) {
		state.Pending[11_001+i] = &Pending{Sequence: 1001 + i, Timestamp: now - int64(i)*int64(time.Second)}
		if i%10 == 0 {
			state.Redelivered[11_001+i] = 2
		}
	}
	return state
}

func BenchmarkEncodeConsumerState(b *testing.B) {
	state := benchConsumerState()
	b.ReportAllocs()
	for b.Loop() {
		if len(encodeConsumerState(state)) == 0 {
			b.Fatal("empty encoding")
		}
	}
}

func BenchmarkDecodeConsumerState(b *testing.B) {
	buf := encodeConsumerState(benchConsumerState())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeConsumerState(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStreamState(b *testing.B) {
	var dmap avl.SequenceSet
	for seq := uint64(1); seq < 100_000; seq += 7 {
		dmap.Insert(seq)
	}
	ss := &StreamReplicatedState{Msgs: 1, LastSeq: 200_000,
		Deleted: DeleteBlocks{&DeleteRange{First: 100_000, Num: 50_000}, &dmap}}
	buf := encodeStreamStateForTest(b, ss, ss.Deleted.NumDeleted())
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeStreamState(buf); err != nil {
			b.Fatal(err)
		}
	}
}
