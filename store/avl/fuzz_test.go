package avl

import (
	"bytes"
	"testing"
)

// FuzzSeqSetDecode feeds Decode arbitrary bytes. It must return an error or
// a set that keeps every invariant, encodes and decodes back to itself, and
// survives further inserts and deletes. Seeds are in
// testdata/fuzz/FuzzSeqSetDecode: valid encodings of a few sets, truncated
// copies of them, and any crasher found so far.
func FuzzSeqSetDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, n, err := Decode(data)
		if err != nil {
			if ss != nil || n != -1 {
				t.Fatalf("error %v came with (%v, %d)", err, ss, n)
			}
			return
		}
		if n < minLen || n > len(data) {
			t.Fatalf("read %d of %d bytes", n, len(data))
		}
		checkTree(t, ss, true)

		enc := ss.Encode(nil)
		if len(enc) != ss.EncodeLen() {
			t.Fatalf("encoded %d bytes, EncodeLen says %d", len(enc), ss.EncodeLen())
		}
		// Version 2 input differs from its re-encoding at most in heights,
		// which Decode recomputes.
		if data[1] == version {
			if len(enc) != n || !bytes.Equal(enc[:minLen], data[:minLen]) {
				t.Fatalf("re-encoding changed the header or length")
			}
			for i := minLen; i < n; i += nodeLen {
				if !bytes.Equal(enc[i:i+nodeLen-2], data[i:i+nodeLen-2]) {
					t.Fatalf("re-encoding changed the node at offset %d", i)
				}
			}
		}
		back, m, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if m != len(enc) || !back.Equal(ss) || back.Nodes() != ss.Nodes() {
			t.Fatalf("round trip changed the set")
		}
		if again := back.Encode(nil); !bytes.Equal(again, enc) {
			t.Fatalf("second round trip changed the encoding")
		}

		// The decoded set must stay usable: delete everything it holds
		// (bounded, to keep each input fast), then insert around it.
		budget := 4096
		for _, seq := range members(ss) {
			if budget--; budget < 0 {
				break
			}
			if !ss.Delete(seq) || ss.Exists(seq) {
				t.Fatalf("Delete(%d) on a decoded set failed", seq)
			}
		}
		lo, hi := back.MinMax()
		for _, seq := range []uint64{lo, hi, lo - 1, hi + 1, 0, 1 << 63} {
			back.Insert(seq)
			if !back.Exists(seq) {
				t.Fatalf("Insert(%d) on a decoded set did not stick", seq)
			}
		}
		checkTree(t, back, true)
	})
}
