package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// seccomp(2) and prctl(PR_SET_SECCOMP) for applications: the filters are
// validated here and evaluated by the sentry (sentry/kernel/seccomp.go),
// never installed on the host.

func registerSeccomp(t *kernel.SyscallTable) {
	t.Register(unix.SYS_SECCOMP, seccomp)
}

func seccomp(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return doSeccomp(t, a[0].Uint(), a[1].Uint(), a[2].Pointer())
}

// Sizes SECCOMP_GET_NOTIF_SIZES reports: struct seccomp_notif,
// seccomp_notif_resp and seccomp_data.
const (
	sizeofSeccompNotif     = 80
	sizeofSeccompNotifResp = 24
	sizeofSockFprog        = 16
)

// doSeccomp is seccomp(op, flags, uargs), shared with prctl.
func doSeccomp(t *kernel.Task, op, flags uint32, uargs uint64) (uintptr, error) {
	switch op {
	case unix.SECCOMP_SET_MODE_STRICT:
		if flags != 0 || uargs != 0 {
			return 0, unix.EINVAL
		}
		return 0, t.SetSeccompStrict()
	case unix.SECCOMP_SET_MODE_FILTER:
		return setSeccompFilter(t, flags, uargs)
	case unix.SECCOMP_GET_ACTION_AVAIL:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		var b [4]byte
		if _, err := t.CopyIn(uargs, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if !kernel.SeccompActionAvailable(binary.LittleEndian.Uint32(b[:])) {
			return 0, unix.EOPNOTSUPP
		}
		return 0, nil
	case unix.SECCOMP_GET_NOTIF_SIZES:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		var b [6]byte
		binary.LittleEndian.PutUint16(b[0:], sizeofSeccompNotif)
		binary.LittleEndian.PutUint16(b[2:], sizeofSeccompNotifResp)
		binary.LittleEndian.PutUint16(b[4:], bpf.SeccompDataSize)
		if _, err := t.CopyOut(uargs, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

// setSeccompFilter checks in Linux's order: flags (EINVAL), the struct
// sock_fprog (EFAULT), its length (EINVAL), the caller's right to filter
// (EACCES), the instructions (EFAULT), the program (EINVAL).
func setSeccompFilter(t *kernel.Task, flags uint32, uargs uint64) (uintptr, error) {
	if flags&^kernel.SeccompFilterFlags != 0 {
		return 0, unix.EINVAL
	}
	// No user notification: NEW_LISTENER (and WAIT_KILLABLE_RECV, which
	// needs it) is rejected before the program is read. See seccomp.go.
	if flags&(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) != 0 {
		return 0, unix.EINVAL
	}
	var fp [sizeofSockFprog]byte
	if _, err := t.CopyIn(uargs, fp[:]); err != nil {
		return 0, unix.EFAULT
	}
	n := int(binary.LittleEndian.Uint16(fp[0:]))
	addr := binary.LittleEndian.Uint64(fp[8:])
	if n == 0 || n > bpf.MaxInstructions {
		return 0, unix.EINVAL
	}
	if !t.MayInstallSeccompFilter() {
		return 0, unix.EACCES
	}
	b := make([]byte, n*bpf.InstructionSize)
	if _, err := t.CopyIn(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	prog, err := bpf.CompileSeccomp(bpf.DecodeInstructions(b))
	if err != nil {
		t.Kernel().Debugf("tid %d: seccomp: %v", t.ThreadID(), err)
		return 0, unix.EINVAL
	}
	return t.AppendSeccompFilter(prog, flags)
}

// prctlSeccomp implements prctl(PR_SET_SECCOMP, mode, filter).
func prctlSeccomp(t *kernel.Task, mode, filter uint64) (uintptr, error) {
	switch mode {
	case unix.SECCOMP_MODE_STRICT:
		// The filter argument was always ignored in strict mode.
		return doSeccomp(t, unix.SECCOMP_SET_MODE_STRICT, 0, 0)
	case unix.SECCOMP_MODE_FILTER:
		return doSeccomp(t, unix.SECCOMP_SET_MODE_FILTER, 0, filter)
	}
	return 0, unix.EINVAL
}
