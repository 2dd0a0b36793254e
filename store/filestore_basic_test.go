package store

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestFileStoreBasics(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})

		subj, msg := "foo", []byte("Hello World")
		for i := 1; i <= 5; i++ {
			now := time.Now().UnixNano()
			seq, ts, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
			require_Equal(t, seq, uint64(i))
			if ts < now || ts > now+int64(time.Second) {
				t.Fatalf("expected a current timestamp, off by %v", ts-now)
			}
		}
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(5))
		require_Equal(t, state.Bytes, 5*fileStoreMsgSize(subj, nil, msg))

		var smv StoreMsg
		sm, err := fs.LoadMsg(2, &smv)
		require_NoError(t, err)
		require_Equal(t, sm.subj, subj)
		require_True(t, bytes.Equal(sm.msg, msg))
		_, err = fs.LoadMsg(3, nil)
		require_NoError(t, err)

		remove := func(seq, expectedMsgs uint64) {
			t.Helper()
			removed, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
			require_True(t, removed)
			require_Equal(t, fs.State().Msgs, expectedMsgs)
		}
		remove(1, 4) // first
		remove(5, 3) // last
		remove(3, 2) // middle
	})
}

func TestFileStoreMsgHeaders(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Storage: FileStorage})
		subj, hdr, msg := "foo", []byte("name:derek"), []byte("Hello World")
		require_Equal(t, int(fileStoreMsgSize(subj, hdr, msg)), 22+len(subj)+4+len(hdr)+len(msg)+8)
		_, _, err := fs.StoreMsg(subj, hdr, msg, 0)
		require_NoError(t, err)
		var smv StoreMsg
		sm, err := fs.LoadMsg(1, &smv)
		require_NoError(t, err)
		require_True(t, bytes.Equal(msg, sm.msg))
		require_True(t, bytes.Equal(hdr, sm.hdr))
		removed, err := fs.EraseMsg(1)
		require_NoError(t, err)
		require_True(t, removed)
	})
}

func TestFileStoreBasicWriteMsgsAndRestore(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)

		subj := "foo"
		toStore := uint64(100)
		for i := uint64(1); i <= toStore; i++ {
			msg := []byte(fmt.Sprintf("[%08d] Hello World!", i))
			seq, _, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
			require_Equal(t, seq, i)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, toStore)
		msg22 := []byte(fmt.Sprintf("[%08d] Hello World!", 22))
		expectedSize := toStore * fileStoreMsgSize(subj, nil, msg22)
		require_Equal(t, state.Bytes, expectedSize)
		require_NoError(t, fs.Stop())

		// Restart with index.db.
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		state = fs.State()
		require_Equal(t, state.Msgs, toStore)
		require_Equal(t, state.Bytes, expectedSize)

		// Add more, stop, restart.
		for i := uint64(1); i <= toStore; i++ {
			msg := []byte(fmt.Sprintf("[%08d] Hello World!", i))
			_, _, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
		}
		require_Equal(t, fs.State().Msgs, toStore*2)
		require_NoError(t, fs.Stop())

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		require_Equal(t, fs.State().Msgs, toStore*2)

		// Purge, restart: empty but the sequence is kept.
		purged, err := fs.Purge()
		require_NoError(t, err)
		require_Equal(t, purged, toStore*2)
		require_NoError(t, fs.Stop())

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		state = fs.State()
		require_Equal(t, state.Msgs, uint64(0))
		require_Equal(t, state.Bytes, uint64(0))
		require_Equal(t, state.LastSeq, toStore*2)
		require_Equal(t, state.FirstSeq, toStore*2+1)

		seq, _, err := fs.StoreMsg(subj, nil, []byte("Hello"), 0)
		require_NoError(t, err)
		require_Equal(t, seq, toStore*2+1)
	})
}
