//go:build linux

package gofer

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The *xattrat syscalls (Linux 6.13) reach the attributes of a file by
// directory descriptor and name without following it, the only way the
// gofer (which has no /proc) can reach a symlink's. Older kernels give
// ENOSYS, which callers turn into EOPNOTSUPP.

// xattrArgs is struct xattr_args. Its value pointer is a uintptr: the
// buffers passed are heap slices (which do not move), kept alive across
// the call.
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

func bytePtr(s string) (*byte, error) { return unix.BytePtrFromString(s) }

func bufPtr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

// lgetxattrAt reads attribute attr of name in dirfd, not following it.
func lgetxattrAt(dirfd int, name, attr string, buf []byte) (int, error) {
	p, err := bytePtr(name)
	if err != nil {
		return 0, err
	}
	a, err := bytePtr(attr)
	if err != nil {
		return 0, err
	}
	args := xattrArgs{value: uint64(bufPtr(buf)), size: uint32(len(buf))}
	r, _, e := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_SYMLINK_NOFOLLOW,
		uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(buf)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// lsetxattrAt sets attribute attr of name in dirfd, not following it.
func lsetxattrAt(dirfd int, name, attr string, value []byte, flags int) error {
	p, err := bytePtr(name)
	if err != nil {
		return err
	}
	a, err := bytePtr(attr)
	if err != nil {
		return err
	}
	args := xattrArgs{value: uint64(bufPtr(value)), size: uint32(len(value)), flags: uint32(flags)}
	_, _, e := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_SYMLINK_NOFOLLOW,
		uintptr(unsafe.Pointer(a)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	runtime.KeepAlive(value)
	if e != 0 {
		return e
	}
	return nil
}

// llistxattrAt lists the attributes of name in dirfd, not following it.
func llistxattrAt(dirfd int, name string, buf []byte) (int, error) {
	p, err := bytePtr(name)
	if err != nil {
		return 0, err
	}
	r, _, e := unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_SYMLINK_NOFOLLOW,
		bufPtr(buf), uintptr(len(buf)), 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// lremovexattrAt removes attribute attr of name in dirfd, not following it.
func lremovexattrAt(dirfd int, name, attr string) error {
	p, err := bytePtr(name)
	if err != nil {
		return err
	}
	a, err := bytePtr(attr)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall6(unix.SYS_REMOVEXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_SYMLINK_NOFOLLOW,
		uintptr(unsafe.Pointer(a)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
