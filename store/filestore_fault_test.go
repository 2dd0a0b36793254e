package store

import (
	"errors"
	"fmt"
	"math/rand"
	"syscall"
	"testing"

	"github.com/porttracker/porttracker/store/vfs"
)

// The fault matrix fails the k-th write (or sync) of a workload with EIO,
// ENOSPC or a short write. The failing call must return an error; the store
// must stay consistent (State agrees with what loads) and, for write
// failures, keep accepting writes; every acknowledged message must survive a
// restart.

// faultRun executes a workload against a store on fsys, tolerating errors,
// and keeps the model of what was acknowledged.
type faultRun struct {
	t        *testing.T
	fsys     vfs.FS
	fcfg     FileStoreConfig
	cfg      StreamConfig
	fs       *fileStore
	model    *crashModel
	failures []error
}

func (r *faultRun) open() {
	r.t.Helper()
	fs, err := newTestFileStoreFS(r.t, r.fsys, r.fcfg, r.cfg)
	if err != nil {
		// A failed open (say, meta.inf could not be written) is reported;
		// a second try must work as the fault fires once.
		r.failures = append(r.failures, err)
		fs, err = newTestFileStoreFS(r.t, r.fsys, r.fcfg, r.cfg)
		require_NoError(r.t, err)
	}
	r.fs = fs
}

func (r *faultRun) run(ops []crashOp) {
	t := r.t
	t.Helper()
	r.open()
	m := r.model
	fail := func(err error) {
		t.Helper()
		if err != nil {
			r.failures = append(r.failures, err)
		}
	}
	for i := range ops {
		op := ops[i]
		switch op.kind {
		case crashStore:
			seq, _, err := r.fs.StoreMsg(op.subj, op.hdr, op.msg, 0)
			if err == nil {
				m.stored[seq] = storedMsg{op.subj, op.hdr, op.msg}
			}
			fail(err)
		case crashRemove, crashErase:
			if _, ok := m.stored[op.seq]; !ok || m.mayRemove[op.seq] {
				continue
			}
			m.mayRemove[op.seq] = true
			var removed bool
			var err error
			if op.kind == crashRemove {
				removed, err = r.fs.RemoveMsg(op.seq)
			} else {
				removed, err = r.fs.EraseMsg(op.seq)
			}
			if err == nil && removed {
				m.removed[op.seq] = true
			}
			fail(err)
		case crashSkip:
			_, err := r.fs.SkipMsg(0)
			fail(err)
		case crashRestart:
			// Stop reports no error: a failed index.db write only costs
			// a rebuild.
			require_NoError(t, r.fs.Stop())
			r.open()
		case crashPurgeSubject:
			for seq, sm := range m.stored {
				if sm.subj == op.subj {
					m.mayRemove[seq] = true
				}
			}
			_, err := r.fs.PurgeEx(op.subj, 0, 0)
			if err == nil {
				for seq, sm := range m.stored {
					if sm.subj == op.subj {
						m.removed[seq] = true
					}
				}
			}
			fail(err)
		}
		checkStoreConsistent(t, r.fs)
	}
}

// check compares the store with the model: acknowledged messages present
// unless their removal was tried, and nothing present that was not stored.
func (r *faultRun) check() {
	t := r.t
	t.Helper()
	loaded := checkStoreConsistent(t, r.fs)
	for seq, sm := range loaded {
		want, ok := r.model.stored[seq]
		if !ok {
			t.Fatalf("seq %d (%q) present but never acknowledged", seq, sm.subj)
		}
		if !sameMsg(sm, want) {
			t.Fatalf("seq %d differs from what was stored", seq)
		}
	}
	for seq := range r.model.stored {
		_, present := loaded[seq]
		if r.model.removed[seq] && present {
			t.Fatalf("seq %d present after its removal was acknowledged", seq)
		}
		if !r.model.mayRemove[seq] && !present {
			t.Fatalf("acknowledged seq %d lost", seq)
		}
	}
}

func TestFileStoreWriteFaultMatrix(t *testing.T) {
	ops := crashWorkload(11, 60)
	faults := []struct {
		name string
		err  func(n int) error
	}{
		{"eio", func(int) error { return vfs.ErrEIO }},
		{"enospc", func(int) error { return vfs.ErrENOSPC }},
		{"short-enospc", func(n int) error { return &vfs.ShortWrite{N: n, Err: vfs.ErrENOSPC} }},
	}
	for _, syncAlways := range []bool{false, true} {
		for _, f := range faults {
			t.Run(fmt.Sprintf("%s/sync=%v", f.name, syncAlways), func(t *testing.T) {
				fcfg, cfg := crashConfigs(syncAlways)
				// Count the writes first.
				counter := vfs.OnNth(vfs.Kinds(vfs.OpWrite), -1, nil)
				mem := vfs.NewMem()
				dry := &faultRun{t: t, fsys: vfs.NewFaultFS(mem, counter), fcfg: fcfg, cfg: cfg, model: newCrashModel()}
				dry.run(ops)
				require_NoError(t, dry.fs.Stop())
				total := counter.Count()
				require_True(t, total > 50)

				rng := rand.New(rand.NewSource(3))
				for k := 1; k <= total; k++ {
					inj := vfs.OnNth(vfs.Kinds(vfs.OpWrite), k, f.err(rng.Intn(40)))
					mem := vfs.NewMem()
					t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
						r := &faultRun{t: t, fsys: vfs.NewFaultFS(mem, inj), fcfg: fcfg, cfg: cfg, model: newCrashModel()}
						r.run(ops)
						if len(r.failures) > 1 {
							t.Fatalf("k=%d: one injected fault failed %d calls: %v", k, len(r.failures), r.failures)
						}
						for _, err := range r.failures {
							if !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.ENOSPC) {
								t.Fatalf("k=%d: error does not carry the injected errno: %v", k, err)
							}
						}
						r.check()
						require_NoError(t, r.fs.Stop())
						require_True(t, inj.Fired())
						// A restart sees the same.
						r.open()
						r.check()
						require_NoError(t, r.fs.Stop())
					})
					if t.Failed() {
						return
					}
				}
			})
		}
	}
}

// TestFileStoreSyncFaultIsSticky fails an fsync under SyncAlways. The kernel
// may have dropped the data, so the store refuses further writes (reads go
// on, consistently) until it is reopened and its blocks re-verified.
func TestFileStoreSyncFaultIsSticky(t *testing.T) {
	fcfg, cfg := crashConfigs(true)
	mem := vfs.NewMem()
	inj := vfs.OnNth(vfs.Kinds(vfs.OpSync).PathSuffix(blkSuffix), 10, vfs.ErrEIO)
	fsys := vfs.NewFaultFS(mem, inj)
	fs, err := newTestFileStoreFS(t, fsys, fcfg, cfg)
	require_NoError(t, err)

	var acked []uint64
	var failedAt int
	for i := 0; i < 20; i++ {
		seq, _, err := fs.StoreMsg("foo.1", nil, []byte(fmt.Sprintf("msg-%d", i)), 0)
		if err != nil {
			require_True(t, errors.Is(err, syscall.EIO))
			failedAt = i
			break
		}
		acked = append(acked, seq)
	}
	require_True(t, inj.Fired())
	require_Equal(t, len(acked), failedAt)
	// Later writes return the sticky error.
	_, _, err = fs.StoreMsg("foo.1", nil, []byte("again"), 0)
	require_True(t, errors.Is(err, syscall.EIO))
	_, err = fs.RemoveMsg(acked[0])
	require_True(t, errors.Is(err, syscall.EIO))
	// Reads still work.
	for _, seq := range acked {
		_, err := fs.LoadMsg(seq, nil)
		require_NoError(t, err)
	}
	require_NoError(t, fs.Stop())

	// Reopened, the acknowledged messages are there and writes work.
	fs, err = newTestFileStoreFS(t, fsys, fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	checkStoreConsistent(t, fs)
	for _, seq := range acked {
		_, err := fs.LoadMsg(seq, nil)
		require_NoError(t, err)
	}
	_, _, err = fs.StoreMsg("foo.1", nil, []byte("after"), 0)
	require_NoError(t, err)
}
