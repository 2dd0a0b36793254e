package vfs

import (
	"bytes"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that tracks durability the way a strict POSIX
// file system does after a power cut:
//
//   - a file's bytes are durable up to its last Sync (or O_SYNC write);
//   - a directory entry (a create, rename or remove inside a directory) is
//     durable once that directory is synced with SyncDir.
//
// CrashClone returns the file system as it would come back after a crash at
// this instant. MemFS is safe for concurrent use.
type MemFS struct {
	// mu guards the whole tree: every node, its data and children, and
	// every open handle's offset.
	mu   sync.Mutex
	root *memNode
}

type memNode struct {
	name    string
	isDir   bool
	perm    os.FileMode
	modTime time.Time

	// Files.
	data   []byte
	synced []byte // contents as of the last Sync; nil when never synced

	// Directories.
	children       map[string]*memNode
	syncedChildren map[string]*memNode // entries as of the last SyncDir
}

// NewMem returns an empty in-memory file system. Its root directory is
// durable; everything under it starts out unsynced.
func NewMem() *MemFS {
	return &MemFS{root: newDirNode("/", 0o700)}
}

func newDirNode(name string, perm os.FileMode) *memNode {
	return &memNode{
		name:           name,
		isDir:          true,
		perm:           perm,
		modTime:        time.Now(),
		children:       make(map[string]*memNode),
		syncedChildren: make(map[string]*memNode),
	}
}

// split turns a path into its components below the root.
func split(name string) []string {
	clean := filepath.ToSlash(filepath.Clean(name))
	clean = strings.TrimPrefix(clean, "/")
	if clean == "" || clean == "." {
		return nil
	}
	return strings.Split(clean, "/")
}

func pathErr(op, path string, err error) error {
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// walk returns the node at a path. Lock held.
func (m *MemFS) walk(op, name string) (*memNode, error) {
	n := m.root
	for _, part := range split(name) {
		if !n.isDir {
			return nil, pathErr(op, name, syscall.ENOTDIR)
		}
		c, ok := n.children[part]
		if !ok {
			return nil, pathErr(op, name, fs.ErrNotExist)
		}
		n = c
	}
	return n, nil
}

// parent returns the directory holding a path and the path's base name.
// Lock held.
func (m *MemFS) parent(op, name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", pathErr(op, name, fs.ErrInvalid)
	}
	dir, err := m.walk(op, strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if !dir.isDir {
		return nil, "", pathErr(op, name, syscall.ENOTDIR)
	}
	return dir, parts[len(parts)-1], nil
}

// OpenFile implements FS.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent("open", name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !ok:
		n = &memNode{name: base, perm: perm, modTime: time.Now()}
		dir.children[base] = n
	case n.isDir && flag&(os.O_WRONLY|os.O_RDWR) != 0:
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	if flag&os.O_TRUNC != 0 && !n.isDir {
		n.data = n.data[:0]
		n.modTime = time.Now()
	}
	f := &memFile{fs: m, node: n, name: name, flag: flag}
	if flag&os.O_APPEND != 0 {
		f.off = int64(len(n.data))
	}
	return f, nil
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.OpenFile(name, os.O_RDONLY, 0) }

// Create implements FS.
func (m *MemFS) Create(name string, perm os.FileMode) (File, error) {
	return m.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_RDWR, perm)
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.isDir && len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(dir.children, base)
	return nil
}

// RemoveAll implements FS.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(split(name)) == 0 {
		m.root.children = make(map[string]*memNode)
		return nil
	}
	dir, base, err := m.parent("removeall", name)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	delete(dir.children, base)
	return nil
}

func isNotExist(err error) bool {
	pe, ok := err.(*fs.PathError)
	return ok && pe.Err == fs.ErrNotExist
}

// Rename implements FS. A file replaces a file; a directory may replace an
// empty directory.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.parent("rename", oldname)
	if err != nil {
		return err
	}
	n, ok := odir.children[obase]
	if !ok {
		return pathErr("rename", oldname, fs.ErrNotExist)
	}
	ndir, nbase, err := m.parent("rename", newname)
	if err != nil {
		return err
	}
	if n.isDir {
		// Moving a directory below itself would detach it from the tree.
		o, nw := split(oldname), split(newname)
		if len(nw) > len(o) && strings.Join(nw[:len(o)], "/") == strings.Join(o, "/") {
			return pathErr("rename", newname, fs.ErrInvalid)
		}
	}
	if existing, ok := ndir.children[nbase]; ok && existing != n {
		switch {
		case existing.isDir && !n.isDir:
			return pathErr("rename", newname, syscall.EISDIR)
		case !existing.isDir && n.isDir:
			return pathErr("rename", newname, syscall.ENOTDIR)
		case existing.isDir && len(existing.children) > 0:
			return pathErr("rename", newname, syscall.ENOTEMPTY)
		}
	}
	delete(odir.children, obase)
	n.name = nbase
	ndir.children[nbase] = n
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, part := range split(dir) {
		c, ok := n.children[part]
		if !ok {
			c = newDirNode(part, perm)
			n.children[part] = c
		} else if !c.isDir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		n = c
	}
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("readdir", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, pathErr("readdir", dir, syscall.ENOTDIR)
	}
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(c.info()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(), nil
}

// SyncDir implements FS: the directory's current entries become durable.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("sync", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return pathErr("sync", dir, syscall.ENOTDIR)
	}
	n.syncedChildren = make(map[string]*memNode, len(n.children))
	for k, v := range n.children {
		n.syncedChildren[k] = v
	}
	return nil
}

// CrashOptions tunes what survives a simulated crash.
type CrashOptions struct {
	// Rand, when set, keeps a random prefix of the bytes appended to each
	// file since its last sync (a torn write), and for a file overwritten
	// since its last sync, randomly its old or new contents. When nil only
	// synced bytes survive.
	Rand *rand.Rand
	// KeepUnsyncedEntries keeps directory entries that were never made
	// durable with SyncDir, as a file system with ordered metadata would.
	KeepUnsyncedEntries bool
}

// CrashClone returns a new MemFS holding what would survive a crash now.
// The receiver is unchanged and can keep being used.
func (m *MemFS) CrashClone(opts CrashOptions) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &MemFS{root: m.root.crashCopy(opts)}
}

// Lock held.
func (n *memNode) crashCopy(opts CrashOptions) *memNode {
	if !n.isDir {
		c := &memNode{name: n.name, perm: n.perm, modTime: n.modTime}
		c.data = bytes.Clone(n.durableData(opts.Rand))
		c.synced = bytes.Clone(c.data)
		return c
	}
	c := newDirNode(n.name, n.perm)
	entries := n.syncedChildren
	if opts.KeepUnsyncedEntries {
		entries = n.children
	}
	// Iterate in name order so a seeded Rand gives the same result.
	names := make([]string, 0, len(entries))
	for k := range entries {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		cc := entries[k].crashCopy(opts)
		cc.name = k
		c.children[k] = cc
		c.syncedChildren[k] = cc
	}
	return c
}

// durableData picks the bytes of a file that survive a crash. Lock held.
func (n *memNode) durableData(rng *rand.Rand) []byte {
	if rng == nil || bytes.Equal(n.synced, n.data) {
		return n.synced
	}
	if bytes.HasPrefix(n.data, n.synced) {
		k := len(n.synced) + rng.Intn(len(n.data)-len(n.synced)+1)
		return n.data[:k]
	}
	if rng.Intn(2) == 0 {
		return n.synced
	}
	return n.data
}

// FlipBit inverts one bit of a file's contents (current and synced alike),
// simulating bit rot on the medium.
func (m *MemFS) FlipBit(name string, offset int64, bit uint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("flipbit", name)
	if err != nil {
		return err
	}
	if n.isDir || offset < 0 || offset >= int64(len(n.data)) {
		return pathErr("flipbit", name, fs.ErrInvalid)
	}
	n.data[offset] ^= 1 << (bit % 8)
	if offset < int64(len(n.synced)) {
		n.synced[offset] ^= 1 << (bit % 8)
	}
	return nil
}

func (n *memNode) info() fs.FileInfo {
	mode := n.perm
	if n.isDir {
		mode |= fs.ModeDir
	}
	return &memInfo{name: n.name, size: int64(len(n.data)), mode: mode, modTime: n.modTime}
}

type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i *memInfo) Name() string       { return i.name }
func (i *memInfo) Size() int64        { return i.size }
func (i *memInfo) Mode() fs.FileMode  { return i.mode }
func (i *memInfo) ModTime() time.Time { return i.modTime }
func (i *memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *memInfo) Sys() any           { return nil }

// memFile is an open handle. Its fields are guarded by fs.mu.
type memFile struct {
	fs     *MemFS
	node   *memNode
	name   string
	flag   int
	off    int64
	closed bool
}

func (f *memFile) readable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY }
func (f *memFile) writable() bool { return f.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// check validates a handle for an operation. Lock held.
func (f *memFile) check(op string, write bool) error {
	switch {
	case f.closed:
		return pathErr(op, f.name, fs.ErrClosed)
	case write && !f.writable(), !write && !f.readable():
		return pathErr(op, f.name, syscall.EBADF)
	case f.node.isDir && op != "stat" && op != "close":
		return pathErr(op, f.name, syscall.EISDIR)
	}
	return nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	n, err := f.readAtLocked(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fs.ErrInvalid)
	}
	return f.readAtLocked(p, off)
}

func (f *memFile) readAtLocked(p []byte, off int64) (int, error) {
	if off >= int64(len(f.node.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		f.off = int64(len(f.node.data))
	}
	n := f.writeAtLocked(p, f.off)
	f.off += int64(n)
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", f.name, fs.ErrInvalid)
	}
	return f.writeAtLocked(p, off), nil
}

func (f *memFile) writeAtLocked(p []byte, off int64) int {
	n := f.node
	if end := off + int64(len(p)); end > int64(len(n.data)) {
		if end <= int64(cap(n.data)) {
			// Reused capacity may hold bytes from before a truncate; a
			// hole must read back as zeros.
			old := len(n.data)
			n.data = n.data[:end]
			clear(n.data[old:])
		} else {
			grown := make([]byte, end, end+end/2)
			copy(grown, n.data)
			n.data = grown
		}
	}
	copy(n.data[off:], p)
	n.modTime = time.Now()
	if f.flag&os.O_SYNC != 0 {
		n.synced = bytes.Clone(n.data)
	}
	return len(p)
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return nil, pathErr("stat", f.name, fs.ErrClosed)
	}
	return f.node.info(), nil
}

// Sync makes the handle's file contents durable. Syncing a directory handle
// does not make its entries durable; use FS.SyncDir for that.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("sync", f.name, fs.ErrClosed)
	}
	if !f.node.isDir {
		f.node.synced = bytes.Clone(f.node.data)
		if f.node.synced == nil {
			f.node.synced = []byte{}
		}
	}
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, fs.ErrInvalid)
	}
	n := f.node
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
	} else {
		grown := make([]byte, size)
		copy(grown, n.data)
		n.data = grown
	}
	n.modTime = time.Now()
	return nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}
