package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerPoll installs poll, ppoll, select and pselect6.
func registerPoll(t *kernel.SyscallTable) {
	t.Register(unix.SYS_POLL, Poll)
	t.Register(unix.SYS_PPOLL, Ppoll)
	t.Register(unix.SYS_SELECT, Select)
	t.Register(unix.SYS_PSELECT6, Pselect6)
}

// select(2)'s event sets, as Linux's fs/select.c.
const (
	pollInSet  = vfs.EventRdNorm | vfs.EventRdBand | vfs.EventIn | vfs.EventHUp | vfs.EventErr
	pollOutSet = vfs.EventWrBand | vfs.EventWrNorm | vfs.EventOut | vfs.EventErr
	pollExSet  = vfs.EventPri
)

// sizeofSigset is the only sigsetsize the kernel accepts on amd64.
const sizeofSigset = 8

// noTimeout is the deadline of a wait without a timeout.
var noTimeout time.Time

// pollTimeout is a wait's deadline with the user's original timeout
// written back on return (ppoll, pselect6, select).
type pollTimeout struct {
	deadline time.Time
	// immediate is a zero timeout: check once, never block.
	immediate bool
	// addr is where to write back the remaining time (0: nowhere), as a
	// timeval if usec.
	addr uint64
	usec bool
}

// readTimespecArg reads a struct timespec (EINVAL if out of range) for
// ppoll, pselect6 and epoll_pwait2. addr 0 means no timeout.
func readTimespecArg(t *kernel.Task, addr uint64) (pollTimeout, error) {
	if addr == 0 {
		return pollTimeout{}, nil
	}
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return pollTimeout{}, err
	}
	sec := int64(binary.LittleEndian.Uint64(b[0:]))
	nsec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return pollTimeout{}, unix.EINVAL
	}
	return makeTimeout(sec, nsec, addr, false), nil
}

// makeTimeout turns a validated timeout into a deadline.
func makeTimeout(sec, nsec int64, addr uint64, usec bool) pollTimeout {
	pt := pollTimeout{addr: addr, usec: usec}
	if sec == 0 && nsec == 0 {
		// Linux writes nothing back for a zero timeout.
		pt.immediate, pt.addr = true, 0
		return pt
	}
	if sec > int64(365*24*time.Hour/time.Second)*100 {
		// Beyond a century: effectively infinite, and no overflow.
		return pt
	}
	pt.deadline = time.Now().Add(time.Duration(sec)*time.Second + time.Duration(nsec))
	return pt
}

// msTimeout is poll/epoll_wait's millisecond timeout (negative: none).
func msTimeout(ms int32) pollTimeout {
	if ms < 0 {
		return pollTimeout{}
	}
	if ms == 0 {
		return pollTimeout{immediate: true}
	}
	return pollTimeout{deadline: time.Now().Add(time.Duration(ms) * time.Millisecond)}
}

// writeBack stores the time left in the caller's timespec or timeval.
// Linux: fs/select.c poll_select_finish. A failed copy turns an
// interruption into EINTR and is otherwise ignored.
func (pt *pollTimeout) writeBack(t *kernel.Task, err error) error {
	if pt.addr == 0 || pt.deadline.IsZero() {
		return err
	}
	left := time.Until(pt.deadline)
	if left < 0 {
		left = 0
	}
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(left/time.Second))
	frac := int64(left % time.Second)
	if pt.usec {
		frac /= 1000
	}
	binary.LittleEndian.PutUint64(b[8:], uint64(frac))
	if _, cerr := t.CopyOut(pt.addr, b[:]); cerr != nil && err == kernel.ERESTARTNOHAND {
		return unix.EINTR
	}
	return err
}

// block waits for w until pt's deadline: ETIMEDOUT when it passes,
// vfs.ErrInterrupted when the task is interrupted.
func (pt *pollTimeout) block(t *kernel.Task, w *vfs.Waiter) error {
	if pt.immediate {
		return unix.ETIMEDOUT
	}
	if pt.deadline.IsZero() {
		return vfs.Block(t, w)
	}
	return vfs.BlockDeadline(t, w, pt.deadline)
}

// setTempSigmask installs the signal mask at addr (size must be 8) for the
// duration of ppoll, pselect6 or epoll_pwait and returns the mask to
// restore with restoreSigmask. addr 0 changes nothing.
func setTempSigmask(t *kernel.Task, addr uint64, size uint64) (old uint64, set bool, err error) {
	if addr == 0 {
		return 0, false, nil
	}
	if size != sizeofSigset {
		return 0, false, unix.EINVAL
	}
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, false, err
	}
	old = t.SignalMask()
	t.SetSignalMask(binary.LittleEndian.Uint64(b[:]))
	return old, true, nil
}

// restoreSigmask puts back the mask setTempSigmask replaced. When the
// call was interrupted, the signal that interrupted it must be delivered
// under the temporary mask, so the old one comes back after its handler
// (Linux's restore_saved_sigmask_unless).
func restoreSigmask(t *kernel.Task, old uint64, set bool, err error) {
	if !set {
		return
	}
	if err == kernel.ERESTARTNOHAND || err == unix.EINTR {
		t.SetSavedSignalMask(old)
		return
	}
	t.SetSignalMask(old)
}

// The task is how file operations block.
var _ vfs.Blocker = (*kernel.Task)(nil)

// pollFile is one descriptor being polled.
type pollFile struct {
	file *vfs.FileDescription
	// mask is what the caller asks about, incl. POLLERR|POLLHUP.
	mask  uint32
	entry vfs.WaitEntry
}

// waitReady checks the files until check reports something, the timeout
// passes or the task is interrupted. check computes the result from
// scratch each time; the files are registered with w before the second
// check so no change is missed.
func waitReady(t *kernel.Task, files []pollFile, pt *pollTimeout, check func() int) (int, error) {
	n := check()
	if n != 0 || pt.immediate {
		return n, nil
	}
	w := vfs.GetWaiter()
	for i := range files {
		if f := &files[i]; f.file != nil {
			f.entry.Init(w, f.mask)
			f.file.EventRegister(&f.entry)
		}
	}
	defer func() {
		for i := range files {
			if f := &files[i]; f.file != nil {
				f.file.EventUnregister(&f.entry)
			}
		}
		vfs.PutWaiter(w)
	}()
	for {
		if n = check(); n != 0 {
			return n, nil
		}
		switch err := pt.block(t, w); err {
		case nil:
		case unix.ETIMEDOUT:
			return check(), nil
		default:
			return 0, kernel.ERESTARTNOHAND
		}
	}
}

// Poll implements poll(2). Interrupted without a handler, it resumes
// through restart_syscall with the time that was left, as Linux.
func Poll(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pt := msTimeout(a[2].Int())
	return pollRestartable(t, a[0].Pointer(), a[1].Uint64(), &pt)
}

func pollRestartable(t *kernel.Task, addr, nfds uint64, pt *pollTimeout) (uintptr, error) {
	n, err := doPoll(t, addr, nfds, pt)
	if err == kernel.ERESTARTNOHAND {
		t.SetRestartBlock(func(t *kernel.Task) (uintptr, error) {
			return pollRestartable(t, addr, nfds, pt)
		})
		return 0, kernel.ERESTART_BLOCK
	}
	return n, err
}

// Ppoll implements ppoll(2): poll with a timespec (the time left is
// written back) and a temporary signal mask.
func Ppoll(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pt, err := readTimespecArg(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	old, set, err := setTempSigmask(t, a[3].Pointer(), a[4].Uint64())
	if err != nil {
		return 0, err
	}
	n, err := doPoll(t, a[0].Pointer(), a[1].Uint64(), &pt)
	err = pt.writeBack(t, err)
	restoreSigmask(t, old, set, err)
	return n, err
}

// doPoll is poll's body: nfds struct pollfd at addr.
func doPoll(t *kernel.Task, addr, nfds uint64, pt *pollTimeout) (uintptr, error) {
	if nfds > uint64(t.FDTable().Limit()) {
		return 0, unix.EINVAL
	}
	buf := make([]byte, nfds*8)
	if _, err := t.CopyIn(addr, buf); err != nil {
		return 0, err
	}
	files := make([]pollFile, nfds)
	defer func() {
		for i := range files {
			if files[i].file != nil {
				files[i].file.DecRef(t)
			}
		}
	}()
	nval := make([]bool, nfds)
	for i := range files {
		fd := int32(binary.LittleEndian.Uint32(buf[i*8:]))
		if fd < 0 {
			continue
		}
		f, _ := t.FDTable().Get(fd)
		if f != nil && f.IsOPath() {
			f.DecRef(t)
			f = nil
		}
		if f == nil {
			nval[i] = true
			continue
		}
		files[i].file = f
		files[i].mask = uint32(binary.LittleEndian.Uint16(buf[i*8+4:])) | vfs.AlwaysReported
	}
	check := func() int {
		n := 0
		for i := range files {
			var r uint32
			if nval[i] {
				r = vfs.EventNVal
			} else if f := &files[i]; f.file != nil {
				r = f.file.Readiness(f.mask) & f.mask
			}
			binary.LittleEndian.PutUint16(buf[i*8+6:], uint16(r))
			if r != 0 {
				n++
			}
		}
		return n
	}
	n, err := waitReady(t, files, pt, check)
	if err != nil {
		return 0, err
	}
	if _, err := t.CopyOut(addr, buf); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}

// Select implements select(2); the time left is written back to the
// timeval.
func Select(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var pt pollTimeout
	if addr := a[4].Pointer(); addr != 0 {
		var b [16]byte
		if _, err := t.CopyIn(addr, b[:]); err != nil {
			return 0, err
		}
		sec := int64(binary.LittleEndian.Uint64(b[0:]))
		usec := int64(binary.LittleEndian.Uint64(b[8:]))
		// Linux normalises microseconds past a second.
		sec, usec = sec+usec/1e6, usec%1e6
		if sec < 0 || usec < 0 {
			return 0, unix.EINVAL
		}
		pt = makeTimeout(sec, usec*1000, addr, true)
	}
	n, err := doSelect(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Pointer(), &pt)
	return n, pt.writeBack(t, err)
}

// Pselect6 implements pselect6: select with a timespec and a temporary
// signal mask passed as {sigset_t *ss; size_t ss_len}.
func Pselect6(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pt, err := readTimespecArg(t, a[4].Pointer())
	if err != nil {
		return 0, err
	}
	var maskAddr, maskSize uint64
	if addr := a[5].Pointer(); addr != 0 {
		var b [16]byte
		if _, err := t.CopyIn(addr, b[:]); err != nil {
			return 0, err
		}
		maskAddr = binary.LittleEndian.Uint64(b[0:])
		maskSize = binary.LittleEndian.Uint64(b[8:])
	}
	old, set, err := setTempSigmask(t, maskAddr, maskSize)
	if err != nil {
		return 0, err
	}
	n, err := doSelect(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Pointer(), &pt)
	err = pt.writeBack(t, err)
	restoreSigmask(t, old, set, err)
	return n, err
}

// doSelect is select's body: fd_sets of nfds bits at rAddr, wAddr, eAddr
// (0 for none).
func doSelect(t *kernel.Task, nfds int32, rAddr, wAddr, eAddr uint64, pt *pollTimeout) (uintptr, error) {
	if nfds < 0 {
		return 0, unix.EINVAL
	}
	if lim := t.FDTable().Limit(); nfds > lim {
		nfds = lim
	}
	setBytes := (int(nfds) + 63) / 64 * 8
	addrs := [3]uint64{rAddr, wAddr, eAddr}
	var in, out [3][]byte
	for i, addr := range addrs {
		in[i] = make([]byte, setBytes)
		out[i] = make([]byte, setBytes)
		if addr != 0 {
			if _, err := t.CopyIn(addr, in[i]); err != nil {
				return 0, err
			}
		}
	}
	var files []pollFile
	var fds []int32
	defer func() {
		for i := range files {
			files[i].file.DecRef(t)
		}
	}()
	setMasks := [3]uint32{pollInSet, pollOutSet, pollExSet}
	for fd := int32(0); fd < nfds; fd++ {
		byteI, bit := fd/8, byte(1)<<(fd%8)
		var mask uint32
		for i := range in {
			if in[i][byteI]&bit != 0 {
				mask |= setMasks[i]
			}
		}
		if mask == 0 {
			continue
		}
		f, _ := t.FDTable().Get(fd)
		if f != nil && f.IsOPath() {
			f.DecRef(t)
			f = nil
		}
		if f == nil {
			return 0, unix.EBADF
		}
		files = append(files, pollFile{file: f, mask: mask})
		fds = append(fds, fd)
	}
	check := func() int {
		n := 0
		for i := range out {
			clear(out[i])
		}
		for i := range files {
			f := &files[i]
			// As Linux, the file's whole readiness is matched against
			// each set the descriptor is in.
			r := f.file.Readiness(pollInSet | pollOutSet | pollExSet)
			fd := fds[i]
			byteI, bit := fd/8, byte(1)<<(fd%8)
			for s := range in {
				if in[s][byteI]&bit != 0 && r&setMasks[s] != 0 {
					out[s][byteI] |= bit
					n++
				}
			}
		}
		return n
	}
	n, err := waitReady(t, files, pt, check)
	if err != nil {
		return 0, err
	}
	for i, addr := range addrs {
		if addr != 0 {
			if _, err := t.CopyOut(addr, out[i]); err != nil {
				return 0, err
			}
		}
	}
	return uintptr(n), nil
}
