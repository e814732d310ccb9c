//go:build linux && amd64

package ptrace

import (
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// addressSpace is a stub process. Its main thread is the control thread,
// traced by the platform's control goroutine, which injects mmap/munmap and
// clone into it. Task threads run the application in further stub threads,
// each traced by the task's own OS thread (see context).
type addressSpace struct {
	p *Platform

	// pid is the stub's thread-group id. Immutable after creation.
	pid int32

	// released is set by Release; Contexts then drop their threads in this
	// address space without touching them (the control goroutine reaps).
	released atomic.Bool

	// mu serialises requests to the control goroutine and protects req.
	mu  sync.Mutex
	req request

	// tidsMu protects tids: the stub threads created for task threads that
	// have not been reaped yet. The control goroutine adds to it; a Context
	// removes a thread after reaping it; Release reaps the rest. Holding
	// tidsMu across a reap keeps a recycled tid from being waited for.
	tidsMu sync.Mutex
	tids   map[int32]struct{}
	// byTracer maps the host tid of a task OS thread to its stub thread
	// here, so that MapFile and Unmap called on that OS thread (a fault
	// or munmap of its task) run the syscall in that stub thread directly
	// instead of handing it to the control goroutine. Protected by tidsMu.
	byTracer map[int32]*thread

	// exitStatus is the stub's first known exit status (exitKnown), set by
	// the control goroutine when it serves Release; for tests and debugging.
	exitStatus unix.WaitStatus
	exitKnown  bool

	// ctl is the control goroutine's view of the stub. Only the control
	// goroutine touches it.
	ctl *stubProc
}

var _ platform.AddressSpace = (*addressSpace)(nil)

// do runs a request for this address space on the control goroutine.
func (as *addressSpace) do(op opKind, nr uintptr, args ...uint64) (uint64, error) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Load() {
		return 0, fmt.Errorf("address space released: %w", platform.ErrContextDead)
	}
	r := &as.req
	r.op, r.as, r.nr = op, as, nr
	r.args = [6]uint64{}
	copy(r.args[:], args)
	err := as.p.call(r)
	return r.ret, err
}

// MapFile implements platform.AddressSpace.MapFile by injecting
// mmap(addr, length, prot, MAP_SHARED|MAP_FIXED, memFD, off) into the stub.
// fd must be the memory file given to New (EINVAL otherwise); the range must
// lie in [MinUserAddress, MaxUserAddress) (EINVAL otherwise).
func (as *addressSpace) MapFile(addr uint64, fd int, off, length uint64, at usermem.AccessType) error {
	if fd != as.p.memFD || !inUserRange(addr, length) || off%pageSize != 0 {
		return unix.EINVAL
	}
	if t := as.localThread(); t != nil {
		ret, err := t.syscall(unix.SYS_MMAP, addr, length, uint64(at.Prot()), unix.MAP_SHARED|unix.MAP_FIXED, uint64(fd), off)
		if err == nil && ret != addr {
			err = fmt.Errorf("mmap returned %#x, want %#x", ret, addr)
		}
		return err
	}
	_, err := as.do(opMap, 0, addr, length, uint64(at.Prot()), off)
	return err
}

// Unmap implements platform.AddressSpace.Unmap.
func (as *addressSpace) Unmap(addr, length uint64) error {
	if !inUserRange(addr, length) {
		return unix.EINVAL
	}
	if t := as.localThread(); t != nil {
		_, err := t.syscall(unix.SYS_MUNMAP, addr, length)
		return err
	}
	_, err := as.do(opUnmap, 0, addr, length)
	return err
}

// localThread returns the stub thread here that the calling OS thread
// traces, if it has one and it is usable; it is stopped, since its tracer
// is not in Switch.
func (as *addressSpace) localThread() *thread {
	if as.released.Load() {
		return nil
	}
	tid := int32(unix.Gettid())
	as.tidsMu.Lock()
	t := as.byTracer[tid]
	as.tidsMu.Unlock()
	if t == nil || t.dead {
		return nil
	}
	return t
}

// Release implements platform.AddressSpace.Release: it kills the stub and
// reaps all of its threads.
// HostPID implements platform.HostProcess.
func (as *addressSpace) HostPID() int { return int(as.pid) }

func (as *addressSpace) Release() {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released.Swap(true) {
		return
	}
	r := &as.req
	r.op, r.as = opRelease, as
	as.p.call(r)
}

// newThread creates a stub thread for a task thread. The new thread spins at
// the stub's spin loop, untraced, until the caller seizes it.
func (as *addressSpace) newThread() (int32, error) {
	ret, err := as.do(opNewThread, 0)
	return int32(ret), err
}

// inUserRange reports whether [addr, addr+length) is a non-empty,
// page-aligned range of the application's part of the address space.
func inUserRange(addr, length uint64) bool {
	return addr%pageSize == 0 && length%pageSize == 0 && length != 0 &&
		addr >= minUserAddress && addr+length > addr && addr+length <= maxUserAddress
}
