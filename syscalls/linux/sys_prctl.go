package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// prctl(2). Options not handled here return EINVAL, as unknown options do
// on Linux.

func registerPrctl(t *kernel.SyscallTable) {
	t.Register(unix.SYS_PRCTL, prctl)
}

// prctl options (linux/prctl.h).
const (
	prSetPdeathsig        = 1
	prGetPdeathsig        = 2
	prGetDumpable         = 3
	prSetDumpable         = 4
	prGetKeepcaps         = 7
	prSetKeepcaps         = 8
	prSetName             = 15
	prGetName             = 16
	prCapbsetRead         = 23
	prCapbsetDrop         = 24
	prGetSecurebits       = 27
	prSetSecurebits       = 28
	prSetTimerslack       = 29
	prGetTimerslack       = 30
	prSetMM               = 35
	prSetChildSubreaper   = 36
	prGetChildSubreaper   = 37
	prSetNoNewPrivs       = 38
	prGetNoNewPrivs       = 39
	prGetTIDAddress       = 40
	prCapAmbient          = 47
	prSetVMA              = 0x53564d41
	prSetMMMap            = 14
	prSetMMMapSize        = 15
	prSetMMAuxv           = 12
	prctlMMMapSize        = 104 // sizeof(struct prctl_mm_map)
	taskCommLen           = 16
	suidDumpDisable       = 0
	suidDumpUser          = 1
	maxSignalForPdeathsig = kernel.NumSignals
)

func prctl(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	arg2, arg3, arg4, arg5 := a[1].Uint64(), a[2].Uint64(), a[3].Uint64(), a[4].Uint64()
	switch a[0].Int() {
	case prSetName:
		return 0, prctlSetName(t, a[1].Pointer())
	case prGetName:
		var b [taskCommLen]byte
		copy(b[:taskCommLen-1], t.Name())
		_, err := t.CopyOut(a[1].Pointer(), b[:])
		return 0, err

	case prSetPdeathsig:
		if arg2 > maxSignalForPdeathsig {
			return 0, unix.EINVAL
		}
		t.SetParentDeathSignal(int(arg2))
		return 0, nil
	case prGetPdeathsig:
		return 0, putInt32(t, a[1].Pointer(), int32(t.ParentDeathSignal()))

	case prGetDumpable:
		return uintptr(t.Dumpable()), nil
	case prSetDumpable:
		if arg2 != suidDumpDisable && arg2 != suidDumpUser {
			return 0, unix.EINVAL
		}
		t.SetDumpable(arg2 == suidDumpUser)
		return 0, nil

	case prSetChildSubreaper:
		t.ThreadGroup().SetChildSubreaper(arg2 != 0)
		return 0, nil
	case prGetChildSubreaper:
		v := int32(0)
		if t.ThreadGroup().ChildSubreaper() {
			v = 1
		}
		return 0, putInt32(t, a[1].Pointer(), v)

	case prSetNoNewPrivs:
		if arg2 != 1 || arg3 != 0 || arg4 != 0 || arg5 != 0 {
			return 0, unix.EINVAL
		}
		t.SetNoNewPrivs()
		return 0, nil
	case prGetNoNewPrivs:
		if arg2 != 0 || arg3 != 0 || arg4 != 0 || arg5 != 0 {
			return 0, unix.EINVAL
		}
		if t.NoNewPrivs() {
			return 1, nil
		}
		return 0, nil

	case prGetKeepcaps:
		if t.Credentials().KeepCaps() {
			return 1, nil
		}
		return 0, nil
	case prSetKeepcaps:
		return commit(t)(t.Credentials().SetKeepCaps(arg2))
	case prGetSecurebits:
		return uintptr(t.Credentials().SecureBits), nil
	case prSetSecurebits:
		return commit(t)(t.Credentials().SetSecureBits(arg2))
	case prCapbsetRead:
		if !auth.ValidCap(arg2) {
			return 0, unix.EINVAL
		}
		if t.Credentials().BoundingCaps.Has(int(arg2)) {
			return 1, nil
		}
		return 0, nil
	case prCapbsetDrop:
		return commit(t)(t.Credentials().DropBoundingCap(arg2))
	case prCapAmbient:
		r, n, err := t.Credentials().Ambient(arg2, arg3, arg4, arg5)
		if err != nil {
			return 0, err
		}
		t.CommitCredentials(n)
		return r, nil

	case prSetTimerslack:
		t.SetTimerSlack(arg2)
		return 0, nil
	case prGetTimerslack:
		return uintptr(t.TimerSlack()), nil

	case prGetTIDAddress:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], t.ClearChildTID())
		_, err := t.CopyOut(a[1].Pointer(), b[:])
		return 0, err

	case prSetMM:
		return prctlSetMM(t, arg2, a[2].Pointer(), arg4, arg5)

	case prSetVMA:
		// Naming anonymous memory is advisory.
		return 0, nil

	case unix.PR_GET_SECCOMP:
		return uintptr(t.SeccompMode()), nil
	case unix.PR_SET_SECCOMP:
		// With seccomp(2), in sys_seccomp.go.
		return prctlSeccomp(t, a[1].Uint64(), a[2].Pointer())
	}
	return 0, unix.EINVAL
}

// prctlSetName sets comm from a string of at most 15 bytes; a fault
// before its end (NUL or 15 bytes) is EFAULT, as strncpy_from_user.
func prctlSetName(t *kernel.Task, addr uint64) error {
	var b [taskCommLen - 1]byte
	n, err := t.CopyIn(addr, b[:])
	name := b[:n]
	for i, c := range name {
		if c == 0 {
			name, err = name[:i], nil
			break
		}
	}
	if err != nil {
		return unix.EFAULT
	}
	t.SetName(string(name))
	return nil
}

// prctlSetMM implements PR_SET_MM, which restores memory-map fields for
// checkpoint/restore tools. The sentry does not support rewriting them:
// after Linux's argument and privilege checks (EINVAL, EPERM without
// CAP_SYS_RESOURCE) it fails with EINVAL, except PR_SET_MM_MAP_SIZE,
// which reports the size of struct prctl_mm_map.
func prctlSetMM(t *kernel.Task, opt, addr, arg4, arg5 uint64) (uintptr, error) {
	if arg5 != 0 || (arg4 != 0 && opt != prSetMMAuxv && opt != prSetMMMap && opt != prSetMMMapSize) {
		return 0, unix.EINVAL
	}
	if opt == prSetMMMapSize {
		return 0, putInt32(t, addr, prctlMMMapSize)
	}
	if opt != prSetMMMap && !t.Credentials().HasCapability(auth.CAP_SYS_RESOURCE) {
		return 0, unix.EPERM
	}
	return 0, unix.EINVAL
}

func putInt32(t *kernel.Task, addr uint64, v int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	_, err := t.CopyOut(addr, b[:])
	return err
}
