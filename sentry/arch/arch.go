// Package arch holds the amd64 CPU state of a task as the sentry sees it:
// general registers, the syscall argument convention and, later, signal
// frames and FP state.
package arch

import "golang.org/x/sys/unix"

// Registers is the general-purpose register file, laid out as ptrace's
// user_regs_struct so that the ptrace platform can use it directly.
type Registers = unix.PtraceRegs

// SyscallArgument is one raw syscall argument.
type SyscallArgument uint64

// Int returns the argument as a C int.
func (a SyscallArgument) Int() int32 { return int32(a) }

// Uint returns the argument as a C unsigned int.
func (a SyscallArgument) Uint() uint32 { return uint32(a) }

// Int64 returns the argument as a C long.
func (a SyscallArgument) Int64() int64 { return int64(a) }

// Uint64 returns the argument as a C unsigned long.
func (a SyscallArgument) Uint64() uint64 { return uint64(a) }

// Pointer returns the argument as an application address.
func (a SyscallArgument) Pointer() uint64 { return uint64(a) }

// SyscallArguments are the six arguments of a syscall.
type SyscallArguments [6]SyscallArgument

// SyscallNo returns the number of the syscall the registers describe.
func SyscallNo(r *Registers) uintptr { return uintptr(r.Orig_rax) }

// SyscallArgs reads the arguments from the amd64 syscall convention
// (rdi, rsi, rdx, r10, r8, r9).
func SyscallArgs(r *Registers) SyscallArguments {
	return SyscallArguments{
		SyscallArgument(r.Rdi), SyscallArgument(r.Rsi), SyscallArgument(r.Rdx),
		SyscallArgument(r.R10), SyscallArgument(r.R8), SyscallArgument(r.R9),
	}
}

// SetReturn sets the syscall return value.
func SetReturn(r *Registers, v uintptr) { r.Rax = uint64(v) }
