package store

import (
	"crypto/cipher"
	"fmt"
	"path/filepath"
)

// A block file is stored, from the records outwards, as: the plain records;
// then, for a full block of a compressing store, the S2 form with its cmp
// header (compress.go); then, in an encrypted store, all of it XORed with
// the block's key stream from offset 0 (encrypt.go). The block being
// appended to is never compressed, so its plain offsets are its file
// offsets and appends continue the key stream where the file ends.

// encryptOrDecryptIfNeeded XORs a whole block (as read from or written to
// its file) with the block's key stream when the store is encrypted.
// mb.mu held.
func (mb *msgBlock) encryptOrDecryptIfNeeded(buf []byte) error {
	if err := mb.checkAndLoadEncryption(); err != nil {
		return err
	}
	if mb.seed == nil || len(buf) == 0 {
		return nil
	}
	return cryptBlock(mb.fs.fcfg.Cipher, mb.seed, mb.nonce, buf)
}

// loadBlockPlain reads the block file and returns its plain records,
// decrypted and decompressed, noting how the file was compressed.
// mb.mu held.
func (mb *msgBlock) loadBlockPlain() ([]byte, error) {
	buf, err := mb.loadBlock(nil)
	if err != nil {
		return nil, err
	}
	if err := mb.encryptOrDecryptIfNeeded(buf); err != nil {
		return nil, err
	}
	var meta CompressionInfo
	if _, err := meta.UnmarshalMetadata(buf); err != nil {
		return nil, err
	}
	mb.cmp = meta.Algorithm
	plain, err := mb.decompressIfNeeded(buf)
	// Decompressed into a buffer of its own: the pooled one read from
	// the file is no longer needed.
	if err == nil && !sameBuffer(plain, buf) {
		recycleMsgBlockBuf(buf)
	}
	return plain, err
}

// streamAt returns the block's key stream positioned at file offset off,
// reusing the current one when it is already there. mb.mu held.
func (mb *msgBlock) streamAt(off int64) (cipher.Stream, error) {
	if mb.bek != nil && mb.bekPos == off {
		return mb.bek, nil
	}
	bek, err := genBlockEncryptionKey(mb.fs.fcfg.Cipher, mb.seed, mb.nonce)
	if err != nil {
		return nil, err
	}
	// Skip to off. Only needed after a reload or a rewrite, not per write.
	var scratch [32 * 1024]byte
	for left := off; left > 0; {
		n := min(left, int64(len(scratch)))
		bek.XORKeyStream(scratch[:n], scratch[:n])
		left -= n
	}
	mb.bek, mb.bekPos = bek, off
	return bek, nil
}

// encryptAt returns buf encrypted for writing at file offset off (buf
// itself when the store is not encrypted). mb.mu held.
func (mb *msgBlock) encryptAt(buf []byte, off int64) ([]byte, error) {
	if err := mb.checkAndLoadEncryption(); err != nil {
		return nil, err
	}
	if mb.seed == nil {
		return buf, nil
	}
	bek, err := mb.streamAt(off)
	if err != nil {
		return nil, err
	}
	dst := make([]byte, len(buf))
	bek.XORKeyStream(dst, buf)
	mb.bekPos += int64(len(buf))
	return dst, nil
}

// storedForm turns plain records into what the file holds: compressed with
// alg (NoCompression: as is) and encrypted when the store is. plain is not
// modified. mb.mu held.
func (mb *msgBlock) storedForm(plain []byte, alg StoreCompression) ([]byte, error) {
	// An empty block is an empty file, whatever the compression.
	if len(plain) == 0 {
		return nil, nil
	}
	stored, err := compressBlock(alg, plain)
	if err != nil {
		return nil, err
	}
	if err := mb.checkAndLoadEncryption(); err != nil {
		return nil, err
	}
	if mb.seed != nil && len(stored) > 0 {
		if alg == NoCompression {
			stored = append([]byte(nil), stored...)
		}
		if err := cryptBlock(mb.fs.fcfg.Cipher, mb.seed, mb.nonce, stored); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// recompressOnDiskIfNeeded rewrites a full block in the store's configured
// compression, when it is not stored that way yet. mb.mu held.
func (mb *msgBlock) recompressOnDiskIfNeeded() error {
	if mb.closed || mb.fileName == _EMPTY_ {
		return nil
	}
	alg := mb.fs.fcfg.Compression
	plain, err := mb.loadBlockPlain()
	if err != nil {
		return fmt.Errorf("store: failed to read block %d for compression: %w", mb.index, err)
	}
	// Written out (or not needed) by the time this returns.
	defer recycleMsgBlockBuf(plain)
	if mb.cmp == alg || len(plain) < checksumSize {
		return nil
	}
	return mb.replaceFileVia(mb.fileName+blkTmpSuffix, plain, alg)
}

// recompressAsync compresses a block that just stopped being the last one,
// off the write path. stop waits for these.
func (fs *fileStore) recompressAsync(mb *msgBlock) {
	fs.compressWG.Add(1)
	go func() {
		defer fs.compressWG.Done()
		mb.mu.Lock()
		defer mb.mu.Unlock()
		// A failure leaves the block plain, which is still valid.
		if err := mb.recompressOnDiskIfNeeded(); err != nil {
			fs.warn("Compressing block %d failed: %v", mb.index, err)
		}
	}()
}

// replaceFile rewrites the block file with plain records, keeping the
// block's compression. See replaceFileVia.
func (mb *msgBlock) replaceFile(plain []byte) error {
	return mb.replaceFileVia(filepath.Join(mb.fs.fcfg.StoreDir, msgDir, fmt.Sprintf(newScan, mb.index)), plain, mb.cmp)
}
