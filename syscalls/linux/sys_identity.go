package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/arch"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// User and group ids, supplementary groups and capabilities. The rules are
// in package auth; the handlers here copy arguments in and out and commit
// the result (Task.CommitCredentials).

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
	t.Register(unix.SYS_SETFSUID, setfsuid)
	t.Register(unix.SYS_SETFSGID, setfsgid)
	t.Register(unix.SYS_CAPGET, capget)
	t.Register(unix.SYS_CAPSET, capset)
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
	size := a[0].Uint() // Linux compares it unsigned: negative is EINVAL
	if size > auth.NGroupsMax {
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
	groups := make([]auth.KGID, size)
	for i := range groups {
		groups[i] = auth.KGID(binary.LittleEndian.Uint32(b[4*i:]))
	}
	n, err := c.SetGroups(groups)
	if err != nil {
		return 0, err
	}
	t.CommitCredentials(n)
	return 0, nil
}

// commit returns a function that publishes the result of a credential
// transition: commit(t)(creds.SetUID(id)).
func commit(t *kernel.Task) func(*auth.Credentials, error) (uintptr, error) {
	return func(n *auth.Credentials, err error) (uintptr, error) {
		if err != nil {
			return 0, err
		}
		t.CommitCredentials(n)
		return 0, nil
	}
}

func setuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return commit(t)(t.Credentials().SetUID(a[0].Uint()))
}

func setgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return commit(t)(t.Credentials().SetGID(a[0].Uint()))
}

func setreuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return commit(t)(t.Credentials().SetREUID(a[0].Uint(), a[1].Uint()))
}

func setregid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return commit(t)(t.Credentials().SetREGID(a[0].Uint(), a[1].Uint()))
}

func setresuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return commit(t)(t.Credentials().SetRESUID(a[0].Uint(), a[1].Uint(), a[2].Uint()))
}

func setresgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	return commit(t)(t.Credentials().SetRESGID(a[0].Uint(), a[1].Uint(), a[2].Uint()))
}

func setfsuid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	n, old := t.Credentials().SetFSUID(a[0].Uint())
	t.CommitCredentials(n)
	return uintptr(old), nil
}

func setfsgid(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	n, old := t.Credentials().SetFSGID(a[0].Uint())
	t.CommitCredentials(n)
	return uintptr(old), nil
}

// Capability header versions (linux/capability.h). Version 1 carries one
// 32-bit word per set, versions 2 and 3 two.
const (
	capVersion1 = 0x19980330
	capVersion2 = 0x20071026
	capVersion3 = 0x20080522
)

// capWords validates the version in the capget/capset header at hdr and
// returns how many 32-bit words per set it carries. An unknown version is
// EINVAL, after writing the preferred version (3) back into the header.
func capWords(t *kernel.Task, hdr uint64) (int, error) {
	var b [4]byte
	if _, err := t.CopyIn(hdr, b[:]); err != nil {
		return 0, err
	}
	switch binary.LittleEndian.Uint32(b[:]) {
	case capVersion1:
		return 1, nil
	case capVersion2, capVersion3:
		return 2, nil
	}
	binary.LittleEndian.PutUint32(b[:], capVersion3)
	if _, err := t.CopyOut(hdr, b[:]); err != nil {
		return 0, err
	}
	return 0, unix.EINVAL
}

// capHeaderPID reads the pid field of a capget/capset header.
func capHeaderPID(t *kernel.Task, hdr uint64) (int32, error) {
	var b [4]byte
	if _, err := t.CopyIn(hdr+4, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

// capget reads a task's effective, permitted and inheritable sets. With a
// NULL data pointer it only probes the version: an unknown one is then
// not an error (the preferred version is written back).
func capget(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	hdr, data := a[0].Pointer(), a[1].Pointer()
	words, err := capWords(t, hdr)
	if data == 0 || err != nil {
		if data == 0 && err == unix.EINVAL {
			return 0, nil
		}
		return 0, err
	}
	pid, err := capHeaderPID(t, hdr)
	if err != nil {
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	target := t.TaskByTID(kernel.ThreadID(pid))
	if target == nil {
		return 0, unix.ESRCH
	}
	c := target.Credentials()
	var b [24]byte
	for i := 0; i < words; i++ {
		sh := uint(32 * i)
		binary.LittleEndian.PutUint32(b[12*i:], uint32(c.EffectiveCaps>>sh))
		binary.LittleEndian.PutUint32(b[12*i+4:], uint32(c.PermittedCaps>>sh))
		binary.LittleEndian.PutUint32(b[12*i+8:], uint32(c.InheritableCaps>>sh))
	}
	_, err = t.CopyOut(data, b[:12*words])
	return 0, err
}

// capset replaces the caller's own sets (a pid other than 0 or the
// caller's tid is EPERM); version 1 clears capabilities 32 and up.
func capset(t *kernel.Task, a arch.SyscallArguments) (uintptr, error) {
	hdr, data := a[0].Pointer(), a[1].Pointer()
	words, err := capWords(t, hdr)
	if err != nil {
		return 0, err
	}
	pid, err := capHeaderPID(t, hdr)
	if err != nil {
		return 0, err
	}
	if pid != 0 && kernel.ThreadID(pid) != t.Gettid() {
		return 0, unix.EPERM
	}
	var b [24]byte
	if _, err := t.CopyIn(data, b[:12*words]); err != nil {
		return 0, err
	}
	var eff, perm, inh auth.CapabilitySet
	for i := 0; i < words; i++ {
		sh := uint(32 * i)
		eff |= auth.CapabilitySet(binary.LittleEndian.Uint32(b[12*i:])) << sh
		perm |= auth.CapabilitySet(binary.LittleEndian.Uint32(b[12*i+4:])) << sh
		inh |= auth.CapabilitySet(binary.LittleEndian.Uint32(b[12*i+8:])) << sh
	}
	return commit(t)(t.Credentials().SetCapabilities(eff, perm, inh))
}
