package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Compressed block format (format fact, nats-server v2.14.5).
//
// A block whose file starts with the three bytes "cmp" is compressed. It is
// rewritten that way once it is full, and only when the store is configured
// for compression; the block being appended to stays plain:
//
//	+-----+-----+-----+-----------+----------------------+-------------------------+-------------+
//	| 'c' | 'm' | 'p' | algorithm | original size uvarint | compressed records ...  | checksum (8)|
//	+-----+-----+-----+-----------+----------------------+-------------------------+-------------+
//
//	algorithm      a StoreCompression value (1 = S2).
//	original size  the length of the plain block, its last checksum included.
//	records        for S2, an S2 stream (s2.NewWriter framing) of every byte of
//	               the plain block except its last 8.
//	checksum       the last 8 bytes of the plain block (the hash of the last
//	               record), kept uncompressed so that it can be read without
//	               decompressing.
//
// In an encrypted store the whole of this, header included, is then XORed
// with the block's key stream.

// compressionMetaMinLen is the shortest valid header: "cmp", the algorithm
// and a one-byte uvarint.
const compressionMetaMinLen = 5

// maxDecompressHint caps the output buffer reserved from a header's original
// size, so a damaged header cannot ask for an absurd allocation. No block is
// larger than the largest block size plus one record.
const maxDecompressHint = maxBlockSize + rlBadThresh

// S2 writers and readers each hold about a megabyte of buffers. Reusing them
// makes compressing a small block some twenty times cheaper; after a Reset
// they carry nothing over from their last use.
var (
	s2WriterPool = sync.Pool{New: func() any { return s2.NewWriter(nil) }}
	s2ReaderPool = sync.Pool{New: func() any { return s2.NewReader(nil) }}
)

// CompressionInfo is the header of a compressed block.
type CompressionInfo struct {
	Algorithm    StoreCompression
	OriginalSize uint64
}

// MarshalMetadata returns the header bytes that open a compressed block.
func (c *CompressionInfo) MarshalMetadata() []byte {
	b := make([]byte, 4, 4+binary.MaxVarintLen64)
	b[0], b[1], b[2] = 'c', 'm', 'p'
	b[3] = byte(c.Algorithm)
	return binary.AppendUvarint(b, c.OriginalSize)
}

// UnmarshalMetadata reads the header at the start of b and returns its
// length. A buffer that does not start with a header is a plain block: c is
// reset to NoCompression and 0 is returned without an error. A header whose
// size is cut off or overlong is an error.
func (c *CompressionInfo) UnmarshalMetadata(b []byte) (int, error) {
	c.Algorithm = NoCompression
	c.OriginalSize = 0
	if len(b) < compressionMetaMinLen {
		return 0, nil
	}
	if b[0] != 'c' || b[1] != 'm' || b[2] != 'p' {
		return 0, nil
	}
	var n int
	c.Algorithm = StoreCompression(b[3])
	c.OriginalSize, n = binary.Uvarint(b[4:])
	if n <= 0 {
		return 0, errors.New("store: compression metadata incomplete")
	}
	return 4 + n, nil
}

// Compress compresses a plain block: everything but its trailing 8-byte
// checksum is compressed, and the checksum is appended as is. The header is
// not added; see compressBlock. NoCompression returns buf itself.
func (alg StoreCompression) Compress(buf []byte) ([]byte, error) {
	if len(buf) < checksumSize {
		return nil, errors.New("store: uncompressed buffer is too short")
	}
	bodyLen := len(buf) - checksumSize
	switch alg {
	case NoCompression:
		return buf, nil
	case S2Compression:
	default:
		return nil, errors.New("store: compression algorithm not known")
	}
	var output bytes.Buffer
	writer := s2WriterPool.Get().(*s2.Writer)
	writer.Reset(&output)
	defer func() {
		writer.Reset(nil)
		s2WriterPool.Put(writer)
	}()
	if n, err := writer.Write(buf[:bodyLen]); err != nil {
		return nil, fmt.Errorf("store: error writing to compression writer: %w", err)
	} else if n != bodyLen {
		return nil, fmt.Errorf("store: short write on body (%d != %d)", n, bodyLen)
	}
	if err := writer.Close(); err != nil {
		return nil, fmt.Errorf("store: error closing compression writer: %w", err)
	}
	output.Write(buf[bodyLen:])
	return output.Bytes(), nil
}

// Decompress reverses Compress: the body before the trailing 8-byte checksum
// is decompressed and the checksum appended. NoCompression returns buf
// itself. Input that is not a valid stream is an error, never a panic.
func (alg StoreCompression) Decompress(buf []byte) ([]byte, error) {
	return alg.decompress(buf, 0)
}

// decompress is Decompress with the expected output size, when known, to
// size the output buffer up front.
func (alg StoreCompression) decompress(buf []byte, sizeHint uint64) ([]byte, error) {
	if len(buf) < checksumSize {
		return nil, errors.New("store: compressed buffer is too short")
	}
	bodyLen := len(buf) - checksumSize
	switch alg {
	case NoCompression:
		return buf, nil
	case S2Compression:
	default:
		return nil, errors.New("store: compression algorithm not known")
	}
	reader := s2ReaderPool.Get().(*s2.Reader)
	reader.Reset(bytes.NewReader(buf[:bodyLen]))
	defer func() {
		reader.Reset(nil)
		s2ReaderPool.Put(reader)
	}()
	var output bytes.Buffer
	if sizeHint > 0 {
		// ReadFrom wants MinRead spare bytes even after the last byte.
		output.Grow(int(min(sizeHint, maxDecompressHint)) + bytes.MinRead)
	}
	if _, err := output.ReadFrom(reader); err != nil {
		return nil, fmt.Errorf("store: error reading compression reader: %w", err)
	}
	output.Write(buf[bodyLen:])
	return output.Bytes(), nil
}

// compressBlock turns a plain block into what is written to disk for alg:
// the header followed by the compressed block. NoCompression returns buf
// unchanged, without a header, as upstream writes uncompressed blocks.
func compressBlock(alg StoreCompression, buf []byte) ([]byte, error) {
	if alg == NoCompression {
		return buf, nil
	}
	compressed, err := alg.Compress(buf)
	if err != nil {
		return nil, err
	}
	meta := CompressionInfo{Algorithm: alg, OriginalSize: uint64(len(buf))}
	return append(meta.MarshalMetadata(), compressed...), nil
}

// decompressIfNeeded returns the plain contents of a block as read from disk
// (already decrypted): a block with a compression header is decompressed, any
// other is returned as is.
func (mb *msgBlock) decompressIfNeeded(buf []byte) ([]byte, error) {
	var meta CompressionInfo
	n, err := meta.UnmarshalMetadata(buf)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return buf, nil
	}
	return meta.Algorithm.decompress(buf[n:], meta.OriginalSize)
}
