package vfs

import (
	"bytes"
	"math/rand"
	"os"
	"testing"
)

func writeFile(t *testing.T, fsys FS, name string, data []byte, sync bool) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readOrNil(fsys FS, name string) []byte {
	b, err := ReadFile(fsys, name)
	if err != nil {
		return nil
	}
	return b
}

func TestMemFSCrashClone(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(t *testing.T, m *MemFS)
		opts   CrashOptions
		checks map[string][]byte // path -> expected contents; nil means absent
	}{
		{
			name: "unsynced entry is lost",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/f", []byte("data"), true)
			},
			checks: map[string][]byte{"/f": nil},
		},
		{
			name: "synced entry and data survive",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/f", []byte("data"), true)
				m.SyncDir("/")
			},
			checks: map[string][]byte{"/f": []byte("data")},
		},
		{
			name: "unsynced tail is dropped",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/f", []byte("data"), true)
				m.SyncDir("/")
				writeFile(t, m, "/f", []byte("more"), false)
			},
			checks: map[string][]byte{"/f": []byte("data")},
		},
		{
			name: "entry synced but data never synced is empty",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/f", []byte("data"), false)
				m.SyncDir("/")
			},
			checks: map[string][]byte{"/f": {}},
		},
		{
			name: "O_SYNC writes are durable",
			setup: func(t *testing.T, m *MemFS) {
				f, _ := m.OpenFile("/f", os.O_CREATE|os.O_WRONLY|os.O_SYNC, 0o600)
				f.Write([]byte("sync"))
				f.Close()
				m.SyncDir("/")
			},
			checks: map[string][]byte{"/f": []byte("sync")},
		},
		{
			name: "unsynced rename reverts",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/old", []byte("v1"), true)
				writeFile(t, m, "/tmp", []byte("v2"), true)
				m.SyncDir("/")
				m.Rename("/tmp", "/old")
			},
			checks: map[string][]byte{"/old": []byte("v1"), "/tmp": []byte("v2")},
		},
		{
			name: "synced rename sticks",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/old", []byte("v1"), true)
				writeFile(t, m, "/tmp", []byte("v2"), true)
				m.SyncDir("/")
				m.Rename("/tmp", "/old")
				m.SyncDir("/")
			},
			checks: map[string][]byte{"/old": []byte("v2"), "/tmp": nil},
		},
		{
			name: "unsynced remove comes back",
			setup: func(t *testing.T, m *MemFS) {
				writeFile(t, m, "/f", []byte("x"), true)
				m.SyncDir("/")
				m.Remove("/f")
			},
			checks: map[string][]byte{"/f": []byte("x")},
		},
		{
			name: "nested directories need their own sync",
			setup: func(t *testing.T, m *MemFS) {
				m.MkdirAll("/a/b", 0o700)
				writeFile(t, m, "/a/b/f", []byte("x"), true)
				m.SyncDir("/a/b")
				m.SyncDir("/")
			},
			checks: map[string][]byte{"/a/b/f": nil},
		},
		{
			name: "keep unsynced entries option",
			setup: func(t *testing.T, m *MemFS) {
				m.MkdirAll("/a", 0o700)
				writeFile(t, m, "/a/f", []byte("x"), true)
				writeFile(t, m, "/a/g", []byte("y"), false)
			},
			opts:   CrashOptions{KeepUnsyncedEntries: true},
			checks: map[string][]byte{"/a/f": []byte("x"), "/a/g": {}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem()
			tc.setup(t, m)
			c := m.CrashClone(tc.opts)
			for path, want := range tc.checks {
				got, err := ReadFile(c, path)
				if want == nil {
					if err == nil {
						t.Errorf("%s survived the crash with %q", path, got)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: got %q (%v), want %q", path, got, err, want)
				}
			}
		})
	}
}

func TestMemFSCrashCloneTornWrite(t *testing.T) {
	m := NewMem()
	writeFile(t, m, "/f", []byte("synced|"), true)
	m.SyncDir("/")
	writeFile(t, m, "/f", []byte("0123456789"), false)
	seen := map[int]bool{}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		got := readOrNil(m.CrashClone(CrashOptions{Rand: rng}), "/f")
		if !bytes.HasPrefix([]byte("synced|0123456789"), got) || len(got) < len("synced|") {
			t.Fatalf("torn write kept %q, not a prefix that includes the synced part", got)
		}
		seen[len(got)] = true
	}
	if len(seen) < 5 {
		t.Fatalf("expected many torn lengths, saw %d", len(seen))
	}

	// An in-place overwrite since the last sync yields either version.
	m2 := NewMem()
	writeFile(t, m2, "/f", []byte("aaaa"), true)
	m2.SyncDir("/")
	f, _ := m2.OpenFile("/f", os.O_RDWR, 0)
	f.WriteAt([]byte("bb"), 1)
	f.Close()
	versions := map[string]bool{}
	for i := 0; i < 50; i++ {
		versions[string(readOrNil(m2.CrashClone(CrashOptions{Rand: rng}), "/f"))] = true
	}
	if !versions["aaaa"] || !versions["abba"] || len(versions) != 2 {
		t.Fatalf("overwrite versions %v", versions)
	}
}

func TestMemFSCrashCloneIsIndependent(t *testing.T) {
	m := NewMem()
	writeFile(t, m, "/f", []byte("one"), true)
	m.SyncDir("/")
	c := m.CrashClone(CrashOptions{})
	writeFile(t, c, "/f", []byte("-two"), true)
	if got := readOrNil(m, "/f"); string(got) != "one" {
		t.Fatalf("writing the clone changed the original: %q", got)
	}
	// The clone's own state is fully durable to begin with.
	if got := readOrNil(c.CrashClone(CrashOptions{}), "/f"); string(got) != "one-two" {
		t.Fatalf("clone of clone: %q", got)
	}
}

func TestMemFSFlipBit(t *testing.T) {
	m := NewMem()
	writeFile(t, m, "/f", []byte{0x00, 0x00}, true)
	m.SyncDir("/")
	if err := m.FlipBit("/f", 1, 3); err != nil {
		t.Fatal(err)
	}
	if got := readOrNil(m, "/f"); !bytes.Equal(got, []byte{0x00, 0x08}) {
		t.Fatalf("after flip: %x", got)
	}
	// Bit rot is on the medium, so it survives a crash too.
	if got := readOrNil(m.CrashClone(CrashOptions{}), "/f"); !bytes.Equal(got, []byte{0x00, 0x08}) {
		t.Fatalf("after crash: %x", got)
	}
	if err := m.FlipBit("/f", 2, 0); err == nil {
		t.Fatal("flip past the end succeeded")
	}
	if err := m.FlipBit("/missing", 0, 0); err == nil {
		t.Fatal("flip of a missing file succeeded")
	}
}
