package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestFileStoreSelectNextFirst(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 256
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		for i := 0; i < 10; i++ {
			_, _, err := fs.StoreMsg("zzz", nil, []byte("Hello World"), 0)
			require_NoError(t, err)
		}
		// 256 bytes hold five of these records.
		fs.mu.RLock()
		fmb := fs.selectMsgBlock(1)
		fs.mu.RUnlock()
		require_Equal(t, fmb.msgs, uint64(5))

		// Remove 2-7 across the block boundary.
		for seq := uint64(2); seq <= 7; seq++ {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(4))
		require_Equal(t, state.FirstSeq, uint64(1))
		// Closing the gap must jump blocks to find the new first.
		_, err := fs.RemoveMsg(1)
		require_NoError(t, err)
		state = fs.State()
		require_Equal(t, state.Msgs, uint64(3))
		require_Equal(t, state.FirstSeq, uint64(8))
	})
}

func TestFileStoreSkipMsg(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 256
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		numSkips := uint64(10)
		for i := uint64(0); i < numSkips; i++ {
			seq, err := fs.SkipMsg(0)
			require_NoError(t, err)
			require_Equal(t, seq, i+1)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(0))
		require_Equal(t, state.FirstSeq, numSkips+1)
		require_Equal(t, state.LastSeq, numSkips)

		fs.StoreMsg("zzz", nil, []byte("Hello World!"), 0)
		fs.SkipMsg(0)
		fs.SkipMsg(0)
		fs.StoreMsg("zzz", nil, []byte("Hello World!"), 0)
		fs.SkipMsg(0)

		check := func() {
			t.Helper()
			state := fs.State()
			require_Equal(t, state.Msgs, uint64(2))
			require_Equal(t, state.FirstSeq, numSkips+1)
			require_Equal(t, state.LastSeq, numSkips+5)
		}
		check()
		_, err = fs.SkipMsg(3)
		require_Error(t, err, ErrSequenceMismatch)

		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		check()

		var smv StoreMsg
		sm, err := fs.LoadMsg(11, &smv)
		require_NoError(t, err)
		require_Equal(t, sm.subj, "zzz")
		require_Equal(t, string(sm.msg), "Hello World!")

		fs.SkipMsg(0)
		nseq, _, err := fs.StoreMsg("AAA", nil, []byte("Skip?"), 0)
		require_NoError(t, err)
		require_Equal(t, nseq, uint64(17))

		require_NoError(t, fs.Stop())
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		sm, err = fs.LoadMsg(nseq, &smv)
		require_NoError(t, err)
		require_Equal(t, sm.subj, "AAA")
		require_Equal(t, string(sm.msg), "Skip?")
	})
}

func TestFileStoreWriteExpireWrite(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.CacheExpire = 10 * time.Millisecond
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()

		toSend := 10
		for i := 0; i < toSend; i++ {
			fs.StoreMsg("zzz", nil, []byte("Hello World!"), 0)
		}
		// The write cache expires.
		checkFor(t, time.Second, 20*time.Millisecond, func() error {
			if csz := fs.cacheSize(); csz != 0 {
				return fmt.Errorf("cache size not 0, got %d", csz)
			}
			return nil
		})
		// Writing again reloads the block so appends land after it.
		for i := 0; i < toSend; i++ {
			fs.StoreMsg("zzz", nil, []byte("Hello World! - 22"), 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(toSend*2))

		require_NoError(t, fs.Stop())
		fcfg.CacheExpire = 0
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		require_Equal(t, fs.State().Msgs, uint64(toSend*2))
		var smv StoreMsg
		for i := 1; i <= toSend*2; i++ {
			sm, err := fs.LoadMsg(uint64(i), &smv)
			require_NoError(t, err)
			str := "Hello World!"
			if i > toSend {
				str = "Hello World! - 22"
			}
			require_Equal(t, sm.subj, "zzz")
			require_Equal(t, string(sm.msg), str)
		}
	})
}

func TestFileStoreMsgLimit(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", MaxMsgs: 10})
		for i := 0; i < 10; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(10))
		_, _, err := fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		require_NoError(t, err)
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(10))
		require_Equal(t, state.LastSeq, uint64(11))
		require_Equal(t, state.FirstSeq, uint64(2))
		_, err = fs.LoadMsg(1, nil)
		require_Error(t, err)
	})
}

func TestFileStoreMsgLimitBug(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		cfg := StreamConfig{Name: "zzz", Storage: FileStorage, MaxMsgs: 1}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		require_NoError(t, fs.Stop())

		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		_, _, err = fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		require_NoError(t, err)
		state := fs.State()
		require_Equal(t, state.Msgs, uint64(1))
		require_Equal(t, state.FirstSeq, uint64(3))
	})
}

func TestFileStoreBytesLimit(t *testing.T) {
	subj, msg := "foo", make([]byte, 512)
	storedMsgSize := fileStoreMsgSize(subj, nil, msg)
	toStore := uint64(1024)
	maxBytes := storedMsgSize * toStore

	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", MaxBytes: int64(maxBytes)})
		for i := uint64(0); i < toStore; i++ {
			fs.StoreMsg(subj, nil, msg, 0)
		}
		state := fs.State()
		require_Equal(t, state.Msgs, toStore)
		require_Equal(t, state.Bytes, storedMsgSize*toStore)

		for i := 0; i < 10; i++ {
			_, _, err := fs.StoreMsg(subj, nil, msg, 0)
			require_NoError(t, err)
		}
		state = fs.State()
		require_Equal(t, state.Msgs, toStore)
		require_Equal(t, state.Bytes, storedMsgSize*toStore)
		require_Equal(t, state.FirstSeq, uint64(11))
		require_Equal(t, state.LastSeq, toStore+10)
	})
}

func TestFileStoreBytesLimitWithDiscardNew(t *testing.T) {
	subj, msg := "tiny", make([]byte, 7)
	storedMsgSize := fileStoreMsgSize(subj, nil, msg)
	toStore := uint64(2)

	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", MaxBytes: 100, Discard: DiscardNew})
		for i := 0; i < 10; i++ {
			_, _, err := fs.StoreMsg(subj, nil, msg, 0)
			if i < int(toStore) {
				require_NoError(t, err)
			} else if !errors.Is(err, ErrMaxBytes) {
				t.Fatalf("store %d: got %v, want %v", i, err, ErrMaxBytes)
			}
		}
		state := fs.State()
		require_Equal(t, state.Msgs, toStore)
		require_Equal(t, state.Bytes, storedMsgSize*toStore)
	})
}

func TestFileStoreAgeLimit(t *testing.T) {
	maxAge := time.Second
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 256
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", MaxAge: maxAge})
		toStore := 500
		// Nothing may expire before the writes end; on a loaded machine
		// they can take longer than maxAge, and then some already have.
		allStored := func(start time.Time) {
			t.Helper()
			if time.Since(start) < maxAge/2 {
				require_Equal(t, fs.State().Msgs, uint64(toStore))
			}
		}
		start := time.Now()
		for i := 0; i < toStore; i++ {
			_, _, err := fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
			require_NoError(t, err)
		}
		allStored(start)
		checkExpired := func() {
			t.Helper()
			checkFor(t, 5*time.Second, maxAge, func() error {
				if state := fs.State(); state.Msgs != 0 || state.Bytes != 0 {
					return fmt.Errorf("expected nothing left, got %d msgs %d bytes", state.Msgs, state.Bytes)
				}
				return nil
			})
		}
		checkExpired()

		// The timer fires again for new messages, interior deletes included.
		start = time.Now()
		for i := 0; i < toStore; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		allStored(start)
		for _, seq := range []uint64{502, 602, 702, 802} {
			if _, err := fs.RemoveMsg(seq); err != nil && time.Since(start) < maxAge/2 {
				t.Fatalf("remove %d: %v", seq, err)
			}
		}
		checkExpired()
	})
}

func TestFileStoreTimeStamps(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz"})
		last := time.Now().UnixNano()
		for i := 0; i < 10; i++ {
			time.Sleep(5 * time.Millisecond)
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		var smv StoreMsg
		for seq := uint64(1); seq <= 10; seq++ {
			sm, err := fs.LoadMsg(seq, &smv)
			require_NoError(t, err)
			if sm.ts <= last {
				t.Fatalf("expected increasing timestamps, got %v after %v", sm.ts, last)
			}
			last = sm.ts
		}
	})
}

func TestFileStoreAgeLimitRecovery(t *testing.T) {
	maxAge := time.Second
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.CacheExpire = time.Millisecond
		cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage, MaxAge: maxAge}
		fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		for i := 0; i < 100; i++ {
			fs.StoreMsg("foo", nil, []byte("Hello World"), 0)
		}
		require_Equal(t, fs.State().Msgs, uint64(100))
		require_NoError(t, fs.Stop())

		time.Sleep(maxAge)
		fcfg.CacheExpire = 0
		fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
		require_NoError(t, err)
		defer fs.Stop()
		checkFor(t, time.Second, 2*maxAge, func() error {
			if state := fs.State(); state.Msgs != 0 || state.Bytes != 0 {
				return fmt.Errorf("expected nothing left, got %d msgs %d bytes", state.Msgs, state.Bytes)
			}
			return nil
		})
	})
}

func TestFileStoreMaxMsgsPerSubject(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fcfg.BlockSize = 128
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "TEST", Subjects: []string{"kv.>"}, MaxMsgsPer: 2})
		for i := 0; i < 10; i++ {
			_, _, err := fs.StoreMsg(fmt.Sprintf("kv.%d", i%3), nil, []byte("value"), 0)
			require_NoError(t, err)
		}
		totals := fs.SubjectsTotals("kv.>")
		require_Len(t, len(totals), 3)
		for subj, n := range totals {
			if n != 2 {
				t.Fatalf("subject %s has %d msgs, want 2", subj, n)
			}
		}
		require_Equal(t, fs.State().Msgs, uint64(6))
	})
}
