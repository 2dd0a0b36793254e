package store

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/porttracker/porttracker/store/vfs"
)

// Encryption of a stream store: meta.key holds the stream's asset key (the
// aek sealing meta.inf and index.db); each block has msgs/<n>.key with its
// own key (the seed and nonce of its key stream). See encrypt.go for the
// formats.

// recoverAEK opens meta.key. When only another cipher or the old key opens
// it, the store is converting: the key is kept for reading and rotated once
// recovery is done. fs.mu held.
func (fs *fileStore) recoverAEK() error {
	if fs.prf == nil || fs.aek != nil {
		return nil
	}
	ekey, err := vfs.ReadFile(fs.fsys, filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFileKey))
	if err != nil {
		return err
	}
	if len(ekey) < minMetaKeySize {
		return errBadKeySize
	}
	cands := keyCandidates(fs.prf, fs.oldprf, fs.fcfg.Cipher)
	seed, _, used, err := openKeyFileWithAny(cands, fs.cfg.Name, ekey, nil)
	if err != nil {
		return err
	}
	aek, err := genEncryptionKey(cands[used].cipher, seed)
	if err != nil {
		return err
	}
	fs.aek = aek
	fs.rotateMetaKey = used > 0
	return nil
}

// genEncryptionKeys makes a key set for context with the store's key
// generator and cipher: the asset key, the block stream key, the seed and
// the key file to write. Without a key generator it fails with
// errNoEncryption.
func (fs *fileStore) genEncryptionKeys(context string) (aek cipher.AEAD, bek cipher.Stream, seed, encrypted []byte, err error) {
	return genEncryptionKeysWithPRF(fs.prf, fs.fcfg.Cipher, context)
}

// setupAEK makes the stream's asset key and writes meta.key, when encrypted
// and not done yet. fs.mu held.
func (fs *fileStore) setupAEK() error {
	if fs.prf == nil || fs.aek != nil {
		return nil
	}
	aek, _, _, keyFile, err := fs.genEncryptionKeys(fs.cfg.Name)
	if err != nil {
		return err
	}
	// Always synced (upstream syncs only with SyncAlways): once a later
	// directory sync makes the entry durable, an empty meta.key would make
	// the whole store unreadable.
	if err := writeFileWithSync(fs.fsys, filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFileKey), keyFile, defaultFilePerms); err != nil {
		return err
	}
	fs.aek = aek
	return nil
}

// blockKeyFile is the path of a block's key file.
func (fs *fileStore) blockKeyFile(index uint32) string {
	return filepath.Join(fs.fcfg.StoreDir, msgDir, fmt.Sprintf(keyScan, index))
}

// genEncryptionKeysForBlock makes a new key for mb and writes its key file.
// Without SyncAlways the key file is synced by the next syncBlocks.
func (fs *fileStore) genEncryptionKeysForBlock(mb *msgBlock) error {
	if mb == nil {
		return nil
	}
	aek, bek, seed, keyFile, err := fs.genEncryptionKeys(blockKeyContext(fs.cfg.Name, mb.index))
	if err != nil {
		return err
	}
	kfn := fs.blockKeyFile(mb.index)
	sync := fs.syncAlways.Load()
	if err := writeAtomically(fs.fsys, kfn, keyFile, defaultFilePerms, sync); err != nil {
		return err
	}
	mb.seed, mb.nonce = seed, keyFile[:aek.NonceSize():aek.NonceSize()]
	mb.bek, mb.bekPos = bek, 0
	mb.keyFileName = kfn
	mb.needKeySync = !sync
	return nil
}

// checkAndLoadEncryption loads the block's key when the store is encrypted
// and it is not loaded yet. mb.mu held.
func (mb *msgBlock) checkAndLoadEncryption() error {
	if mb.fs != nil && mb.fs.prf != nil && mb.seed == nil {
		return mb.fs.loadEncryptionForMsgBlock(mb)
	}
	return nil
}

// loadEncryptionForMsgBlock reads the block's key file. A block with no key
// file is plaintext in an encrypted store and is encrypted now; a key file
// the current key and cipher cannot open means a cipher or key change, and
// the block is converted. mb.mu held.
func (fs *fileStore) loadEncryptionForMsgBlock(mb *msgBlock) error {
	if fs.prf == nil {
		return nil
	}
	kfn := fs.blockKeyFile(mb.index)
	ekey, err := vfs.ReadFile(fs.fsys, kfn)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := fs.genEncryptionKeysForBlock(mb); err != nil {
			return err
		}
		return mb.convertToEncrypted()
	}
	seed, nonce, err := openKeyFile(fs.prf, fs.fcfg.Cipher, blockKeyContext(fs.cfg.Name, mb.index), ekey)
	switch {
	case errors.Is(err, errKeyInvalid):
		return mb.convertCipher(ekey)
	case err != nil:
		return err
	}
	mb.seed, mb.nonce = seed, nonce
	mb.bek, mb.bekPos = nil, 0
	mb.keyFileName = kfn
	// Whether the key file reached the disk before a restart is unknown;
	// it is synced with the block's data.
	mb.needKeySync = true
	return nil
}

// validPlainBlock checks that buf is a block's records, decompressing it
// first if it carries a compression header: every record must frame and
// verify. It is how a key that opens is told from one that only seems to.
func (mb *msgBlock) validPlainBlock(buf []byte) error {
	plain, err := mb.decompressIfNeeded(buf)
	if err != nil {
		return err
	}
	for i := 0; i < len(plain); {
		rh, ok := parseRecordHeader(plain[i:])
		if !ok || !checksumMatches(mb.hasher, plain[i:], rh) {
			return errBadMsg{mb.fileName, "block does not decrypt to valid records"}
		}
		i += int(rh.rl)
	}
	return nil
}

// convertCipher re-keys a block whose key file only opens with the other
// cipher or the old key: the block is decrypted with what opens it and
// written again under a new key of the current cipher. mb.mu held.
func (mb *msgBlock) convertCipher(ekey []byte) error {
	fs := mb.fs
	stored, err := vfs.ReadFile(fs.fsys, mb.fileName)
	if err != nil {
		return err
	}
	ctx := blockKeyContext(fs.cfg.Name, mb.index)
	cb, err := convertBlockCipher(fs.prf, fs.oldprf, fs.fcfg.Cipher, ctx, ekey, stored, mb.validPlainBlock)
	if err != nil {
		return err
	}
	mb.closeFDsLockedNoCheck()
	kfn := fs.blockKeyFile(mb.index)
	if err := writeFileWithSync(fs.fsys, kfn, cb.keyFile, defaultFilePerms); err != nil {
		return err
	}
	if err := writeFileWithSync(fs.fsys, mb.fileName, cb.stored, defaultFilePerms); err != nil {
		// Put the old key back so the old block can still be read.
		_ = writeFileWithSync(fs.fsys, kfn, ekey, defaultFilePerms)
		return err
	}
	mb.seed, mb.nonce = cb.seed, cb.nonce
	mb.bek, mb.bekPos = nil, 0
	mb.keyFileName = kfn
	return nil
}

// convertToEncrypted encrypts a plaintext block in place with the key just
// made for it (an encrypted store restored from a plain snapshot, say).
// A block that is not plain records is left alone and reported. mb.mu held.
func (mb *msgBlock) convertToEncrypted() error {
	fs := mb.fs
	buf, err := vfs.ReadFile(fs.fsys, mb.fileName)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	if err := mb.validPlainBlock(buf); err != nil {
		return err
	}
	if err := cryptBlock(fs.fcfg.Cipher, mb.seed, mb.nonce, buf); err != nil {
		return err
	}
	mb.closeFDsLockedNoCheck()
	// The file is rewritten under it: a cache must come from the new one,
	// as upstream leaves none behind here.
	mb.clearCacheAndOffset()
	if err := writeFileWithSync(fs.fsys, mb.fileName, buf, defaultFilePerms); err != nil {
		return err
	}
	mb.bek, mb.bekPos = nil, 0
	return nil
}
