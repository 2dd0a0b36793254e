//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64)

package vfs

import "syscall"

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
// range's dirty pages, without waiting for it.
const syncFileRangeWrite = 0x2

// startWriteback issues sync_file_range(2) for the range.
func (f osFile) startWriteback(off, n int64) bool {
	conn, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var errno syscall.Errno
	if err := conn.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
	}); err != nil {
		return false
	}
	return errno == 0
}
