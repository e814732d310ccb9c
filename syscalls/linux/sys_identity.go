package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

func registerIdentity(t *kernel.SyscallTable) {
	t.Register(unix.SYS_GETUID, getuid)
	t.Register(unix.SYS_GETEUID, geteuid)
	t.Register(unix.SYS_GETGID, getgid)
	t.Register(unix.SYS_GETEGID, getegid)
	t.Register(unix.SYS_GETRESUID, getresuid)
	t.Register(unix.SYS_GETRESGID, getresgid)
	t.Register(unix.SYS_GETGROUPS, getgroups)
	t.Register(unix.SYS_SETGROUPS, setgroups)
	t.Register(unix.SYS_SETUID, setuid)
	t.Register(unix.SYS_SETGID, setgid)
	t.Register(unix.SYS_SETRESUID, setresuid)
	t.Register(unix.SYS_SETRESGID, setresgid)
	t.Register(unix.SYS_SETREUID, setreuid)
	t.Register(unix.SYS_SETREGID, setregid)
	t.Register(unix.SYS_CAPGET, capget)
}

func getuid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().RealKUID), nil
}

func geteuid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().EffectiveKUID), nil
}

func getgid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().RealKGID), nil
}

func getegid(t *kernel.Task, _ arch.SyscallArguments) (uintptr, error) {
	return uintptr(t.Credentials().EffectiveKGID), nil
}

func putIDs(t *kernel.Task, addrs [3]uint64, ids [3]uint32) error {
	var b [4]byte
	for i, p := range addrs {
		binary.LittleEndian.PutUint32(b[:], ids[i])
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return err
		}
	}
	return nil
}

func getresuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return 0, putIDs(t, [3]uint64{a[0].Pointer(), a[1].Pointer(), a[2].Pointer()},
		[3]uint32{uint32(c.RealKUID), uint32(c.EffectiveKUID), uint32(c.SavedKUID)})
}

func getresgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	c := t.Credentials()
	return 0, putIDs(t, [3]uint64{a[0].Pointer(), a[1].Pointer(), a[2].Pointer()},
		[3]uint32{uint32(c.RealKGID), uint32(c.EffectiveKGID), uint32(c.SavedKGID)})
}

// ngroupsMax is NGROUPS_MAX.
const ngroupsMax = 65536

func getgroups(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := a[0].Int()
	if size < 0 {
		return 0, unix.EINVAL
	}
	g := t.Credentials().ExtraKGIDs
	if size == 0 {
		return uintptr(len(g)), nil
	}
	if int(size) < len(g) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(g))
	for i, x := range g {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	if _, err := t.CopyOut(a[1].Pointer(), b); err != nil {
		return 0, err
	}
	return uintptr(len(g)), nil
}

func setgroups(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	size := a[0].Int()
	if size < 0 || size > ngroupsMax {
		return 0, unix.EINVAL
	}
	c := t.Credentials()
	if !c.HasCapability(auth.CAP_SETGID) {
		return 0, unix.EPERM
	}
	b := make([]byte, 4*int(size))
	if _, err := t.CopyIn(a[1].Pointer(), b); err != nil {
		return 0, err
	}
	n := c.Fork()
	n.ExtraKGIDs = make([]auth.KGID, size)
	for i := range n.ExtraKGIDs {
		n.ExtraKGIDs[i] = auth.KGID(binary.LittleEndian.Uint32(b[4*i:]))
	}
	t.SetCredentials(n)
	return 0, nil
}

// setUIDs implements setresuid's rules: without CAP_SETUID each new id
// must be one of the current real, effective or saved ids. Dropping uid 0
// clears the capabilities as Linux does (without SECBIT_KEEP_CAPS).
func setUIDs(t *kernel.Task, r, e, s uint32) error {
	c := t.Credentials()
	priv := c.HasCapability(auth.CAP_SETUID)
	ok := func(id uint32) bool {
		return id == auth.NoID || priv || auth.KUID(id) == c.RealKUID ||
			auth.KUID(id) == c.EffectiveKUID || auth.KUID(id) == c.SavedKUID
	}
	if !ok(r) || !ok(e) || !ok(s) {
		return unix.EPERM
	}
	n := c.Fork()
	if r != auth.NoID {
		n.RealKUID = auth.KUID(r)
	}
	if e != auth.NoID {
		n.EffectiveKUID = auth.KUID(e)
	}
	if s != auth.NoID {
		n.SavedKUID = auth.KUID(s)
	}
	n.FilesystemKUID = n.EffectiveKUID
	wasRoot := c.RealKUID == 0 || c.EffectiveKUID == 0 || c.SavedKUID == 0
	if wasRoot && n.RealKUID != 0 && n.EffectiveKUID != 0 && n.SavedKUID != 0 {
		n.PermittedCaps, n.EffectiveCaps, n.AmbientCaps = 0, 0, 0
	} else if c.EffectiveKUID == 0 && n.EffectiveKUID != 0 {
		n.EffectiveCaps = 0
	} else if c.EffectiveKUID != 0 && n.EffectiveKUID == 0 {
		n.EffectiveCaps = n.PermittedCaps
	}
	t.SetCredentials(n)
	return nil
}

func setGIDs(t *kernel.Task, r, e, s uint32) error {
	c := t.Credentials()
	priv := c.HasCapability(auth.CAP_SETGID)
	ok := func(id uint32) bool {
		return id == auth.NoID || priv || auth.KGID(id) == c.RealKGID ||
			auth.KGID(id) == c.EffectiveKGID || auth.KGID(id) == c.SavedKGID
	}
	if !ok(r) || !ok(e) || !ok(s) {
		return unix.EPERM
	}
	n := c.Fork()
	if r != auth.NoID {
		n.RealKGID = auth.KGID(r)
	}
	if e != auth.NoID {
		n.EffectiveKGID = auth.KGID(e)
	}
	if s != auth.NoID {
		n.SavedKGID = auth.KGID(s)
	}
	n.FilesystemKGID = n.EffectiveKGID
	t.SetCredentials(n)
	return nil
}

func setuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id := a[0].Uint()
	if id == auth.NoID {
		return 0, unix.EINVAL
	}
	if t.Credentials().HasCapability(auth.CAP_SETUID) {
		return 0, setUIDs(t, id, id, id)
	}
	return 0, setUIDs(t, auth.NoID, id, auth.NoID)
}

func setgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	id := a[0].Uint()
	if id == auth.NoID {
		return 0, unix.EINVAL
	}
	if t.Credentials().HasCapability(auth.CAP_SETGID) {
		return 0, setGIDs(t, id, id, id)
	}
	return 0, setGIDs(t, auth.NoID, id, auth.NoID)
}

func setresuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setUIDs(t, a[0].Uint(), a[1].Uint(), a[2].Uint())
}

func setresgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return 0, setGIDs(t, a[0].Uint(), a[1].Uint(), a[2].Uint())
}

func setreuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	r, e := a[0].Uint(), a[1].Uint()
	s := uint32(auth.NoID)
	c := t.Credentials()
	if r != auth.NoID || (e != auth.NoID && auth.KUID(e) != c.RealKUID) {
		s = e
		if s == auth.NoID {
			s = uint32(c.EffectiveKUID)
		}
	}
	return 0, setUIDs(t, r, e, s)
}

func setregid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	r, e := a[0].Uint(), a[1].Uint()
	s := uint32(auth.NoID)
	c := t.Credentials()
	if r != auth.NoID || (e != auth.NoID && auth.KGID(e) != c.RealKGID) {
		s = e
		if s == auth.NoID {
			s = uint32(c.EffectiveKGID)
		}
	}
	return 0, setGIDs(t, r, e, s)
}

// capget supports _LINUX_CAPABILITY_VERSION_3 (and answers version probes).
func capget(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	var hdr [8]byte
	if _, err := t.CopyIn(a[0].Pointer(), hdr[:]); err != nil {
		return 0, err
	}
	const v3 = 0x20080522
	if binary.LittleEndian.Uint32(hdr[:]) != v3 {
		binary.LittleEndian.PutUint32(hdr[:], v3)
		if _, err := t.CopyOut(a[0].Pointer(), hdr[:4]); err != nil {
			return 0, err
		}
		if a[1].Pointer() == 0 {
			return 0, nil
		}
		return 0, unix.EINVAL
	}
	if a[1].Pointer() == 0 {
		return 0, nil
	}
	c := t.Credentials()
	var b [24]byte
	for i := 0; i < 2; i++ {
		sh := uint(32 * i)
		binary.LittleEndian.PutUint32(b[12*i:], uint32(c.EffectiveCaps>>sh))
		binary.LittleEndian.PutUint32(b[12*i+4:], uint32(c.PermittedCaps>>sh))
		binary.LittleEndian.PutUint32(b[12*i+8:], uint32(c.InheritableCaps>>sh))
	}
	_, err := t.CopyOut(a[1].Pointer(), b[:])
	return 0, err
}
