package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/gsl"
)

// TestFileStoreConcurrentWritersReadersPurges runs writers, readers and
// purgers on one store at once (run it with -race). Every call must return,
// reads must only see messages as they were written, and when all stop the
// state must agree with what loads, before and after a restart.
func TestFileStoreConcurrentWritersReadersPurges(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("AsyncFlush=%v", async), func(t *testing.T) { runConcurrentWorkload(t, async) })
	}
}

// runConcurrentWorkload is the concurrent test, flushing in place or
// asynchronously (then block flushers run alongside).
func runConcurrentWorkload(t *testing.T, async bool) {
	fcfg := FileStoreConfig{StoreDir: t.TempDir(), BlockSize: 4096, CacheExpire: 20 * time.Millisecond, AsyncFlush: async}
	cfg := StreamConfig{Name: "race", Subjects: []string{"w.>"}, Storage: FileStorage, MaxMsgsPer: 50}
	fs, err := newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
	require_NoError(t, err)

	const (
		writers       = 4
		perWriter     = 600
		readers       = 3
		readerRounds  = 1500
		purgers       = 2
		purgerRounds  = 60
		payloadPrefix = "payload-"
	)
	var stored atomic.Uint64
	var wg sync.WaitGroup
	errCh := make(chan error, writers+readers+purgers)

	// Each payload names its subject, so a reader can tell a message was
	// returned whole and under the right subject.
	payload := func(subj string, i int) []byte { return []byte(fmt.Sprintf("%s%s-%d", payloadPrefix, subj, i)) }
	checkMsg := func(sm *StoreMsg) error {
		if want := payloadPrefix + sm.subj + "-"; !bytes.HasPrefix(sm.msg, []byte(want)) {
			return fmt.Errorf("seq %d: payload %q does not belong to subject %q", sm.seq, sm.msg, sm.subj)
		}
		return nil
	}

	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				subj := fmt.Sprintf("w.%d.%d", w, i%7)
				var hdr []byte
				if i%5 == 0 {
					hdr = []byte("NATS/1.0\r\nW: 1\r\n\r\n")
				}
				if _, _, err := fs.StoreMsg(subj, hdr, payload(subj, i), 0); err != nil {
					errCh <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				stored.Add(1)
			}
		}(w)
	}

	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(r)))
			var smv StoreMsg
			sl := gsl.NewSimpleSublist()
			sl.Insert("w.0.*", struct{}{})
			sl.Insert("w.3.1", struct{}{})
			for i := 0; i < readerRounds; i++ {
				var st StreamState
				fs.FastState(&st)
				var sm *StoreMsg
				var err error
				switch i % 7 {
				case 0:
					if st.LastSeq == 0 {
						continue
					}
					sm, err = fs.LoadMsg(1+uint64(rng.Int63n(int64(st.LastSeq))), &smv)
				case 1:
					sm, _, err = fs.LoadNextMsg(fmt.Sprintf("w.%d.*", rng.Intn(writers)), true, uint64(rng.Int63n(int64(st.LastSeq+1))), &smv)
				case 2:
					sm, err = fs.LoadLastMsg(fmt.Sprintf("w.%d.%d", rng.Intn(writers), rng.Intn(7)), &smv)
				case 3:
					_, err = fs.FilteredState(uint64(rng.Int63n(int64(st.LastSeq+1))), "w.1.>")
				case 4:
					_, _, err = fs.NumPending(uint64(rng.Int63n(int64(st.LastSeq+1))), "w.2.*", i%2 == 0)
				case 5:
					sm, _, err = fs.LoadNextMsgMulti(sl, uint64(rng.Int63n(int64(st.LastSeq+1))), &smv)
				case 6:
					_ = fs.SubjectsTotals("w.>")
					_ = fs.State()
				}
				if err != nil && !errors.Is(err, ErrStoreMsgNotFound) && !errors.Is(err, ErrStoreEOF) && !errors.Is(err, errDeletedMsg) {
					errCh <- fmt.Errorf("reader %d op %d: %w", r, i%7, err)
					return
				}
				if err == nil && sm != nil {
					if err := checkMsg(sm); err != nil {
						errCh <- err
						return
					}
				}
			}
		}(r)
	}

	for p := 0; p < purgers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(100 + p)))
			for i := 0; i < purgerRounds; i++ {
				var st StreamState
				fs.FastState(&st)
				var err error
				switch i % 4 {
				case 0:
					_, err = fs.PurgeEx(fmt.Sprintf("w.%d.%d", rng.Intn(writers), rng.Intn(7)), 0, 0)
				case 1:
					if st.Msgs > 0 {
						_, err = fs.RemoveMsg(st.FirstSeq + uint64(rng.Int63n(int64(st.LastSeq-st.FirstSeq+1))))
					}
				case 2:
					if st.LastSeq > 10 {
						_, err = fs.Compact(st.LastSeq - 10)
					}
				case 3:
					if i%20 == 3 {
						_, err = fs.Purge()
					} else {
						_, err = fs.PurgeEx("w.1.>", 0, 3)
					}
				}
				if err != nil && !errors.Is(err, ErrStoreMsgNotFound) && !errors.Is(err, ErrStoreEOF) {
					errCh <- fmt.Errorf("purger %d op %d: %w", p, i%4, err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}(p)
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("concurrent operations did not finish: deadlock?")
	}
	close(errCh)
	for err := range errCh {
		t.Fatal(err)
	}
	require_Equal(t, stored.Load(), uint64(writers*perWriter))

	before := fs.State()
	checkStoreConsistent(t, fs)
	for subj, n := range fs.SubjectsTotals("w.>") {
		if n > uint64(cfg.MaxMsgsPer) {
			t.Fatalf("subject %s has %d messages, limit %d", subj, n, cfg.MaxMsgsPer)
		}
	}
	require_NoError(t, fs.Stop())

	fs, err = newFileStoreWithCreated(fcfg, cfg, time.Now(), nil)
	require_NoError(t, err)
	defer fs.Stop()
	after := fs.State()
	require_Equal(t, after.Msgs, before.Msgs)
	require_Equal(t, after.FirstSeq, before.FirstSeq)
	require_Equal(t, after.LastSeq, before.LastSeq)
	checkStoreConsistent(t, fs)
}
