package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// Encryption at rest (format facts, nats-server v2.14.5).
//
// An encrypted store is given a key generator, keyGen (upstream's prf), that
// turns a context string into a 32-byte key-encryption key (kek). Every
// encrypted asset has a key file, sealed with the kek of its context:
//
//	asset                  key file             context
//	stream meta, index.db  meta.key             "<stream>"
//	message block n        msgs/<n>.key         "<stream>:<n>"
//	consumer               obs/<name>/meta.key  "<stream>.<consumer>"
//
//	+-------------+--------------------------------------------------+
//	| nonce       | 32-byte random seed sealed with kek (+16 tag)    |
//	+-------------+--------------------------------------------------+
//	ChaCha: XChaCha20-Poly1305, 24-byte nonce, 72-byte file
//	AES:    AES-256-GCM with a 16-byte nonce, 64-byte file
//
// The seed is the asset key. As an AEAD of the same cipher (the aek) it
// seals meta.inf, index.db and o.dat, each stored as nonce || ciphertext;
// index.db then gets its usual trailing highwayhash, computed over the
// encrypted bytes. As a stream cipher (the bek), with the key file's nonce
// as IV, it XORs a block's bytes starting at file offset 0: XChaCha20 for
// ChaCha, AES-CTR for AES. Compression, when on, happens before encryption.

// keyGen derives the key-encryption key for a context. A server hashes its
// account name before the context; see the fixtures' README.
type keyGen func(context []byte) ([]byte, error)

// Key file and seed sizes (format facts).
const (
	// minMetaKeySize is the smallest valid meta.key (AES: 16 + 32 + 16).
	minMetaKeySize = 64
	// minBlkKeySize is the smallest valid block or consumer key file.
	minBlkKeySize = 64
	// encryptionSeedSize is the length of an asset key.
	encryptionSeedSize = 32
)

// Encryption errors, with upstream's texts.
var (
	errNoEncryption  = errors.New("store: encryption not enabled")
	errBadKeySize    = errors.New("store: encryption bad key size")
	errKeyInvalid    = errors.New("store: unable to recover keys")
	errUnknownCipher = errors.New("store: unknown cipher")
	errShortSealed   = errors.New("store: encrypted data too short")
)

// genEncryptionKey returns the AEAD of cipher sc keyed with seed: a kek when
// seed is a keyGen output, an aek when seed is an asset key.
func genEncryptionKey(sc StoreCipher, seed []byte) (cipher.AEAD, error) {
	switch sc {
	case ChaCha:
		return chacha20poly1305.NewX(seed)
	case AES:
		block, err := aes.NewCipher(seed)
		if err != nil {
			return nil, err
		}
		// A 16-byte nonce (not GCM's usual 12), so that the same nonce also
		// serves as the block's AES-CTR IV.
		return cipher.NewGCMWithNonceSize(block, block.BlockSize())
	default:
		return nil, errUnknownCipher
	}
}

// genBlockEncryptionKey returns the key stream that encrypts a block, from
// the block's seed and its key file's nonce, positioned at offset 0.
func genBlockEncryptionKey(sc StoreCipher, seed, nonce []byte) (cipher.Stream, error) {
	switch sc {
	case ChaCha:
		return chacha20.NewUnauthenticatedCipher(seed, nonce)
	case AES:
		block, err := aes.NewCipher(seed)
		if err != nil {
			return nil, err
		}
		// cipher.NewCTR panics on a wrong IV length; a damaged key file
		// must be an error instead.
		if len(nonce) != block.BlockSize() {
			return nil, fmt.Errorf("store: bad AES-CTR nonce length %d", len(nonce))
		}
		return cipher.NewCTR(block, nonce), nil
	default:
		return nil, errUnknownCipher
	}
}

// genEncryptionKeysWithPRF makes a new asset key for context: a random seed,
// its aek and bek, and the key file (nonce || seed sealed with the context's
// kek) to write. It is upstream's (*fileStore).genEncryptionKeys with the
// store's prf and cipher passed in.
func genEncryptionKeysWithPRF(prf keyGen, sc StoreCipher, context string) (aek cipher.AEAD, bek cipher.Stream, seed, encrypted []byte, err error) {
	if prf == nil {
		return nil, nil, nil, nil, errNoEncryption
	}
	rb, err := prf([]byte(context))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	kek, err := genEncryptionKey(sc, rb)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	seed = make([]byte, encryptionSeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, nil, nil, nil, err
	}
	if aek, err = genEncryptionKey(sc, seed); err != nil {
		return nil, nil, nil, nil, err
	}
	// The nonce starts the key file; its buffer then takes the sealed seed.
	nonce := make([]byte, kek.NonceSize(), kek.NonceSize()+len(seed)+kek.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, nil, nil, err
	}
	if bek, err = genBlockEncryptionKey(sc, seed, nonce); err != nil {
		return nil, nil, nil, nil, err
	}
	return aek, bek, seed, kek.Seal(nonce, nonce, seed, nil), nil
}

// openKeyFile unwraps a key file sealed under context's kek and returns the
// seed and the nonce (a copy, safe to keep). A key file that does not open
// (wrong key, wrong cipher, damage) is errKeyInvalid, so that callers can try
// a cipher conversion; a file too short to be a key is errBadKeySize.
func openKeyFile(prf keyGen, sc StoreCipher, context string, ekey []byte) (seed, nonce []byte, err error) {
	if prf == nil {
		return nil, nil, errNoEncryption
	}
	if len(ekey) < minBlkKeySize {
		return nil, nil, errBadKeySize
	}
	rb, err := prf([]byte(context))
	if err != nil {
		return nil, nil, err
	}
	kek, err := genEncryptionKey(sc, rb)
	if err != nil {
		return nil, nil, err
	}
	ns := kek.NonceSize()
	seed, err = kek.Open(nil, ekey[:ns], ekey[ns:], nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errKeyInvalid, err)
	}
	return seed, slices.Clone(ekey[:ns]), nil
}

// keyCandidate is a key generator and cipher that may have sealed a key file.
type keyCandidate struct {
	prf    keyGen
	cipher StoreCipher
}

// otherCipher is the cipher a store may be converting from: AES for ChaCha
// and ChaCha for anything else, as upstream.
func otherCipher(sc StoreCipher) StoreCipher {
	if sc == ChaCha {
		return AES
	}
	return ChaCha
}

// keyCandidates lists what a key file is tried with when the configured
// cipher or key changed, in upstream's order: the current key with the
// configured cipher and then the other one, then the old key likewise.
func keyCandidates(prf, oldprf keyGen, sc StoreCipher) []keyCandidate {
	var out []keyCandidate
	for _, p := range []keyGen{prf, oldprf} {
		if p != nil {
			out = append(out, keyCandidate{p, sc}, keyCandidate{p, otherCipher(sc)})
		}
	}
	return out
}

// openKeyFileWithAny opens a key file with the first candidate that can, and
// whose seed also passes check when check is given. It returns the index of
// that candidate; errKeyInvalid when none fits.
func openKeyFileWithAny(cands []keyCandidate, context string, ekey []byte, check func(c keyCandidate, seed, nonce []byte) error) (seed, nonce []byte, used int, err error) {
	for i, c := range cands {
		seed, nonce, err := openKeyFile(c.prf, c.cipher, context, ekey)
		if err != nil {
			if errors.Is(err, errBadKeySize) {
				return nil, nil, -1, err
			}
			continue
		}
		if check != nil && check(c, seed, nonce) != nil {
			continue
		}
		return seed, nonce, i, nil
	}
	return nil, nil, -1, errKeyInvalid
}

// sealWithRandomNonce encrypts plain with aek under a fresh random nonce and
// returns nonce || ciphertext, the form of meta.inf, index.db and o.dat.
func sealWithRandomNonce(aek cipher.AEAD, plain []byte) ([]byte, error) {
	nonce := make([]byte, aek.NonceSize(), aek.NonceSize()+len(plain)+aek.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aek.Seal(nonce, nonce, plain, nil), nil
}

// openSealed reverses sealWithRandomNonce. Input shorter than a nonce is an
// error rather than upstream's out-of-range panic.
func openSealed(aek cipher.AEAD, buf []byte) ([]byte, error) {
	ns := aek.NonceSize()
	if len(buf) < ns+aek.Overhead() {
		return nil, errShortSealed
	}
	return aek.Open(nil, buf[:ns], buf[ns:], nil)
}

// cryptBlock XORs a whole block (as read from or written to its file) with
// the block's key stream from offset 0; it both encrypts and decrypts. This
// is what upstream's encryptOrDecryptIfNeeded does with a fresh bek.
func cryptBlock(sc StoreCipher, seed, nonce, buf []byte) error {
	bek, err := genBlockEncryptionKey(sc, seed, nonce)
	if err != nil {
		return err
	}
	bek.XORKeyStream(buf, buf)
	return nil
}

// blockKeyContext is the keyGen context of block index's key file.
func blockKeyContext(stream string, index uint32) string {
	return fmt.Sprintf("%s:%d", stream, index)
}

// consumerKeyContext is the keyGen context of a consumer's meta.key.
func consumerKeyContext(stream, consumer string) string {
	return stream + tsep + consumer
}

// decryptMeta opens an encrypted meta.inf with its meta.key, trying the
// current key with both ciphers and then the old key with both, as the
// server does when it recovers a stream. converted reports that something
// other than the current key and cipher worked, so the caller should write
// the meta (and keys) again.
func decryptMeta(prf, oldprf keyGen, sc StoreCipher, ekey, buf []byte, context string) (plain []byte, converted bool, err error) {
	if len(ekey) < minMetaKeySize {
		return nil, false, errBadKeySize
	}
	if prf == nil {
		return nil, false, errNoEncryption
	}
	check := func(c keyCandidate, seed, nonce []byte) error {
		aek, err := genEncryptionKey(c.cipher, seed)
		if err != nil {
			return err
		}
		if aek.NonceSize() != len(nonce) {
			return errKeyInvalid
		}
		plain, err = openSealed(aek, buf)
		return err
	}
	_, _, used, err := openKeyFileWithAny(keyCandidates(prf, oldprf, sc), context, ekey, check)
	if err != nil {
		return nil, false, err
	}
	return plain, used > 0, nil
}

// convertedBlock is a block re-keyed by convertBlockCipher.
type convertedBlock struct {
	seed    []byte // the new asset key
	nonce   []byte // the new nonce, the prefix of keyFile
	keyFile []byte // the new msgs/<index>.key contents
	stored  []byte // the block encrypted under the new key, to write
}

// convertBlockCipher re-keys an encrypted block after the configured cipher
// or key changed (upstream's (*msgBlock).convertCipher without the file
// I/O). The key file is opened with the first candidate that can; the block
// is decrypted with it and handed to validate (upstream checks it parses),
// then a new key is made with prf and sc and the block encrypted under it.
// stored is not modified.
func convertBlockCipher(prf, oldprf keyGen, sc StoreCipher, context string, ekey, stored []byte, validate func(plain []byte) error) (*convertedBlock, error) {
	if len(ekey) < minBlkKeySize {
		return nil, errBadKeySize
	}
	cands := keyCandidates(prf, oldprf, sc)
	seed, nonce, used, err := openKeyFileWithAny(cands, context, ekey, nil)
	if err != nil {
		return nil, err
	}
	buf := slices.Clone(stored)
	if err := cryptBlock(cands[used].cipher, seed, nonce, buf); err != nil {
		return nil, err
	}
	if validate != nil {
		if err := validate(buf); err != nil {
			return nil, err
		}
	}
	aek, bek, newSeed, keyFile, err := genEncryptionKeysWithPRF(prf, sc, context)
	if err != nil {
		return nil, err
	}
	bek.XORKeyStream(buf, buf)
	return &convertedBlock{
		seed:    newSeed,
		nonce:   keyFile[:aek.NonceSize():aek.NonceSize()],
		keyFile: keyFile,
		stored:  buf,
	}, nil
}
