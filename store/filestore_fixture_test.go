package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The golden stores in testdata/fixtures were written by nats-server
// v2.14.5; each manifest.json says what the store must read back. See
// testdata/fixtures/README.md.

// fixtureManifest holds the manifest fields the tests check.
type fixtureManifest struct {
	Scenario        string          `json:"scenario"`
	Created         time.Time       `json:"created"`
	FileStoreConfig fixtureFSConfig `json:"file_store_config"`
	StreamConfig    json.RawMessage `json:"stream_config"`
	State           fixtureState    `json:"state"`
	SubjectsTotals  map[string]uint64
	Messages        []fixtureMsg `json:"messages"`
	DeletedSeqs     []uint64     `json:"deleted_seqs"`
	IndexRemoved    bool         `json:"index_removed"`
	PRF             string       `json:"prf"`
	PRFKey          string       `json:"prf_key"`
	TornTail        *struct {
		File       string   `json:"file"`
		IntactSeqs []uint64 `json:"intact_seqs"`
		LostSeqs   []uint64 `json:"lost_seqs"`
	} `json:"torn_tail"`
	Files []struct {
		Path string `json:"path"`
	} `json:"files"`
	Consumers []fixtureConsumer `json:"consumers"`
}

// fixtureConsumer is a consumer store the manifest lists, with the state
// the server read back from it.
type fixtureConsumer struct {
	Name    string          `json:"name"`
	Created time.Time       `json:"created"`
	Config  json.RawMessage `json:"config"`
	State   ConsumerState   `json:"state"`
}

type fixtureFSConfig struct {
	BlockSize   uint64 `json:"block_size"`
	Cipher      string `json:"cipher"`
	Compression string `json:"compression"`
	SyncAlways  bool   `json:"sync_always"`
}

type fixtureState struct {
	Messages    uint64          `json:"messages"`
	Bytes       uint64          `json:"bytes"`
	FirstSeq    uint64          `json:"first_seq"`
	FirstTS     time.Time       `json:"first_ts"`
	LastSeq     uint64          `json:"last_seq"`
	LastTS      time.Time       `json:"last_ts"`
	NumSubjects int             `json:"num_subjects"`
	NumDeleted  int             `json:"num_deleted"`
	Deleted     []uint64        `json:"deleted"`
	Lost        *LostStreamData `json:"lost"`
}

type fixtureMsg struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	HdrB64  string `json:"hdr_b64"`
	MsgB64  string `json:"msg_b64"`
	TS      int64  `json:"ts"`
	TTL     *int64 `json:"ttl"`
}

// supportedFixtures are the scenarios this test reads: every one. The
// consumer fixture's consumer is opened through the stream's ConsumerStore.
var supportedFixtures = []string{
	"basic-multiblock",
	"no-index",
	"deletes",
	"skips-tombstones",
	"torn-tail",
	"limits",
	"s2",
	"enc-aes",
	"enc-chacha",
	"consumer",
}

const fixturesDir = "testdata/fixtures"

func loadManifest(t testing.TB, scenario string) *fixtureManifest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixturesDir, scenario, "manifest.json"))
	require_NoError(t, err)
	var m fixtureManifest
	require_NoError(t, json.Unmarshal(raw, &m))
	// subjects_totals has no tag above because of its name clash with the
	// struct field; decode it on its own.
	var totals struct {
		SubjectsTotals map[string]uint64 `json:"subjects_totals"`
	}
	require_NoError(t, json.Unmarshal(raw, &totals))
	m.SubjectsTotals = totals.SubjectsTotals
	return &m
}

// copyFixtureStore copies a fixture's store directory to a temporary one so
// the golden files are never changed by recovery.
func copyFixtureStore(t testing.TB, scenario string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "store")
	copyTree(t, filepath.Join(fixturesDir, scenario, "store"), dst)
	return dst
}

// copyTree copies the directory src, files and subdirectories, to dst.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	require_NoError(t, err)
}

// openFixture opens a copy of a fixture's store with its manifest's
// configs, through the public constructor a caller would use.
func openFixture(t testing.TB, m *fixtureManifest, dir string) *fileStore {
	t.Helper()
	var cfg StreamConfig
	require_NoError(t, json.Unmarshal(m.StreamConfig, &cfg))
	fcfg := FileStoreConfig{
		StoreDir:    dir,
		BlockSize:   m.FileStoreConfig.BlockSize,
		SyncAlways:  m.FileStoreConfig.SyncAlways,
		Cipher:      NoCipher,
		Compression: NoCompression,
	}
	switch m.FileStoreConfig.Cipher {
	case "aes":
		fcfg.Cipher = AES
	case "chacha":
		fcfg.Cipher = ChaCha
	case "none":
	default:
		t.Fatalf("unknown fixture cipher %q", m.FileStoreConfig.Cipher)
	}
	switch m.FileStoreConfig.Compression {
	case "s2":
		fcfg.Compression = S2Compression
	case "none":
	default:
		t.Fatalf("unknown fixture compression %q", m.FileStoreConfig.Compression)
	}
	opts := FileStoreOptions{Created: m.Created}
	if fcfg.Cipher != NoCipher {
		require_Equal(t, m.PRF, "hmac-sha256")
		opts.PRF = hmacKeyGen(m.PRFKey)
	}
	ss, err := NewFileStoreWithOptions(fcfg, cfg, opts)
	require_NoError(t, err)
	fs, ok := ss.(*fileStore)
	require_True(t, ok)
	return fs
}

// checkFixtureConsumers opens every consumer the manifest lists through
// the stream's ConsumerStore and compares its state with the manifest's.
func checkFixtureConsumers(t *testing.T, m *fixtureManifest, fs *fileStore) {
	t.Helper()
	for _, c := range m.Consumers {
		var cfg ConsumerConfig
		require_NoError(t, json.Unmarshal(c.Config, &cfg))
		o, err := fs.ConsumerStore(c.Name, c.Created, &cfg)
		require_NoError(t, err)
		require_True(t, o.HasState())
		got, err := o.State()
		require_NoError(t, err)
		want := c.State
		requireConsumerState(t, got, &want)
		require_NoError(t, o.Stop())
	}
}

func decodeB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require_NoError(t, err)
	return b
}

// checkFixtureContents checks everything the manifest lists against fs.
func checkFixtureContents(t *testing.T, m *fixtureManifest, fs *fileStore, expectLost bool) {
	t.Helper()
	st := fs.State()
	want := m.State
	require_Equal(t, st.Msgs, want.Messages)
	require_Equal(t, st.Bytes, want.Bytes)
	require_Equal(t, st.FirstSeq, want.FirstSeq)
	require_Equal(t, st.LastSeq, want.LastSeq)
	require_True(t, st.FirstTime.Equal(want.FirstTS))
	require_True(t, st.LastTime.Equal(want.LastTS))
	require_Equal(t, st.NumSubjects, want.NumSubjects)
	require_Equal(t, st.NumDeleted, want.NumDeleted)
	if !slices.Equal(st.Deleted, want.Deleted) && !(len(st.Deleted) == 0 && len(want.Deleted) == 0) {
		t.Fatalf("deleted %v, want %v", st.Deleted, want.Deleted)
	}
	if expectLost {
		if want.Lost == nil || st.Lost == nil {
			t.Fatalf("lost data %+v, want %+v", st.Lost, want.Lost)
		}
		require_Equal(t, st.Lost.Bytes, want.Lost.Bytes)
		if !slices.Equal(st.Lost.Msgs, want.Lost.Msgs) {
			t.Fatalf("lost msgs %v, want %v", st.Lost.Msgs, want.Lost.Msgs)
		}
	} else if st.Lost != nil {
		t.Fatalf("unexpected lost data %+v", st.Lost)
	}

	totals := fs.SubjectsTotals(">")
	require_Equal(t, len(totals), len(m.SubjectsTotals))
	for subj, n := range m.SubjectsTotals {
		require_Equal(t, totals[subj], n)
	}

	var smv StoreMsg
	for _, wm := range m.Messages {
		sm, err := fs.LoadMsg(wm.Seq, &smv)
		if err != nil {
			t.Fatalf("seq %d: %v", wm.Seq, err)
		}
		require_Equal(t, sm.seq, wm.Seq)
		require_Equal(t, sm.subj, wm.Subject)
		require_Equal(t, sm.ts, wm.TS)
		require_True(t, bytes.Equal(sm.hdr, decodeB64(t, wm.HdrB64)))
		require_True(t, bytes.Equal(sm.msg, decodeB64(t, wm.MsgB64)))
		if wm.TTL != nil {
			ttl, err := getMessageTTL(sm.hdr)
			require_NoError(t, err)
			require_Equal(t, ttl, *wm.TTL)
		}
	}
	for _, seq := range m.DeletedSeqs {
		if _, err := fs.LoadMsg(seq, &smv); err == nil {
			t.Fatalf("deleted seq %d loaded", seq)
		}
	}
}

func TestFileStoreFixtures(t *testing.T) {
	for _, scenario := range supportedFixtures {
		t.Run(scenario, func(t *testing.T) {
			m := loadManifest(t, scenario)
			require_Equal(t, m.Scenario, scenario)
			if scenario == "consumer" {
				// The consumer check below must have something to open.
				require_True(t, len(m.Consumers) > 0)
			}
			dir := copyFixtureStore(t, scenario)

			fs := openFixture(t, m, dir)
			checkFixtureContents(t, m, fs, m.State.Lost != nil)
			checkFixtureConsumers(t, m, fs)

			if tt := m.TornTail; tt != nil {
				var smv StoreMsg
				for _, seq := range tt.IntactSeqs {
					_, err := fs.LoadMsg(seq, &smv)
					require_NoError(t, err)
				}
				for _, seq := range tt.LostSeqs {
					_, err := fs.LoadMsg(seq, &smv)
					require_Error(t, err)
				}
			}
			// Git does not keep the empty obs/ directory; the store makes it.
			fi, err := os.Stat(filepath.Join(dir, consumerDir))
			require_NoError(t, err)
			require_True(t, fi.IsDir())
			require_NoError(t, fs.Stop())

			// Our own index.db (or the repaired blocks) must read back the
			// same. The torn tail was cut off, so nothing is lost any more.
			fs = openFixture(t, m, dir)
			defer fs.Stop()
			checkFixtureContents(t, m, fs, false)
			checkFixtureConsumers(t, m, fs)
			_, err = os.Stat(filepath.Join(dir, msgDir, streamStreamStateFile))
			require_NoError(t, err)
		})
	}
}

// TestFileStoreFixturesWithoutIndex rebuilds every fixture from its blocks
// alone: index.db removed, the blocks are the only source of truth.
func TestFileStoreFixturesWithoutIndex(t *testing.T) {
	for _, scenario := range supportedFixtures {
		t.Run(scenario, func(t *testing.T) {
			m := loadManifest(t, scenario)
			dir := copyFixtureStore(t, scenario)
			err := os.Remove(filepath.Join(dir, msgDir, streamStreamStateFile))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			fs := openFixture(t, m, dir)
			defer fs.Stop()
			if scenario == "limits" {
				checkLimitsRebuilt(t, m, fs)
				return
			}
			checkFixtureContents(t, m, fs, m.State.Lost != nil)
		})
	}
}

// TestFileStoreFixtureManifestFiles checks every fixture lists the files it
// holds, so a missing file in the copy is noticed.
func TestFileStoreFixtureManifestFiles(t *testing.T) {
	for _, scenario := range supportedFixtures {
		m := loadManifest(t, scenario)
		for _, f := range m.Files {
			if _, err := os.Stat(filepath.Join(fixturesDir, scenario, "store", f.Path)); err != nil {
				t.Fatalf("%s: %v", scenario, err)
			}
		}
	}
}

// checkLimitsRebuilt checks the limits fixture rebuilt without index.db.
// Limit removals leave no tombstones, so recovery finds the removed
// messages that are still in surviving blocks and applies the limits again:
// MaxMsgs first, then MaxMsgsPer (upstream's order), which can keep fewer
// messages than the live store had. What must hold: the limits, and every
// message that loads is byte for byte the one that was stored.
func checkLimitsRebuilt(t *testing.T, m *fixtureManifest, fs *fileStore) {
	t.Helper()
	var cfg StreamConfig
	require_NoError(t, json.Unmarshal(m.StreamConfig, &cfg))
	st := fs.State()
	require_True(t, st.Msgs > 0 && st.Msgs <= uint64(cfg.MaxMsgs))
	require_Equal(t, st.LastSeq, m.State.LastSeq)
	for subj, n := range fs.SubjectsTotals(">") {
		if n > uint64(cfg.MaxMsgsPer) {
			t.Fatalf("subject %s has %d messages, limit %d", subj, n, cfg.MaxMsgsPer)
		}
	}
	byseq := make(map[uint64]fixtureMsg, len(m.Messages))
	for _, wm := range m.Messages {
		byseq[wm.Seq] = wm
	}
	var smv StoreMsg
	var loaded uint64
	for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
		sm, err := fs.LoadMsg(seq, &smv)
		if err != nil {
			continue
		}
		loaded++
		if wm, ok := byseq[seq]; ok {
			require_Equal(t, sm.subj, wm.Subject)
			require_Equal(t, sm.ts, wm.TS)
			require_True(t, bytes.Equal(sm.msg, decodeB64(t, wm.MsgB64)))
		}
	}
	require_Equal(t, loaded, st.Msgs)
}

// TestFileStoreWritesFixtureBytes writes the basic-multiblock scenario again,
// storing each message of its manifest with its sequence and timestamp, and
// compares the files with the ones nats-server v2.14.5 wrote: meta.inf,
// meta.sum and every block must be byte for byte the same (record framing,
// hashes and block rollover), and index.db must hold the same state.
func TestFileStoreWritesFixtureBytes(t *testing.T) {
	const scenario = "basic-multiblock"
	m := loadManifest(t, scenario)
	dir := filepath.Join(t.TempDir(), "store")
	fs := openFixture(t, m, dir)
	for _, wm := range m.Messages {
		err := fs.StoreRawMsg(wm.Subject, decodeB64(t, wm.HdrB64), decodeB64(t, wm.MsgB64), wm.Seq, wm.TS, 0, false)
		require_NoError(t, err)
	}
	require_NoError(t, fs.Stop())

	golden := filepath.Join(fixturesDir, scenario, "store")
	for _, f := range m.Files {
		want, err := os.ReadFile(filepath.Join(golden, f.Path))
		require_NoError(t, err)
		got, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from the v2.14.5 file (%d vs %d bytes)", f.Path, len(got), len(want))
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, msgDir))
	require_NoError(t, err)
	require_Equal(t, len(entries)+2, len(m.Files)) // + meta.inf, meta.sum

	// Our index.db and theirs must recover the same store.
	fs = openFixture(t, m, dir)
	checkFixtureContents(t, m, fs, false)
	require_NoError(t, fs.Stop())
}
