package hostinet

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The host socket calls hostinet makes, on raw sockaddr and option
// bytes (the host kernel validates them as it would the application's).
// Every one is on a descriptor the sentry owns and made by the sentry's
// own code (DESIGN.md invariant 1); the list is what the sentry's seccomp
// filter must allow under --network=host.

func ptr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

func errnoOf(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func hostBind(fd int, sa []byte) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), ptr(sa), uintptr(len(sa)))
	return errnoOf(e)
}

func hostConnect(fd int, sa []byte) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), ptr(sa), uintptr(len(sa)))
	return errnoOf(e)
}

// hostAccept4 accepts a connection into a non-blocking, close-on-exec
// descriptor and returns it with its peer's address.
func hostAccept4(fd int) (int, []byte, error) {
	var sa [128]byte
	l := uint32(len(sa))
	nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, nil, e
	}
	return int(nfd), append([]byte(nil), sa[:min(int(l), len(sa))]...), nil
}

// hostName is getsockname (peer false) or getpeername.
func hostName(fd int, peer bool) ([]byte, error) {
	var sa [128]byte
	l := uint32(len(sa))
	nr := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		nr = unix.SYS_GETPEERNAME
	}
	_, _, e := unix.RawSyscall(nr, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return nil, e
	}
	return append([]byte(nil), sa[:min(int(l), len(sa))]...), nil
}

func hostSetsockopt(fd, level, name int, val []byte) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), ptr(val), uintptr(len(val)), 0)
	return errnoOf(e)
}

func hostGetsockopt(fd, level, name, size int) ([]byte, error) {
	b := make([]byte, size)
	l := uint32(size)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), ptr(b), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return nil, e
	}
	return b[:min(int(l), size)], nil
}

// hostSendmsg sends src (to the address to, if any) without control
// messages.
func hostSendmsg(fd int, src, to []byte, flags int) (int, error) {
	var iov unix.Iovec
	var m unix.Msghdr
	if len(src) > 0 {
		iov.Base = &src[0]
		iov.SetLen(len(src))
		m.Iov = &iov
		m.Iovlen = 1
	}
	if len(to) > 0 {
		m.Name = &to[0]
		m.Namelen = uint32(len(to))
	}
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// hostRecvmsg receives into dst; from receives the sender's address.
func hostRecvmsg(fd int, dst []byte, from *[128]byte, flags int) (n int, fromLen int, outFlags int, err error) {
	var iov unix.Iovec
	var m unix.Msghdr
	if len(dst) > 0 {
		iov.Base = &dst[0]
		iov.SetLen(len(dst))
		m.Iov = &iov
		m.Iovlen = 1
	}
	m.Name = &from[0]
	m.Namelen = uint32(len(from))
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), uintptr(flags))
	if e != 0 {
		return 0, 0, 0, e
	}
	return int(r), int(m.Namelen), int(m.Flags), nil
}

// hostIoctlInt is an ioctl whose argument is an int the host writes
// (FIONREAD, TIOCOUTQ, SIOCATMARK).
func hostIoctlInt(fd int, req uint) (int32, error) {
	var v int32
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&v)))
	if e != 0 {
		return 0, e
	}
	return v, nil
}
