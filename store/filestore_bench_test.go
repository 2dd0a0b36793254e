package store

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Benchmarks of the file store's main paths. Sizes follow the issue: run
// with -benchtime=1000000x for the 1M-message figures, e.g.
//
//	go test ./store -run '^$' -bench 'Benchmark_FileStore' -benchtime=1000000x

// benchSetupSize is how many messages the read benchmarks store first.
const benchSetupSize = 1_000_000

func benchStore(b *testing.B, fcfg FileStoreConfig, subjects []string) *fileStore {
	b.Helper()
	if fcfg.StoreDir == "" {
		fcfg.StoreDir = b.TempDir()
	}
	fs, err := newFileStoreWithCreated(fcfg, StreamConfig{Name: "bench", Subjects: subjects, Storage: FileStorage}, time.Now(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return fs
}

func benchSubjects(n int) []string {
	subjs := make([]string, n)
	for i := range subjs {
		subjs[i] = fmt.Sprintf("foo.%d", i)
	}
	return subjs
}

// fillStore stores n messages of size bytes round robin over subjs.
func fillStore(b *testing.B, fs *fileStore, n, size int, subjs []string) {
	b.Helper()
	msg := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(msg)
	for i := 0; i < n; i++ {
		if _, _, err := fs.StoreMsg(subjs[i%len(subjs)], nil, msg, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmark_FileStoreStoreMsg stores b.N messages: 128 bytes over 100
// subjects, and 1KB on one subject.
func Benchmark_FileStoreStoreMsg(b *testing.B) {
	for _, bc := range []struct {
		name  string
		size  int
		subjs int
	}{
		{"128B-100subjects", 128, 100},
		{"1KB", 1024, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			subjs := benchSubjects(bc.subjs)
			fs := benchStore(b, FileStoreConfig{}, []string{"foo.*"})
			defer fs.Stop()
			msg := make([]byte, bc.size)
			b.SetBytes(int64(bc.size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := fs.StoreMsg(subjs[i%len(subjs)], nil, msg, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Benchmark_FileStoreStoreMsgSyncAlways stores 128-byte messages with an
// fsync per write.
func Benchmark_FileStoreStoreMsgSyncAlways(b *testing.B) {
	fs := benchStore(b, FileStoreConfig{SyncAlways: true}, []string{"foo.*"})
	defer fs.Stop()
	msg := make([]byte, 128)
	b.SetBytes(128)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := fs.StoreMsg("foo.1", nil, msg, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmark_FileStoreLoadMsgRandomAfterReopen loads random messages of a
// reopened store of 1M x 128B, so blocks are read cold at first.
func Benchmark_FileStoreLoadMsgRandomAfterReopen(b *testing.B) {
	dir := b.TempDir()
	fs := benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
	fillStore(b, fs, benchSetupSize, 128, benchSubjects(100))
	fs.Stop()
	fs = benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
	defer fs.Stop()
	rng := rand.New(rand.NewSource(2))
	var smv StoreMsg
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fs.LoadMsg(1+uint64(rng.Intn(benchSetupSize)), &smv); err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmark_FileStoreRebuildWithoutIndex opens a store of 1M x 128B whose
// index.db was removed, rebuilding the state from every block.
func Benchmark_FileStoreRebuildWithoutIndex(b *testing.B) {
	dir := b.TempDir()
	fs := benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
	fillStore(b, fs, benchSetupSize, 128, benchSubjects(100))
	fs.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.Remove(filepath.Join(dir, msgDir, streamStreamStateFile)); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		b.StartTimer()
		fs = benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
		b.StopTimer()
		if st := fs.State(); st.Msgs != benchSetupSize {
			b.Fatalf("rebuilt %d messages, want %d", st.Msgs, benchSetupSize)
		}
		fs.Stop()
		b.StartTimer()
	}
}

// Benchmark_FileStoreLoadNextMsgAllMatches walks every match of "foo.7"
// (1 in 100) through a store of 1M x 128B with LoadNextMsg, once per
// iteration.
func Benchmark_FileStoreLoadNextMsgAllMatches(b *testing.B) {
	fs := benchStore(b, FileStoreConfig{}, []string{"foo.*"})
	defer fs.Stop()
	fillStore(b, fs, benchSetupSize, 128, benchSubjects(100))
	var smv StoreMsg
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var n int
		for seq := uint64(0); ; {
			sm, _, err := fs.LoadNextMsg("foo.7", false, seq, &smv)
			if err != nil {
				break
			}
			n++
			seq = sm.seq + 1
		}
		if n != benchSetupSize/100 {
			b.Fatalf("found %d matches, want %d", n, benchSetupSize/100)
		}
	}
}
