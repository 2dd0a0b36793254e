package store

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
)

// snapshotBytes takes a snapshot and reads it whole.
func snapshotBytes(t *testing.T, fs *fileStore, checkMsgs, includeConsumers bool) []byte {
	t.Helper()
	sr, err := fs.Snapshot(5*time.Second, checkMsgs, includeConsumers)
	require_NoError(t, err)
	b, err := io.ReadAll(sr.Reader)
	require_NoError(t, err)
	for msg := range sr.errCh {
		t.Fatalf("snapshot failed: %s", msg)
	}
	return b
}

// untarSnapshot unpacks a snapshot into dir and returns the entry names.
func untarSnapshot(t *testing.T, snap []byte, dir string) []string {
	t.Helper()
	tr := tar.NewReader(s2.NewReader(bytes.NewReader(snap)))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		require_NoError(t, err)
		names = append(names, hdr.Name)
		require_Equal(t, hdr.Uname, "nats")
		require_Equal(t, hdr.Mode, int64(0o600))
		p := filepath.Join(dir, filepath.Clean(hdr.Name))
		require_NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		b, err := io.ReadAll(tr)
		require_NoError(t, err)
		require_NoError(t, os.WriteFile(p, b, 0o600))
	}
}

// A snapshot restored into a new directory opens as a store with the same
// state, with any cipher and compression, after removals and compactions
// too; consumers are included when asked. While a snapshot streams,
// messages can still be removed, and a reader that stops reading ends it.
func TestFileStoreSnapshot(t *testing.T) {
	testFileStoreEncryptedPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		scfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
		fs, err := newFileStoreWithCreated(fcfg, scfg, time.Now(), prf(&fcfg))
		require_NoError(t, err)
		defer fs.Stop()
		const toSend = 2233
		for range toSend {
			_, _, err := fs.StoreMsg("foo", nil, []byte("Hello Snappy!"), 0)
			require_NoError(t, err)
		}
		for i, name := range []string{"o22", "o33"} {
			o, err := fs.ConsumerStore(name, time.Time{}, &ConsumerConfig{})
			require_NoError(t, err)
			st := &ConsumerState{}
			st.Delivered.Consumer, st.Delivered.Stream = 100, 100
			st.AckFloor.Consumer, st.AckFloor.Stream = uint64(22+11*i), uint64(22+11*i)
			require_NoError(t, o.Update(st))
		}

		verify := func(snap []byte) {
			t.Helper()
			rdir := t.TempDir()
			names := untarSnapshot(t, snap, rdir)
			require_Equal(t, names[0], JetStreamMetaFile)
			require_Equal(t, names[1], JetStreamMetaFileSum)
			require_Equal(t, names[len(names)-1], "obs/o33/o.dat")
			for _, want := range []string{"msgs/index.db", "obs/o22/meta.inf", "obs/o22/meta.sum", "obs/o22/o.dat"} {
				found := false
				for _, n := range names {
					found = found || n == want
				}
				require_True(t, found)
			}
			rcfg := fcfg
			rcfg.StoreDir = rdir
			fsr, err := newFileStoreWithCreated(rcfg, scfg, time.Now(), prf(&rcfg))
			require_NoError(t, err)
			defer fsr.Stop()
			// The upper layer recovers consumers; the stores are not
			// registered by a restore.
			want := fs.State()
			want.Consumers = 0
			if got := fsr.State(); !reflect.DeepEqual(got, want) {
				t.Fatalf("restored state differs:\n%+v\n%+v", got, want)
			}
			sm, err := fsr.LoadMsg(want.LastSeq, nil)
			require_NoError(t, err)
			require_Equal(t, string(sm.msg), "Hello Snappy!")
			// The consumer state came along.
			o, err := fsr.ConsumerStore("o33", time.Time{}, &ConsumerConfig{})
			require_NoError(t, err)
			ost, err := o.State()
			require_NoError(t, err)
			require_Equal(t, ost.AckFloor.Stream, 33)
		}

		verify(snapshotBytes(t, fs, true, true))
		for seq := uint64(1); seq <= 100; seq++ {
			_, err := fs.RemoveMsg(seq)
			require_NoError(t, err)
		}
		verify(snapshotBytes(t, fs, true, true))
		rng := rand.New(rand.NewSource(1))
		for range 50 {
			_, _ = fs.RemoveMsg(uint64(rng.Int63n(toSend-100) + 101))
		}
		verify(snapshotBytes(t, fs, true, true))
		fs.mu.RLock()
		for _, mb := range fs.blocks {
			if mb != fs.lastBlock {
				mb.mu.Lock()
				err := mb.compact()
				mb.mu.Unlock()
				require_NoError(t, err)
			}
		}
		fs.mu.RUnlock()
		verify(snapshotBytes(t, fs, true, true))

		// One at a time; removals go on meanwhile.
		sr, err := fs.Snapshot(5*time.Second, false, true)
		require_NoError(t, err)
		_, err = fs.Snapshot(5*time.Second, false, true)
		require_Error(t, err, ErrStoreSnapshotInProgress)
		_, err = fs.RemoveMsg(122)
		require_NoError(t, err)
		require_NoError(t, sr.Reader.Close())
		checkFor(t, 2*time.Second, 10*time.Millisecond, func() error {
			fs.mu.RLock()
			defer fs.mu.RUnlock()
			if fs.snapshotsInProgress != 0 {
				return errors.New("snapshot not finished")
			}
			return nil
		})

		// A reader that does not keep up past the deadline ends it.
		sr, err = fs.Snapshot(25*time.Millisecond, false, false)
		require_NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		var buf [32]byte
		_, err = sr.Reader.Read(buf[:])
		require_Error(t, err, io.EOF)
	})
}

// A snapshot of a store with a damaged record is refused when asked to
// check, and the refusal does not leave a snapshot marked in progress.
func TestFileStoreSnapshotCheckMsgsRefusesDamage(t *testing.T) {
	sd := t.TempDir()
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: sd}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	for range 10 {
		_, _, err := fs.StoreMsg("foo", nil, []byte("payload"), 0)
		require_NoError(t, err)
	}
	// Flip a payload byte of the fifth record on disk.
	fn := filepath.Join(sd, msgDir, "1.blk")
	b, err := os.ReadFile(fn)
	require_NoError(t, err)
	rl := int(fileStoreMsgSize("foo", nil, []byte("payload")))
	b[4*rl+msgHdrSize+5] ^= 0xff
	require_NoError(t, os.WriteFile(fn, b, 0o600))

	_, err = fs.Snapshot(time.Second, true, false)
	require_Error(t, err)
	require_True(t, strings.Contains(err.Error(), "bad messages"))
	fs.mu.RLock()
	require_Equal(t, fs.snapshotsInProgress, 0)
	fs.mu.RUnlock()
}

// A snapshot in progress does not stop syncBlocks re-arming its timer.
func TestFileStoreSnapshotAndSyncBlocks(t *testing.T) {
	testFileStoreAllPermutations(t, func(t *testing.T, fcfg FileStoreConfig) {
		fs := newTestFileStore(t, fcfg, StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage})
		armed := func() bool {
			fs.mu.RLock()
			defer fs.mu.RUnlock()
			return fs.syncTmr != nil
		}
		fs.cancelSyncTimer()
		fs.syncBlocks()
		require_True(t, armed())

		fs.mu.Lock()
		fs.snapshotsInProgress++
		fs.mu.Unlock()
		fs.cancelSyncTimer()
		require_False(t, armed())
		fs.syncBlocks()
		require_True(t, armed())
	})
}
