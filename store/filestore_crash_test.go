package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// The crash matrix runs a workload on an in-memory file system and, for
// every k, takes a crash image just before the k-th operation that changes
// the disk. The store reopened on that image must hold:
//
//   - with SyncAlways, every acknowledged message, byte for byte, and no
//     message whose removal was acknowledged;
//   - without it, a clean prefix: every message present is one that was
//     stored, with its exact contents, and none is missing below the
//     highest present one (unless its removal was at least started);
//   - in both, a state that agrees with what loads.

type crashOpKind int

const (
	crashStore crashOpKind = iota
	crashRemove
	crashErase
	crashSkip
	crashRestart
	crashPurgeSubject
	crashCompact // removes everything below seq
	crashPurge   // removes everything
)

type crashOp struct {
	kind crashOpKind
	subj string
	hdr  []byte
	msg  []byte
	seq  uint64 // remove and erase: which message; compact: the new first
}

type storedMsg struct {
	subj string
	hdr  []byte
	msg  []byte
}

// crashModel is what the test knows was acknowledged. Background
// compression calls the crash hook from its own goroutine, so the model is
// read and written under mu.
type crashModel struct {
	mu       sync.Mutex
	stored   map[uint64]storedMsg // acknowledged stores
	removed  map[uint64]bool      // acknowledged removals
	inflight *crashOp             // the operation running at the crash
	// inflightSeq is the sequence an in-flight store would get.
	inflightSeq uint64
	// mayRemove lists sequences whose removal was started, acknowledged or not.
	mayRemove map[uint64]bool
}

func newCrashModel() *crashModel {
	return &crashModel{stored: map[uint64]storedMsg{}, removed: map[uint64]bool{}, mayRemove: map[uint64]bool{}}
}

// update changes the model under its lock.
func (m *crashModel) update(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// markRemoving notes that the removal of every stored message below seq has
// started. m.mu held.
func (m *crashModel) markRemoving(below uint64) {
	for seq := range m.stored {
		if seq < below && !m.removed[seq] {
			m.mayRemove[seq] = true
		}
	}
}

// markRemoved notes that the removal of every stored message below seq was
// acknowledged. m.mu held.
func (m *crashModel) markRemoved(below uint64) {
	for seq := range m.stored {
		if seq < below {
			m.removed[seq] = true
		}
	}
}

func (m *crashModel) clone() *crashModel {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newCrashModel()
	for k, v := range m.stored {
		c.stored[k] = v
	}
	for k := range m.removed {
		c.removed[k] = true
	}
	for k := range m.mayRemove {
		c.mayRemove[k] = true
	}
	if m.inflight != nil {
		op := *m.inflight
		c.inflight = &op
	}
	c.inflightSeq = m.inflightSeq
	return c
}

// crashWorkload builds a deterministic mix of stores (some with headers),
// removals, erasures, skips, a compaction, a restart, a full purge followed
// by more stores, and a subject purge.
func crashWorkload(seed int64, n int) []crashOp {
	rng := rand.New(rand.NewSource(seed))
	var ops []crashOp
	var next uint64 = 1
	var live []uint64
	for i := 0; i < n; i++ {
		switch r := rng.Intn(20); {
		case r < 13 || len(live) < 3:
			op := crashOp{kind: crashStore, subj: fmt.Sprintf("foo.%d", rng.Intn(4))}
			op.msg = make([]byte, rng.Intn(120))
			rng.Read(op.msg)
			if rng.Intn(4) == 0 {
				op.hdr = []byte(fmt.Sprintf("NATS/1.0\r\nK: %d\r\n\r\n", i))
			}
			ops = append(ops, op)
			live = append(live, next)
			next++
		case r < 16:
			j := rng.Intn(len(live))
			ops = append(ops, crashOp{kind: crashRemove, seq: live[j]})
			live = append(live[:j], live[j+1:]...)
		case r < 17:
			j := rng.Intn(len(live))
			ops = append(ops, crashOp{kind: crashErase, seq: live[j]})
			live = append(live[:j], live[j+1:]...)
		case r < 18:
			ops = append(ops, crashOp{kind: crashSkip})
			next++
		default:
			ops = append(ops, crashOp{kind: crashStore, subj: "bar", msg: []byte("bar")})
			live = append(live, next)
			next++
		}
		if i == n/2 {
			ops = append(ops, crashOp{kind: crashRestart})
		}
		if i == 3*n/4 && len(live) > 2 {
			cut := live[len(live)/3]
			ops = append(ops, crashOp{kind: crashCompact, seq: cut})
			live = slices.DeleteFunc(live, func(seq uint64) bool { return seq < cut })
		}
	}
	ops = append(ops, crashOp{kind: crashPurge})
	for i := range 6 {
		subj := "bar"
		if i%2 == 0 {
			subj = "foo.1"
		}
		ops = append(ops, crashOp{kind: crashStore, subj: subj, msg: []byte(fmt.Sprintf("after-purge-%d", i))})
	}
	ops = append(ops, crashOp{kind: crashPurgeSubject, subj: "bar"})
	return ops
}

// crashRun runs the workload; at the crash-th mutation it saves a crash
// image of the disk and a copy of the model. It returns how many mutations
// the workload made.
type crashRun struct {
	mu       sync.Mutex // guards count, image and imageMod
	variant  storeVariant
	mem      *vfs.MemFS
	count    int
	crashAt  int
	opts     vfs.CrashOptions
	image    *vfs.MemFS
	imageMod *crashModel
	model    *crashModel
}

func (r *crashRun) MaybeError(op vfs.Op) error {
	if !op.IsMutation() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	if r.count == r.crashAt {
		r.image = r.mem.CrashClone(r.opts)
		r.imageMod = r.model.clone()
	}
	return nil
}

const crashStoreDir = "/data/stream"

// storeVariant is a stored form the crash and fault matrices run with.
type storeVariant struct {
	name   string
	cipher StoreCipher
	cmp    StoreCompression
}

// keyGen is the variant's key generator; nil when plain.
func (v storeVariant) keyGen() keyGen {
	if v.cipher == NoCipher {
		return nil
	}
	return hmacKeyGen("crash")
}

var (
	plainVariant  = storeVariant{"plain", NoCipher, NoCompression}
	crashVariants = []storeVariant{
		plainVariant,
		{"aes-s2", AES, S2Compression},
		{"chacha", ChaCha, NoCompression},
	}
)

func crashConfigs(syncAlways bool, variant ...storeVariant) (FileStoreConfig, StreamConfig) {
	v := plainVariant
	if len(variant) > 0 {
		v = variant[0]
	}
	fcfg := FileStoreConfig{StoreDir: crashStoreDir, BlockSize: 512, SyncAlways: syncAlways, Cipher: v.cipher, Compression: v.cmp}
	cfg := StreamConfig{Name: "crash", Subjects: []string{"foo.*", "bar"}, Storage: FileStorage}
	return fcfg, cfg
}

// openVariant opens a store of variant v on fsys.
func openVariant(fsys vfs.FS, fcfg FileStoreConfig, cfg StreamConfig, v storeVariant) (*fileStore, error) {
	cfg.Storage = FileStorage
	return openFileStore(fsys, fcfg, cfg, time.Now(), v.keyGen(), nil)
}

func runCrashWorkload(t *testing.T, r *crashRun, ops []crashOp, syncAlways bool) {
	t.Helper()
	runCrashWorkloadInj(t, r, r, ops, syncAlways)
}

// runCrashWorkloadInj runs the workload with inj watching the disk
// operations (r itself, or a wrapper around it when debugging).
func runCrashWorkloadInj(t *testing.T, r *crashRun, inj vfs.Injector, ops []crashOp, syncAlways bool) {
	t.Helper()
	fsys := vfs.NewFaultFS(r.mem, inj)
	require_NoError(t, r.mem.MkdirAll("/data", 0o700))
	require_NoError(t, r.mem.SyncDir("/"))
	fcfg, cfg := crashConfigs(syncAlways, r.variant)
	fs, err := openVariant(fsys, fcfg, cfg, r.variant)
	require_NoError(t, err)
	defer func() { fs.Stop() }()
	m := r.model
	for i := range ops {
		op := ops[i]
		m.update(func() { m.inflight = &op })
		switch op.kind {
		case crashStore:
			m.update(func() { m.inflightSeq = fs.lastSeq() + 1 })
			seq, _, err := fs.StoreMsg(op.subj, op.hdr, op.msg, 0)
			require_NoError(t, err)
			m.update(func() { m.stored[seq] = storedMsg{op.subj, op.hdr, op.msg} })
		case crashRemove, crashErase:
			m.update(func() { m.mayRemove[op.seq] = true })
			var removed bool
			if op.kind == crashRemove {
				removed, err = fs.RemoveMsg(op.seq)
			} else {
				removed, err = fs.EraseMsg(op.seq)
			}
			require_NoError(t, err)
			require_True(t, removed)
			m.update(func() { m.removed[op.seq] = true })
		case crashSkip:
			_, err := fs.SkipMsg(0)
			require_NoError(t, err)
		case crashRestart:
			require_NoError(t, fs.Stop())
			fs, err = openVariant(fsys, fcfg, cfg, r.variant)
			require_NoError(t, err)
		case crashPurgeSubject:
			m.update(func() {
				for seq, sm := range m.stored {
					if sm.subj == op.subj && !m.removed[seq] {
						m.mayRemove[seq] = true
					}
				}
			})
			_, err := fs.PurgeEx(op.subj, 0, 0)
			require_NoError(t, err)
			m.update(func() {
				for seq, sm := range m.stored {
					if sm.subj == op.subj {
						m.removed[seq] = true
					}
				}
			})
		case crashCompact, crashPurge:
			below := op.seq
			if op.kind == crashPurge {
				below = math.MaxUint64
			}
			m.update(func() { m.markRemoving(below) })
			var err error
			if op.kind == crashPurge {
				_, err = fs.Purge()
			} else {
				_, err = fs.Compact(op.seq)
			}
			require_NoError(t, err)
			m.update(func() { m.markRemoved(below) })
		}
		m.update(func() { m.inflight = nil })
		// Background compression finishes before the next operation, so
		// every run makes the same disk operations in the same order and
		// each crash point is the same moment in every run.
		fs.compressWG.Wait()
	}
}

// checkStoreConsistent checks that State agrees with what loads and that the
// subject totals agree with a recount. It returns the loaded messages.
func checkStoreConsistent(t *testing.T, fs *fileStore) map[uint64]*StoreMsg {
	t.Helper()
	st := fs.State()
	loaded := make(map[uint64]*StoreMsg)
	counts := make(map[string]uint64)
	var nbytes uint64
	if st.Msgs > 0 {
		for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
			sm, err := fs.LoadMsg(seq, nil)
			if err != nil {
				if IsCorrupt(err) {
					t.Fatalf("seq %d is corrupt: %v", seq, err)
				}
				continue
			}
			loaded[seq] = sm
			counts[sm.subj]++
			nbytes += fileStoreMsgSize(sm.subj, sm.hdr, sm.msg)
		}
	}
	// The store's counts must be the sum of its blocks' (what index.db
	// checks on write and on recovery).
	fs.mu.RLock()
	var mstate StreamState
	for _, mb := range fs.blocks {
		mb.mu.RLock()
		updateTrackingState(&mstate, mb)
		mb.mu.RUnlock()
	}
	fsState := fs.state
	fs.mu.RUnlock()
	if !trackingStatesEqual(&fsState, &mstate) {
		t.Fatalf("store state %d msgs %d bytes first %d last %d, blocks sum to %d msgs %d bytes first %d last %d",
			fsState.Msgs, fsState.Bytes, fsState.FirstSeq, fsState.LastSeq, mstate.Msgs, mstate.Bytes, mstate.FirstSeq, mstate.LastSeq)
	}
	if st.Msgs == 0 && st.FirstSeq != st.LastSeq+1 && (st.FirstSeq != 0 || st.LastSeq != 0) {
		t.Fatalf("empty store with first %d and last %d", st.FirstSeq, st.LastSeq)
	}
	if st.Msgs > 0 {
		if _, ok := loaded[st.FirstSeq]; !ok {
			t.Fatalf("first seq %d does not load", st.FirstSeq)
		}
		if _, ok := loaded[st.LastSeq]; !ok && st.LastSeq < st.FirstSeq {
			t.Fatalf("last seq %d below first %d", st.LastSeq, st.FirstSeq)
		}
	}
	if uint64(len(loaded)) != st.Msgs {
		t.Fatalf("state says %d messages, %d load (first %d last %d)", st.Msgs, len(loaded), st.FirstSeq, st.LastSeq)
	}
	if nbytes != st.Bytes {
		t.Fatalf("state says %d bytes, loaded messages make %d", st.Bytes, nbytes)
	}
	totals := fs.SubjectsTotals(fwcs)
	if len(totals) != len(counts) {
		t.Fatalf("subject totals %v, recount %v", totals, counts)
	}
	for subj, n := range counts {
		if totals[subj] != n {
			t.Fatalf("subject %q: index says %d, recount %d", subj, totals[subj], n)
		}
	}
	for _, seq := range st.Deleted {
		if _, ok := loaded[seq]; ok {
			t.Fatalf("seq %d is listed deleted but loads", seq)
		}
	}
	return loaded
}

func sameMsg(sm *StoreMsg, want storedMsg) bool {
	return sm.subj == want.subj && bytes.Equal(sm.hdr, want.hdr) && bytes.Equal(sm.msg, want.msg)
}

// checkCrashImage reopens the store on a crash image and checks it against
// the model as of the crash.
func checkCrashImage(t *testing.T, image *vfs.MemFS, m *crashModel, syncAlways bool, v storeVariant) {
	t.Helper()
	fcfg, cfg := crashConfigs(syncAlways, v)
	fs, err := openVariant(image, fcfg, cfg, v)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer fs.Stop()
	loaded := checkStoreConsistent(t, fs)

	var maxPresent uint64
	for seq, sm := range loaded {
		want, ok := m.stored[seq]
		if !ok && m.inflight != nil && m.inflight.kind == crashStore && seq == m.inflightSeq {
			want, ok = storedMsg{m.inflight.subj, m.inflight.hdr, m.inflight.msg}, true
		}
		if !ok {
			t.Fatalf("phantom message at seq %d: %q", seq, sm.subj)
		}
		if !sameMsg(sm, want) {
			t.Fatalf("seq %d came back different: %q/%q", seq, sm.subj, sm.msg)
		}
		maxPresent = max(maxPresent, seq)
	}
	for seq, want := range m.stored {
		_, present := loaded[seq]
		inflightRemove := m.inflight != nil && m.mayRemove[seq] && !m.removed[seq]
		switch {
		case syncAlways && m.removed[seq] && present:
			t.Fatalf("seq %d came back after its removal was acknowledged", seq)
		case syncAlways && !m.removed[seq] && !inflightRemove && !present:
			t.Fatalf("acknowledged seq %d (%q) lost", seq, want.subj)
		case !syncAlways && seq < maxPresent && !present && !m.mayRemove[seq]:
			t.Fatalf("seq %d lost below present seq %d: not a clean prefix", seq, maxPresent)
		}
	}

	// The store must take writes again.
	_, _, err = fs.StoreMsg("foo.after", nil, []byte("after"), 0)
	require_NoError(t, err)
	checkStoreConsistent(t, fs)
}

func TestFileStoreCrashMatrix(t *testing.T) {
	ops := crashWorkload(7, 70)
	for _, v := range crashVariants {
		for _, tc := range []struct {
			name       string
			syncAlways bool
			torn       bool
		}{
			{"sync-always", true, false},
			{"sync-always-torn", true, true},
			{"no-sync", false, false},
			{"no-sync-torn", false, true},
		} {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				// A dry run counts the mutations to crash at.
				dry := &crashRun{variant: v, mem: vfs.NewMem(), model: newCrashModel()}
				runCrashWorkload(t, dry, ops, tc.syncAlways)
				total := dry.count
				require_True(t, total > 100)

				for k := 1; k <= total; k++ {
					r := &crashRun{variant: v, mem: vfs.NewMem(), crashAt: k, model: newCrashModel()}
					if tc.torn {
						r.opts.Rand = rand.New(rand.NewSource(int64(k)))
					}
					runCrashWorkload(t, r, ops, tc.syncAlways)
					if r.image == nil {
						// Background compression makes the number of
						// disk operations vary a little between runs.
						if v.cmp != NoCompression && k > total-10 {
							continue
						}
						t.Fatalf("crash point %d of %d never reached", k, total)
					}
					t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
						checkCrashImage(t, r.image, r.imageMod, tc.syncAlways, v)
					})
					if t.Failed() {
						return
					}
				}
			})
		}
	}
}

// TestFileStoreCrashImageOfCleanStop checks the image after a clean Stop
// without SyncAlways: the final syncs of Stop must make everything durable
// that a restart would see.
func TestFileStoreCrashAfterRestartKeepsIndex(t *testing.T) {
	mem := vfs.NewMem()
	require_NoError(t, mem.MkdirAll("/data", 0o700))
	require_NoError(t, mem.SyncDir("/"))
	fcfg, cfg := crashConfigs(true)
	fs, err := newTestFileStoreFS(t, mem, fcfg, cfg)
	require_NoError(t, err)
	for i := 0; i < 50; i++ {
		_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i%3), nil, []byte("x"), 0)
		require_NoError(t, err)
	}
	require_NoError(t, fs.Stop())
	image := mem.CrashClone(vfs.CrashOptions{})
	// With SyncAlways, index.db is written durably too.
	_, err = image.Stat(crashStoreDir + "/" + msgDir + "/" + streamStreamStateFile)
	require_NoError(t, err)
	fs, err = newTestFileStoreFS(t, image, fcfg, cfg)
	require_NoError(t, err)
	defer fs.Stop()
	require_Equal(t, fs.State().Msgs, uint64(50))
	require_True(t, fs.lostData() == nil)
	if errors.Is(err, ErrStoreClosed) {
		t.Fatal("unexpected closed store")
	}
}
