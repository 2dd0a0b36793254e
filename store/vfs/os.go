package vfs

import (
	"io/fs"
	"os"
	"runtime"
	"sort"
)

// Default is the operating system's file system.
var Default FS = OS{}

// OS is the FS of the operating system.
type OS struct{}

// osFile adapts *os.File to File; it exists so the interface never leaks
// *os.File methods the store must not depend on.
type osFile struct{ *os.File }

// OpenFile implements FS.
func (OS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Open implements FS.
func (o OS) Open(name string) (File, error) { return o.OpenFile(name, os.O_RDONLY, 0) }

// Create implements FS.
func (o OS) Create(name string, perm os.FileMode) (File, error) {
	return o.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_RDWR, perm)
}

// Remove implements FS.
func (OS) Remove(name string) error { return os.Remove(name) }

// RemoveAll implements FS.
func (OS) RemoveAll(name string) error { return os.RemoveAll(name) }

// Rename implements FS.
func (OS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// MkdirAll implements FS.
func (OS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

// ReadDir implements FS.
func (OS) ReadDir(dir string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, err
}

// Stat implements FS.
func (OS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// SyncDir implements FS. Windows cannot fsync a directory, so it is a no-op
// there.
func (OS) SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err = d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
