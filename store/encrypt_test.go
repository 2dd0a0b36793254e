package store

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/minio/highwayhash"
)

// hmacKeyGen is the key generator the fixtures were made with (see the
// fixtures' README) and the one upstream's tests use with their own key.
func hmacKeyGen(key string) keyGen {
	return func(context []byte) ([]byte, error) {
		h := hmac.New(sha256.New, []byte(key))
		h.Write(context)
		return h.Sum(nil), nil
	}
}

// fixtureCipher maps a manifest's cipher name.
func fixtureCipher(t testing.TB, name string) StoreCipher {
	t.Helper()
	switch name {
	case "chacha":
		return ChaCha
	case "aes":
		return AES
	}
	t.Fatalf("unknown fixture cipher %q", name)
	return NoCipher
}

// encryptedFixture is an encrypted golden store with its key generator.
type encryptedFixture struct {
	*goldenFixture
	prf keyGen
	sc  StoreCipher
}

var encryptedScenarios = []string{"enc-chacha", "enc-aes"}

func loadEncryptedFixture(t testing.TB, scenario string) *encryptedFixture {
	t.Helper()
	fx := loadGoldenFixture(t, scenario)
	if fx.PRF != "hmac-sha256" || fx.PRFKey == _EMPTY_ {
		t.Fatalf("fixture %s: unexpected prf %q key %q", scenario, fx.PRF, fx.PRFKey)
	}
	return &encryptedFixture{fx, hmacKeyGen(fx.PRFKey), fixtureCipher(t, fx.FileStoreConfig.Cipher)}
}

// streamAEK recovers the stream's asset key from meta.key.
func (fx *encryptedFixture) streamAEK(t testing.TB) cipher.AEAD {
	t.Helper()
	ekey := fx.read(t, JetStreamMetaFileKey)
	seed, _, err := openKeyFile(fx.prf, fx.sc, fx.stream.Name, ekey)
	require_NoError(t, err)
	aek, err := genEncryptionKey(fx.sc, seed)
	require_NoError(t, err)
	return aek
}

// streamHash is the highwayhash keyed like the store's meta.sum and index.db.
func streamHash(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	key := sha256.Sum256([]byte(name))
	hh, err := highwayhash.NewDigest64(key[:])
	require_NoError(t, err)
	hh.Write(data)
	return hh.Sum(nil)
}

// TestEncryptedFixtureMeta unwraps meta.key with the manifest's prf, opens
// meta.inf with the stream key and checks it is the manifest's stream config
// and creation time, and that meta.sum covers the encrypted bytes.
func TestEncryptedFixtureMeta(t *testing.T) {
	for _, scenario := range encryptedScenarios {
		t.Run(scenario, func(t *testing.T) {
			fx := loadEncryptedFixture(t, scenario)
			ekey := fx.read(t, JetStreamMetaFileKey)
			kek, err := genEncryptionKey(fx.sc, make([]byte, 32))
			require_NoError(t, err)
			require_Equal(t, len(ekey), kek.NonceSize()+encryptionSeedSize+kek.Overhead())

			sealed := fx.read(t, JetStreamMetaFile)
			plain, err := openSealed(fx.streamAEK(t), sealed)
			require_NoError(t, err)
			var got FileStreamInfo
			require_NoError(t, json.Unmarshal(plain, &got))
			if !got.Created.Equal(fx.Created) {
				t.Fatalf("created %v, want %v", got.Created, fx.Created)
			}
			if !reflect.DeepEqual(got.StreamConfig, fx.stream) {
				t.Fatalf("stream config %+v, want %+v", got.StreamConfig, fx.stream)
			}

			sum := fx.read(t, JetStreamMetaFileSum)
			require_Equal(t, string(sum), hex.EncodeToString(streamHash(t, fx.stream.Name, sealed)))

			// The server's recovery path gives the same bytes, with no
			// conversion needed.
			viaMeta, converted, err := decryptMeta(fx.prf, nil, fx.sc, ekey, sealed, fx.stream.Name)
			require_NoError(t, err)
			require_False(t, converted)
			require_True(t, bytes.Equal(viaMeta, plain))
		})
	}
}

// TestEncryptedFixtureBlocks decrypts every block with its own key file and
// checks that the records parse, pass their checksums and hold exactly the
// manifest's messages.
func TestEncryptedFixtureBlocks(t *testing.T) {
	for _, scenario := range encryptedScenarios {
		t.Run(scenario, func(t *testing.T) {
			fx := loadEncryptedFixture(t, scenario)
			var records []blockRecord
			for _, index := range fx.blockIndexes(t) {
				ekey := fx.read(t, filepath.Join(msgDir, fmt.Sprintf(keyScan, index)))
				seed, nonce, err := openKeyFile(fx.prf, fx.sc, blockKeyContext(fx.stream.Name, index), ekey)
				require_NoError(t, err)
				require_True(t, bytes.Equal(nonce, ekey[:len(nonce)]))

				stored := fx.read(t, filepath.Join(msgDir, fmt.Sprintf(blkScan, index)))
				plain := bytes.Clone(stored)
				require_NoError(t, cryptBlock(fx.sc, seed, nonce, plain))
				records = append(records, parseBlockRecords(t, plain, fx.stream.Name, index)...)

				// The key stream is positional: decrypting in two pieces
				// with one stream gives the same bytes, which is what lets
				// a writer keep appending with the stream it read with.
				bek, err := genBlockEncryptionKey(fx.sc, seed, nonce)
				require_NoError(t, err)
				split := bytes.Clone(stored)
				half := len(split) / 3
				bek.XORKeyStream(split[:half], split[:half])
				bek.XORKeyStream(split[half:], split[half:])
				require_True(t, bytes.Equal(split, plain))

				// The key file is bound to its block's context.
				_, _, err = openKeyFile(fx.prf, fx.sc, blockKeyContext(fx.stream.Name, index+1), ekey)
				require_Error(t, err, errKeyInvalid)
			}
			checkRecordsMatchManifest(t, fx.goldenFixture, records)
		})
	}
}

// TestEncryptedFixtureIndexDB checks index.db's rule for encrypted stores:
// the trailing highwayhash covers the encrypted bytes, and what it covers
// opens with the stream key to the full state the manifest describes.
func TestEncryptedFixtureIndexDB(t *testing.T) {
	for _, scenario := range encryptedScenarios {
		t.Run(scenario, func(t *testing.T) {
			fx := loadEncryptedFixture(t, scenario)
			raw := fx.read(t, filepath.Join(msgDir, streamStreamStateFile))
			body, sum := raw[:len(raw)-highwayhash.Size64], raw[len(raw)-highwayhash.Size64:]
			require_True(t, bytes.Equal(sum, streamHash(t, fx.stream.Name, body)))

			plain, err := openSealed(fx.streamAEK(t), body)
			require_NoError(t, err)
			require_Equal(t, plain[0], fullStateMagic)
			require_True(t, plain[1] >= fullStateMinVersion && plain[1] <= fullStateVersion)
			r := uvarintReader{buf: plain, pos: hdrLen}
			msgs, bytesTotal, first := r.next(), r.next(), r.next()
			r.nextSigned()
			last := r.next()
			require_False(t, r.failed())
			require_Equal(t, msgs, fx.State.Messages)
			require_Equal(t, bytesTotal, fx.State.Bytes)
			require_Equal(t, first, fx.State.FirstSeq)
			require_Equal(t, last, fx.State.LastSeq)

			// Bit rot in the encrypted part fails the checksum.
			body[len(body)/2] ^= 1
			require_False(t, bytes.Equal(sum, streamHash(t, fx.stream.Name, body)))
		})
	}
}

// TestConvertBlockCipherFixture re-keys real blocks from their cipher to the
// other one, and from an old key to a new one, and checks the converted
// block opens with the new key file to the same plain bytes.
func TestConvertBlockCipherFixture(t *testing.T) {
	for _, scenario := range encryptedScenarios {
		t.Run(scenario, func(t *testing.T) {
			fx := loadEncryptedFixture(t, scenario)
			index := fx.blockIndexes(t)[0]
			ctx := blockKeyContext(fx.stream.Name, index)
			ekey := fx.read(t, filepath.Join(msgDir, fmt.Sprintf(keyScan, index)))
			stored := fx.read(t, filepath.Join(msgDir, fmt.Sprintf(blkScan, index)))
			seed, nonce, err := openKeyFile(fx.prf, fx.sc, ctx, ekey)
			require_NoError(t, err)
			plain := bytes.Clone(stored)
			require_NoError(t, cryptBlock(fx.sc, seed, nonce, plain))

			newPRF := hmacKeyGen("a-new-server-key")
			for _, tc := range []struct {
				name        string
				prf, oldprf keyGen
				sc          StoreCipher
			}{
				{"cipher-change", fx.prf, nil, otherCipher(fx.sc)},
				{"key-rotation", newPRF, fx.prf, fx.sc},
				{"key-and-cipher", newPRF, fx.prf, otherCipher(fx.sc)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var validated []byte
					conv, err := convertBlockCipher(tc.prf, tc.oldprf, tc.sc, ctx, ekey, stored, func(p []byte) error {
						validated = bytes.Clone(p)
						return nil
					})
					require_NoError(t, err)
					require_True(t, bytes.Equal(validated, plain))
					require_True(t, bytes.Equal(conv.nonce, conv.keyFile[:len(conv.nonce)]))

					nseed, nnonce, err := openKeyFile(tc.prf, tc.sc, ctx, conv.keyFile)
					require_NoError(t, err)
					require_True(t, bytes.Equal(nseed, conv.seed))
					require_True(t, bytes.Equal(nnonce, conv.nonce))
					got := bytes.Clone(conv.stored)
					require_NoError(t, cryptBlock(tc.sc, nseed, nnonce, got))
					require_True(t, bytes.Equal(got, plain))
				})
			}

			// The validator's verdict stops the conversion.
			bad := errors.New("does not parse")
			_, err = convertBlockCipher(fx.prf, nil, fx.sc, ctx, ekey, stored, func([]byte) error { return bad })
			require_Error(t, err, bad)
			// Neither key fits.
			_, err = convertBlockCipher(newPRF, hmacKeyGen("another"), fx.sc, ctx, ekey, stored, nil)
			require_Error(t, err, errKeyInvalid)
			_, err = convertBlockCipher(fx.prf, nil, fx.sc, ctx, ekey[:minBlkKeySize-1], stored, nil)
			require_Error(t, err, errBadKeySize)
		})
	}
}

// TestDecryptMetaConversions covers the server-side recovery of meta.inf
// after a cipher change or a key rotation.
func TestDecryptMetaConversions(t *testing.T) {
	fx := loadEncryptedFixture(t, "enc-aes")
	ekey, sealed := fx.read(t, JetStreamMetaFileKey), fx.read(t, JetStreamMetaFile)
	want, converted, err := decryptMeta(fx.prf, nil, fx.sc, ekey, sealed, fx.stream.Name)
	require_NoError(t, err)
	require_False(t, converted)

	newPRF := hmacKeyGen("rotated")
	for _, tc := range []struct {
		name        string
		prf, oldprf keyGen
		sc          StoreCipher
		wantErr     error
	}{
		{"configured-other-cipher", fx.prf, nil, otherCipher(fx.sc), nil},
		{"rotated-key", newPRF, fx.prf, fx.sc, nil},
		{"wrong-keys", newPRF, hmacKeyGen("x"), fx.sc, errKeyInvalid},
		{"no-key", nil, fx.prf, fx.sc, errNoEncryption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, converted, err := decryptMeta(tc.prf, tc.oldprf, tc.sc, ekey, sealed, fx.stream.Name)
			if tc.wantErr != nil {
				require_Error(t, err, tc.wantErr)
				return
			}
			require_NoError(t, err)
			require_True(t, converted)
			require_True(t, bytes.Equal(plain, want))
		})
	}
	_, _, err = decryptMeta(fx.prf, nil, fx.sc, ekey[:minMetaKeySize-1], sealed, fx.stream.Name)
	require_Error(t, err, errBadKeySize)
	// A key that opens but a meta.inf that does not (damaged) is no match.
	damaged := bytes.Clone(sealed)
	damaged[len(damaged)-1] ^= 0x80
	_, _, err = decryptMeta(fx.prf, nil, fx.sc, ekey, damaged, fx.stream.Name)
	require_Error(t, err, errKeyInvalid)
}

func TestGenEncryptionKeyCiphers(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, encryptionSeedSize)
	for _, tc := range []struct {
		sc        StoreCipher
		nonceSize int
	}{
		{ChaCha, 24},
		{AES, 16},
	} {
		t.Run(tc.sc.String(), func(t *testing.T) {
			aek, err := genEncryptionKey(tc.sc, seed)
			require_NoError(t, err)
			require_Equal(t, aek.NonceSize(), tc.nonceSize)
			require_Equal(t, aek.Overhead(), 16)
			// The key file these ciphers make has the documented size.
			require_Equal(t, aek.NonceSize()+encryptionSeedSize+aek.Overhead(), map[StoreCipher]int{ChaCha: 72, AES: 64}[tc.sc])
			_, err = genEncryptionKey(tc.sc, seed[:5])
			require_Error(t, err)

			bek, err := genBlockEncryptionKey(tc.sc, seed, make([]byte, tc.nonceSize))
			require_NoError(t, err)
			buf := []byte("some block bytes")
			bek.XORKeyStream(buf, buf)
			require_False(t, bytes.Equal(buf, []byte("some block bytes")))
			// A nonce of the wrong size is an error, not a panic.
			_, err = genBlockEncryptionKey(tc.sc, seed, make([]byte, tc.nonceSize-1))
			require_Error(t, err)
			_, err = genBlockEncryptionKey(tc.sc, seed[:3], make([]byte, tc.nonceSize))
			require_Error(t, err)
		})
	}
	_, err := genEncryptionKey(NoCipher, seed)
	require_Error(t, err, errUnknownCipher)
	_, err = genBlockEncryptionKey(NoCipher, seed, make([]byte, 16))
	require_Error(t, err, errUnknownCipher)
}

func TestGenEncryptionKeysWithPRF(t *testing.T) {
	prf := hmacKeyGen("dlc22")
	for _, sc := range []StoreCipher{ChaCha, AES} {
		t.Run(sc.String(), func(t *testing.T) {
			aek, bek, seed, encrypted, err := genEncryptionKeysWithPRF(prf, sc, "zzz:1")
			require_NoError(t, err)
			require_Equal(t, len(seed), encryptionSeedSize)
			require_Equal(t, len(encrypted), aek.NonceSize()+encryptionSeedSize+aek.Overhead())

			gotSeed, nonce, err := openKeyFile(prf, sc, "zzz:1", encrypted)
			require_NoError(t, err)
			require_True(t, bytes.Equal(gotSeed, seed))
			require_True(t, bytes.Equal(nonce, encrypted[:aek.NonceSize()]))

			// bek is the block stream of this seed and nonce at offset 0.
			a, b := []byte("block contents"), []byte("block contents")
			bek.XORKeyStream(a, a)
			require_NoError(t, cryptBlock(sc, seed, nonce, b))
			require_True(t, bytes.Equal(a, b))

			// aek is the seed's AEAD.
			sealed, err := sealWithRandomNonce(aek, []byte("meta"))
			require_NoError(t, err)
			again, err := genEncryptionKey(sc, seed)
			require_NoError(t, err)
			plain, err := openSealed(again, sealed)
			require_NoError(t, err)
			require_Equal(t, string(plain), "meta")

			// Two calls make different keys.
			_, _, seed2, encrypted2, err := genEncryptionKeysWithPRF(prf, sc, "zzz:1")
			require_NoError(t, err)
			require_False(t, bytes.Equal(seed, seed2) || bytes.Equal(encrypted, encrypted2))
		})
	}
	prfErr := errors.New("no key service")
	for _, tc := range []struct {
		name string
		prf  keyGen
		sc   StoreCipher
		want error
	}{
		{"nil-prf", nil, AES, errNoEncryption},
		{"prf-error", func([]byte) ([]byte, error) { return nil, prfErr }, AES, prfErr},
		{"unknown-cipher", prf, NoCipher, errUnknownCipher},
		{"short-prf-output", func([]byte) ([]byte, error) { return []byte("short"), nil }, ChaCha, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, _, err := genEncryptionKeysWithPRF(tc.prf, tc.sc, "ctx")
			if tc.want == nil {
				require_Error(t, err)
			} else {
				require_Error(t, err, tc.want)
			}
		})
	}
}

func TestOpenKeyFileErrors(t *testing.T) {
	prf := hmacKeyGen("k")
	_, _, _, good, err := genEncryptionKeysWithPRF(prf, ChaCha, "s")
	require_NoError(t, err)
	prfErr := errors.New("prf down")
	for _, tc := range []struct {
		name string
		prf  keyGen
		sc   StoreCipher
		ctx  string
		ekey []byte
		want error
	}{
		{"nil-prf", nil, ChaCha, "s", good, errNoEncryption},
		{"short", prf, ChaCha, "s", good[:minBlkKeySize-1], errBadKeySize},
		{"wrong-context", prf, ChaCha, "t", good, errKeyInvalid},
		{"wrong-key", hmacKeyGen("other"), ChaCha, "s", good, errKeyInvalid},
		{"wrong-cipher", prf, AES, "s", good, errKeyInvalid},
		{"prf-error", func([]byte) ([]byte, error) { return nil, prfErr }, ChaCha, "s", good, prfErr},
		{"unknown-cipher", prf, NoCipher, "s", good, errUnknownCipher},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed, nonce, err := openKeyFile(tc.prf, tc.sc, tc.ctx, tc.ekey)
			require_Error(t, err, tc.want)
			require_True(t, seed == nil && nonce == nil)
		})
	}
	// The nonce returned does not alias the caller's buffer.
	_, nonce, err := openKeyFile(prf, ChaCha, "s", good)
	require_NoError(t, err)
	nonce[0] ^= 0xff
	require_False(t, nonce[0] == good[0])
}

func TestKeyCandidatesOrder(t *testing.T) {
	cur, old := hmacKeyGen("cur"), hmacKeyGen("old")
	id := func(p keyGen) string {
		b, _ := p([]byte("x"))
		return hex.EncodeToString(b[:4])
	}
	describe := func(cs []keyCandidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, id(c.prf)+"/"+c.cipher.String())
		}
		return out
	}
	curID, oldID := id(cur), id(old)
	for _, tc := range []struct {
		name        string
		prf, oldprf keyGen
		sc          StoreCipher
		want        []string
	}{
		{"aes-with-old", cur, old, AES, []string{curID + "/AES-GCM", curID + "/ChaCha20-Poly1305", oldID + "/AES-GCM", oldID + "/ChaCha20-Poly1305"}},
		{"chacha", cur, nil, ChaCha, []string{curID + "/ChaCha20-Poly1305", curID + "/AES-GCM"}},
		{"only-old", nil, old, ChaCha, []string{oldID + "/ChaCha20-Poly1305", oldID + "/AES-GCM"}},
		{"none", nil, nil, AES, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(keyCandidates(tc.prf, tc.oldprf, tc.sc)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	require_Equal(t, otherCipher(ChaCha), AES)
	require_Equal(t, otherCipher(AES), ChaCha)
	require_Equal(t, otherCipher(NoCipher), ChaCha)
}

func TestOpenKeyFileWithAny(t *testing.T) {
	cur, old := hmacKeyGen("cur"), hmacKeyGen("old")
	_, _, seed, ekey, err := genEncryptionKeysWithPRF(old, ChaCha, "ctx")
	require_NoError(t, err)
	cands := keyCandidates(cur, old, AES)

	got, nonce, used, err := openKeyFileWithAny(cands, "ctx", ekey, nil)
	require_NoError(t, err)
	require_Equal(t, used, 3) // old key, other cipher
	require_True(t, bytes.Equal(got, seed))
	require_True(t, bytes.Equal(nonce, ekey[:24]))

	// A check that refuses makes every candidate fail.
	_, _, used, err = openKeyFileWithAny(cands, "ctx", ekey, func(keyCandidate, []byte, []byte) error { return errors.New("no") })
	require_Error(t, err, errKeyInvalid)
	require_Equal(t, used, -1)
	_, _, _, err = openKeyFileWithAny(cands, "ctx", ekey[:10], nil)
	require_Error(t, err, errBadKeySize)
	_, _, _, err = openKeyFileWithAny(nil, "ctx", ekey, nil)
	require_Error(t, err, errKeyInvalid)
}

func TestSealWithRandomNonce(t *testing.T) {
	for _, sc := range []StoreCipher{ChaCha, AES} {
		t.Run(sc.String(), func(t *testing.T) {
			aek, err := genEncryptionKey(sc, bytes.Repeat([]byte{1}, encryptionSeedSize))
			require_NoError(t, err)
			plain := []byte(`{"name":"zzz"}`)
			a, err := sealWithRandomNonce(aek, plain)
			require_NoError(t, err)
			b, err := sealWithRandomNonce(aek, plain)
			require_NoError(t, err)
			require_Equal(t, len(a), aek.NonceSize()+len(plain)+aek.Overhead())
			require_False(t, bytes.Equal(a, b))
			// The ciphertext is not the plain text in disguise.
			require_False(t, bytes.Contains(a, plain))
			got, err := openSealed(aek, a)
			require_NoError(t, err)
			require_True(t, bytes.Equal(got, plain))

			a[len(a)-1] ^= 1
			_, err = openSealed(aek, a)
			require_Error(t, err)
			_, err = openSealed(aek, a[:aek.NonceSize()])
			require_Error(t, err, errShortSealed)
			_, err = openSealed(aek, nil)
			require_Error(t, err, errShortSealed)
		})
	}
}

func TestEncryptionKeyContexts(t *testing.T) {
	require_Equal(t, blockKeyContext("fix-enc-aes", 3), "fix-enc-aes:3")
	require_Equal(t, blockKeyContext("s", 4294967295), "s:4294967295")
	require_Equal(t, consumerKeyContext("ORDERS", "C1"), "ORDERS.C1")
}

func TestCryptBlockIsItsOwnInverse(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, encryptionSeedSize)
	for _, tc := range []struct {
		sc    StoreCipher
		nonce int
	}{{ChaCha, 24}, {AES, 16}} {
		t.Run(tc.sc.String(), func(t *testing.T) {
			nonce := make([]byte, tc.nonce)
			orig := make([]byte, 1000)
			binary.LittleEndian.PutUint64(orig, 42)
			buf := bytes.Clone(orig)
			require_NoError(t, cryptBlock(tc.sc, seed, nonce, buf))
			require_False(t, bytes.Equal(buf, orig))
			require_NoError(t, cryptBlock(tc.sc, seed, nonce, buf))
			require_True(t, bytes.Equal(buf, orig))
			require_Error(t, cryptBlock(tc.sc, seed, nonce[:1], buf))
		})
	}
}
