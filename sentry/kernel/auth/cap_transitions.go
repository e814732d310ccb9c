package auth

import "golang.org/x/sys/unix"

// Linux: kernel/capability.c (capset) and security/commoncap.c
// (cap_capset, cap_task_prctl, cap_bprm_creds_from_file).

// SetCapabilities implements capset(2) for the calling task once the
// header is validated: the new permitted set may only shrink, the
// effective set must lie within the new permitted set, and the
// inheritable set may only gain capabilities that are in the bounding set
// and (without CAP_SETPCAP) in the old permitted set. The ambient set
// shrinks to what stays both permitted and inheritable.
func (c *Credentials) SetCapabilities(eff, perm, inh CapabilitySet) (*Credentials, error) {
	eff, perm, inh = eff&AllCapabilities, perm&AllCapabilities, inh&AllCapabilities
	if !c.HasCapability(CAP_SETPCAP) && inh&^(c.InheritableCaps|c.PermittedCaps) != 0 {
		return nil, unix.EPERM
	}
	if inh&^(c.InheritableCaps|c.BoundingCaps) != 0 {
		return nil, unix.EPERM
	}
	if perm&^c.PermittedCaps != 0 {
		return nil, unix.EPERM
	}
	if eff&^perm != 0 {
		return nil, unix.EPERM
	}
	n := c.Fork()
	n.EffectiveCaps, n.PermittedCaps, n.InheritableCaps = eff, perm, inh
	n.AmbientCaps &= perm & inh
	return n, nil
}

// DropBoundingCap implements prctl(PR_CAPBSET_DROP): it needs CAP_SETPCAP
// (EPERM, checked first) and a valid capability (EINVAL).
func (c *Credentials) DropBoundingCap(cap uint64) (*Credentials, error) {
	if !c.HasCapability(CAP_SETPCAP) {
		return nil, unix.EPERM
	}
	if !ValidCap(cap) {
		return nil, unix.EINVAL
	}
	n := c.Fork()
	n.BoundingCaps &^= 1 << cap
	return n, nil
}

// prctl(PR_CAP_AMBIENT) operations.
const (
	AmbientIsSet    = 1
	AmbientRaise    = 2
	AmbientLower    = 3
	AmbientClearAll = 4
)

// Ambient implements prctl(PR_CAP_AMBIENT, op, cap, a4, a5). For
// AmbientIsSet it returns 1 or 0 and c; otherwise 0 and the new
// credentials. Raising needs the capability in both the permitted and
// the inheritable set and SECBIT_NO_CAP_AMBIENT_RAISE clear (EPERM).
func (c *Credentials) Ambient(op, cap, a4, a5 uint64) (uintptr, *Credentials, error) {
	if op == AmbientClearAll {
		if cap|a4|a5 != 0 {
			return 0, nil, unix.EINVAL
		}
		n := c.Fork()
		n.AmbientCaps = 0
		return 0, n, nil
	}
	if !ValidCap(cap) || a4 != 0 || a5 != 0 {
		return 0, nil, unix.EINVAL
	}
	bit := CapabilitySet(1) << cap
	switch op {
	case AmbientIsSet:
		if c.AmbientCaps&bit != 0 {
			return 1, c, nil
		}
		return 0, c, nil
	case AmbientRaise:
		if c.PermittedCaps&bit == 0 || c.InheritableCaps&bit == 0 || c.secure(SecbitNoCapAmbientRaise) {
			return 0, nil, unix.EPERM
		}
		n := c.Fork()
		n.AmbientCaps |= bit
		return 0, n, nil
	case AmbientLower:
		n := c.Fork()
		n.AmbientCaps &^= bit
		return 0, n, nil
	}
	return 0, nil, unix.EINVAL
}

// SetSecureBits implements prctl(PR_SET_SECUREBITS): it needs CAP_SETPCAP,
// may not change a locked bit, unlock a lock or set an unknown bit
// (EPERM for all of these, as Linux).
func (c *Credentials) SetSecureBits(bits uint64) (*Credentials, error) {
	old := uint64(c.SecureBits)
	if ((old&SecureAllLocks)>>1)&(old^bits) != 0 ||
		old&SecureAllLocks&^bits != 0 ||
		bits&^(SecureAllLocks|SecureAllBits) != 0 ||
		!c.HasCapability(CAP_SETPCAP) {
		return nil, unix.EPERM
	}
	n := c.Fork()
	n.SecureBits = uint32(bits)
	return n, nil
}

// KeepCaps reports prctl(PR_GET_KEEPCAPS).
func (c *Credentials) KeepCaps() bool { return c.secure(SecbitKeepCaps) }

// SetKeepCaps implements prctl(PR_SET_KEEPCAPS): EINVAL above 1, EPERM
// when SECBIT_KEEP_CAPS is locked.
func (c *Credentials) SetKeepCaps(v uint64) (*Credentials, error) {
	if v > 1 {
		return nil, unix.EINVAL
	}
	if c.secure(SecbitKeepCapsLocked) {
		return nil, unix.EPERM
	}
	n := c.Fork()
	if v == 1 {
		n.SecureBits |= SecbitKeepCaps
	} else {
		n.SecureBits &^= SecbitKeepCaps
	}
	return n, nil
}

// ForExec returns the credentials after execve of a file without file
// capabilities and without honoured set-user-ID or set-group-ID bits
// (capabilities(7), "Transformation of capabilities during execve()"):
//
//	P'(permitted) = P(ambient), plus, unless SECBIT_NOROOT, P(bounding) |
//	                P(inheritable) when the real or effective uid is 0
//	P'(effective) = P'(permitted) if the effective uid is 0 (and not
//	                SECBIT_NOROOT), else P(ambient)
//
// With no_new_privs the permitted set cannot grow (and the effective uid
// falls back to the real uid if it would have). The saved and filesystem
// ids become the effective ones; SECBIT_KEEP_CAPS is cleared; the bounding,
// inheritable and ambient sets are kept.
func (c *Credentials) ForExec(noNewPrivs bool) *Credentials {
	n := c.Fork()
	n.PermittedCaps = 0
	effective := false
	if !c.secure(SecbitNoroot) {
		if n.EffectiveKUID == RootUID || n.RealKUID == RootUID {
			n.PermittedCaps = c.BoundingCaps | c.InheritableCaps
		}
		effective = n.EffectiveKUID == RootUID
	}
	if noNewPrivs && n.PermittedCaps&^c.PermittedCaps != 0 {
		n.EffectiveKUID, n.EffectiveKGID = n.RealKUID, n.RealKGID
		n.PermittedCaps &= c.PermittedCaps
	}
	n.SavedKUID, n.FilesystemKUID = n.EffectiveKUID, n.EffectiveKUID
	n.SavedKGID, n.FilesystemKGID = n.EffectiveKGID, n.EffectiveKGID
	n.PermittedCaps |= n.AmbientCaps
	if effective {
		n.EffectiveCaps = n.PermittedCaps
	} else {
		n.EffectiveCaps = n.AmbientCaps
	}
	n.SecureBits &^= SecbitKeepCaps
	return n
}
