package store

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
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
		n := countMatches(fs, "foo.7", &smv)
		if n != benchSetupSize/100 {
			b.Fatalf("found %d matches, want %d", n, benchSetupSize/100)
		}
	}
}

// countMatches walks every message on subj with LoadNextMsg.
func countMatches(fs *fileStore, subj string, smv *StoreMsg) int {
	var n int
	for seq := uint64(0); ; {
		sm, _, err := fs.LoadNextMsg(subj, false, seq, smv)
		if err != nil {
			return n
		}
		n++
		seq = sm.seq + 1
	}
}

// Benchmark_FileStoreLoadNextMsgAllMatchesCold walks every match of "foo.7"
// through a freshly reopened store of 1M x 128B, so each pass loads the
// blocks and their subject state from disk.
func Benchmark_FileStoreLoadNextMsgAllMatchesCold(b *testing.B) {
	dir := b.TempDir()
	fs := benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
	fillStore(b, fs, benchSetupSize, 128, benchSubjects(100))
	fs.Stop()
	var smv StoreMsg
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fs = benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
		b.StartTimer()
		n := countMatches(fs, "foo.7", &smv)
		b.StopTimer()
		fs.Stop()
		if n != benchSetupSize/100 {
			b.Fatalf("found %d matches, want %d", n, benchSetupSize/100)
		}
		b.StartTimer()
	}
}

// benchJSONMsg is a 1KB JSON-like order record, varying by i the way a
// stream of application events does.
func benchJSONMsg(i int) []byte {
	const filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit "
	msg := fmt.Appendf(make([]byte, 0, 1024),
		`{"id":%d,"type":"order.created","ts":"2024-05-%02dT%02d:%02d:%02dZ","customer":{"id":"cust-%05d","name":"Customer %d","tier":"gold"},"items":[{"sku":"SKU-%04d","qty":%d,"price":%d.99}],"status":"pending","note":"`,
		i, 1+i%28, i/3600%24, i/60%60, i%60, i%10000, i%10000, i%500, 1+i%7, 10+i%90)
	for len(msg) < 1022 {
		msg = append(msg, filler[len(msg)%len(filler)])
	}
	return append(msg, `"}`...)
}

// dirBytes is the size of the files under dir once background compression
// has settled (two equal readings 100ms apart, at most 5s).
func dirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	size := func() int64 {
		var n int64
		err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	last := size()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		cur := size()
		if cur == last {
			break
		}
		last = cur
	}
	return last
}

// Benchmark_FileStoreStoreMsgS2 stores b.N 1KB JSON-like messages into an
// S2-compressed store and reports the bytes it takes on disk (run with
// -benchtime=200000x for the figure).
func Benchmark_FileStoreStoreMsgS2(b *testing.B) {
	dir := b.TempDir()
	fs := benchStore(b, FileStoreConfig{StoreDir: dir, Compression: S2Compression}, []string{"foo.*"})
	msgs := make([][]byte, b.N)
	for i := range msgs {
		msgs[i] = benchJSONMsg(i)
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := fs.StoreMsg("foo.1", nil, msgs[i], 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fs.Stop()
	b.ReportMetric(float64(dirBytes(b, dir)), "disk-bytes")
}

// vmRSS is the process's resident set size in bytes, from /proc/self/status.
func vmRSS(b *testing.B) float64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, err := strconv.Atoi(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) * 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// Benchmark_FileStoreRSSAfterLoad reports resident memory around a stream
// of 1M x 128B over 100 subjects: at the start (rss-base-MB), after storing
// it (rss-stored-MB), and after reopening it in a released heap and reading
// every message (rss-loaded-MB). Run it alone with -benchtime=1x, since
// earlier benchmarks leave their memory in the process.
func Benchmark_FileStoreRSSAfterLoad(b *testing.B) {
	const mb = 1 << 20
	for i := 0; i < b.N; i++ {
		runtime.GC()
		debug.FreeOSMemory()
		b.ReportMetric(vmRSS(b)/mb, "rss-base-MB")
		dir := b.TempDir()
		fs := benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
		fillStore(b, fs, benchSetupSize, 128, benchSubjects(100))
		b.ReportMetric(vmRSS(b)/mb, "rss-stored-MB")
		fs.Stop()
		runtime.GC()
		debug.FreeOSMemory()
		fs = benchStore(b, FileStoreConfig{StoreDir: dir}, []string{"foo.*"})
		var smv StoreMsg
		for seq := uint64(1); seq <= benchSetupSize; seq++ {
			if _, err := fs.LoadMsg(seq, &smv); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(vmRSS(b)/mb, "rss-loaded-MB")
		fs.Stop()
	}
}
