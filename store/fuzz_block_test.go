package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// FuzzBlockRecords feeds arbitrary bytes to recovery as a stream's only
// block file (no index.db, so every record is framed, checked and indexed)
// and then reads back everything the recovered state claims. Damage must
// surface as errors or lost data, never as a panic or a hang.
func FuzzBlockRecords(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, emptyRecordLen))
	if seed := blockFileFor(f, 5); seed != nil {
		f.Add(seed)
		f.Add(seed[:len(seed)-3])
		mid := append([]byte(nil), seed...)
		mid[len(mid)/2] ^= 0x40
		f.Add(mid)
	}
	if raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", "deletes", "store", msgDir, "1.blk")); err == nil {
		f.Add(raw)
	}
	cfg := StreamConfig{Name: "fuzz", Subjects: []string{">"}, Storage: FileStorage}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := vfs.NewMem()
		dir := "/s"
		require_NoError(t, mem.MkdirAll(filepath.Join(dir, msgDir), 0o755))
		require_NoError(t, vfs.WriteFile(mem, filepath.Join(dir, msgDir, "1.blk"), data, 0o644))
		fs, err := openFileStore(mem, FileStoreConfig{StoreDir: dir}, cfg, time.Now(), nil, nil)
		if err != nil {
			return
		}
		defer fs.Stop()
		state := fs.State()
		if state.LastSeq < state.FirstSeq && state.Msgs != 0 {
			t.Fatalf("recovered %d messages in an empty range %d..%d", state.Msgs, state.FirstSeq, state.LastSeq)
		}
		var smv StoreMsg
		var found uint64
		for seq := state.FirstSeq; seq <= state.LastSeq && seq-state.FirstSeq < 4096; seq++ {
			if _, err := fs.LoadMsg(seq, &smv); err == nil {
				found++
			}
		}
		if state.LastSeq-state.FirstSeq < 4096 && found > state.Msgs {
			t.Fatalf("loaded %d messages, state says %d", found, state.Msgs)
		}
	})
}

// blockFileFor writes n small messages to a fresh store and returns the
// bytes of its first block.
func blockFileFor(tb testing.TB, n int) []byte {
	mem := vfs.NewMem()
	fs, err := openFileStore(mem, FileStoreConfig{StoreDir: "/seed"}, StreamConfig{Name: "fuzz", Subjects: []string{">"}, Storage: FileStorage}, time.Now(), nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		hdr := []byte(nil)
		if i%2 == 1 {
			hdr = []byte("NATS/1.0\r\nk: v\r\n\r\n")
		}
		if _, _, err := fs.StoreMsg("fuzz.seed", hdr, []byte("payload"), 0); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := fs.RemoveMsg(2); err != nil {
		tb.Fatal(err)
	}
	if err := fs.Stop(); err != nil {
		tb.Fatal(err)
	}
	raw, err := vfs.ReadFile(mem, filepath.Join("/seed", msgDir, "1.blk"))
	if err != nil {
		return nil
	}
	return raw
}
