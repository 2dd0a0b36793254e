package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Errors commonly injected. They are the real errno values, so code under
// test sees exactly what the OS would return.
var (
	ErrEIO    error = syscall.EIO
	ErrENOSPC error = syscall.ENOSPC
)

// OpKind names a kind of file-system operation.
type OpKind uint8

// The operation kinds FaultFS reports to its Injector.
const (
	OpOpen     OpKind = iota // OpenFile, Open, Create
	OpRead                   // Read, ReadAt
	OpWrite                  // Write, WriteAt
	OpSync                   // File.Sync
	OpTruncate               // File.Truncate
	OpClose                  // File.Close
	OpStat                   // FS.Stat, File.Stat
	OpRemove                 // Remove, RemoveAll
	OpRename                 // Rename
	OpMkdir                  // MkdirAll
	OpReadDir                // ReadDir
	OpSyncDir                // SyncDir
)

var opNames = [...]string{"open", "read", "write", "sync", "truncate", "close", "stat", "remove", "rename", "mkdir", "readdir", "syncdir"}

// String returns the operation's name.
func (k OpKind) String() string {
	if int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op describes one operation about to be performed.
type Op struct {
	Kind    OpKind
	Path    string // the file or directory; for Rename the old name
	NewPath string // Rename only
	Flag    int    // OpenFile only
	Offset  int64  // Read/Write: the file offset
	Len     int    // Read/Write: the number of bytes
}

// IsMutation reports whether the operation changes what is on disk: writes,
// syncs, truncates, removes, renames, mkdirs, and opens that create or
// truncate. These are the points at which a crash test cuts power.
func (op Op) IsMutation() bool {
	switch op.Kind {
	case OpWrite, OpSync, OpTruncate, OpRemove, OpRename, OpMkdir, OpSyncDir:
		return true
	case OpOpen:
		return op.Flag&(os.O_CREATE|os.O_TRUNC) != 0
	}
	return false
}

// Injector decides the fate of each operation. MaybeError is called before
// the operation runs; a non-nil error fails the operation without running
// it, except that a *ShortWrite error on a write first writes a prefix.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to Injector.
type InjectorFunc func(op Op) error

// MaybeError implements Injector.
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// ReadCorrupter may be implemented by an Injector to alter the bytes that a
// successful read returns (bit rot).
type ReadCorrupter interface {
	CorruptRead(op Op, p []byte)
}

// ShortWrite makes a write store its first N bytes and then fail with Err,
// like a device that filled up in the middle of a write.
type ShortWrite struct {
	N   int
	Err error
}

func (e *ShortWrite) Error() string { return fmt.Sprintf("short write of %d bytes: %v", e.N, e.Err) }

// Unwrap returns the error the write reports.
func (e *ShortWrite) Unwrap() error { return e.Err }

// FaultFS wraps an FS and consults an Injector before every operation.
type FaultFS struct {
	inner FS
	inj   Injector
}

// NewFaultFS returns inner wrapped with inj.
func NewFaultFS(inner FS, inj Injector) *FaultFS {
	return &FaultFS{inner: inner, inj: inj}
}

func (f *FaultFS) maybe(op Op) error {
	if f.inj == nil {
		return nil
	}
	return f.inj.MaybeError(op)
}

// OpenFile implements FS.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := f.maybe(Op{Kind: OpOpen, Path: name, Flag: flag}); err != nil {
		return nil, pathErr("open", name, err)
	}
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	ff := &faultFile{fs: f, f: file}
	if flag&os.O_APPEND != 0 {
		if fi, err := file.Stat(); err == nil {
			ff.off = fi.Size()
		}
	}
	return ff, nil
}

// Open implements FS.
func (f *FaultFS) Open(name string) (File, error) { return f.OpenFile(name, os.O_RDONLY, 0) }

// Create implements FS.
func (f *FaultFS) Create(name string, perm os.FileMode) (File, error) {
	return f.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_RDWR, perm)
}

// Remove implements FS.
func (f *FaultFS) Remove(name string) error {
	if err := f.maybe(Op{Kind: OpRemove, Path: name}); err != nil {
		return pathErr("remove", name, err)
	}
	return f.inner.Remove(name)
}

// RemoveAll implements FS.
func (f *FaultFS) RemoveAll(name string) error {
	if err := f.maybe(Op{Kind: OpRemove, Path: name}); err != nil {
		return pathErr("removeall", name, err)
	}
	return f.inner.RemoveAll(name)
}

// Rename implements FS.
func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.maybe(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return f.inner.Rename(oldname, newname)
}

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.maybe(Op{Kind: OpMkdir, Path: dir}); err != nil {
		return pathErr("mkdir", dir, err)
	}
	return f.inner.MkdirAll(dir, perm)
}

// ReadDir implements FS.
func (f *FaultFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if err := f.maybe(Op{Kind: OpReadDir, Path: dir}); err != nil {
		return nil, pathErr("readdir", dir, err)
	}
	return f.inner.ReadDir(dir)
}

// Stat implements FS.
func (f *FaultFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.maybe(Op{Kind: OpStat, Path: name}); err != nil {
		return nil, pathErr("stat", name, err)
	}
	return f.inner.Stat(name)
}

// SyncDir implements FS.
func (f *FaultFS) SyncDir(dir string) error {
	if err := f.maybe(Op{Kind: OpSyncDir, Path: dir}); err != nil {
		return pathErr("sync", dir, err)
	}
	return f.inner.SyncDir(dir)
}

// faultFile tracks its own offset so that sequential reads and writes can be
// described with an Offset like ReadAt and WriteAt. Its offset is guarded by
// mu.
type faultFile struct {
	fs  *FaultFS
	f   File
	mu  sync.Mutex
	off int64
}

func (ff *faultFile) Name() string { return ff.f.Name() }

func (ff *faultFile) corrupt(op Op, p []byte) {
	if rc, ok := ff.fs.inj.(ReadCorrupter); ok && len(p) > 0 {
		rc.CorruptRead(op, p)
	}
}

func (ff *faultFile) Read(p []byte) (int, error) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	op := Op{Kind: OpRead, Path: ff.f.Name(), Offset: ff.off, Len: len(p)}
	if err := ff.fs.maybe(op); err != nil {
		return 0, pathErr("read", ff.f.Name(), err)
	}
	n, err := ff.f.Read(p)
	ff.off += int64(n)
	ff.corrupt(op, p[:n])
	return n, err
}

func (ff *faultFile) ReadAt(p []byte, off int64) (int, error) {
	op := Op{Kind: OpRead, Path: ff.f.Name(), Offset: off, Len: len(p)}
	if err := ff.fs.maybe(op); err != nil {
		return 0, pathErr("read", ff.f.Name(), err)
	}
	n, err := ff.f.ReadAt(p, off)
	ff.corrupt(op, p[:n])
	return n, err
}

// short applies a *ShortWrite by writing its prefix with write, then
// reports its error.
func (ff *faultFile) short(err error, p []byte, write func([]byte) (int, error)) (int, error) {
	var sw *ShortWrite
	if !errors.As(err, &sw) {
		return 0, pathErr("write", ff.f.Name(), err)
	}
	n := min(max(sw.N, 0), len(p))
	if n > 0 {
		if _, werr := write(p[:n]); werr != nil {
			return 0, werr
		}
	}
	return n, pathErr("write", ff.f.Name(), sw.Err)
}

func (ff *faultFile) Write(p []byte) (int, error) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	op := Op{Kind: OpWrite, Path: ff.f.Name(), Offset: ff.off, Len: len(p)}
	if err := ff.fs.maybe(op); err != nil {
		n, werr := ff.short(err, p, ff.f.Write)
		ff.off += int64(n)
		return n, werr
	}
	n, err := ff.f.Write(p)
	ff.off += int64(n)
	return n, err
}

func (ff *faultFile) WriteAt(p []byte, off int64) (int, error) {
	op := Op{Kind: OpWrite, Path: ff.f.Name(), Offset: off, Len: len(p)}
	if err := ff.fs.maybe(op); err != nil {
		return ff.short(err, p, func(b []byte) (int, error) { return ff.f.WriteAt(b, off) })
	}
	return ff.f.WriteAt(p, off)
}

func (ff *faultFile) Stat() (fs.FileInfo, error) {
	if err := ff.fs.maybe(Op{Kind: OpStat, Path: ff.f.Name()}); err != nil {
		return nil, pathErr("stat", ff.f.Name(), err)
	}
	return ff.f.Stat()
}

func (ff *faultFile) Sync() error {
	if err := ff.fs.maybe(Op{Kind: OpSync, Path: ff.f.Name()}); err != nil {
		return pathErr("sync", ff.f.Name(), err)
	}
	return ff.f.Sync()
}

func (ff *faultFile) Truncate(size int64) error {
	if err := ff.fs.maybe(Op{Kind: OpTruncate, Path: ff.f.Name(), Offset: size}); err != nil {
		return pathErr("truncate", ff.f.Name(), err)
	}
	return ff.f.Truncate(size)
}

func (ff *faultFile) Close() error {
	if err := ff.fs.maybe(Op{Kind: OpClose, Path: ff.f.Name()}); err != nil {
		// The descriptor is released either way, as with close(2).
		_ = ff.f.Close()
		return pathErr("close", ff.f.Name(), err)
	}
	return ff.f.Close()
}

// OpFilter selects operations.
type OpFilter func(op Op) bool

// Kinds selects operations of the given kinds.
func Kinds(kinds ...OpKind) OpFilter {
	return func(op Op) bool {
		for _, k := range kinds {
			if op.Kind == k {
				return true
			}
		}
		return false
	}
}

// Mutations selects operations that change the disk (see Op.IsMutation).
func Mutations() OpFilter { return Op.IsMutation }

// PathSuffix narrows a filter to paths ending in suffix.
func (f OpFilter) PathSuffix(suffix string) OpFilter {
	return func(op Op) bool { return f(op) && strings.HasSuffix(op.Path, suffix) }
}

// Nth fails the n-th (1-based) operation selected by a filter with an
// error, once; every other operation passes. It is safe for concurrent use.
type Nth struct {
	filter OpFilter
	n      int
	err    error
	// mu guards count and fired.
	mu    sync.Mutex
	count int
	fired bool
}

// OnNth returns an injector failing the n-th selected operation with err.
// Use a *ShortWrite as err for a torn write.
func OnNth(filter OpFilter, n int, err error) *Nth {
	return &Nth{filter: filter, n: n, err: err}
}

// MaybeError implements Injector.
func (i *Nth) MaybeError(op Op) error {
	if !i.filter(op) {
		return nil
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.count++
	if i.count == i.n && !i.fired {
		i.fired = true
		return i.err
	}
	return nil
}

// Count returns how many selected operations have been seen.
func (i *Nth) Count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.count
}

// Fired reports whether the error was injected.
func (i *Nth) Fired() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fired
}

// BitFlip inverts one bit of the data read from a given file offset of every
// file whose path ends in a suffix. The file on disk is not changed.
type BitFlip struct {
	Suffix string
	Offset int64
	Bit    uint
}

// MaybeError implements Injector; BitFlip never fails an operation.
func (b *BitFlip) MaybeError(Op) error { return nil }

// CorruptRead implements ReadCorrupter.
func (b *BitFlip) CorruptRead(op Op, p []byte) {
	if !strings.HasSuffix(op.Path, b.Suffix) {
		return
	}
	if i := b.Offset - op.Offset; i >= 0 && i < int64(len(p)) {
		p[i] ^= 1 << (b.Bit % 8)
	}
}

// Chain consults injectors in order; the first error wins. Read corruption
// is applied by every injector that implements ReadCorrupter.
type Chain []Injector

// MaybeError implements Injector.
func (c Chain) MaybeError(op Op) error {
	for _, inj := range c {
		if err := inj.MaybeError(op); err != nil {
			return err
		}
	}
	return nil
}

// CorruptRead implements ReadCorrupter.
func (c Chain) CorruptRead(op Op, p []byte) {
	for _, inj := range c {
		if rc, ok := inj.(ReadCorrupter); ok {
			rc.CorruptRead(op, p)
		}
	}
}
