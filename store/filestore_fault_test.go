package store

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"sync/atomic"
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
	variant  storeVariant
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
	fs, err := openVariant(r.fsys, r.fcfg, r.cfg, r.variant)
	if err != nil {
		// A failed open (say, meta.inf could not be written) is reported;
		// a second try must work as the fault fires once.
		r.failures = append(r.failures, err)
		fs, err = openVariant(r.fsys, r.fcfg, r.cfg, r.variant)
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
		case crashCompact, crashPurge:
			below := op.seq
			if op.kind == crashPurge {
				below = math.MaxUint64
			}
			m.markRemoving(below)
			var err error
			if op.kind == crashPurge {
				_, err = r.fs.Purge()
			} else {
				_, err = r.fs.Compact(op.seq)
			}
			if err == nil {
				m.markRemoved(below)
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
	for _, v := range crashVariants {
		for _, syncAlways := range []bool{false, true} {
			for _, f := range faults {
				t.Run(fmt.Sprintf("%s/%s/sync=%v", v.name, f.name, syncAlways), func(t *testing.T) {
					fcfg, cfg := crashConfigs(syncAlways, v)
					// Count the writes first.
					counter := vfs.OnNth(vfs.Kinds(vfs.OpWrite), -1, nil)
					mem := vfs.NewMem()
					dry := &faultRun{variant: v, t: t, fsys: vfs.NewFaultFS(mem, counter), fcfg: fcfg, cfg: cfg, model: newCrashModel()}
					dry.run(ops)
					require_NoError(t, dry.fs.Stop())
					total := counter.Count()
					require_True(t, total > 50)

					rng := rand.New(rand.NewSource(3))
					for k := 1; k <= total; k++ {
						inj := vfs.OnNth(vfs.Kinds(vfs.OpWrite), k, f.err(rng.Intn(40)))
						mem := vfs.NewMem()
						t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
							r := &faultRun{variant: v, t: t, fsys: vfs.NewFaultFS(mem, inj), fcfg: fcfg, cfg: cfg, model: newCrashModel()}
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
							if !inj.Fired() {
								// Background compression makes the number of
								// writes vary a little between runs.
								if v.cmp != NoCompression && k > total-10 {
									return
								}
								t.Fatalf("write %d of %d never happened", k, total)
							}
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

// bitFlipBase builds a store on a MemFS with messages over several blocks,
// some with NATS headers, a removal and an erasure, and stops it. Everything
// is synced, so a crash clone is an exact copy to corrupt.
func bitFlipBase(t *testing.T) (*vfs.MemFS, map[uint64]storedMsg, []string) {
	t.Helper()
	mem := vfs.NewMem()
	require_NoError(t, mem.MkdirAll("/data", 0o700))
	require_NoError(t, mem.SyncDir("/"))
	fcfg, cfg := crashConfigs(true)
	fs, err := newTestFileStoreFS(t, mem, fcfg, cfg)
	require_NoError(t, err)
	rng := rand.New(rand.NewSource(5))
	want := make(map[uint64]storedMsg)
	for i := 0; i < 24; i++ {
		sm := storedMsg{subj: fmt.Sprintf("foo.%d", i%3)}
		sm.msg = make([]byte, 10+rng.Intn(60))
		rng.Read(sm.msg)
		if i%4 == 0 {
			sm.hdr = []byte(fmt.Sprintf("NATS/1.0\r\nIdx: %d\r\n\r\n", i))
		}
		seq, _, err := fs.StoreMsg(sm.subj, sm.hdr, sm.msg, 0)
		require_NoError(t, err)
		want[seq] = sm
	}
	for _, seq := range []uint64{5, 12} {
		_, err := fs.RemoveMsg(seq)
		require_NoError(t, err)
		delete(want, seq)
	}
	_, err = fs.EraseMsg(18)
	require_NoError(t, err)
	delete(want, 18)
	require_NoError(t, fs.Stop())

	entries, err := mem.ReadDir(crashStoreDir + "/" + msgDir)
	require_NoError(t, err)
	var blocks []string
	for _, e := range entries {
		if len(e.Name()) > 4 && e.Name()[len(e.Name())-4:] == blkSuffix {
			blocks = append(blocks, crashStoreDir+"/"+msgDir+"/"+e.Name())
		}
	}
	require_True(t, len(blocks) > 3)
	return mem, want, blocks
}

// blockLayout maps a block's bytes: which message (by sequence, 0 for
// tombstones and erased records) each byte belongs to, and which bytes are
// subject or header length fields. The record hash covers subject, header
// and payload as one byte string, so a flip in those fields can move the
// boundaries between them without changing the hash (a limit of the
// v2.14.5 format; recordShapeOK catches most such cases).
func blockLayout(t *testing.T, buf []byte) (owner map[int64]uint64, boundary map[int64]bool) {
	t.Helper()
	owner, boundary = make(map[int64]uint64), make(map[int64]bool)
	for i := 0; i < len(buf); {
		rh, ok := parseRecordHeader(buf[i:])
		require_True(t, ok)
		if rh.seq&(tbit|ebit) == 0 {
			for j := 0; j < int(rh.rl); j++ {
				owner[int64(i+j)] = rh.seq
			}
		}
		boundary[int64(i+20)], boundary[int64(i+21)] = true, true
		if rh.hasHeaders {
			for j := 0; j < 4; j++ {
				boundary[int64(i+msgHdrSize+rh.slen+j)] = true
			}
		}
		i += int(rh.rl)
	}
	return owner, boundary
}

// TestFileStoreBitFlipDetected flips one bit in every byte of every block
// (cycling through the bit positions), with and without index.db. The store
// must open and never return a message with different contents. A flip in a
// live message's record must be reported, as an IsCorrupt error on read or
// as lost data on recovery; the one exception is the subject and header
// length fields, which the format's hash does not cover as boundaries: a
// flip there may only move bytes between subject, header and payload, never
// change them. Flips in records nothing reads (tombstones, erased or
// removed messages) may go unnoticed while index.db is trusted.
func TestFileStoreBitFlipDetected(t *testing.T) {
	base, want, blocks := bitFlipBase(t)
	fcfg, cfg := crashConfigs(true)
	concat := func(subj string, hdr, msg []byte) string { return subj + string(hdr) + string(msg) }
	for _, withIndex := range []bool{true, false} {
		t.Run(fmt.Sprintf("index=%v", withIndex), func(t *testing.T) {
			var flips, detected, shifted int
			for _, blk := range blocks {
				orig, err := vfs.ReadFile(base, blk)
				require_NoError(t, err)
				owner, boundary := blockLayout(t, orig)
				for off := int64(0); off < int64(len(orig)); off++ {
					img := base.CrashClone(vfs.CrashOptions{})
					require_NoError(t, img.FlipBit(blk, off, uint(off%8)))
					if !withIndex {
						require_NoError(t, img.Remove(crashStoreDir+"/"+msgDir+"/"+streamStreamStateFile))
					}
					fs, err := newTestFileStoreFS(t, img, fcfg, cfg)
					if err != nil {
						t.Fatalf("%s@%d: open failed: %v", blk, off, err)
					}
					flips++
					var hit, shift bool
					for seq, w := range want {
						sm, err := fs.LoadMsg(seq, nil)
						switch {
						case err != nil:
							hit = true
						case sameMsg(sm, w):
						case boundary[off] && concat(sm.subj, sm.hdr, sm.msg) == concat(w.subj, w.hdr, w.msg):
							shift = true
						default:
							fs.Stop()
							t.Fatalf("%s@%d bit %d: seq %d returned wrong data %q %q", blk, off, off%8, seq, sm.subj, sm.msg)
						}
					}
					if fs.State().Lost != nil {
						hit = true
					}
					switch {
					case hit:
						detected++
					case shift:
						shifted++
					default:
						if _, live := want[owner[off]]; live {
							fs.Stop()
							t.Fatalf("%s@%d bit %d: flip in live seq %d went unreported", blk, off, off%8, owner[off])
						}
					}
					fs.Stop()
				}
			}
			t.Logf("%d flips: %d reported as corrupt or lost, %d moved a boundary undetected, the rest hit bytes no live message uses", flips, detected, shifted)
			require_True(t, shifted*100 < flips)
		})
	}
}

// TestFileStorePurgeFailureRollsBack fails each disk step of a purge up to
// the point where its tombstone block is durable. The purge must return
// the injected error and leave the store exactly as before: same state,
// every message loadable, writes accepted (the error is not sticky), the
// same after a restart, and a later purge works.
func TestFileStorePurgeFailureRollsBack(t *testing.T) {
	for _, v := range crashVariants {
		for _, tc := range []struct {
			name string
			kind vfs.OpKind
			err  error
		}{
			{"open-eio", vfs.OpOpen, vfs.ErrEIO},
			{"write-eio", vfs.OpWrite, vfs.ErrEIO},
			{"sync-eio", vfs.OpSync, vfs.ErrEIO},
			// A full disk is retried after dropping the blocks before the
			// last (TestFileStorePurgeOnFullDisk); a disk still full then
			// fails the same way.
			{"write-enospc-twice", vfs.OpWrite, vfs.ErrENOSPC},
		} {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				fcfg, cfg := crashConfigs(false, v)
				var armed atomic.Bool
				var purgeBlk atomic.Value // the purge's new block file name, set before arming
				// Only the purge's new block is hit: with compression, the
				// rollover that creates it recompresses the old last block
				// in the background, and that .blk open must not take the
				// fault (it did, now and then, under load).
				hit := func(op vfs.Op) bool {
					name, _ := purgeBlk.Load().(string)
					return armed.Load() && op.Kind == tc.kind && filepath.Base(op.Path) == name
				}
				inj := vfs.OnNth(hit, 1, tc.err)
				var injector vfs.Injector = inj
				// Consulted only once inj passed an operation: the next hit.
				retry := vfs.OnNth(hit, 1, tc.err)
				if tc.err == vfs.ErrENOSPC {
					// The retry uses the same new block index; fail it too.
					injector = vfs.Chain{inj, retry}
				}
				fsys := vfs.NewFaultFS(vfs.NewMem(), injector)
				fs, err := openVariant(fsys, fcfg, cfg, v)
				require_NoError(t, err)
				defer func() { fs.Stop() }()
				for i := range 40 {
					_, _, err := fs.StoreMsg(fmt.Sprintf("foo.%d", i%3), nil, []byte(fmt.Sprintf("msg-%d", i)), 0)
					require_NoError(t, err)
				}
				_, err = fs.RemoveMsg(7)
				require_NoError(t, err)
				fs.compressWG.Wait()
				before := fs.State()
				beforeMsgs := checkStoreConsistent(t, fs)

				fs.mu.RLock()
				purgeBlk.Store(fmt.Sprintf(blkScan, fs.lastBlock.index+1))
				require_True(t, len(fs.blocks) > 1)
				lastFirst := atomic.LoadUint64(&fs.lastBlock.first.seq)
				fs.mu.RUnlock()
				if tc.err == vfs.ErrENOSPC {
					// The blocks before the last were dropped for room.
					for seq := range beforeMsgs {
						if seq < lastFirst {
							delete(beforeMsgs, seq)
						}
					}
					before.Msgs, before.Bytes, before.FirstSeq = uint64(len(beforeMsgs)), 0, lastFirst
					for _, sm := range beforeMsgs {
						before.Bytes += fileStoreMsgSize(sm.subj, sm.hdr, sm.msg)
					}
				}
				armed.Store(true)
				_, err = fs.Purge()
				armed.Store(false)
				require_True(t, inj.Fired())
				require_Equal(t, retry.Fired(), tc.err == vfs.ErrENOSPC)
				if !errors.Is(err, tc.err) {
					t.Fatalf("purge error %v does not carry the injected %v", err, tc.err)
				}
				same := func() {
					t.Helper()
					got := fs.State()
					require_Equal(t, got.Msgs, before.Msgs)
					require_Equal(t, got.Bytes, before.Bytes)
					require_Equal(t, got.FirstSeq, before.FirstSeq)
					require_Equal(t, got.LastSeq, before.LastSeq)
					loaded := checkStoreConsistent(t, fs)
					require_Equal(t, len(loaded), len(beforeMsgs))
					for seq, sm := range beforeMsgs {
						if !sameMsg(loaded[seq], storedMsg{sm.subj, sm.hdr, sm.msg}) {
							t.Fatalf("seq %d changed by the failed purge", seq)
						}
					}
				}
				same()
				require_NoError(t, fs.Stop())
				fs, err = openVariant(fsys, fcfg, cfg, v)
				require_NoError(t, err)
				same()

				seq, _, err := fs.StoreMsg("foo.1", nil, []byte("after"), 0)
				require_NoError(t, err)
				require_Equal(t, seq, before.LastSeq+1)
				purged, err := fs.Purge()
				require_NoError(t, err)
				require_Equal(t, purged, before.Msgs+1)
				require_Equal(t, fs.State().FirstSeq, seq+1)
			})
		}
	}
}

// pageQuota fails writes with ENOSPC once the files under root would take
// more than limit bytes, counting whole 4KB pages as tmpfs does.
type pageQuota struct {
	fsys  vfs.FS
	root  string
	limit int64
}

func pages(size int64) int64 { return (size + 4095) / 4096 }

func (q *pageQuota) used(dir string) int64 {
	entries, err := q.fsys.ReadDir(dir)
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if e.IsDir() {
			total += q.used(p)
		} else if fi, err := q.fsys.Stat(p); err == nil {
			total += pages(fi.Size())
		}
	}
	return total
}

func (q *pageQuota) MaybeError(op vfs.Op) error {
	if op.Kind != vfs.OpWrite {
		return nil
	}
	var cur int64
	if fi, err := q.fsys.Stat(op.Path); err == nil {
		cur = fi.Size()
	}
	if grow := pages(op.Offset+int64(op.Len)) - pages(cur); grow > 0 && (q.used(q.root)+grow)*4096 > q.limit {
		return vfs.ErrENOSPC
	}
	return nil
}

// On a full disk a purge has no room for its tombstone block; it drops the
// blocks before the last to make room and then succeeds. Writes fail
// cleanly while full and work again after the purge; a restart agrees.
func TestFileStorePurgeOnFullDisk(t *testing.T) {
	mem := vfs.NewMem()
	fsys := vfs.NewFaultFS(mem, &pageQuota{fsys: mem, root: "/full", limit: 32 * 1024})
	fcfg := FileStoreConfig{StoreDir: "/full/s", BlockSize: 1024}
	cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
	fs, err := newTestFileStoreFS(t, fsys, fcfg, cfg)
	require_NoError(t, err)
	defer func() { fs.Stop() }()

	var stored uint64
	for {
		_, _, err := fs.StoreMsg("foo", nil, []byte("Hello Write Failures!"), 0)
		if err != nil {
			require_True(t, errors.Is(err, syscall.ENOSPC))
			break
		}
		stored++
		require_True(t, stored < 10_000)
	}
	require_True(t, fs.numMsgBlocks() > 2)
	state := fs.State()
	require_Equal(t, state.Msgs, stored)
	require_Equal(t, state.LastSeq, stored)
	checkStoreConsistent(t, fs)

	purged, err := fs.Purge()
	require_NoError(t, err)
	require_Equal(t, purged, stored)
	state = fs.State()
	require_Equal(t, state.Msgs, 0)
	require_Equal(t, state.FirstSeq, stored+1)
	require_Equal(t, state.LastSeq, stored)

	seq, _, err := fs.StoreMsg("foo", nil, []byte("again"), 0)
	require_NoError(t, err)
	require_Equal(t, seq, stored+1)
	require_NoError(t, fs.Stop())
	fs, err = newTestFileStoreFS(t, fsys, fcfg, cfg)
	require_NoError(t, err)
	state = fs.State()
	require_Equal(t, state.Msgs, 1)
	require_Equal(t, state.FirstSeq, stored+1)
	checkStoreConsistent(t, fs)
}
