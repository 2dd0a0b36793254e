package vfs

// writebackStarter is implemented by files whose system can begin writing
// a byte range to disk without waiting for it.
type writebackStarter interface {
	startWriteback(off, n int64) bool
}

// StartWriteback asks the system to begin writing f's bytes [off, off+n) to
// disk now, without waiting, so that a later Sync finds little left to do.
// It is only a hint and reports whether it was given: files that cannot
// take it (in memory, fault injecting, other systems) ignore it, and a
// failure is left for Sync to report.
func StartWriteback(f File, off, n int64) bool {
	w, ok := f.(writebackStarter)
	return ok && n > 0 && off >= 0 && w.startWriteback(off, n)
}
