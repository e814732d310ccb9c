package linux

import (
	"crypto/rand"
	"encoding/binary"

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
	t.Register(unix.SYS_PERSONALITY, personality)
	t.Register(unix.SYS_SETHOSTNAME, sethostname)
	t.Register(unix.SYS_SETDOMAINNAME, setdomainname)
	t.Register(unix.SYS_GETRANDOM, getrandom)
	t.Register(unix.SYS_SYSINFO, sysinfo)
	t.Register(unix.SYS_ARCH_PRCTL, archPrctl)
	// Process attributes that were once "info" have their own files:
	// sys_prctl.go, sys_rlimit.go, sys_sched.go.
	registerPrctl(t)
	registerRlimit(t)
	registerSched(t)
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

// personality implements personality(2): 0xffffffff only queries.
func personality(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	p := a[0].Uint()
	if p == 0xffffffff {
		return uintptr(t.Personality()), nil
	}
	return uintptr(t.SetPersonality(p)), nil
}
