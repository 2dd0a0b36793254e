package thw

import (
	"bytes"
	"math"
	"testing"
)

// FuzzHashWheelDecode feeds Decode arbitrary bytes. It must return an error
// and leave the wheel alone, or load a wheel that keeps its invariants and
// encodes to a snapshot that decodes to the same entries and encodes to the
// same bytes again. Seeds are in testdata/fuzz/FuzzHashWheelDecode.
func FuzzHashWheelDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		hw := NewHashWheel()
		_ = hw.Add(42, 42) // must survive a failed Decode
		before := hw.Encode(0)
		stamp, err := hw.Decode(data)
		if err != nil {
			if stamp != 0 || !bytes.Equal(hw.Encode(0), before) {
				t.Fatalf("failed Decode (%v) changed the wheel or returned stamp %d", err, stamp)
			}
			return
		}
		checkWheel(t, hw)

		enc := hw.Encode(stamp)
		again := NewHashWheel()
		stamp2, err := again.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if stamp2 != stamp || again.Count() != hw.Count() || !sameEntries(again, hw) {
			t.Fatalf("round trip changed the wheel")
		}
		if !bytes.Equal(again.Encode(stamp), enc) {
			t.Fatalf("second round trip changed the encoding")
		}

		// The loaded wheel keeps working: expire everything.
		n := hw.Count()
		var seen uint64
		hw.expireTasks(math.MaxInt64, func(uint64, int64) bool { seen++; return true })
		if seen != n || hw.Count() != 0 || hw.GetNextExpiration(math.MaxInt64) != math.MaxInt64 {
			t.Fatalf("expired %d of %d, %d left", seen, n, hw.Count())
		}
	})
}
