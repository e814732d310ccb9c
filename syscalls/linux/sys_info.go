package linux

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// The kernel version the sandbox reports: a modern release, so that
// programs that probe for features by version take their modern paths.
const (
	utsSysname = "Linux"
	utsRelease = "6.6.0"
	utsVersion = "#1 SMP Rampart"
	utsMachine = "x86_64"
)

func registerInfo(t *kernel.SyscallTable) {
	t.Register(unix.SYS_UNAME, uname)
	t.Register(unix.SYS_SETHOSTNAME, sethostname)
	t.Register(unix.SYS_SETDOMAINNAME, setdomainname)
	t.Register(unix.SYS_GETRANDOM, getrandom)
	t.Register(unix.SYS_SYSINFO, sysinfo)
	t.Register(unix.SYS_GETRLIMIT, getrlimit)
	t.Register(unix.SYS_SETRLIMIT, setrlimit)
	t.Register(unix.SYS_PRLIMIT64, prlimit64)
	t.Register(unix.SYS_SCHED_GETAFFINITY, schedGetaffinity)
	t.Register(unix.SYS_SCHED_SETAFFINITY, schedSetaffinity)
	t.Register(unix.SYS_SCHED_YIELD, schedYield)
	t.Register(unix.SYS_GETCPU, getcpu)
	t.Register(unix.SYS_ARCH_PRCTL, archPrctl)
	t.Register(unix.SYS_PRCTL, prctl)
}

func uname(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var u [6 * 65]byte
	host, domain := t.Kernel().UTSNames()
	for i, s := range []string{utsSysname, host, utsRelease, utsVersion, utsMachine, domain} {
		copy(u[i*65:i*65+64], s)
	}
	_, err := t.CopyOut(a[0].Pointer(), u[:])
	return 0, err
}

func setUTSName(t *kernel.Task, a arch.SyscallArguments, set func(string)) error {
	if !t.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
		return unix.EPERM
	}
	n := a[1].Int()
	if n < 0 || n > 64 {
		return unix.EINVAL
	}
	b := make([]byte, n)
	if _, err := t.CopyIn(a[0].Pointer(), b); err != nil {
		return err
	}
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	set(string(b))
	return nil
}

func sethostname(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setUTSName(t, a, t.Kernel().SetHostname)
}

func setdomainname(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setUTSName(t, a, t.Kernel().SetDomainname)
}

func getrandom(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	flags := a[2].Uint()
	if flags&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|0x4 /* GRND_INSECURE */) != 0 {
		return 0, unix.EINVAL
	}
	if flags&0x4 != 0 && flags&unix.GRND_RANDOM != 0 {
		return 0, unix.EINVAL
	}
	n := a[1].Uint64()
	if n > 1<<25-1 {
		n = 1<<25 - 1 // Linux caps one call at 32 MiB - 1
	}
	if n > 256 && flags&unix.GRND_RANDOM != 0 {
		n = 512
	}
	done := uint64(0)
	for done < n {
		chunk := n - done
		if chunk > 64<<10 {
			chunk = 64 << 10
		}
		b := t.Scratch(int(chunk))
		rand.Read(b)
		c, err := t.CopyOut(a[0].Pointer()+done, b)
		done += uint64(c)
		if err != nil {
			if done > 0 {
				return uintptr(done), nil
			}
			return 0, err
		}
	}
	return uintptr(done), nil
}

func sysinfo(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var si unix.Sysinfo_t
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	var b [112]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(ts.Sec))
	var host unix.Sysinfo_t
	if unix.Sysinfo(&host) == nil {
		si = host
	}
	binary.LittleEndian.PutUint64(b[32:], si.Totalram)
	binary.LittleEndian.PutUint64(b[40:], si.Freeram)
	binary.LittleEndian.PutUint16(b[80:], uint16(t.Kernel().TaskCount()))
	binary.LittleEndian.PutUint32(b[104:], si.Unit)
	_, err := t.CopyOut(a[0].Pointer(), b[:])
	return 0, err
}

func rlimitTarget(t *kernel.Task, pid kernel.ThreadID) (*kernel.ThreadGroup, error) {
	if pid == 0 {
		return t.ThreadGroup(), nil
	}
	tg := t.Kernel().FindThreadGroup(pid)
	if tg == nil {
		return nil, unix.ESRCH
	}
	return tg, nil
}

func getrlimit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	r := int(a[0].Uint())
	if r < 0 || r >= 16 {
		return 0, unix.EINVAL
	}
	l := t.ThreadGroup().Limits().Get(r)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], l.Cur)
	binary.LittleEndian.PutUint64(b[8:], l.Max)
	_, err := t.CopyOut(a[1].Pointer(), b[:])
	return 0, err
}

func setLimit(t *kernel.Task, tg *kernel.ThreadGroup, r int, nl unix.Rlimit) error {
	if nl.Cur > nl.Max {
		return unix.EINVAL
	}
	old := tg.Limits().Get(r)
	if nl.Max > old.Max && !t.Credentials().HasCapability(auth.CAP_SYS_RESOURCE) {
		return unix.EPERM
	}
	if r == unix.RLIMIT_NOFILE && nl.Max > 1048576 {
		return unix.EPERM
	}
	tg.Limits().Set(r, nl)
	return nil
}

func setrlimit(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	r := int(a[0].Uint())
	if r < 0 || r >= 16 {
		return 0, unix.EINVAL
	}
	var b [16]byte
	if _, err := t.CopyIn(a[1].Pointer(), b[:]); err != nil {
		return 0, err
	}
	nl := unix.Rlimit{Cur: binary.LittleEndian.Uint64(b[0:]), Max: binary.LittleEndian.Uint64(b[8:])}
	return 0, setLimit(t, t.ThreadGroup(), r, nl)
}

func prlimit64(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	r := int(a[1].Uint())
	if r < 0 || r >= 16 {
		return 0, unix.EINVAL
	}
	tg, err := rlimitTarget(t, kernel.ThreadID(a[0].Int()))
	if err != nil {
		return 0, err
	}
	var nl *unix.Rlimit
	if p := a[2].Pointer(); p != 0 {
		var b [16]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		nl = &unix.Rlimit{Cur: binary.LittleEndian.Uint64(b[0:]), Max: binary.LittleEndian.Uint64(b[8:])}
	}
	old := tg.Limits().Get(r)
	if nl != nil {
		if err := setLimit(t, tg, r, *nl); err != nil {
			return 0, err
		}
	}
	if p := a[3].Pointer(); p != 0 {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], old.Cur)
		binary.LittleEndian.PutUint64(b[8:], old.Max)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func schedGetaffinity(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := a[1].Uint64()
	n := t.Kernel().NumCPU()
	need := uint64((n + 63) / 64 * 8)
	if size < need || size&7 != 0 {
		return 0, unix.EINVAL
	}
	if pid := kernel.ThreadID(a[0].Int()); pid != 0 && t.Kernel().FindTask(pid) == nil {
		return 0, unix.ESRCH
	}
	b := make([]byte, need)
	for i := 0; i < n; i++ {
		b[i/8] |= 1 << uint(i%8)
	}
	if _, err := t.CopyOut(a[2].Pointer(), b); err != nil {
		return 0, err
	}
	return uintptr(need), nil
}

func schedSetaffinity(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	if pid := kernel.ThreadID(a[0].Int()); pid != 0 && t.Kernel().FindTask(pid) == nil {
		return 0, unix.ESRCH
	}
	size := a[1].Uint64()
	if size > 1024 {
		size = 1024
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(a[2].Pointer(), b); err != nil {
		return 0, err
	}
	n := t.Kernel().NumCPU()
	for i := 0; i < n && i/8 < len(b); i++ {
		if b[i/8]&(1<<uint(i%8)) != 0 {
			return 0, nil // recorded as accepted: the sentry schedules itself
		}
	}
	return 0, unix.EINVAL
}

func schedYield(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	time.Sleep(0)
	return 0, nil
}

func getcpu(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var b [4]byte
	if p := a[0].Pointer(); p != 0 {
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	if p := a[1].Pointer(); p != 0 {
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// arch_prctl codes.
const (
	archSetGS    = 0x1001
	archSetFS    = 0x1002
	archGetFS    = 0x1003
	archGetGS    = 0x1004
	archGetCPUID = 0x1011
	archSetCPUID = 0x1012
)

func archPrctl(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	regs := t.Regs()
	max := t.Kernel().Platform.MaxUserAddress()
	switch a[0].Int() {
	case archSetFS:
		if a[1].Uint64() >= max {
			return 0, unix.EPERM
		}
		regs.Fs_base = a[1].Uint64()
	case archSetGS:
		if a[1].Uint64() >= max {
			return 0, unix.EPERM
		}
		regs.Gs_base = a[1].Uint64()
	case archGetFS, archGetGS:
		v := regs.Fs_base
		if a[0].Int() == archGetGS {
			v = regs.Gs_base
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		_, err := t.CopyOut(a[1].Pointer(), b[:])
		return 0, err
	case archGetCPUID:
		return 1, nil
	case archSetCPUID:
		return 0, unix.ENODEV
	default:
		return 0, unix.EINVAL
	}
	return 0, nil
}

// prctl options handled here; the rest are a later issue and return EINVAL
// as an unknown option would.
const (
	prSetPdeathsig  = 1
	prGetPdeathsig  = 2
	prGetDumpable   = 3
	prSetDumpable   = 4
	prGetKeepcaps   = 7
	prSetKeepcaps   = 8
	prSetName       = 15
	prGetName       = 16
	prCapbsetRead   = 23
	prSetNoNewPrivs = 38
	prGetNoNewPrivs = 39
	prSetVMA        = 0x53564d41
)

func prctl(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	switch a[0].Int() {
	case prSetName:
		b := make([]byte, 16)
		n, err := t.CopyIn(a[1].Pointer(), b)
		if err != nil && n == 0 {
			return 0, err
		}
		b = b[:n]
		for i, c := range b {
			if c == 0 {
				b = b[:i]
				break
			}
		}
		t.SetName(string(b))
		return 0, nil
	case prGetName:
		var b [16]byte
		copy(b[:15], t.Name())
		_, err := t.CopyOut(a[1].Pointer(), b[:])
		return 0, err
	case prGetDumpable:
		return 1, nil
	case prSetDumpable:
		if a[1].Uint64() > 1 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case prSetPdeathsig:
		if s := a[1].Int(); s != 0 && !kernel.ValidSignal(int(s)) {
			return 0, unix.EINVAL
		}
		return 0, nil
	case prGetPdeathsig:
		var b [4]byte
		_, err := t.CopyOut(a[1].Pointer(), b[:])
		return 0, err
	case prGetKeepcaps:
		return 0, nil
	case prSetKeepcaps:
		if a[1].Uint64() > 1 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case prCapbsetRead:
		c := a[1].Int()
		if c < 0 || c > 40 {
			return 0, unix.EINVAL
		}
		if t.Credentials().BoundingCaps.Has(int(c)) {
			return 1, nil
		}
		return 0, nil
	case prSetNoNewPrivs:
		if a[1].Uint64() != 1 || a[2].Uint64() != 0 || a[3].Uint64() != 0 || a[4].Uint64() != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case prGetNoNewPrivs:
		return 0, nil
	case unix.PR_SET_CHILD_SUBREAPER:
		t.ThreadGroup().SetChildSubreaper(a[1].Uint64() != 0)
		return 0, nil
	case unix.PR_GET_CHILD_SUBREAPER:
		var b [4]byte
		if t.ThreadGroup().ChildSubreaper() {
			b[0] = 1
		}
		_, err := t.CopyOut(a[1].Pointer(), b[:])
		return 0, err
	case prSetVMA:
		// Naming anonymous memory is advisory.
		return 0, nil
	}
	return 0, unix.EINVAL
}
