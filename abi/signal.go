package abi

// SignalInfo is the kernel's siginfo_t on amd64 (128 bytes). The sentry
// builds one for every signal it queues; rt_sigframe, waitid,
// rt_sigtimedwait, signalfd and PTRACE_GETSIGINFO copy it out as is.
//
// Layout: si_signo at 0, si_errno at 4, si_code at 8, then a union at 16
// whose members this type reads and writes with the accessors below.
type SignalInfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	// Fields is the union, laid out as the kernel does.
	Fields [112]byte
}

// SizeofSignalInfo is sizeof(siginfo_t).
const SizeofSignalInfo = 128

// si_code values (include/uapi/asm-generic/siginfo.h).
const (
	SI_USER    = 0
	SI_KERNEL  = 0x80
	SI_QUEUE   = -1
	SI_TIMER   = -2
	SI_MESGQ   = -3
	SI_ASYNCIO = -4
	SI_SIGIO   = -5
	SI_TKILL   = -6

	ILL_ILLOPC = 1
	ILL_ILLOPN = 2
	ILL_PRVOPC = 5

	FPE_INTDIV = 1
	FPE_INTOVF = 2
	FPE_FLTDIV = 3

	SEGV_MAPERR = 1
	SEGV_ACCERR = 2

	BUS_ADRALN = 1
	BUS_ADRERR = 2
	BUS_OBJERR = 3

	TRAP_BRKPT = 1
	TRAP_TRACE = 2

	CLD_EXITED    = 1
	CLD_KILLED    = 2
	CLD_DUMPED    = 3
	CLD_TRAPPED   = 4
	CLD_STOPPED   = 5
	CLD_CONTINUED = 6

	SYS_SECCOMP = 1
)

// PID returns si_pid (kill, rt_sigqueueinfo, SIGCHLD).
func (s *SignalInfo) PID() int32 { return int32(le.Uint32(s.Fields[0:])) }

// SetPID sets si_pid.
func (s *SignalInfo) SetPID(v int32) { le.PutUint32(s.Fields[0:], uint32(v)) }

// UID returns si_uid.
func (s *SignalInfo) UID() uint32 { return le.Uint32(s.Fields[4:]) }

// SetUID sets si_uid.
func (s *SignalInfo) SetUID(v uint32) { le.PutUint32(s.Fields[4:], v) }

// SetValue sets si_value (sigqueue, POSIX timers); it overlaps si_status.
func (s *SignalInfo) SetValue(v uint64) { le.PutUint64(s.Fields[8:], v) }

// Value returns si_value.
func (s *SignalInfo) Value() uint64 { return le.Uint64(s.Fields[8:]) }

// Status returns si_status (SIGCHLD): the exit code or the signal.
func (s *SignalInfo) Status() int32 { return int32(le.Uint32(s.Fields[8:])) }

// SetStatus sets si_status.
func (s *SignalInfo) SetStatus(v int32) { le.PutUint32(s.Fields[8:], uint32(v)) }

// SetUtime and SetStime set SIGCHLD's si_utime and si_stime, in clock ticks.
func (s *SignalInfo) SetUtime(v int64) { le.PutUint64(s.Fields[16:], uint64(v)) }

// SetStime sets si_stime.
func (s *SignalInfo) SetStime(v int64) { le.PutUint64(s.Fields[24:], uint64(v)) }

// Addr returns si_addr (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
func (s *SignalInfo) Addr() uint64 { return le.Uint64(s.Fields[0:]) }

// SetAddr sets si_addr.
func (s *SignalInfo) SetAddr(v uint64) { le.PutUint64(s.Fields[0:], v) }

// TimerID returns si_tid (the POSIX timer id; SI_TIMER).
func (s *SignalInfo) TimerID() int32 { return int32(le.Uint32(s.Fields[0:])) }

// SetTimerID sets si_tid.
func (s *SignalInfo) SetTimerID(v int32) { le.PutUint32(s.Fields[0:], uint32(v)) }

// Overrun returns si_overrun.
func (s *SignalInfo) Overrun() int32 { return int32(le.Uint32(s.Fields[4:])) }

// SetOverrun sets si_overrun.
func (s *SignalInfo) SetOverrun(v int32) { le.PutUint32(s.Fields[4:], uint32(v)) }

// SetCallAddr, SetSyscall and SetArch fill SIGSYS's fields (seccomp
// SECCOMP_RET_TRAP): si_call_addr, si_syscall, si_arch.
func (s *SignalInfo) SetCallAddr(v uint64) { le.PutUint64(s.Fields[0:], v) }

// SetSyscall sets si_syscall.
func (s *SignalInfo) SetSyscall(v int32) { le.PutUint32(s.Fields[8:], uint32(v)) }

// SetArch sets si_arch (AUDIT_ARCH_X86_64).
func (s *SignalInfo) SetArch(v uint32) { le.PutUint32(s.Fields[12:], v) }

// SetBandFD sets si_band and si_fd (SIGIO/SIGPOLL).
func (s *SignalInfo) SetBandFD(band int64, fd int32) {
	le.PutUint64(s.Fields[0:], uint64(band))
	le.PutUint32(s.Fields[8:], uint32(fd))
}

// Bytes returns the struct as the application sees it.
func (s *SignalInfo) Bytes(b *[SizeofSignalInfo]byte) {
	le.PutUint32(b[0:], uint32(s.Signo))
	le.PutUint32(b[4:], uint32(s.Errno))
	le.PutUint32(b[8:], uint32(s.Code))
	le.PutUint32(b[12:], 0)
	copy(b[16:], s.Fields[:])
}

// FromBytes decodes a siginfo_t (rt_sigqueueinfo, PTRACE_SETSIGINFO).
func (s *SignalInfo) FromBytes(b *[SizeofSignalInfo]byte) {
	s.Signo = int32(le.Uint32(b[0:]))
	s.Errno = int32(le.Uint32(b[4:]))
	s.Code = int32(le.Uint32(b[8:]))
	copy(s.Fields[:], b[16:])
}
