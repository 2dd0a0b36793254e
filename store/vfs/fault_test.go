package vfs

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestFaultFSOnNth(t *testing.T) {
	cases := []struct {
		name    string
		inj     *Nth
		op      func(fsys FS) error
		wantErr error
	}{
		{"eio on second write", OnNth(Kinds(OpWrite), 2, ErrEIO), func(fsys FS) error {
			f, err := fsys.Create("/f", 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.Write([]byte("a")); err != nil {
				return err
			}
			_, err = f.Write([]byte("b"))
			return err
		}, syscall.EIO},
		{"enospc on sync", OnNth(Kinds(OpSync), 1, ErrENOSPC), func(fsys FS) error {
			f, _ := fsys.Create("/f", 0o600)
			defer f.Close()
			return f.Sync()
		}, syscall.ENOSPC},
		{"open", OnNth(Kinds(OpOpen), 1, ErrEIO), func(fsys FS) error {
			_, err := fsys.Open("/")
			return err
		}, syscall.EIO},
		{"rename", OnNth(Kinds(OpRename), 1, ErrEIO), func(fsys FS) error {
			WriteFile(fsys, "/a", nil, 0o600)
			return fsys.Rename("/a", "/b")
		}, syscall.EIO},
		{"remove", OnNth(Kinds(OpRemove), 1, ErrEIO), func(fsys FS) error { return fsys.Remove("/x") }, syscall.EIO},
		{"removeall", OnNth(Kinds(OpRemove), 1, ErrEIO), func(fsys FS) error { return fsys.RemoveAll("/x") }, syscall.EIO},
		{"mkdir", OnNth(Kinds(OpMkdir), 1, ErrEIO), func(fsys FS) error { return fsys.MkdirAll("/x", 0o700) }, syscall.EIO},
		{"readdir", OnNth(Kinds(OpReadDir), 1, ErrEIO), func(fsys FS) error { _, err := fsys.ReadDir("/"); return err }, syscall.EIO},
		{"stat", OnNth(Kinds(OpStat), 1, ErrEIO), func(fsys FS) error { _, err := fsys.Stat("/"); return err }, syscall.EIO},
		{"syncdir", OnNth(Kinds(OpSyncDir), 1, ErrEIO), func(fsys FS) error { return fsys.SyncDir("/") }, syscall.EIO},
		{"file stat", OnNth(Kinds(OpStat), 1, ErrEIO), func(fsys FS) error {
			f, _ := fsys.Create("/f", 0o600)
			defer f.Close()
			_, err := f.Stat()
			return err
		}, syscall.EIO},
		{"truncate", OnNth(Kinds(OpTruncate), 1, ErrEIO), func(fsys FS) error {
			f, _ := fsys.Create("/f", 0o600)
			defer f.Close()
			return f.Truncate(0)
		}, syscall.EIO},
		{"close", OnNth(Kinds(OpClose), 1, ErrEIO), func(fsys FS) error {
			f, _ := fsys.Create("/f", 0o600)
			return f.Close()
		}, syscall.EIO},
		{"read", OnNth(Kinds(OpRead), 1, ErrEIO), func(fsys FS) error {
			WriteFile(fsys, "/f", []byte("x"), 0o600)
			f, _ := fsys.Open("/f")
			defer f.Close()
			_, err := f.Read(make([]byte, 1))
			return err
		}, syscall.EIO},
		{"readat", OnNth(Kinds(OpRead), 1, ErrEIO), func(fsys FS) error {
			WriteFile(fsys, "/f", []byte("x"), 0o600)
			f, _ := fsys.Open("/f")
			defer f.Close()
			_, err := f.ReadAt(make([]byte, 1), 0)
			return err
		}, syscall.EIO},
		{"writeat path suffix", OnNth(Kinds(OpWrite).PathSuffix(".blk"), 1, ErrEIO), func(fsys FS) error {
			WriteFile(fsys, "/a.idx", []byte("x"), 0o600) // not selected
			f, _ := fsys.Create("/1.blk", 0o600)
			defer f.Close()
			_, err := f.WriteAt([]byte("x"), 0)
			return err
		}, syscall.EIO},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := NewFaultFS(NewMem(), tc.inj)
			err := tc.op(fsys)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if !tc.inj.Fired() {
				t.Fatal("injector did not record firing")
			}
		})
	}
}

func TestFaultFSFiresOnce(t *testing.T) {
	inj := OnNth(Kinds(OpWrite), 1, ErrEIO)
	fsys := NewFaultFS(NewMem(), inj)
	if err := WriteFile(fsys, "/f", []byte("x"), 0o600); !errors.Is(err, ErrEIO) {
		t.Fatalf("first write: %v", err)
	}
	if err := WriteFile(fsys, "/f", []byte("y"), 0o600); err != nil {
		t.Fatalf("second write: %v", err)
	}
	if inj.Count() != 2 {
		t.Fatalf("count %d", inj.Count())
	}
}

func TestFaultFSShortWrite(t *testing.T) {
	m := NewMem()
	fsys := NewFaultFS(m, OnNth(Kinds(OpWrite), 1, &ShortWrite{N: 3, Err: ErrENOSPC}))
	f, err := fsys.Create("/f", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.Write([]byte("abcdef"))
	if n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("short write returned %d %v", n, err)
	}
	// The sequential offset advanced by what was written.
	if _, err := f.Write([]byte("XY")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := readOrNil(m, "/f"); string(got) != "abcXY" {
		t.Fatalf("file holds %q", got)
	}
	sw := &ShortWrite{N: 1, Err: ErrEIO}
	if sw.Error() == "" || !errors.Is(sw, syscall.EIO) {
		t.Fatal("ShortWrite does not describe or unwrap its error")
	}

	// WriteAt too, and a negative N writes nothing.
	fsys = NewFaultFS(m, OnNth(Kinds(OpWrite), 1, &ShortWrite{N: -1, Err: ErrEIO}))
	f, _ = fsys.OpenFile("/f", os.O_RDWR, 0)
	if n, err := f.WriteAt([]byte("zz"), 0); n != 0 || !errors.Is(err, syscall.EIO) {
		t.Fatalf("writeat: %d %v", n, err)
	}
	f.Close()
	if got := readOrNil(m, "/f"); string(got) != "abcXY" {
		t.Fatalf("file holds %q", got)
	}
}

func TestFaultFSBitFlip(t *testing.T) {
	m := NewMem()
	WriteFile(m, "/d.blk", []byte{0, 0, 0, 0}, 0o600)
	WriteFile(m, "/d.idx", []byte{0, 0, 0, 0}, 0o600)
	fsys := NewFaultFS(m, Chain{OnNth(Kinds(OpStat), 99, ErrEIO), &BitFlip{Suffix: ".blk", Offset: 2, Bit: 0}})
	if got := readOrNil(fsys, "/d.blk"); !bytes.Equal(got, []byte{0, 0, 1, 0}) {
		t.Fatalf("readat flip: %x", got)
	}
	if got := readOrNil(fsys, "/d.idx"); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("other file flipped: %x", got)
	}
	// Sequential reads see the flip at the right offset.
	f, _ := fsys.Open("/d.blk")
	b := make([]byte, 2)
	f.Read(b)
	if !bytes.Equal(b, []byte{0, 0}) {
		t.Fatalf("first half %x", b)
	}
	f.Read(b)
	if !bytes.Equal(b, []byte{1, 0}) {
		t.Fatalf("second half %x", b)
	}
	f.Close()
	// The medium is untouched.
	if got := readOrNil(m, "/d.blk"); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Fatalf("disk changed: %x", got)
	}
	if err := (&BitFlip{}).MaybeError(Op{}); err != nil {
		t.Fatal(err)
	}
}

func TestFaultFSChainFirstErrorWins(t *testing.T) {
	c := Chain{OnNth(Kinds(OpWrite), 1, ErrEIO), OnNth(Kinds(OpWrite), 1, ErrENOSPC)}
	if err := c.MaybeError(Op{Kind: OpWrite}); !errors.Is(err, ErrEIO) {
		t.Fatalf("got %v", err)
	}
	if err := c.MaybeError(Op{Kind: OpRead}); err != nil {
		t.Fatalf("unselected op failed: %v", err)
	}
}

func TestOpKindAndMutation(t *testing.T) {
	cases := []struct {
		op   Op
		name string
		mut  bool
	}{
		{Op{Kind: OpOpen, Flag: os.O_RDONLY}, "open", false},
		{Op{Kind: OpOpen, Flag: os.O_CREATE | os.O_RDWR}, "open", true},
		{Op{Kind: OpOpen, Flag: os.O_TRUNC | os.O_WRONLY}, "open", true},
		{Op{Kind: OpRead}, "read", false},
		{Op{Kind: OpWrite}, "write", true},
		{Op{Kind: OpSync}, "sync", true},
		{Op{Kind: OpTruncate}, "truncate", true},
		{Op{Kind: OpClose}, "close", false},
		{Op{Kind: OpStat}, "stat", false},
		{Op{Kind: OpRemove}, "remove", true},
		{Op{Kind: OpRename}, "rename", true},
		{Op{Kind: OpMkdir}, "mkdir", true},
		{Op{Kind: OpReadDir}, "readdir", false},
		{Op{Kind: OpSyncDir}, "syncdir", true},
		{Op{Kind: OpKind(200)}, "op(200)", false},
	}
	for _, tc := range cases {
		if got := tc.op.Kind.String(); got != tc.name {
			t.Errorf("kind %d: name %q want %q", tc.op.Kind, got, tc.name)
		}
		if got := tc.op.IsMutation(); got != tc.mut {
			t.Errorf("%s flag %x: mutation %v want %v", tc.name, tc.op.Flag, got, tc.mut)
		}
		if got := Mutations()(tc.op); got != tc.mut {
			t.Errorf("Mutations filter disagrees for %s", tc.name)
		}
	}
}

func TestFaultFSHookSeesEveryMutation(t *testing.T) {
	var ops []Op
	fsys := NewFaultFS(NewMem(), InjectorFunc(func(op Op) error {
		if op.IsMutation() {
			ops = append(ops, op)
		}
		return nil
	}))
	f, _ := fsys.OpenFile("/f", os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	f.Write([]byte("abc"))
	f.Write([]byte("de"))
	f.Sync()
	f.Close()
	fsys.Rename("/f", "/g")
	want := []struct {
		kind OpKind
		off  int64
		n    int
	}{{OpOpen, 0, 0}, {OpWrite, 0, 3}, {OpWrite, 3, 2}, {OpSync, 0, 0}, {OpRename, 0, 0}}
	if len(ops) != len(want) {
		t.Fatalf("saw %d mutations: %+v", len(ops), ops)
	}
	for i, w := range want {
		if ops[i].Kind != w.kind || ops[i].Offset != w.off || ops[i].Len != w.n {
			t.Errorf("op %d = %+v, want %+v", i, ops[i], w)
		}
	}
	if ops[4].NewPath != "/g" || ops[4].Path != "/f" {
		t.Errorf("rename op %+v", ops[4])
	}
}
