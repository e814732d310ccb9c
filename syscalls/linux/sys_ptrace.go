package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/abi"
	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// ptrace(2): the requests are decoded and their data copied in and out
// here; the tracer/tracee relationship, stops and permission rules live in
// sentry/kernel/ptrace.go.

func registerPtrace(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PTRACE, ptrace)
}

// Requests not named in x/sys/unix for amd64.
const (
	ptraceGetRegset        = 0x4204
	ptraceSetRegset        = 0x4205
	ptraceSeize            = 0x4206
	ptraceInterrupt        = 0x4207
	ptraceListen           = 0x4208
	ptraceGetSyscallInfo   = 0x420e
	ptraceSysemu           = 31
	ptraceSysemuSingleStep = 32

	// ELF note types of the register sets.
	ntPRStatus  = 1
	ntPRFPReg   = 2
	ntX86XState = 0x202

	// sizeofUserRegs is sizeof(struct user_regs_struct); sizeofUser is
	// the kernel's sizeof(struct user) (glibc's lacks the trailing
	// error_code and fault_address); the debug registers are at
	// offsetDebugRegs.
	sizeofUserRegs  = 27 * 8
	sizeofUser      = 928
	offsetDebugRegs = 848

	// auditArchX86_64 is AUDIT_ARCH_X86_64.
	auditArchX86_64 = 0xc000003e

	// taskSizeMax is TASK_SIZE_MAX with 4-level paging: fs_base and
	// gs_base must lie below it.
	taskSizeMax = 1<<47 - 4096

	// eflagsUser are the flags a tracer may change (FLAG_MASK): CF, PF,
	// AF, ZF, SF, TF, DF, OF, RF, AC.
	eflagsUser = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x10000 | 0x40000
)

func ptrace(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	req := a[0].Int64()
	tid := kernel.ThreadID(a[1].Int())
	addr, data := a[2].Pointer(), a[3].Pointer()
	switch req {
	case unix.PTRACE_TRACEME:
		return 0, t.PtraceTraceMe()
	case unix.PTRACE_ATTACH:
		return 0, t.PtraceAttach(tid, false, 0)
	case ptraceSeize:
		if addr != 0 {
			return 0, unix.EIO
		}
		return 0, t.PtraceAttach(tid, true, data)
	}
	running := req == unix.PTRACE_KILL || req == ptraceInterrupt
	e, err := t.PtraceTracee(tid, running)
	if err != nil {
		return 0, err
	}
	switch req {
	case unix.PTRACE_KILL:
		return 0, t.PtraceKill(e)
	case ptraceInterrupt:
		return 0, t.PtraceInterrupt(e)
	case ptraceListen:
		return 0, t.PtraceListen(e)
	case unix.PTRACE_CONT:
		return 0, t.PtraceResume(e, kernel.PtraceCont, int(data))
	case unix.PTRACE_SYSCALL:
		return 0, t.PtraceResume(e, kernel.PtraceSyscall, int(data))
	case ptraceSysemu:
		return 0, t.PtraceResume(e, kernel.PtraceSysemu, int(data))
	case unix.PTRACE_SINGLESTEP:
		return 0, t.PtraceResume(e, kernel.PtraceSingleStep, int(data))
	case ptraceSysemuSingleStep:
		return 0, t.PtraceResume(e, kernel.PtraceSysemuSingleStep, int(data))
	case unix.PTRACE_DETACH:
		return 0, t.PtraceDetach(e, int(data))
	case unix.PTRACE_SETOPTIONS:
		return 0, t.PtraceSetOptions(e, data)
	case unix.PTRACE_GETEVENTMSG:
		msg, err := t.PtraceEventMsg(e)
		if err != nil {
			return 0, err
		}
		return 0, putUint64(t, data, msg)
	case unix.PTRACE_PEEKTEXT, unix.PTRACE_PEEKDATA:
		var b [8]byte
		if n, err := t.PtraceCopyIn(e, addr, b[:]); err != nil && n != len(b) {
			if err == unix.ESRCH {
				return 0, err
			}
			return 0, unix.EIO
		}
		return 0, putUint64(t, data, binary.LittleEndian.Uint64(b[:]))
	case unix.PTRACE_POKETEXT, unix.PTRACE_POKEDATA:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], data)
		if n, err := t.PtraceCopyOut(e, addr, b[:]); err != nil && n != len(b) {
			if err == unix.ESRCH {
				return 0, err
			}
			return 0, unix.EIO
		}
		return 0, nil
	case unix.PTRACE_PEEKUSR:
		v, err := peekUser(t, e, addr)
		if err != nil {
			return 0, err
		}
		return 0, putUint64(t, data, v)
	case unix.PTRACE_POKEUSR:
		return 0, pokeUser(t, e, addr, data)
	case unix.PTRACE_GETREGS:
		var regs arch.Registers
		if err := t.PtraceRegs(e, func(r *arch.Registers) error { regs = *r; return nil }); err != nil {
			return 0, err
		}
		b := encodeRegs(&regs)
		_, err := t.CopyOut(data, b[:])
		return 0, err
	case unix.PTRACE_SETREGS:
		var b [sizeofUserRegs]byte
		if _, err := t.CopyIn(data, b[:]); err != nil {
			return 0, err
		}
		return 0, t.PtraceRegs(e, func(r *arch.Registers) error { return setRegs(r, b[:]) })
	case unix.PTRACE_GETFPREGS:
		var b [arch.FxsaveSize]byte
		if err := t.PtraceFPState(e, func(fp []byte) (bool, error) {
			copy(b[:], fp)
			return false, nil
		}); err != nil {
			return 0, err
		}
		_, err := t.CopyOut(data, b[:])
		return 0, err
	case unix.PTRACE_SETFPREGS:
		var b [arch.FxsaveSize]byte
		if _, err := t.CopyIn(data, b[:]); err != nil {
			return 0, err
		}
		return 0, setFPRegs(t, e, b[:])
	case ptraceGetRegset:
		return 0, getRegset(t, e, addr, data)
	case ptraceSetRegset:
		return 0, setRegset(t, e, addr, data)
	case unix.PTRACE_GETSIGINFO:
		info, err := t.PtraceSigInfo(e)
		if err != nil {
			return 0, err
		}
		var b [abi.SizeofSignalInfo]byte
		info.Bytes(&b)
		_, err = t.CopyOut(data, b[:])
		return 0, err
	case unix.PTRACE_SETSIGINFO:
		var b [abi.SizeofSignalInfo]byte
		if _, err := t.CopyIn(data, b[:]); err != nil {
			return 0, err
		}
		var info abi.SignalInfo
		info.FromBytes(&b)
		return 0, t.PtraceSetSigInfo(e, &info)
	case ptraceGetSyscallInfo:
		return getSyscallInfo(t, e, addr, data)
	}
	return 0, unix.EIO
}

func putUint64(t *kernel.Task, addr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := t.CopyOut(addr, b[:])
	return err
}

// userRegs returns pointers to the fields of r in struct user_regs_struct
// order (which is arch.Registers' order).
func userRegs(r *arch.Registers) [27]*uint64 {
	return [27]*uint64{
		&r.R15, &r.R14, &r.R13, &r.R12, &r.Rbp, &r.Rbx, &r.R11, &r.R10,
		&r.R9, &r.R8, &r.Rax, &r.Rcx, &r.Rdx, &r.Rsi, &r.Rdi, &r.Orig_rax,
		&r.Rip, &r.Cs, &r.Eflags, &r.Rsp, &r.Ss, &r.Fs_base, &r.Gs_base,
		&r.Ds, &r.Es, &r.Fs, &r.Gs,
	}
}

// Indexes of user_regs_struct fields that putReg validates.
const (
	regCS     = 17
	regEflags = 18
	regSS     = 20
	regFSBase = 21
	regGSBase = 22
	regDS     = 23
	regGS     = 26
)

func encodeRegs(r *arch.Registers) [sizeofUserRegs]byte {
	var b [sizeofUserRegs]byte
	for i, p := range userRegs(r) {
		binary.LittleEndian.PutUint64(b[i*8:], *p)
	}
	return b
}

// putReg writes user_regs_struct field i as Linux's putreg does: segment
// selectors must be null or of user privilege (cs and ss never null),
// bases must be user addresses, and only the arithmetic and trap flags of
// eflags change. EIO otherwise.
func putReg(r *arch.Registers, i int, v uint64) error {
	regs := userRegs(r)
	switch {
	case i == regCS || i == regSS:
		if v > 0xffff || v&3 != 3 {
			return unix.EIO
		}
	case i >= regDS && i <= regGS:
		if v > 0xffff || (v != 0 && v&3 != 3) {
			return unix.EIO
		}
	case i == regFSBase || i == regGSBase:
		if v >= taskSizeMax {
			return unix.EIO
		}
	case i == regEflags:
		v = r.Eflags&^eflagsUser | v&eflagsUser
	}
	*regs[i] = v
	return nil
}

// setRegs applies a (possibly partial) user_regs_struct in b to r; on an
// invalid field, r keeps the fields before it changed, as on Linux.
func setRegs(r *arch.Registers, b []byte) error {
	for i := 0; i+8 <= len(b) && i < sizeofUserRegs; i += 8 {
		if err := putReg(r, i/8, binary.LittleEndian.Uint64(b[i:])); err != nil {
			return err
		}
	}
	return nil
}

// peekUser reads the word at offset off of struct user: a register, a
// debug register (always 0: the sentry offers none), or 0 elsewhere.
func peekUser(t *kernel.Task, e *kernel.Task, off uint64) (uint64, error) {
	if off&7 != 0 || off >= sizeofUser {
		return 0, unix.EIO
	}
	var v uint64
	err := t.PtraceRegs(e, func(r *arch.Registers) error {
		if off < sizeofUserRegs {
			v = *userRegs(r)[off/8]
		}
		return nil
	})
	return v, err
}

// pokeUser writes the word at offset off of struct user: registers, and
// debug registers only to disable them (0), since none are emulated.
func pokeUser(t *kernel.Task, e *kernel.Task, off, v uint64) error {
	if off&7 != 0 || off >= sizeofUser {
		return unix.EIO
	}
	return t.PtraceRegs(e, func(r *arch.Registers) error {
		switch {
		case off < sizeofUserRegs:
			return putReg(r, int(off/8), v)
		case off >= offsetDebugRegs && off < offsetDebugRegs+64 && v == 0:
			return nil
		}
		return unix.EIO
	})
}

// setFPRegs replaces the legacy x87/SSE region of e's FP state
// (PTRACE_SETFPREGS, NT_PRFPREG): EINVAL for reserved MXCSR bits.
func setFPRegs(t *kernel.Task, e *kernel.Task, b []byte) error {
	if !arch.ValidMXCSR(binary.LittleEndian.Uint32(b[24:])) {
		return unix.EINVAL
	}
	return t.PtraceFPState(e, func(fp []byte) (bool, error) {
		copy(fp[:arch.FxsaveSize], b)
		if len(fp) > arch.XsaveHeaderOffset+8 {
			arch.SetXstateBV(fp, arch.XstateBV(fp)|arch.XfeatureFPSSE)
		}
		return true, nil
	})
}

// regsetIovec reads the struct iovec at addr.
func regsetIovec(t *kernel.Task, addr uint64) (base, n uint64, err error) {
	var iov [16]byte
	if _, err := t.CopyIn(addr, iov[:]); err != nil {
		return 0, 0, err
	}
	return binary.LittleEndian.Uint64(iov[0:]), binary.LittleEndian.Uint64(iov[8:]), nil
}

// getRegset implements PTRACE_GETREGSET: at most iov_len bytes of the
// register set are copied out and iov_len becomes the size copied.
func getRegset(t *kernel.Task, e *kernel.Task, note, iovAddr uint64) error {
	base, n, err := regsetIovec(t, iovAddr)
	if err != nil {
		return err
	}
	var buf []byte
	switch note {
	case ntPRStatus:
		var regs arch.Registers
		if err := t.PtraceRegs(e, func(r *arch.Registers) error { regs = *r; return nil }); err != nil {
			return err
		}
		b := encodeRegs(&regs)
		buf = b[:]
	case ntPRFPReg, ntX86XState:
		if note == ntX86XState && !arch.UseXsave() {
			return unix.ENODEV
		}
		if err := t.PtraceFPState(e, func(fp []byte) (bool, error) {
			buf = append([]byte(nil), fp...)
			return false, nil
		}); err != nil {
			return err
		}
		if note == ntPRFPReg {
			buf = buf[:arch.FxsaveSize]
		} else {
			// The software-reserved bytes of the legacy region tell the
			// tracer XCR0, as Linux's xstate_fx_sw_bytes do.
			clear(buf[464:arch.FxsaveSize])
			binary.LittleEndian.PutUint64(buf[464:], arch.FPFeatures())
		}
	default:
		return unix.EINVAL
	}
	if n > uint64(len(buf)) {
		n = uint64(len(buf))
	}
	if _, err := t.CopyOut(base, buf[:n]); err != nil {
		return err
	}
	var nb [8]byte
	binary.LittleEndian.PutUint64(nb[:], n)
	_, err = t.CopyOut(iovAddr+8, nb[:])
	return err
}

// setRegset implements PTRACE_SETREGSET: general registers may be set in
// part; the FP sets must be written whole (EINVAL, or EFAULT for XSTATE,
// as Linux).
func setRegset(t *kernel.Task, e *kernel.Task, note, iovAddr uint64) error {
	base, n, err := regsetIovec(t, iovAddr)
	if err != nil {
		return err
	}
	switch note {
	case ntPRStatus:
		if n > sizeofUserRegs {
			n = sizeofUserRegs
		}
		b := make([]byte, n)
		if _, err := t.CopyIn(base, b); err != nil {
			return err
		}
		return t.PtraceRegs(e, func(r *arch.Registers) error { return setRegs(r, b) })
	case ntPRFPReg:
		if n != arch.FxsaveSize {
			return unix.EINVAL
		}
		var b [arch.FxsaveSize]byte
		if _, err := t.CopyIn(base, b[:]); err != nil {
			return err
		}
		return setFPRegs(t, e, b[:])
	case ntX86XState:
		if !arch.UseXsave() {
			return unix.ENODEV
		}
		size := arch.FPStateSize()
		if n != uint64(size) {
			return unix.EFAULT
		}
		b := make([]byte, size)
		if _, err := t.CopyIn(base, b); err != nil {
			return err
		}
		if !arch.ValidMXCSR(arch.MXCSR(b)) || arch.XstateBV(b)&^arch.FPFeatures() != 0 {
			return unix.EINVAL
		}
		// The header's xcomp_bv and reserved bytes must be zero.
		for _, c := range b[arch.XsaveHeaderOffset+8 : arch.XsaveHeaderOffset+arch.XsaveHeaderSize] {
			if c != 0 {
				return unix.EINVAL
			}
		}
		return t.PtraceFPState(e, func(fp []byte) (bool, error) {
			copy(fp, b)
			return true, nil
		})
	}
	return unix.EINVAL
}

// getSyscallInfo implements PTRACE_GET_SYSCALL_INFO: struct
// ptrace_syscall_info for the current stop, at most size bytes of it
// copied to addr; the return value is its full size.
func getSyscallInfo(t *kernel.Task, e *kernel.Task, size, addr uint64) (uintptr, error) {
	op, r, msg, err := t.PtraceSyscallInfo(e)
	if err != nil {
		return 0, err
	}
	var b [88]byte
	b[0] = op
	binary.LittleEndian.PutUint32(b[4:], auditArchX86_64)
	binary.LittleEndian.PutUint64(b[8:], r.Rip)
	binary.LittleEndian.PutUint64(b[16:], r.Rsp)
	n := 24
	switch op {
	case kernel.PtraceSyscallInfoEntry, kernel.PtraceSyscallInfoSeccomp:
		binary.LittleEndian.PutUint64(b[24:], r.Orig_rax)
		for i, v := range []uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9} {
			binary.LittleEndian.PutUint64(b[32+8*i:], v)
		}
		n = 80
		if op == kernel.PtraceSyscallInfoSeccomp {
			binary.LittleEndian.PutUint32(b[80:], uint32(msg))
			n = 84
		}
	case kernel.PtraceSyscallInfoExit:
		rval := int64(r.Rax)
		binary.LittleEndian.PutUint64(b[24:], uint64(rval))
		if rval < 0 && rval >= -4095 {
			b[32] = 1
		}
		n = 33
	}
	w := uint64(n)
	if size < w {
		w = size
	}
	if _, err := t.CopyOut(addr, b[:w]); err != nil {
		return 0, err
	}
	return uintptr(n), nil
}
