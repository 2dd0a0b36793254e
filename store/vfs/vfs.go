// Package vfs is the small file-system interface the JetStream file store does
// all of its disk I/O through.
//
// Three implementations ship with it:
//
//	Default (OS)   the real operating system, a thin veneer over package os.
//	MemFS          an in-memory tree that remembers what was synced, so a
//	               test can take a CrashClone: the file system as it would
//	               look after a power cut (only fsynced bytes and fsynced
//	               directory entries survive).
//	FaultFS        a wrapper that injects errors (EIO, ENOSPC, short writes)
//	               on chosen operations and flips bits in data being read.
//
// Together they turn crash safety and error handling into ordinary,
// deterministic, fast unit tests, the way pebble's vfs, vfs.NewCrashableMem
// and vfs/errorfs do.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// File is an open file. It is the subset of *os.File the store uses.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Name returns the name the file was opened with.
	Name() string
	// Stat describes the open file.
	Stat() (fs.FileInfo, error)
	// Sync makes the file's current contents durable.
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
}

// FS is a file system. Paths use the host separator, as in package os.
type FS interface {
	// OpenFile opens a file with os.O_* flags (O_RDONLY, O_WRONLY, O_RDWR,
	// O_CREATE, O_EXCL, O_TRUNC, O_APPEND, O_SYNC).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Open opens a file read-only.
	Open(name string) (File, error)
	// Create creates or truncates a file for reading and writing.
	Create(name string, perm os.FileMode) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a path and everything below it. A missing path is
	// not an error.
	RemoveAll(name string) error
	// Rename moves oldname to newname, replacing a file at newname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(dir string) ([]fs.DirEntry, error)
	// Stat describes a path.
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the entries of a directory (creations, renames and
	// removals inside it) durable.
	SyncDir(dir string) error
}

// ReadFile reads a whole file, like os.ReadFile.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, fi.Size())
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF && n == len(buf) {
		err = nil
	}
	return buf[:n], err
}

// WriteFile writes data to a file, creating or truncating it, like
// os.WriteFile. It does not sync.
func WriteFile(fsys FS, name string, data []byte, perm os.FileMode) error {
	f, err := fsys.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Glob returns the names in dir whose base name matches pattern (as in
// filepath.Match), joined with dir and sorted.
func Glob(fsys FS, dir, pattern string) ([]string, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		ok, err := filepath.Match(pattern, e.Name())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Exists reports whether a path exists. Errors other than "does not exist"
// count as existing, so callers do not mistake an I/O error for absence.
func Exists(fsys FS, name string) bool {
	_, err := fsys.Stat(name)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
