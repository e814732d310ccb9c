// Package host wraps descriptors donated by the host (the sandbox's stdio)
// as sentry files. Reads and writes go to the host descriptor through this
// package's own code; ioctls are limited to the terminal requests below,
// issued only with those request numbers.
package host

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// File is an open donated host descriptor.
type File struct {
	vfs.FileDescriptionDefaultImpl
	fd    int
	ftype uint32 // S_IFMT of the host file
	isTTY bool
	// name is the host's path of the file, as its donor saw it (see
	// SetHostName); set before the file is shared, read-only after.
	name string
}

// NewFile wraps a duplicate of hostFD (the caller keeps hostFD) in a
// FileDescription with the host descriptor's access mode and status flags.
// Regular files are seekable (their offset starts at the host's); pipes,
// sockets and ttys are streams.
func NewFile(hostFD int) (*vfs.FileDescription, error) {
	var st unix.Stat_t
	if err := unix.Fstat(hostFD, &st); err != nil {
		return nil, err
	}
	fl, err := unix.FcntlInt(uintptr(hostFD), unix.F_GETFL, 0)
	if err != nil {
		return nil, err
	}
	fd, err := unix.FcntlInt(uintptr(hostFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := &File{fd: fd, ftype: st.Mode & unix.S_IFMT}
	if f.ftype == unix.S_IFCHR {
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			f.isTTY = true
		}
	}
	opts := vfs.FileDescriptionOptions{}
	if f.ftype == unix.S_IFREG {
		// The description is the caller's: its offset is shared with
		// whoever else holds it (a shell appending a log after the
		// sandbox wrote to it), so the host keeps it.
		opts = vfs.FileDescriptionOptions{ImplOffset: true}
	}
	flags := uint32(fl) & (unix.O_ACCMODE | unix.O_APPEND | unix.O_NONBLOCK)
	var impl vfs.FileDescriptionImpl = f
	if f.ftype != unix.S_IFREG && f.ftype != unix.S_IFDIR {
		// Streams (ttys, pipes, sockets) have readiness; see readiness.go.
		impl = &streamFile{File: f}
	}
	return vfs.NewFileDescription(impl, vfs.VirtualDentry{}, flags, opts), nil
}

// IsTTY reports whether the host file is a terminal.
func (f *File) IsTTY() bool { return f.isTTY }

// HostFD returns the (duplicated) host descriptor.
func (f *File) HostFD() int { return f.fd }

// SetHostName records the host's path of the file (what readlink of
// /proc/self/fd/N gives its donor), which /proc/[pid]/fd shows. The
// fenced sentry cannot read it from the host itself: the caller learns it
// before the fence, or from the donor. It must be called before the file
// is shared with a task.
func (f *File) SetHostName(name string) { f.name = name }

// HostName returns the name recorded by SetHostName ("" if none).
func (f *File) HostName() string { return f.name }

// Release implements vfs.FileDescriptionImpl.Release.
func (f *File) Release(vfs.Context) { unix.Close(f.fd) }

// Stat implements vfs.FileDescriptionImpl.Stat: the host's file type and
// attributes.
func (f *File) Stat(vfs.Context) (vfs.Stat, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return vfs.Stat{}, err
	}
	return vfs.StatFromHost(&st), nil
}

// PRead implements vfs.FileDescriptionImpl.PRead. For streams (off < 0) it
// is a plain read that blocks as the host file does.
func (f *File) PRead(_ vfs.Context, dst []byte, off int64) (int, error) {
	for {
		var n int
		var err error
		if off < 0 {
			n, err = unix.Read(f.fd, dst)
		} else {
			n, err = unix.Pread(f.fd, dst, off)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// PWrite implements vfs.FileDescriptionImpl.PWrite.
func (f *File) PWrite(_ vfs.Context, src []byte, off int64, appendMode bool) (int, int64, error) {
	done := 0
	for done < len(src) {
		var n int
		var err error
		if off < 0 || appendMode {
			n, err = unix.Write(f.fd, src[done:])
		} else {
			n, err = unix.Pwrite(f.fd, src[done:], off+int64(done))
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if done > 0 {
				break
			}
			return 0, off, err
		}
		done += n
	}
	end := off + int64(done)
	if appendMode && f.ftype == unix.S_IFREG {
		if e, err := unix.Seek(f.fd, 0, unix.SEEK_CUR); err == nil {
			end = e
		}
	}
	return done, end, nil
}

// Seek implements vfs.FileDescriptionImpl.Seek for regular files.
func (f *File) Seek(_ vfs.Context, cur, offset int64, whence int) (int64, error) {
	if f.ftype != unix.S_IFREG {
		return 0, unix.ESPIPE
	}
	if cur < 0 {
		return unix.Seek(f.fd, offset, whence)
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, err
	}
	return vfs.GenericSeek(cur, offset, whence, st.Size)
}

// Sync implements vfs.FileDescriptionImpl.Sync.
func (f *File) Sync(vfs.Context) error {
	if f.ftype != unix.S_IFREG {
		return unix.EINVAL
	}
	return unix.Fsync(f.fd)
}

// Ioctl implements vfs.FileDescriptionImpl.Ioctl: the terminal requests
// TCGETS, TCSETS/TCSETSW/TCSETSF, TIOCGWINSZ, TIOCSWINSZ, and FIONREAD.
// Anything else, or any terminal request on a non-terminal, is ENOTTY.
func (f *File) Ioctl(ctx vfs.Context, cmd uint32, arg uint64) (uintptr, error) {
	if cmd == fionread {
		var n int
		switch {
		case f.ftype == unix.S_IFREG:
			var st unix.Stat_t
			if err := unix.Fstat(f.fd, &st); err != nil {
				return 0, err
			}
			pos, _ := unix.Seek(f.fd, 0, unix.SEEK_CUR)
			n = int(max(st.Size-pos, 0))
		case f.isTTY || f.ftype == unix.S_IFIFO || f.ftype == unix.S_IFSOCK:
			v, err := unix.IoctlGetInt(f.fd, fionread)
			if err != nil {
				return 0, err
			}
			n = v
		default:
			return 0, unix.ENOTTY
		}
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		_, err := ctx.CopyOut(arg, b[:])
		return 0, err
	}
	if !f.isTTY {
		return 0, unix.ENOTTY
	}
	switch cmd {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		var b [abi.SizeofTermios]byte
		abi.MarshalTermios(b[:], t)
		_, err = ctx.CopyOut(arg, b[:])
		return 0, err
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		var b [abi.SizeofTermios]byte
		if _, err := ctx.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		// Start from the host's termios so that the speed fields that
		// struct termios lacks stay as they are.
		t, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		abi.UnmarshalTermios(b[:], t)
		var req uint
		switch cmd {
		case unix.TCSETS:
			req = unix.TCSETS
		case unix.TCSETSW:
			req = unix.TCSETSW
		default:
			req = unix.TCSETSF
		}
		return 0, unix.IoctlSetTermios(f.fd, req, t)
	case unix.TIOCGWINSZ:
		w, err := unix.IoctlGetWinsize(f.fd, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		var b [abi.SizeofWinsize]byte
		abi.MarshalWinsize(b[:], w)
		_, err = ctx.CopyOut(arg, b[:])
		return 0, err
	case unix.TIOCSWINSZ:
		var b [abi.SizeofWinsize]byte
		if _, err := ctx.CopyIn(arg, b[:]); err != nil {
			return 0, err
		}
		var w unix.Winsize
		abi.UnmarshalWinsize(b[:], &w)
		return 0, unix.IoctlSetWinsize(f.fd, unix.TIOCSWINSZ, &w)
	}
	return 0, unix.ENOTTY
}

// fionread is FIONREAD (TIOCINQ) on amd64.
const fionread = 0x541B
