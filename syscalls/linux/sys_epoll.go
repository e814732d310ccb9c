package linux

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/epoll"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// registerEpoll installs the epoll syscalls.
func registerEpoll(t *kernel.SyscallTable) {
	t.Register(unix.SYS_EPOLL_CREATE, EpollCreate)
	t.Register(unix.SYS_EPOLL_CREATE1, EpollCreate1)
	t.Register(unix.SYS_EPOLL_CTL, EpollCtl)
	t.Register(unix.SYS_EPOLL_WAIT, EpollWait)
	t.Register(unix.SYS_EPOLL_PWAIT, EpollPwait)
	t.Register(unix.SYS_EPOLL_PWAIT2, EpollPwait2)
}

// sizeofEpollEvent is sizeof(struct epoll_event): packed on amd64.
const sizeofEpollEvent = 12

// maxEpollEvents is Linux's EP_MAX_EVENTS.
const maxEpollEvents = (1<<31 - 1) / sizeofEpollEvent

// epollBatch bounds the events one epoll_wait returns (fewer than
// maxevents is allowed), so its buffers can be pooled.
const epollBatch = 1024

type epollBuf struct {
	events [epollBatch]epoll.Event
	bytes  [epollBatch * sizeofEpollEvent]byte
}

var epollBufPool = sync.Pool{New: func() any { return new(epollBuf) }}

// EpollCreate implements epoll_create(2): size must be positive and is
// otherwise ignored.
func EpollCreate(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if a[0].Int() <= 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, 0)
}

// EpollCreate1 implements epoll_create1(2).
func EpollCreate1(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[0].Int()
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, flags)
}

func newEpoll(t *kernel.Task, flags int32) (uintptr, error) {
	f := epoll.New(t.Kernel().VFS)
	defer f.DecRef(t)
	fd, err := t.FDTable().Install(f, vfs.FDFlags{CloseOnExec: flags&unix.EPOLL_CLOEXEC != 0}, 0)
	return uintptr(fd), err
}

// getEpoll returns the epoll instance at epfd: EBADF if there is none,
// EINVAL if the file is not an epoll.
func getEpoll(t *kernel.Task, epfd int32) (*vfs.FileDescription, *epoll.EventPoll, error) {
	f, _, err := getFile(t, epfd)
	if err != nil {
		return nil, nil, err
	}
	if f.IsOPath() {
		f.DecRef(t)
		return nil, nil, unix.EBADF
	}
	ep, ok := f.Impl().(*epoll.EventPoll)
	if !ok {
		f.DecRef(t)
		return nil, nil, unix.EINVAL
	}
	return f, ep, nil
}

// EpollCtl implements epoll_ctl(2), with Linux's order of checks.
func EpollCtl(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	epfd, op, fd, addr := a[0].Int(), a[1].Int(), a[2].Int(), a[3].Pointer()
	var ev epoll.Event
	if op == unix.EPOLL_CTL_ADD || op == unix.EPOLL_CTL_MOD {
		var b [sizeofEpollEvent]byte
		if _, err := t.CopyIn(addr, b[:]); err != nil {
			return 0, err
		}
		ev.Events = binary.LittleEndian.Uint32(b[0:])
		ev.Data = binary.LittleEndian.Uint64(b[4:])
	}
	ef, _, err := getFile(t, epfd)
	if err != nil {
		return 0, err
	}
	defer ef.DecRef(t)
	tf, _, err := getFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer tf.DecRef(t)
	if ef.IsOPath() || tf.IsOPath() {
		return 0, unix.EBADF
	}
	if tf.Waitable() == nil {
		return 0, unix.EPERM
	}
	ep, ok := ef.Impl().(*epoll.EventPoll)
	if !ok || ef == tf {
		return 0, unix.EINVAL
	}
	switch op {
	case unix.EPOLL_CTL_ADD:
		return 0, ep.Add(tf, fd, ev)
	case unix.EPOLL_CTL_MOD:
		return 0, ep.Modify(tf, fd, ev)
	case unix.EPOLL_CTL_DEL:
		return 0, ep.Delete(tf, fd)
	}
	return 0, unix.EINVAL
}

// EpollWait implements epoll_wait(2).
func EpollWait(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pt := msTimeout(a[3].Int())
	return doEpollWait(t, a[0].Int(), a[1].Pointer(), a[2].Int(), &pt)
}

// EpollPwait implements epoll_pwait(2): epoll_wait with a temporary
// signal mask.
func EpollPwait(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pt := msTimeout(a[3].Int())
	old, set, err := setTempSigmask(t, a[4].Pointer(), a[5].Uint64())
	if err != nil {
		return 0, err
	}
	n, err := doEpollWait(t, a[0].Int(), a[1].Pointer(), a[2].Int(), &pt)
	restoreSigmask(t, old, set, err)
	return n, err
}

// EpollPwait2 implements epoll_pwait2(2): a timespec timeout (NULL waits
// forever; nothing is written back).
func EpollPwait2(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	pt, err := readTimespecArg(t, a[3].Pointer())
	if err != nil {
		return 0, err
	}
	old, set, err := setTempSigmask(t, a[4].Pointer(), a[5].Uint64())
	if err != nil {
		return 0, err
	}
	n, err := doEpollWait(t, a[0].Int(), a[1].Pointer(), a[2].Int(), &pt)
	restoreSigmask(t, old, set, err)
	return n, err
}

// doEpollWait is epoll_wait's body. An interruption is EINTR: Linux never
// restarts epoll_wait.
func doEpollWait(t *kernel.Task, epfd int32, addr uint64, maxevents int32, pt *pollTimeout) (uintptr, error) {
	if maxevents <= 0 || maxevents > maxEpollEvents {
		return 0, unix.EINVAL
	}
	f, ep, err := getEpoll(t, epfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef(t)
	buf := epollBufPool.Get().(*epollBuf)
	defer epollBufPool.Put(buf)
	dst := buf.events[:min(int(maxevents), epollBatch)]
	n, err := ep.Wait(t, dst, pt.deadline, pt.immediate)
	if err != nil {
		if err == vfs.ErrInterrupted {
			return 0, unix.EINTR
		}
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	b := buf.bytes[:n*sizeofEpollEvent]
	for i, ev := range dst[:n] {
		binary.LittleEndian.PutUint32(b[i*sizeofEpollEvent:], ev.Events)
		binary.LittleEndian.PutUint64(b[i*sizeofEpollEvent+4:], ev.Data)
	}
	if _, err := t.CopyOut(addr, b); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}
