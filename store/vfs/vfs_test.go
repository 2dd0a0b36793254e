package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// conformance runs the same behaviour checks against every FS
// implementation, so MemFS and FaultFS cannot drift from the OS.
func conformance(t *testing.T, fsys FS, root string) {
	t.Helper()
	p := func(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	must(fsys.MkdirAll(p("a", "b"), 0o700))
	fi, err := fsys.Stat(p("a", "b"))
	must(err)
	if !fi.IsDir() || fi.Name() != "b" {
		t.Fatalf("stat dir: got %q dir=%v", fi.Name(), fi.IsDir())
	}

	// Create, write sequentially, read back.
	f, err := fsys.Create(p("a", "f1"), 0o600)
	must(err)
	if n, err := f.Write([]byte("hello ")); n != 6 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if _, err := f.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if f.Name() != p("a", "f1") {
		t.Fatalf("name %q", f.Name())
	}
	must(f.Sync())
	fi, err = f.Stat()
	must(err)
	if fi.Size() != 11 || fi.IsDir() || fi.ModTime().IsZero() || fi.Mode().Perm() == 0 {
		t.Fatalf("file stat: size=%d dir=%v", fi.Size(), fi.IsDir())
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 6); n != 5 || (err != nil && err != io.EOF) || string(buf) != "world" {
		t.Fatalf("readat: %d %v %q", n, err, buf)
	}
	if n, err := f.ReadAt(make([]byte, 4), 9); n != 2 || err != io.EOF {
		t.Fatalf("readat past end: %d %v", n, err)
	}
	// WriteAt past the end leaves a zero hole.
	if _, err := f.WriteAt([]byte("!"), 13); err != nil {
		t.Fatal(err)
	}
	must(f.Close())
	if err := f.Close(); err == nil {
		t.Fatal("double close succeeded")
	}
	got, err := ReadFile(fsys, p("a", "f1"))
	must(err)
	if want := []byte("hello world\x00\x00!"); !bytes.Equal(got, want) {
		t.Fatalf("readfile %q want %q", got, want)
	}

	// Truncate shrinks; a later write past the end must read zeros, not
	// the old bytes.
	f, err = fsys.OpenFile(p("a", "f1"), os.O_RDWR, 0)
	must(err)
	must(f.Truncate(5))
	if _, err := f.WriteAt([]byte("X"), 8); err != nil {
		t.Fatal(err)
	}
	// Sequential read from the start.
	all, err := io.ReadAll(f)
	must(err)
	if want := []byte("hello\x00\x00\x00X"); !bytes.Equal(all, want) {
		t.Fatalf("after truncate %q want %q", all, want)
	}
	must(f.Close())

	// O_EXCL on an existing file fails; O_APPEND appends.
	if _, err := fsys.OpenFile(p("a", "f1"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("excl: %v", err)
	}
	f, err = fsys.OpenFile(p("a", "f1"), os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	if _, err := f.Write([]byte("Z")); err != nil {
		t.Fatal(err)
	}
	must(f.Close())
	if got, _ := ReadFile(fsys, p("a", "f1")); !bytes.HasSuffix(got, []byte("XZ")) {
		t.Fatalf("append: %q", got)
	}

	// A read-only handle refuses writes.
	f, err = fsys.Open(p("a", "f1"))
	must(err)
	if _, err := f.Write([]byte("no")); err == nil {
		t.Fatal("write on read-only handle succeeded")
	}
	must(f.Close())

	// Missing files.
	if _, err := fsys.Open(p("a", "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := fsys.Stat(p("nope", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat missing: %v", err)
	}
	if Exists(fsys, p("a", "missing")) || !Exists(fsys, p("a", "f1")) {
		t.Fatal("Exists disagrees with the tree")
	}

	// WriteFile, rename over an existing file, ReadDir order, Glob.
	must(WriteFile(fsys, p("a", "f2"), []byte("two"), 0o600))
	must(WriteFile(fsys, p("a", "f3.tmp"), []byte("three"), 0o600))
	must(fsys.Rename(p("a", "f3.tmp"), p("a", "f2")))
	if got, _ := ReadFile(fsys, p("a", "f2")); string(got) != "three" {
		t.Fatalf("rename over: %q", got)
	}
	entries, err := fsys.ReadDir(p("a"))
	must(err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"b", "f1", "f2"}; !equalStrings(names, want) {
		t.Fatalf("readdir %v want %v", names, want)
	}
	matches, err := Glob(fsys, p("a"), "f*")
	must(err)
	if want := []string{p("a", "f1"), p("a", "f2")}; !equalStrings(matches, want) {
		t.Fatalf("glob %v want %v", matches, want)
	}
	if m, err := Glob(fsys, p("absent"), "*"); err != nil || m != nil {
		t.Fatalf("glob of missing dir: %v %v", m, err)
	}

	// Directories: rename, remove non-empty fails, RemoveAll.
	must(fsys.Rename(p("a", "b"), p("c")))
	if Exists(fsys, p("a", "b")) || !Exists(fsys, p("c")) {
		t.Fatal("directory rename did not move it")
	}
	if err := fsys.Remove(p("a")); err == nil {
		t.Fatal("removed a non-empty directory")
	}
	must(fsys.SyncDir(p("a")))
	must(fsys.Remove(p("a", "f1")))
	must(fsys.RemoveAll(p("a")))
	must(fsys.RemoveAll(p("a"))) // already gone: not an error
	if Exists(fsys, p("a")) {
		t.Fatal("RemoveAll left the directory")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVFSConformance(t *testing.T) {
	cases := []struct {
		name string
		fs   func(t *testing.T) (FS, string)
	}{
		{"os", func(t *testing.T) (FS, string) { return Default, t.TempDir() }},
		{"mem", func(t *testing.T) (FS, string) { return NewMem(), "/root" }},
		{"fault-over-mem", func(t *testing.T) (FS, string) { return NewFaultFS(NewMem(), nil), "/root" }},
		{"fault-over-os", func(t *testing.T) (FS, string) {
			return NewFaultFS(Default, InjectorFunc(func(Op) error { return nil })), t.TempDir()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys, root := tc.fs(t)
			conformance(t, fsys, root)
		})
	}
}

func TestMemFSErrors(t *testing.T) {
	m := NewMem()
	if err := WriteFile(m, "/d/f", nil, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create under missing dir: %v", err)
	}
	if err := m.MkdirAll("/d", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(m, "/d/f", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.MkdirAll("/d/f/g", 0o700); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("mkdir through a file: %v", err)
	}
	if _, err := m.Stat("/d/f/g"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("stat through a file: %v", err)
	}
	if _, err := m.ReadDir("/d/f"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("readdir of a file: %v", err)
	}
	if err := m.SyncDir("/d/f"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("syncdir of a file: %v", err)
	}
	if _, err := m.OpenFile("/d", os.O_RDWR, 0); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("open dir for writing: %v", err)
	}
	if err := m.MkdirAll("/e/sub", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename("/d/f", "/e"); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("rename file over dir: %v", err)
	}
	if err := m.Rename("/e", "/d/f"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("rename dir over file: %v", err)
	}
	if err := m.Rename("/e", "/e/sub/x"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("rename dir below itself: %v", err)
	}
	if err := m.MkdirAll("/empty", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename("/e", "/empty"); err != nil {
		t.Fatalf("rename dir over empty dir: %v", err)
	}
	if err := m.MkdirAll("/full/x", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename("/empty", "/full"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rename dir over non-empty dir: %v", err)
	}
	if err := m.Rename("/nope", "/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("rename missing: %v", err)
	}
	if err := m.Remove("/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove missing: %v", err)
	}
	f, err := m.OpenFile("/d/f", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("read on write-only handle: %v", err)
	}
	if _, err := f.WriteAt([]byte("x"), -1); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("negative offset: %v", err)
	}
	if err := f.Truncate(-1); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("negative truncate: %v", err)
	}
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, _ := ReadFile(m, "/d/f"); !bytes.Equal(got, []byte("x\x00\x00\x00")) {
		t.Fatalf("grow by truncate: %q", got)
	}
	for name, op := range map[string]func() error{
		"read":     func() error { _, err := f.Read(nil); return err },
		"readat":   func() error { _, err := f.ReadAt(nil, 0); return err },
		"write":    func() error { _, err := f.Write(nil); return err },
		"writeat":  func() error { _, err := f.WriteAt(nil, 0); return err },
		"stat":     func() error { _, err := f.Stat(); return err },
		"sync":     f.Sync,
		"truncate": func() error { return f.Truncate(0) },
	} {
		if err := op(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s on closed handle: %v", name, err)
		}
	}
	if err := m.RemoveAll("/"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := m.ReadDir("/"); len(entries) != 0 {
		t.Fatalf("RemoveAll(/) left %d entries", len(entries))
	}
}

func TestMemFSFileInfo(t *testing.T) {
	m := NewMem()
	if err := WriteFile(m, "/f", []byte("abc"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := m.Stat("/f")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Name() != "f" || fi.Size() != 3 || fi.Mode().Perm() != 0o640 || fi.IsDir() || fi.ModTime().IsZero() || fi.Sys() != nil {
		t.Fatalf("unexpected info %+v", fi)
	}
}
