//go:build windows

package server

func diskFree(path string) int64 { return 2 }

func windowsOnly() {}
