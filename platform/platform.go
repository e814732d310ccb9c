// Package platform defines how the sentry runs application code: an
// AddressSpace is a view of ranges of the memory file at fixed application
// addresses, and a Context runs a task's registers in an AddressSpace until
// the application makes a syscall, faults, or is interrupted.
//
// Implementations live in subpackages: ptrace (the portable one), kvm and,
// later, systrap.
package platform

import (
	"errors"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/usermem"
)

// Platform creates address spaces and execution contexts.
//
// All methods are safe for concurrent use.
type Platform interface {
	// NewAddressSpace returns a new, empty address space.
	NewAddressSpace() (AddressSpace, error)

	// NewContext returns a new execution context. A Context is used by one
	// task goroutine at a time; the ptrace platform additionally requires
	// that goroutine to stay locked to its OS thread (runtime.LockOSThread)
	// for as long as it uses the Context.
	NewContext() Context

	// MinUserAddress and MaxUserAddress bound the addresses an application
	// may map: [MinUserAddress, MaxUserAddress). The platform's own stub
	// code lives above MaxUserAddress.
	MinUserAddress() uint64
	MaxUserAddress() uint64

	// Close releases the platform's own resources (the pre-made stub).
	Close()
}

// AddressSpace is the host side of an application address space.
//
// MapFile and Unmap may be called from any goroutine; the implementation
// serialises them.
type AddressSpace interface {
	// MapFile maps [off, off+length) of the host file fd (the memory file)
	// shared at addr with permissions at, replacing whatever was mapped
	// there. addr, off and length are page-aligned.
	MapFile(addr uint64, fd int, off, length uint64, at usermem.AccessType) error

	// Unmap removes any mapping in [addr, addr+length).
	Unmap(addr, length uint64) error

	// Release destroys the address space. No Context may be running in it.
	Release()
}

// HostProcess is implemented by an AddressSpace that is a host process
// of its own (the systrap and ptrace stubs, in which the application's
// instructions run): `runsc ps` gives its host pid to clients.
type HostProcess interface {
	// HostPID is the process' pid in the sentry's PID namespace.
	HostPID() int
}

// ThreadReserver is implemented by an AddressSpace that has room for a
// limited number of threads (systrap: one slot of its stub's shared region
// per thread). A Context creates its thread in an address space lazily, at
// its first Switch (or FPState/SetFPState) there, which is too late to
// refuse a new application thread: clone(2) has already returned its tid.
// The kernel therefore reserves room when it creates a task that will run
// in an existing address space, and fails clone with EAGAIN (Linux's
// answer at a thread limit) when there is none.
//
// An AddressSpace without such a limit (ptrace) does not implement it.
type ThreadReserver interface {
	// ReserveThread sets aside room for one more thread. It fails with
	// unix.EAGAIN when every place is held by a live thread, a thread
	// still exiting, or another reservation. Safe for concurrent use.
	//
	// The caller must end every reservation exactly once: either Bind it
	// to the Context of the new task before that Context first uses the
	// address space, or Release it.
	ReserveThread() (ThreadReservation, error)
}

// ThreadReservation is room for one thread in an address space, held from
// clone to the new task's first run.
type ThreadReservation interface {
	// Bind hands the room to ctx: the first thread ctx creates in the
	// address space takes it, and ctx.Release gives it back if ctx never
	// created one (the task died before running). Only the goroutine that
	// uses ctx may call it, before ctx runs in the address space. A
	// Context of another platform gets nothing: the room is released.
	Bind(ctx Context)

	// Release gives back room that was not bound. It may be called from
	// any goroutine, also after the address space was released.
	Release()
}

// Event is why Context.Switch returned.
type Event int

// Events.
const (
	// EventSyscall: the application executed a syscall instruction; the
	// registers hold its number in Orig_rax and its arguments. Rip points
	// after the instruction.
	EventSyscall Event = iota
	// EventFault: the application took a synchronous fault described by
	// the returned FaultInfo. Registers are those at the fault.
	EventFault
	// EventInterrupted: Interrupt was called, or the host delivered a
	// signal to the stub that the platform does not report as a fault.
	EventInterrupted
)

// FaultInfo describes a synchronous fault of the application.
type FaultInfo struct {
	// Signo is SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGTRAP.
	Signo int32
	// Code is the host's si_code (for SIGSEGV: SEGV_MAPERR or SEGV_ACCERR).
	Code int32
	// Addr is si_addr: the faulting address for SIGSEGV/SIGBUS.
	Addr uint64
	// Access is the access that faulted, as far as the platform can tell;
	// NoAccess means unknown. The ptrace platform cannot see the x86 error
	// code, so it reports NoAccess for SEGV_MAPERR, Read+Execute for an
	// instruction fetch (si_addr == rip) and Write for other SEGV_ACCERR;
	// the memory manager treats it as a hint bounded by the
	// vma's permissions and uses Code to tell a missing page from a
	// refused one.
	Access usermem.AccessType
}

// Context runs application code.
type Context interface {
	// Switch runs regs in as until a syscall, fault or interrupt, and
	// stores the registers back into regs. FaultInfo is meaningful only
	// for EventFault. An error means the context (or its stub) is unusable
	// and the task must die.
	Switch(as AddressSpace, regs *arch.Registers) (Event, FaultInfo, error)

	// Interrupt makes a concurrent or the next Switch return
	// EventInterrupted promptly, without the application's cooperation.
	// It may be called from any goroutine.
	Interrupt()

	// Release frees the context's resources. The caller must not be in
	// Switch.
	Release()

	// FPState copies the task's full floating-point state, as it will be
	// when the next Switch into as resumes it, into dst in the XSAVE
	// standard format (arch.FPStateSize() bytes; a platform without XSAVE
	// fills the 512-byte FXSAVE region and a header saying x87|SSE). The
	// state persists across Switches inside the platform, so the kernel
	// fetches it only when it needs it (signal delivery, fork). Only the
	// goroutine that uses the context may call it, between Switches.
	FPState(as AddressSpace, dst []byte) error

	// SetFPState replaces the task's floating-point state for the next
	// Switch into as with src (same format). It fails (unix.EINVAL) for a
	// state the CPU would refuse: reserved MXCSR bits, unknown or
	// reserved XSAVE header bits. Same calling rules as FPState.
	SetFPState(as AddressSpace, src []byte) error
}

// ErrContextDead is returned by Switch when the host process or thread that
// ran the application has gone away (for example, it was killed by its
// seccomp filter).
var ErrContextDead = errors.New("platform: application context is dead")

// LazyRegs is implemented by a Context whose Switch, for a syscall, may
// leave registers that no syscall reads with the application instead of
// copying them into regs: those a program keeps across calls (rbx, rbp,
// r12–r15), the flags, and r11 (which a syscall sets to the flags). They
// change between most syscalls, and fetching them would move a cache
// line between CPUs on every round trip (systrap's patched syscalls).
// Until PullRegs, those fields of regs are stale.
//
// The kernel calls PullRegs before it reads those fields or writes any
// field but rax and rip (signal delivery and sigreturn, clone, exec,
// ptrace stops, Regs() for a syscall); it is cheap and does nothing when
// regs are whole.
// Switch writes them back only if they were pulled. Only the goroutine
// that uses the context may call it, between Switches, with the regs it
// passed to Switch.
type LazyRegs interface {
	PullRegs(regs *arch.Registers)
}

// ReusableThreads is implemented by a Platform whose Contexts leave nothing
// on the OS thread that used them (systrap: every host call concerns the
// stub's threads, never the caller's). When the task's Context is
// released, its goroutine may then give its OS thread back to the Go
// runtime for the next task instead of having the runtime discard it (a
// ptrace tracer thread must be discarded). A new OS thread per application
// thread costs a host clone, an exit and their wake-ups.
type ReusableThreads interface {
	// ThreadsReusable reports whether the OS thread may be reused.
	ThreadsReusable() bool
}

// Ending is implemented by a Platform that keeps released address spaces
// for reuse (systrap recycles a stub as the next one). The kernel calls
// SandboxEnding once the sandbox's init has exited, after which no task
// and so no address space is made: a release need no longer be cleaned
// for reuse, work the sandbox's exit would otherwise wait for. It is
// called with the kernel's lock held: it must not block or call into the
// kernel.
type Ending interface {
	SandboxEnding()
}

// Mapping is one MapFile (or, with no access, one Unmap) of a batch.
type Mapping struct {
	Addr, Off, Length uint64
	FD                int
	Access            usermem.AccessType
	// Populate asks for the host page tables of the whole range now
	// (MAP_POPULATE), for pages the caller knows have host memory behind
	// them: many first touches then cost no host fault each. A hint; the
	// caller must not set it for pages that would be allocated by it.
	Populate bool
}

// MapBatcher is implemented by an AddressSpace whose every MapFile or
// Unmap is a round trip to another process (systrap's stub server): a fault
// whose window spans pmas that are not contiguous in the memory file needs
// several, which MapFiles does in one.
type MapBatcher interface {
	// MapFiles does ms in order, each as MapFile would (Unmap for a
	// Mapping with no access), stopping at the first that fails. At most
	// MaxBatch mappings per call.
	MapFiles(ms []Mapping) error
}

// MaxBatch is the most mappings MapBatcher.MapFiles takes at once.
const MaxBatch = 32

// Protector is implemented by an AddressSpace that can change the access
// of what it maps in place, keeping the mapping and its page tables
// (systrap's stub server runs mprotect). The memory manager uses it to
// keep the pages of a freed private mapping mapped but inaccessible, for
// a later mapping of the same range to take back without a new host
// mapping (mm's parked ranges).
type Protector interface {
	// Protect sets the access of [addr, addr+length), page-aligned, all
	// of which the caller mapped with MapFile. It fails if part of the
	// range is not mapped, possibly after changing the part below the
	// hole; the caller then unmaps the range.
	Protect(addr, length uint64, at usermem.AccessType) error
}
