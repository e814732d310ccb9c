package linux

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerSplice installs sendfile, splice, tee, vmsplice and
// copy_file_range. They move data through a sentry buffer with the files'
// generic Read/Write/PRead/PWrite, so they work for every file (and do not
// depend on how pipes store data); tee alone needs vfs.Peeker.
func registerSplice(t *kernel.SyscallTable) {
	t.Register(unix.SYS_SENDFILE, Sendfile)
	t.Register(unix.SYS_SPLICE, Splice)
	t.Register(unix.SYS_TEE, Tee)
	t.Register(unix.SYS_VMSPLICE, Vmsplice)
	t.Register(unix.SYS_COPY_FILE_RANGE, CopyFileRange)
}

// spliceChunk is the largest amount moved per file call; one pipe's
// default capacity.
const spliceChunk = 64 << 10

// spliceFlagsAll is SPLICE_F_ALL.
const spliceFlagsAll = unix.SPLICE_F_MOVE | unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MORE | unix.SPLICE_F_GIFT

// spliceBufs holds the staging buffers, reused across calls.
var spliceBufs = sync.Pool{New: func() any { b := make([]byte, spliceChunk); return &b }}

// isPipe reports whether f is a pipe or FIFO (Linux's get_pipe_info).
func isPipe(t *kernel.Task, f *vfs.FileDescription) bool {
	if f.IsOPath() || f.Seekable() {
		return false
	}
	st, err := f.Stat(t)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

// fileMode returns f's S_IFMT bits (0 if it cannot say).
func fileMode(t *kernel.Task, f *vfs.FileDescription) uint32 {
	st, err := f.Stat(t)
	if err != nil {
		return 0
	}
	return st.Mode & unix.S_IFMT
}

// copyInOff reads a loff_t argument.
func copyInOff(t *kernel.Task, addr uint64) (int64, error) {
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}

// copyOutOff writes a loff_t argument.
func copyOutOff(t *kernel.Task, addr uint64, v int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// withNonblock runs fn with O_NONBLOCK set on the pipe description p if
// nonblock (SPLICE_F_NONBLOCK), restoring its flags afterwards. Another
// user of the same description may briefly see the flag.
func withNonblock(p *vfs.FileDescription, nonblock bool, fn func() (int, error)) (int, error) {
	if !nonblock || p.StatusFlags()&unix.O_NONBLOCK != 0 {
		return fn()
	}
	old := p.StatusFlags()
	p.SetStatusFlags(old | unix.O_NONBLOCK)
	defer p.SetStatusFlags(old)
	return fn()
}

// endpoint is one side of a transfer: a file and the offset to use (the
// file offset if !explicit).
type endpoint struct {
	f        *vfs.FileDescription
	explicit bool
	off      int64
	pipe     bool
}

// currentOffset returns where a transfer on a seekable file starts.
func (e *endpoint) start(t *kernel.Task) (int64, error) {
	if e.explicit {
		return e.off, nil
	}
	return e.f.Seek(t, 0, unix.SEEK_CUR)
}

// transfer moves up to count bytes from in to out. A pipe input is read
// once (what it holds, as Linux moves what is there); a file input is
// read in chunks until count, end of file, or a short write. It returns
// the bytes moved and the updated explicit offsets.
func transfer(t *kernel.Task, in, out *endpoint, count int64, nonblock bool) (int64, error) {
	bp := spliceBufs.Get().(*[]byte)
	defer spliceBufs.Put(bp)
	buf := *bp
	var done int64
	var inPos, outPos int64
	var err error
	if !in.pipe {
		if inPos, err = in.start(t); err != nil {
			return 0, err
		}
	}
	if !out.pipe && out.explicit {
		outPos = out.off
	}
	for done < count {
		chunk := buf[:min(int64(len(buf)), count-done)]
		var n int
		var rerr error
		if in.pipe {
			n, rerr = withNonblock(in.f, nonblock, func() (int, error) { return in.f.Read(t, chunk) })
		} else {
			n, rerr = in.f.PRead(t, chunk, inPos)
		}
		if n == 0 {
			if done == 0 && rerr != nil {
				return 0, rerr
			}
			break
		}
		var w int
		var werr error
		for w < n {
			var k int
			switch {
			case out.pipe:
				k, werr = withNonblock(out.f, nonblock, func() (int, error) { return out.f.Write(t, chunk[w:n]) })
			case out.explicit:
				k, werr = out.f.PWrite(t, chunk[w:n], outPos+int64(w))
			default:
				k, werr = out.f.Write(t, chunk[w:n])
			}
			w += k
			if werr != nil || k == 0 {
				break
			}
		}
		done += int64(w)
		inPos += int64(w)
		outPos += int64(w)
		if werr != nil {
			if done == 0 {
				return 0, werr
			}
			break
		}
		if w < n || in.pipe || out.pipe {
			break
		}
	}
	if !in.pipe {
		if in.explicit {
			in.off = inPos
		} else if done > 0 {
			if _, err := in.f.Seek(t, inPos, unix.SEEK_SET); err != nil {
				return done, nil
			}
		}
	}
	if out.explicit {
		out.off = outPos
	}
	return done, nil
}

// Sendfile implements sendfile(2).
func Sendfile(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	outFD, inFD, offAddr, count := a[0].Int(), a[1].Int(), a[2].Pointer(), a[3].Int64()
	in, _, err := getFile(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(t)
	if !in.IsReadable() {
		return 0, unix.EBADF
	}
	inEP := endpoint{f: in}
	if offAddr != 0 {
		if !in.Seekable() {
			return 0, unix.ESPIPE
		}
		if inEP.off, err = copyInOff(t, offAddr); err != nil {
			return 0, err
		}
		inEP.explicit = true
	}
	out, _, err := getFile(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(t)
	if !out.IsWritable() {
		return 0, unix.EBADF
	}
	if count < 0 || inEP.off < 0 {
		return 0, unix.EINVAL
	}
	count = min(count, maxRWCount)
	if !in.Seekable() || fileMode(t, in) == unix.S_IFDIR {
		return 0, unix.EINVAL
	}
	outEP := endpoint{f: out, pipe: isPipe(t, out)}
	if !outEP.pipe && out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	n, err := transfer(t, &inEP, &outEP, count, out.StatusFlags()&unix.O_NONBLOCK != 0)
	if offAddr != 0 && n > 0 {
		if cerr := copyOutOff(t, offAddr, inEP.off); cerr != nil {
			return 0, cerr
		}
	}
	return uintptr(n), err
}

// Splice implements splice(2): one end must be a pipe.
func Splice(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	inFD, offInAddr, outFD, offOutAddr := a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer()
	length, flags := a[4].Uint64(), a[5].Uint()
	if length == 0 {
		return 0, nil
	}
	if flags&^spliceFlagsAll != 0 {
		return 0, unix.EINVAL
	}
	in, _, err := getFile(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(t)
	out, _, err := getFile(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(t)
	inEP := endpoint{f: in, pipe: isPipe(t, in)}
	outEP := endpoint{f: out, pipe: isPipe(t, out)}
	if inEP.pipe && offInAddr != 0 || outEP.pipe && offOutAddr != 0 {
		return 0, unix.ESPIPE
	}
	if offInAddr != 0 {
		if inEP.off, err = copyInOff(t, offInAddr); err != nil {
			return 0, err
		}
		inEP.explicit = true
	}
	if offOutAddr != 0 {
		if outEP.off, err = copyInOff(t, offOutAddr); err != nil {
			return 0, err
		}
		outEP.explicit = true
	}
	if !in.IsReadable() || !out.IsWritable() {
		return 0, unix.EBADF
	}
	switch {
	case inEP.pipe && outEP.pipe:
		if sameFile(t, in, out) {
			return 0, unix.EINVAL
		}
	case inEP.pipe:
		if outEP.explicit && !out.Seekable() {
			return 0, unix.ESPIPE
		}
		if out.StatusFlags()&unix.O_APPEND != 0 {
			return 0, unix.EINVAL
		}
		if outEP.off < 0 {
			return 0, unix.EINVAL
		}
	case outEP.pipe:
		if inEP.explicit && !in.Seekable() {
			return 0, unix.ESPIPE
		}
		if inEP.off < 0 {
			return 0, unix.EINVAL
		}
		if !in.Seekable() || fileMode(t, in) == unix.S_IFDIR {
			return 0, unix.EINVAL
		}
	default:
		return 0, unix.EINVAL
	}
	count := int64(min(length, maxRWCount))
	n, err := transfer(t, &inEP, &outEP, count, flags&unix.SPLICE_F_NONBLOCK != 0)
	if n > 0 {
		if inEP.explicit {
			if cerr := copyOutOff(t, offInAddr, inEP.off); cerr != nil {
				return 0, cerr
			}
		}
		if outEP.explicit {
			if cerr := copyOutOff(t, offOutAddr, outEP.off); cerr != nil {
				return 0, cerr
			}
		}
	}
	return uintptr(n), err
}

// sameFile reports whether two descriptions are the same pipe or file.
func sameFile(t *kernel.Task, a, b *vfs.FileDescription) bool {
	if a == b {
		return true
	}
	sa, err1 := a.Stat(t)
	sb, err2 := b.Stat(t)
	return err1 == nil && err2 == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// Tee implements tee(2): both ends are pipes; the input's data stays.
func Tee(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	inFD, outFD, length, flags := a[0].Int(), a[1].Int(), a[2].Uint64(), a[3].Uint()
	if length == 0 {
		return 0, nil
	}
	if flags&^spliceFlagsAll != 0 {
		return 0, unix.EINVAL
	}
	in, _, err := getFile(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(t)
	out, _, err := getFile(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(t)
	if !in.IsReadable() || !out.IsWritable() {
		return 0, unix.EBADF
	}
	if !isPipe(t, in) || !isPipe(t, out) || sameFile(t, in, out) {
		return 0, unix.EINVAL
	}
	pk, ok := in.Impl().(vfs.Peeker)
	if !ok {
		return 0, unix.EINVAL
	}
	nonblock := flags&unix.SPLICE_F_NONBLOCK != 0 || in.StatusFlags()&unix.O_NONBLOCK != 0
	bp := spliceBufs.Get().(*[]byte)
	defer spliceBufs.Put(bp)
	buf := (*bp)[:min(length, spliceChunk)]
	n, err := pk.Peek(t, buf, nonblock)
	if n == 0 {
		return 0, err
	}
	w, err := withNonblock(out, flags&unix.SPLICE_F_NONBLOCK != 0, func() (int, error) { return out.Write(t, buf[:n]) })
	if w > 0 {
		return uintptr(w), nil
	}
	return 0, err
}

// Vmsplice implements vmsplice(2) by copying: user memory into a pipe
// opened for writing, or out of a pipe opened for reading.
func Vmsplice(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	fd, iovAddr, nr, flags := a[0].Int(), a[1].Pointer(), a[2].Uint64(), a[3].Uint()
	if flags&^spliceFlagsAll != 0 {
		return 0, unix.EINVAL
	}
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	write := f.IsWritable()
	if !write && !f.IsReadable() {
		return 0, unix.EBADF
	}
	if nr > uioMaxIov {
		return 0, unix.EINVAL
	}
	var small [8]abi.Iovec
	iovs, total, err := readIovecArray(t, iovAddr, int32(nr), &small)
	if err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, nil
	}
	if !isPipe(t, f) {
		return 0, unix.EBADF
	}
	s := ioState{f: f}
	var n uintptr
	_, err = withNonblock(f, flags&unix.SPLICE_F_NONBLOCK != 0, func() (int, error) {
		var e error
		if write {
			n, e = writeIovecs(t, &s, iovs, total)
		} else {
			n, e = readIovecs(t, &s, iovs, total)
		}
		return int(n), e
	})
	return n, err
}

// CopyFileRange implements copy_file_range(2) between regular files.
func CopyFileRange(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	inFD, offInAddr, outFD, offOutAddr := a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer()
	length, flags := a[4].Uint64(), a[5].Uint()
	in, _, err := getFile(t, inFD)
	if err != nil {
		return 0, err
	}
	defer in.DecRef(t)
	out, _, err := getFile(t, outFD)
	if err != nil {
		return 0, err
	}
	defer out.DecRef(t)
	inEP := endpoint{f: in}
	outEP := endpoint{f: out}
	if offInAddr != 0 {
		if inEP.off, err = copyInOff(t, offInAddr); err != nil {
			return 0, err
		}
		inEP.explicit = true
	}
	if offOutAddr != 0 {
		if outEP.off, err = copyInOff(t, offOutAddr); err != nil {
			return 0, err
		}
		outEP.explicit = true
	}
	if flags != 0 {
		return 0, unix.EINVAL
	}
	if in.IsOPath() || out.IsOPath() {
		return 0, unix.EBADF
	}
	mi, mo := fileMode(t, in), fileMode(t, out)
	if mi == unix.S_IFDIR || mo == unix.S_IFDIR {
		return 0, unix.EISDIR
	}
	if mi != unix.S_IFREG || mo != unix.S_IFREG || !in.Seekable() || !out.Seekable() {
		return 0, unix.EINVAL
	}
	if !in.IsReadable() || !out.IsWritable() || out.StatusFlags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	posIn, err := inEP.start(t)
	if err != nil {
		return 0, err
	}
	posOut, err := outEP.start(t)
	if err != nil {
		return 0, err
	}
	if posIn < 0 || posOut < 0 {
		return 0, unix.EOVERFLOW
	}
	count := int64(min(length, maxRWCount))
	if posIn+count < posIn || posOut+count < posOut {
		return 0, unix.EOVERFLOW
	}
	size, err := in.Size(t)
	if err != nil {
		return 0, err
	}
	if posIn >= size {
		count = 0
	} else {
		count = min(count, size-posIn)
	}
	if sameFile(t, in, out) && posOut+count > posIn && posOut < posIn+count {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	// Both sides use explicit positions; the file offsets move after.
	inEP.explicit, inEP.off = true, posIn
	outEP.explicit, outEP.off = true, posOut
	n, err := transfer(t, &inEP, &outEP, count, false)
	if n > 0 {
		if offInAddr != 0 {
			if cerr := copyOutOff(t, offInAddr, inEP.off); cerr != nil {
				return 0, cerr
			}
		} else {
			in.Seek(t, inEP.off, unix.SEEK_SET)
		}
		if offOutAddr != 0 {
			if cerr := copyOutOff(t, offOutAddr, outEP.off); cerr != nil {
				return 0, cerr
			}
		} else {
			out.Seek(t, outEP.off, unix.SEEK_SET)
		}
	}
	return uintptr(n), err
}
