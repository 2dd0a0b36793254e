package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/avl"
)

// legacyIndex encodes a pre-2.10 .idx file (version 1 or 2) for a block
// holding first..last, with deleted removed and lchk its last checksum.
func legacyIndex(version uint8, msgs, nbytes, first uint64, firstTs int64, last uint64, lastTs int64, deleted []uint64, lchk []byte) []byte {
	b := []byte{legacyIndexMagic, version}
	b = binary.AppendUvarint(b, msgs)
	b = binary.AppendUvarint(b, nbytes)
	b = binary.AppendUvarint(b, first)
	b = binary.AppendVarint(b, firstTs)
	b = binary.AppendUvarint(b, last)
	b = binary.AppendVarint(b, lastTs)
	b = binary.AppendUvarint(b, uint64(len(deleted)))
	b = append(b, lchk...)
	if version == legacyIndexNewVersion {
		var ss avl.SequenceSet
		for _, seq := range deleted {
			ss.Insert(seq)
		}
		b = append(b, ss.Encode(nil)...)
	} else {
		for _, seq := range deleted {
			b = binary.AppendUvarint(b, seq-first)
		}
	}
	return b
}

// A store upgraded from before 2.10 keeps interior deletes only in its
// .idx files; opened without index.db it must honour them when the .idx
// matches its block, rebuild when it does not, and remove the .idx files.
func TestFileStoreLegacyIndexRecovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint8
		cipher  bool
		stale   bool
		corrupt bool
	}{
		{"v1", legacyIndexVersion, false, false, false},
		{"v2", legacyIndexNewVersion, false, false, false},
		{"v2-encrypted", legacyIndexNewVersion, true, false, false},
		{"stale", legacyIndexNewVersion, false, true, false},
		{"bad-header", legacyIndexNewVersion, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fcfg := FileStoreConfig{StoreDir: t.TempDir()}
			var kg keyGen
			if tc.cipher {
				fcfg.Cipher, kg = AES, hmacKeyGen("legacy")
			}
			cfg := StreamConfig{Name: "old", Subjects: []string{"foo.*"}, Storage: FileStorage}
			fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), kg)
			require_NoError(t, err)
			var nbytes uint64
			var firstTs, lastTs int64
			for i := 1; i <= 10; i++ {
				subj, msg := fmt.Sprintf("foo.%d", i%2), []byte(fmt.Sprintf("m%d", i))
				seq, ts, err := fs.StoreMsg(subj, nil, msg, 0)
				require_NoError(t, err)
				if seq != 3 && seq != 7 {
					nbytes += fileStoreMsgSize(subj, nil, msg)
				}
				if seq == 1 {
					firstTs = ts
				}
				lastTs = ts
			}
			mb := firstBlockOf(fs)
			mb.mu.Lock()
			lchk := mb.lastChecksum()
			seed, nonce := mb.seed, mb.nonce
			mb.mu.Unlock()
			require_NoError(t, fs.Stop())
			require_NoError(t, os.Remove(filepath.Join(fcfg.StoreDir, msgDir, streamStreamStateFile)))

			if tc.stale {
				lchk = make([]byte, checksumSize)
			}
			idx := legacyIndex(tc.version, 8, nbytes, 1, firstTs, 10, lastTs, []uint64{3, 7}, lchk)
			if tc.corrupt {
				idx[0] = 99
			}
			if tc.cipher {
				aek, err := genEncryptionKey(AES, seed)
				require_NoError(t, err)
				idx = aek.Seal(nil, nonce, idx, nil)
			}
			ifn := filepath.Join(fcfg.StoreDir, msgDir, "1.idx")
			require_NoError(t, os.WriteFile(ifn, idx, defaultFilePerms))

			fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), kg)
			require_NoError(t, err)
			defer fs.Stop()
			if _, err := os.Stat(ifn); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("1.idx should be gone (stat err %v)", err)
			}
			state := fs.State()
			if tc.stale || tc.corrupt {
				// The block is rebuilt: no deletes known.
				require_Equal(t, state.Msgs, 10)
				return
			}
			require_Equal(t, state.Msgs, 8)
			require_Equal(t, state.Bytes, nbytes)
			require_Equal(t, state.NumDeleted, 2)
			require_Equal(t, fmt.Sprint(state.Deleted), "[3 7]")
			_, err = fs.LoadMsg(3, nil)
			require_Error(t, err, errDeletedMsg)
			sm, err := fs.LoadMsg(10, nil)
			require_NoError(t, err)
			require_Equal(t, string(sm.msg), "m10")
			require_Equal(t, fs.SubjectsTotals("foo.*")["foo.1"], 3)
			// New writes continue after it.
			seq, _, err := fs.StoreMsg("foo.1", nil, []byte("new"), 0)
			require_NoError(t, err)
			require_Equal(t, seq, 11)
		})
	}
}

func TestCheckNewHeader(t *testing.T) {
	for _, tc := range []struct {
		hdr []byte
		ok  bool
	}{
		{[]byte{22, 1}, true},
		{[]byte{22, 2, 9}, true},
		{[]byte{22, 3}, false},
		{[]byte{11, 1}, false},
		{[]byte{22}, false},
	} {
		err := checkNewHeader(tc.hdr)
		require_Equal(t, err == nil, tc.ok)
		if !tc.ok {
			require_Error(t, err, errCorruptState)
		}
	}
}
