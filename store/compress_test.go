package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/minio/highwayhash"
)

// goldenFixture is what the compression, encryption and consumer tests read
// from a fixture's manifest.json (see testdata/fixtures/README.md). Every
// value the tests compare against comes from here, never from constants, so
// the tests also pass on a fixture set generated with another seed.
type goldenFixture struct {
	storeDir string // the fixture's store directory (read-only files)
	stream   StreamConfig

	Created         time.Time `json:"created"`
	FileStoreConfig struct {
		BlockSize   uint64 `json:"block_size"`
		Cipher      string `json:"cipher"`
		Compression string `json:"compression"`
	} `json:"file_store_config"`
	StreamConfig json.RawMessage `json:"stream_config"`
	PRF          string          `json:"prf"`
	PRFKey       string          `json:"prf_key"`
	State        struct {
		Messages uint64   `json:"messages"`
		Bytes    uint64   `json:"bytes"`
		FirstSeq uint64   `json:"first_seq"`
		LastSeq  uint64   `json:"last_seq"`
		Deleted  []uint64 `json:"deleted"`
	} `json:"state"`
	Messages []struct {
		Seq     uint64 `json:"seq"`
		Subject string `json:"subject"`
		HdrB64  string `json:"hdr_b64"`
		MsgB64  string `json:"msg_b64"`
		TS      int64  `json:"ts"`
	} `json:"messages"`
	Consumers []struct {
		Name    string          `json:"name"`
		Created time.Time       `json:"created"`
		Config  json.RawMessage `json:"config"`
		State   ConsumerState   `json:"state"`
	} `json:"consumers"`
}

func loadGoldenFixture(t testing.TB, scenario string) *goldenFixture {
	t.Helper()
	dir := filepath.Join("testdata", "fixtures", scenario)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require_NoError(t, err)
	fx := &goldenFixture{storeDir: filepath.Join(dir, "store")}
	require_NoError(t, json.Unmarshal(raw, fx))
	require_NoError(t, json.Unmarshal(fx.StreamConfig, &fx.stream))
	if fx.stream.Name == _EMPTY_ {
		t.Fatalf("fixture %s: manifest has no stream name", scenario)
	}
	return fx
}

// read returns a file of the fixture's store.
func (fx *goldenFixture) read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fx.storeDir, rel))
	require_NoError(t, err)
	return b
}

// blockIndexes lists the indexes of the fixture's msgs/<n>.blk files, sorted.
func (fx *goldenFixture) blockIndexes(t testing.TB) []uint32 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(fx.storeDir, msgDir))
	require_NoError(t, err)
	var out []uint32
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), blkSuffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 32)
		require_NoError(t, err)
		out = append(out, uint32(n))
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("fixture has no blocks")
	}
	return out
}

// blockRecord is one record of a plain block.
type blockRecord struct {
	seq    uint64 // ebit and tbit cleared
	erased bool
	tomb   bool
	ts     int64
	subj   string
	hdr    []byte
	msg    []byte
}

// parseBlockRecords walks a plain (decrypted, decompressed) block, checking
// every record's framing and its highwayhash keyed for the block.
func parseBlockRecords(t testing.TB, plain []byte, stream string, index uint32) []blockRecord {
	t.Helper()
	key := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", stream, index)))
	hh, err := highwayhash.NewDigest64(key[:])
	require_NoError(t, err)
	var out []blockRecord
	for off := 0; off < len(plain); {
		rh, ok := parseRecordHeader(plain[off:])
		if !ok {
			t.Fatalf("block %d: bad record framing at offset %d", index, off)
		}
		rec := plain[off : off+int(rh.rl)]
		if !checksumMatches(hh, rec, rh) {
			t.Fatalf("block %d: record checksum mismatch at offset %d", index, off)
		}
		r := blockRecord{
			seq:    rh.seq &^ (ebit | tbit),
			erased: rh.seq&ebit != 0,
			tomb:   rh.seq&tbit != 0,
			ts:     rh.ts,
		}
		data := rec[msgHdrSize : len(rec)-recordHashSize]
		r.subj = string(data[:rh.slen])
		data = data[rh.slen:]
		if rh.hasHeaders {
			hl := int(uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24)
			r.hdr, data = data[4:4+hl], data[4+hl:]
		}
		r.msg = data
		out = append(out, r)
		off += int(rh.rl)
	}
	return out
}

// checkRecordsMatchManifest checks that the records of all blocks hold every
// live message of the manifest exactly once, with its subject, headers,
// payload and timestamp, and that any other record is a deleted sequence, a
// tombstone or a skip marker.
func checkRecordsMatchManifest(t testing.TB, fx *goldenFixture, records []blockRecord) {
	t.Helper()
	type want struct {
		subj     string
		hdr, msg []byte
		ts       int64
	}
	live := make(map[uint64]want, len(fx.Messages))
	for _, m := range fx.Messages {
		hdr, err := base64.StdEncoding.DecodeString(m.HdrB64)
		require_NoError(t, err)
		msg, err := base64.StdEncoding.DecodeString(m.MsgB64)
		require_NoError(t, err)
		live[m.Seq] = want{m.Subject, hdr, msg, m.TS}
	}
	seen := make(map[uint64]bool)
	for _, r := range records {
		w, isLive := live[r.seq]
		switch {
		case r.tomb || r.erased:
			if isLive && r.tomb {
				t.Fatalf("tombstone for live seq %d", r.seq)
			}
		case isLive:
			if seen[r.seq] {
				t.Fatalf("seq %d stored twice", r.seq)
			}
			seen[r.seq] = true
			if r.subj != w.subj || !bytes.Equal(r.hdr, w.hdr) || !bytes.Equal(r.msg, w.msg) || r.ts != w.ts {
				t.Fatalf("seq %d: got %q hdr %q msg %q ts %d, want %q hdr %q msg %q ts %d",
					r.seq, r.subj, r.hdr, r.msg, r.ts, w.subj, w.hdr, w.msg, w.ts)
			}
		default:
			if !slices.Contains(fx.State.Deleted, r.seq) && r.seq >= fx.State.FirstSeq {
				t.Fatalf("record for seq %d is neither live nor deleted", r.seq)
			}
		}
	}
	if uint64(len(seen)) != fx.State.Messages || len(seen) != len(live) {
		t.Fatalf("found %d live messages in the blocks, manifest has %d (state %d)", len(seen), len(live), fx.State.Messages)
	}
}

func TestCompressionInfoMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		info CompressionInfo
	}{
		{"s2-small", CompressionInfo{S2Compression, 10}},
		{"s2-two-byte-size", CompressionInfo{S2Compression, 300}},
		{"none-zero", CompressionInfo{NoCompression, 0}},
		{"max-size", CompressionInfo{S2Compression, ^uint64(0)}},
		{"unknown-algorithm-kept", CompressionInfo{StoreCompression(9), 4096}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.info.MarshalMetadata()
			if !bytes.HasPrefix(b, []byte("cmp")) || b[3] != byte(tc.info.Algorithm) {
				t.Fatalf("bad header %x", b)
			}
			// Trailing data must not be read as part of the header.
			withBody := append(slices.Clone(b), 0xff, 0xff)
			got := CompressionInfo{Algorithm: S2Compression, OriginalSize: 7}
			n, err := got.UnmarshalMetadata(withBody)
			require_NoError(t, err)
			require_Equal(t, n, len(b))
			require_Equal(t, got, tc.info)
		})
	}
}

func TestCompressionInfoUnmarshalPlainAndBroken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		wantErr bool
	}{
		{"empty", nil, false},
		{"shorter-than-header", []byte("cmp\x01"), false},
		{"plain-record", []byte{0x2a, 0, 0, 0, 1, 0, 0, 0}, false},
		{"almost-magic", []byte("cmq\x01\x05"), false},
		{"size-cut-off", []byte("cmp\x01\x80"), true},
		{"size-overlong", append([]byte("cmp\x01"), bytes.Repeat([]byte{0xff}, 11)...), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Fields from an earlier use must be reset.
			info := CompressionInfo{Algorithm: S2Compression, OriginalSize: 99}
			n, err := info.UnmarshalMetadata(tc.in)
			require_Equal(t, n, 0)
			require_Equal(t, err != nil, tc.wantErr)
			if !tc.wantErr {
				require_Equal(t, info, CompressionInfo{})
			}
		})
	}
}

func TestStoreCompressionRoundTrip(t *testing.T) {
	jsonish := bytes.Repeat([]byte(`{"sensor":"a","value":12.5,"unit":"C"},`), 500)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"checksum-only", []byte("01234567")},
		{"small", []byte("hello world, compress me please")},
		{"compressible", jsonish},
		{"over-one-s2-block", bytes.Repeat(jsonish, 60)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := S2Compression.Compress(tc.in)
			require_NoError(t, err)
			// The checksum stays readable at the end.
			if !bytes.Equal(c[len(c)-checksumSize:], tc.in[len(tc.in)-checksumSize:]) {
				t.Fatalf("checksum not kept at the end")
			}
			if len(tc.in) > 1000 && len(c) >= len(tc.in) {
				t.Fatalf("compressible input grew: %d -> %d", len(tc.in), len(c))
			}
			// What upstream's reader (a plain s2 stream reader) sees.
			body, err := io.ReadAll(s2.NewReader(bytes.NewReader(c[:len(c)-checksumSize])))
			require_NoError(t, err)
			if !bytes.Equal(body, tc.in[:len(tc.in)-checksumSize]) {
				t.Fatalf("s2 reader did not return the body")
			}
			d, err := S2Compression.Decompress(c)
			require_NoError(t, err)
			if !bytes.Equal(d, tc.in) {
				t.Fatalf("round trip changed the block")
			}
		})
	}
}

func TestStoreCompressionNoneAndErrors(t *testing.T) {
	in := []byte("0123456789abcdef")
	out, err := NoCompression.Compress(in)
	require_NoError(t, err)
	require_True(t, &out[0] == &in[0])
	out, err = NoCompression.Decompress(in)
	require_NoError(t, err)
	require_True(t, &out[0] == &in[0])

	for _, tc := range []struct {
		name string
		run  func() ([]byte, error)
	}{
		{"compress-short", func() ([]byte, error) { return S2Compression.Compress([]byte("short")) }},
		{"compress-short-none", func() ([]byte, error) { return NoCompression.Compress(nil) }},
		{"decompress-short", func() ([]byte, error) { return S2Compression.Decompress([]byte("short")) }},
		{"decompress-short-none", func() ([]byte, error) { return NoCompression.Decompress([]byte{1}) }},
		{"compress-unknown", func() ([]byte, error) { return StoreCompression(7).Compress(in) }},
		{"decompress-unknown", func() ([]byte, error) { return StoreCompression(7).Decompress(in) }},
		{"decompress-garbage", func() ([]byte, error) { return S2Compression.Decompress(append([]byte("not an s2 stream"), in...)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.run()
			require_Error(t, err)
			require_True(t, out == nil)
		})
	}
}

func TestCompressBlockAddsHeader(t *testing.T) {
	plain := bytes.Repeat([]byte("abcdefgh"), 100)
	out, err := compressBlock(NoCompression, plain)
	require_NoError(t, err)
	require_True(t, bytes.Equal(out, plain))

	out, err = compressBlock(S2Compression, plain)
	require_NoError(t, err)
	var meta CompressionInfo
	n, err := meta.UnmarshalMetadata(out)
	require_NoError(t, err)
	require_Equal(t, meta, CompressionInfo{S2Compression, uint64(len(plain))})
	d, err := S2Compression.Decompress(out[n:])
	require_NoError(t, err)
	require_True(t, bytes.Equal(d, plain))

	_, err = compressBlock(S2Compression, []byte("tiny"))
	require_Error(t, err)
}

func TestMsgBlockDecompressIfNeeded(t *testing.T) {
	mb := &msgBlock{}
	plain := bytes.Repeat([]byte("record-bytes."), 64)

	got, err := mb.decompressIfNeeded(plain)
	require_NoError(t, err)
	require_True(t, &got[0] == &plain[0])

	stored, err := compressBlock(S2Compression, plain)
	require_NoError(t, err)
	got, err = mb.decompressIfNeeded(stored)
	require_NoError(t, err)
	require_True(t, bytes.Equal(got, plain))

	// A header naming no compression is stripped and the rest returned.
	none := append((&CompressionInfo{NoCompression, uint64(len(plain))}).MarshalMetadata(), plain...)
	got, err = mb.decompressIfNeeded(none)
	require_NoError(t, err)
	require_True(t, bytes.Equal(got, plain))

	_, err = mb.decompressIfNeeded([]byte("cmp\x01\x80\x80"))
	require_Error(t, err)
	_, err = mb.decompressIfNeeded(append([]byte("cmp\x01\x10"), []byte("garbage not s2 at all")...))
	require_Error(t, err)
}

// TestCompressFixtureBlocks reads the blocks nats-server v2.14.5 compressed:
// every block but the last starts with the cmp header, decompresses to its
// recorded original size, and its records parse and match the manifest.
// Compressing the plain block again must give the server's bytes back.
func TestCompressFixtureBlocks(t *testing.T) {
	fx := loadGoldenFixture(t, "s2")
	require_Equal(t, fx.FileStoreConfig.Compression, "s2")
	mb := &msgBlock{}
	indexes := fx.blockIndexes(t)
	last := indexes[len(indexes)-1]
	var records []blockRecord
	for _, index := range indexes {
		raw := fx.read(t, filepath.Join(msgDir, fmt.Sprintf(blkScan, index)))
		var meta CompressionInfo
		n, err := meta.UnmarshalMetadata(raw)
		require_NoError(t, err)
		if index == last {
			if n != 0 {
				t.Fatalf("last block %d should be plain", index)
			}
		} else if n == 0 || meta.Algorithm != S2Compression {
			t.Fatalf("block %d: want an s2 header, got n=%d %+v", index, n, meta)
		}

		plain, err := mb.decompressIfNeeded(raw)
		require_NoError(t, err)
		if n > 0 {
			require_Equal(t, uint64(len(plain)), meta.OriginalSize)
			// The last record's hash is kept as is at the end of the file.
			require_True(t, bytes.Equal(plain[len(plain)-checksumSize:], raw[len(raw)-checksumSize:]))
			if uint64(len(plain)) > fx.FileStoreConfig.BlockSize {
				t.Fatalf("block %d decompressed to %d bytes, block size is %d", index, len(plain), fx.FileStoreConfig.BlockSize)
			}
		}
		records = append(records, parseBlockRecords(t, plain, fx.stream.Name, index)...)

		again, err := compressBlock(S2Compression, plain)
		require_NoError(t, err)
		// The s2 encoder is deterministic, and the pinned version writes the
		// very bytes nats-server v2.14.5 wrote.
		if n > 0 && !bytes.Equal(again, raw) {
			t.Fatalf("block %d: re-compressed bytes differ from the server's", index)
		}
		back, err := mb.decompressIfNeeded(again)
		require_NoError(t, err)
		require_True(t, bytes.Equal(back, plain))
	}
	checkRecordsMatchManifest(t, fx, records)
}

// FuzzDecompressBlock feeds arbitrary bytes to the block decompression path:
// it must return an error or data, never panic. Whatever it accepts as a
// plain block must also survive a compress and decompress round trip.
func FuzzDecompressBlock(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("cmp"))
	f.Add([]byte("cmp\x01\x80"))
	f.Add([]byte("cmp\x01\x10sNaPpY\x00garbage"))
	if stored, err := compressBlock(S2Compression, bytes.Repeat([]byte("fuzz seed block "), 40)); err == nil {
		f.Add(stored)
		f.Add(stored[:len(stored)/2])
	}
	if raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", "s2", "store", msgDir, "1.blk")); err == nil {
		f.Add(raw)
	}
	mb := &msgBlock{}
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, err := mb.decompressIfNeeded(data)
		if err != nil {
			if plain != nil {
				t.Fatalf("data returned with error %v", err)
			}
			return
		}
		if len(plain) < checksumSize {
			return
		}
		stored, err := compressBlock(S2Compression, plain)
		if err != nil {
			t.Fatalf("compress of %d bytes: %v", len(plain), err)
		}
		back, err := mb.decompressIfNeeded(stored)
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// benchmarkBlock is a compressible plain block of n bytes, like the JSON
// payloads the s2 fixture holds.
func benchmarkBlock(n int) []byte {
	return bytes.Repeat([]byte(`{"sensor":"a","value":12.5,"unit":"C"},`), n/30+1)[:n]
}

var benchmarkBlockSizes = []int{512, 64 << 10, 4 << 20}

func BenchmarkCompressBlock(b *testing.B) {
	for _, n := range benchmarkBlockSizes {
		plain := benchmarkBlock(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for range b.N {
				if _, err := compressBlock(S2Compression, plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecompressBlock(b *testing.B) {
	mb := &msgBlock{}
	for _, n := range benchmarkBlockSizes {
		stored, err := compressBlock(S2Compression, benchmarkBlock(n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for range b.N {
				if _, err := mb.decompressIfNeeded(stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
