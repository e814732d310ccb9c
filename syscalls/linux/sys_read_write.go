package linux

import (
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/socket"
)

const (
	// maxRWCount is MAX_RW_COUNT: Linux caps one transfer at this.
	maxRWCount = 0x7ffff000
	// maxStage bounds the sentry buffer staging one transfer; larger
	// transfers loop.
	maxStage = 1 << 20
	// uioMaxIov is UIO_MAXIOV.
	uioMaxIov = 1024
	// pinMin is the smallest transfer of a file that is not seekable
	// (a socket, a pipe) made straight from or into application memory
	// (readPinned, writePinned): below it the staging copy costs less
	// than pinning's references.
	pinMin = 4096
)

// ioState is one read or write: the file and, for the p* variants, the
// explicit offset.
type ioState struct {
	f          *vfs.FileDescription
	positional bool
	off        int64
	// appendMode overrides O_APPEND for pwritev2's RWF_APPEND (+1) and
	// RWF_NOAPPEND (-1); 0 keeps the file's.
	appendMode int8
}

func (s *ioState) read(t *kernel.Task, dst []byte) (int, error) {
	if s.positional {
		n, err := s.f.PRead(t, dst, s.off)
		s.off += int64(n)
		return n, err
	}
	return s.f.Read(t, dst)
}

func (s *ioState) write(t *kernel.Task, src []byte) (int, error) {
	if s.appendMode != 0 {
		return s.writeAppend(t, src, s.appendMode > 0)
	}
	if s.positional {
		n, err := s.f.PWrite(t, src, s.off)
		s.off += int64(n)
		return n, err
	}
	return s.f.Write(t, src)
}

// writeAppend is write with O_APPEND's effect set to appendMode.
func (s *ioState) writeAppend(t *kernel.Task, src []byte, appendMode bool) (int, error) {
	if s.positional {
		n, err := s.f.PWriteAppend(t, src, s.off, appendMode)
		s.off += int64(n)
		return n, err
	}
	return s.f.WriteAppend(t, src, appendMode)
}

// The RWF_* flags of preadv2 and pwritev2.
const (
	rwfHIPRI     = 0x1
	rwfDSYNC     = 0x2
	rwfSYNC      = 0x4
	rwfNOWAIT    = 0x8
	rwfAPPEND    = 0x10
	rwfNOAPPEND  = 0x20
	rwfATOMIC    = 0x40
	rwfDONTCACHE = 0x80
	rwfNOSIGNAL  = 0x100
	rwfKnown     = 0x1ff
)

// checkRWF applies preadv2's and pwritev2's flags to s, as Linux 6.18's
// kiocb_set_rw_flags does for the files of a container's overlay root on
// ext4. RWF_HIPRI is a hint; RWF_DSYNC and RWF_SYNC make a write sync
// its file (sync); RWF_APPEND and RWF_NOAPPEND override O_APPEND;
// RWF_NOSIGNAL spares the writer SIGPIPE (the caller's part); RWF_DONTCACHE
// is taken by regular files. RWF_NOWAIT is taken by reads of regular
// files, which the sentry serves without waiting on a device; other files
// refuse it (EOPNOTSUPP, as Linux's files without FMODE_NOWAIT), though
// Linux's pipes and sockets take it. RWF_ATOMIC and unknown flags are
// EOPNOTSUPP.
func checkRWF(s *ioState, flags uint32, write bool) (sync bool, err error) {
	if flags&^rwfKnown != 0 || flags&rwfATOMIC != 0 {
		return false, unix.EOPNOTSUPP
	}
	d := s.f.VirtualDentry().Dentry()
	regular := d != nil && d.IsRegular()
	if flags&rwfNOWAIT != 0 && (write || !regular) || flags&rwfDONTCACHE != 0 && !regular {
		return false, unix.EOPNOTSUPP
	}
	if !write {
		return false, nil
	}
	switch flags & (rwfAPPEND | rwfNOAPPEND) {
	case rwfAPPEND:
		s.appendMode = 1
	case rwfNOAPPEND:
		s.appendMode = -1
	case rwfAPPEND | rwfNOAPPEND:
		return false, unix.EINVAL
	}
	return flags&(rwfDSYNC|rwfSYNC) != 0 && regular, nil
}

// readIovecs reads into the application buffers iovs. A transfer that fits
// the staging limit is one file read (so a stream gives one result);
// larger ones loop until a short read.
func readIovecs(t *kernel.Task, s *ioState, iovs []abi.Iovec, total uint64) (uintptr, error) {
	if seekable := s.f.Seekable(); total <= maxStage && len(iovs) == 1 && (seekable || total >= pinMin) {
		if n, err, ok := readPinned(t, s, iovs[0].Base, total, seekable); ok {
			return n, err
		}
	}
	// Data taken from a stream cannot be put back, so a destination that
	// is not writable must fail before the file is read, as Linux's
	// copy_to_user failing leaves the data in a pipe.
	for _, iov := range iovs {
		if iov.Len == 0 {
			continue
		}
		var b [1]byte
		if _, err := t.CopyIn(iov.Base, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if _, err := t.CopyOut(iov.Base, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		break
	}
	if total <= maxStage {
		buf := t.Scratch(int(total))
		n, err := s.read(t, buf)
		if n == 0 {
			return 0, err
		}
		return scatter(t, iovs, buf[:n])
	}
	var done uint64
	for _, iov := range iovs {
		for pos := uint64(0); pos < iov.Len; {
			chunk := min(iov.Len-pos, maxStage)
			buf := t.Scratch(int(chunk))
			n, err := s.read(t, buf)
			if n > 0 {
				c, cerr := t.CopyOut(iov.Base+pos, buf[:n])
				done += uint64(c)
				if cerr != nil {
					return partial(done, cerr)
				}
			}
			if err != nil {
				return partial(done, err)
			}
			if n < int(chunk) {
				return uintptr(done), nil
			}
			pos += chunk
		}
	}
	return uintptr(done), nil
}

// readPinned reads a file straight into application memory at addr
// (mm.PinForWrite), with no staging buffer: a gofer file's host pread
// fills the destination pages itself, a socket or a pipe copies its data
// there once. A file that is not seekable gets one read, as with
// staging, so the destination must be one range of the memory file
// (!many), or up to maxPieces for a stream socket (socket.StreamVec). ok
// is false, with nothing read, if the destination cannot be pinned so
// (readIovecs then stages, and reports EFAULT where Linux does).
func readPinned(t *kernel.Task, s *ioState, addr, total uint64, many bool) (uintptr, error, bool) {
	var small [8]memfile.Range
	m := t.MemoryManager()
	frs, ok := m.PinForWrite(addr, total, small[:0])
	if !ok {
		return 0, nil, false
	}
	if !many && len(frs) > 1 {
		sv := streamVec(s.f)
		if sv == nil || len(frs) > maxPieces {
			m.Unpin(frs)
			return 0, nil, false
		}
		n, err := vecTransfer(t, sv, frs, true, 0)
		m.Unpin(frs)
		return uintptr(n), err, true
	}
	var done uint64
	var err error
	for _, fr := range frs {
		b := m.Slice(fr)
		n, rerr := s.read(t, b)
		done += uint64(n)
		if err = rerr; err != nil || n < len(b) {
			break
		}
	}
	m.Unpin(frs)
	n, err := partial(done, err)
	return n, err, true
}

// writePinned writes to a file straight from application memory at addr
// (mm.PinForRead), with no staging buffer, in one write as writeIovecs
// promises: ok is false, with nothing written, unless the source is
// readable and one range of the memory file, or up to maxPieces for a
// stream socket (socket.StreamVec).
func writePinned(t *kernel.Task, s *ioState, addr, total uint64) (uintptr, error, bool) {
	return outPinned(t, s.f, addr, total, true, 0, func(b []byte) (int, error) { return s.write(t, b) })
}

// outPinned is writePinned's and sendPinned's transfer out of application
// memory at addr: pinned for reading, one range of the memory file goes
// to one, up to maxPieces go to f's stream socket (streamVec) as one
// SendVec with flags if vecOK. ok is false, with nothing sent, if the
// source cannot be pinned so. Bytes sent hide a later error, as a
// partial write does.
func outPinned(t *kernel.Task, f *vfs.FileDescription, addr, total uint64, vecOK bool, flags int, one func([]byte) (int, error)) (uintptr, error, bool) {
	var small [maxPieces]memfile.Range
	m := t.MemoryManager()
	frs, ok := m.PinForRead(addr, total, small[:0])
	if !ok {
		return 0, nil, false
	}
	var n int
	var err error
	if len(frs) == 1 {
		n, err = one(m.Slice(frs[0]))
	} else if sv := streamVec(f); sv != nil && vecOK {
		n, err = vecTransfer(t, sv, frs, false, flags)
	} else {
		m.Unpin(frs)
		return 0, nil, false
	}
	m.Unpin(frs)
	if n > 0 {
		return uintptr(n), nil, true
	}
	return 0, err, true
}

// maxPieces is the most ranges of the memory file a pinned transfer of a
// stream socket is made of (socket.StreamVec); more are staged.
const maxPieces = kernel.ScratchPieces

// streamVec returns f's socket if it is a stream socket that takes a
// buffer in pieces (socket.StreamVec), else nil.
func streamVec(f *vfs.FileDescription) socket.StreamVec {
	so, ok := f.Impl().(socket.Socket)
	if !ok || so.Type() != unix.SOCK_STREAM {
		return nil
	}
	sv, _ := so.(socket.StreamVec)
	return sv
}

// vecTransfer hands the sentry's views of frs, pinned ranges of the memory
// file (at most maxPieces), to sv as one send or, if recv, one receive.
func vecTransfer(t *kernel.Task, sv socket.StreamVec, frs []memfile.Range, recv bool, flags int) (int, error) {
	pieces := t.Pieces()
	m := t.MemoryManager()
	for i, fr := range frs {
		pieces[i] = m.Slice(fr)
	}
	defer clear(pieces[:len(frs)])
	if recv {
		return sv.RecvVec(t, pieces[:len(frs)], flags)
	}
	return sv.SendVec(t, pieces[:len(frs)], flags)
}

// scatter copies buf out to iovs.
func scatter(t *kernel.Task, iovs []abi.Iovec, buf []byte) (uintptr, error) {
	var done uint64
	for _, iov := range iovs {
		if len(buf) == 0 {
			break
		}
		n := min(uint64(len(buf)), iov.Len)
		c, err := t.CopyOut(iov.Base, buf[:n])
		done += uint64(c)
		if err != nil {
			return partial(done, err)
		}
		buf = buf[n:]
	}
	return uintptr(done), nil
}

// writeIovecs writes the application buffers iovs. A transfer that fits
// the staging limit is gathered into one file write (so that writes to
// pipes of up to PIPE_BUF stay atomic).
func writeIovecs(t *kernel.Task, s *ioState, iovs []abi.Iovec, total uint64) (uintptr, error) {
	if total <= maxStage && total >= pinMin && len(iovs) == 1 {
		if n, err, ok := writePinned(t, s, iovs[0].Base, total); ok {
			return n, err
		}
	}
	if total <= maxStage {
		buf := t.Scratch(int(total))
		var have uint64
		var cerr error
		for _, iov := range iovs {
			c, err := t.CopyIn(iov.Base, buf[have:have+iov.Len])
			have += uint64(c)
			if err != nil {
				cerr = err
				break
			}
		}
		if have == 0 && cerr != nil {
			return 0, cerr
		}
		n, err := s.write(t, buf[:have])
		if n > 0 {
			return uintptr(n), nil
		}
		if err == nil {
			err = cerr
		}
		return 0, err
	}
	var done uint64
	for _, iov := range iovs {
		for pos := uint64(0); pos < iov.Len; {
			chunk := min(iov.Len-pos, maxStage)
			buf := t.Scratch(int(chunk))
			c, cerr := t.CopyIn(iov.Base+pos, buf)
			if c == 0 && cerr != nil {
				return partial(done, cerr)
			}
			n, err := s.write(t, buf[:c])
			done += uint64(n)
			if err != nil {
				return partial(done, err)
			}
			if n < c || cerr != nil {
				return partial(done, cerr)
			}
			pos += chunk
		}
	}
	return uintptr(done), nil
}

// partial returns done if anything was transferred, else err.
func partial(done uint64, err error) (uintptr, error) {
	if done > 0 || err == nil {
		return uintptr(done), nil
	}
	return 0, err
}

// readIovecArray copies in and validates an iovec array, clamping the
// total to MAX_RW_COUNT as Linux does.
func readIovecArray(t *kernel.Task, addr uint64, cnt int32, small *[8]abi.Iovec) ([]abi.Iovec, uint64, error) {
	if cnt < 0 || cnt > uioMaxIov {
		return nil, 0, unix.EINVAL
	}
	var iovs []abi.Iovec
	if int(cnt) <= len(small) {
		iovs = small[:cnt]
	} else {
		iovs = make([]abi.Iovec, cnt)
	}
	var raw [abi.SizeofIovec * 8]byte
	var total uint64
	for i := 0; i < int(cnt); i += 8 {
		k := min(int(cnt)-i, 8)
		b := raw[:k*abi.SizeofIovec]
		if _, err := t.CopyIn(addr+uint64(i*abi.SizeofIovec), b); err != nil {
			return nil, 0, err
		}
		for j := 0; j < k; j++ {
			iov := abi.UnmarshalIovec(b[j*abi.SizeofIovec:])
			if int64(iov.Len) < 0 {
				return nil, 0, unix.EINVAL
			}
			if total+iov.Len > maxRWCount {
				iov.Len = maxRWCount - total
			}
			total += iov.Len
			iovs[i+j] = iov
		}
	}
	return iovs, total, nil
}

// rw is the common body of every read and write syscall.
func rw(t *kernel.Task, fd int32, iovs []abi.Iovec, total uint64, write, positional bool, off int64) (uintptr, error) {
	return rwFlags(t, fd, iovs, total, write, positional, off, 0)
}

// rwFlags is rw with preadv2's and pwritev2's RWF_* flags.
func rwFlags(t *kernel.Task, fd int32, iovs []abi.Iovec, total uint64, write, positional bool, off int64, flags uint32) (uintptr, error) {
	// Linux's order for pread and pwrite: a negative offset, the
	// descriptor, one that cannot seek, then its access mode.
	if positional && off < 0 {
		return 0, unix.EINVAL
	}
	f, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	if positional && !f.Seekable() {
		return 0, unix.ESPIPE
	}
	if write && !f.IsWritable() || !write && !f.IsReadable() {
		return 0, unix.EBADF
	}
	s := ioState{f: f, positional: positional, off: off}
	sync := false
	if flags != 0 {
		if sync, err = checkRWF(&s, flags, write); err != nil {
			return 0, err
		}
		if write && flags&rwfNOSIGNAL != 0 {
			t.SuppressSIGPIPE(true)
			defer t.SuppressSIGPIPE(false)
		}
	}
	if total == 0 {
		// Linux has no shortcut for a null read: a directory's is
		// EISDIR, and a record file's EINVAL, as any read of them.
		if !write {
			if d := f.VirtualDentry().Dentry(); d != nil && d.IsDir() {
				return 0, unix.EISDIR
			}
			if _, ok := f.Impl().(vfs.RecordReader); ok {
				return 0, unix.EINVAL
			}
		}
		return 0, nil
	}
	if write {
		n, err := writeIovecs(t, &s, iovs, total)
		if sync && n > 0 {
			if serr := f.Sync(t); serr != nil {
				return 0, serr
			}
		}
		return n, err
	}
	return readIovecs(t, &s, iovs, total)
}

func single(addr, size uint64, iov *[1]abi.Iovec) ([]abi.Iovec, uint64) {
	size = min(size, maxRWCount)
	iov[0] = abi.Iovec{Base: addr, Len: size}
	return iov[:], size
}

// Read implements read(2).
func Read(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var one [1]abi.Iovec
	iovs, total := single(a[1].Pointer(), a[2].Uint64(), &one)
	return rw(t, a[0].Int(), iovs, total, false, false, 0)
}

// Write implements write(2).
func Write(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var one [1]abi.Iovec
	iovs, total := single(a[1].Pointer(), a[2].Uint64(), &one)
	return rw(t, a[0].Int(), iovs, total, true, false, 0)
}

// Pread64 implements pread64(2).
func Pread64(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var one [1]abi.Iovec
	iovs, total := single(a[1].Pointer(), a[2].Uint64(), &one)
	return rw(t, a[0].Int(), iovs, total, false, true, a[3].Int64())
}

// Pwrite64 implements pwrite64(2).
func Pwrite64(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var one [1]abi.Iovec
	iovs, total := single(a[1].Pointer(), a[2].Uint64(), &one)
	return rw(t, a[0].Int(), iovs, total, true, true, a[3].Int64())
}

func vectored(t *kernel.Task, a arch.SyscallArguments, write, positional bool, flags uint32) (uintptr, error) {
	if positional && a[3].Int64() < 0 {
		return 0, unix.EINVAL
	}
	var small [8]abi.Iovec
	iovs, total, err := readIovecArray(t, a[1].Pointer(), a[2].Int(), &small)
	if err != nil {
		// A bad descriptor is reported before a bad vector.
		if f, _, ferr := getFile(t, a[0].Int()); ferr != nil {
			return 0, ferr
		} else {
			f.DecRef(t)
		}
		return 0, err
	}
	// preadv's offset is split in two registers (low, high); on amd64 the
	// low one holds all 64 bits.
	return rwFlags(t, a[0].Int(), iovs, total, write, positional, a[3].Int64(), flags)
}

// Readv implements readv(2).
func Readv(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return vectored(t, a, false, false, 0)
}

// Writev implements writev(2).
func Writev(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return vectored(t, a, true, false, 0)
}

// Preadv implements preadv(2).
func Preadv(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return vectored(t, a, false, true, 0)
}

// Pwritev implements pwritev(2).
func Pwritev(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return vectored(t, a, true, true, 0)
}

// Preadv2 implements preadv2(2); offset -1 means the file offset.
func Preadv2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return vectored(t, a, false, a[3].Int64() != -1, a[5].Uint())
}

// Pwritev2 implements pwritev2(2); offset -1 means the file offset.
func Pwritev2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return vectored(t, a, true, a[3].Int64() != -1, a[5].Uint())
}
