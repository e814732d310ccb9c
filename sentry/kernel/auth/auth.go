// Package auth holds task credentials: user and group ids, supplementary
// groups, capabilities and securebits, and the pure rules by which they
// change (setuid and friends, capset, the bounding and ambient sets,
// securebits, execve). Nothing here touches a task: each transition takes
// the current credentials and returns new ones or a Linux errno, so the
// rules can be tested on their own; the kernel package publishes the
// result.
//
// A Credentials value is immutable once published; changing credentials
// makes a copy (see Fork), so readers need no lock.
//
// The sandbox has one user namespace, so "capable in the namespace" is
// "the capability is in the effective set" and uid 0 is its root.
package auth

import "sort"

// KUID and KGID are user and group ids as the sandbox sees them.
type (
	KUID uint32
	KGID uint32
)

// NoID is the "unchanged"/"invalid" id (-1).
const NoID = ^uint32(0)

// RootUID is the user namespace's root, whose uid transitions move
// capabilities (capabilities(7), "Effect of user ID changes on
// capabilities").
const RootUID KUID = 0

// CapabilitySet is a bit set of Linux capabilities.
type CapabilitySet uint64

// Has reports whether cap (a CAP_* number) is in s. Numbers outside
// 0..CapLastCap are never in a set.
func (s CapabilitySet) Has(cap int) bool {
	return cap >= 0 && cap <= CapLastCap && s&(1<<uint(cap)) != 0
}

// CapabilitySetOf returns the set holding the given capabilities.
func CapabilitySetOf(caps ...int) CapabilitySet {
	var s CapabilitySet
	for _, c := range caps {
		s |= 1 << uint(c)
	}
	return s
}

// CapLastCap is the highest capability number (CAP_CHECKPOINT_RESTORE),
// what /proc/sys/kernel/cap_last_cap reports.
const CapLastCap = 40

// ValidCap reports whether c names a capability (Linux's cap_valid).
func ValidCap(c uint64) bool { return c <= CapLastCap }

// AllCapabilities is the full set up to CAP_CHECKPOINT_RESTORE (40).
const AllCapabilities CapabilitySet = 1<<(CapLastCap+1) - 1

// Capability numbers (linux/capability.h).
const (
	CAP_CHOWN              = 0
	CAP_DAC_OVERRIDE       = 1
	CAP_DAC_READ_SEARCH    = 2
	CAP_FOWNER             = 3
	CAP_FSETID             = 4
	CAP_KILL               = 5
	CAP_SETGID             = 6
	CAP_SETUID             = 7
	CAP_SETPCAP            = 8
	CAP_LINUX_IMMUTABLE    = 9
	CAP_NET_BIND_SERVICE   = 10
	CAP_NET_ADMIN          = 12
	CAP_NET_RAW            = 13
	CAP_IPC_LOCK           = 14
	CAP_SYS_CHROOT         = 18
	CAP_SYS_PTRACE         = 19
	CAP_SYS_ADMIN          = 21
	CAP_SYS_NICE           = 23
	CAP_SYS_RESOURCE       = 24
	CAP_MKNOD              = 27
	CAP_LEASE              = 28
	CAP_AUDIT_CONTROL      = 30
	CAP_SETFCAP            = 31
	CAP_MAC_OVERRIDE       = 32
	CAP_CHECKPOINT_RESTORE = 40
)

// FSCapabilities are the capabilities that follow the filesystem uid:
// dropped from the effective set when fsuid leaves 0 and restored (from
// the permitted set) when it returns (Linux's CAP_FS_MASK).
var FSCapabilities = CapabilitySetOf(CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
	CAP_FOWNER, CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MKNOD, CAP_MAC_OVERRIDE)

// Securebits (linux/securebits.h): each behaviour bit has a lock bit just
// above it that freezes it.
const (
	SecbitNoroot                  = 1 << 0
	SecbitNorootLocked            = 1 << 1
	SecbitNoSetuidFixup           = 1 << 2
	SecbitNoSetuidFixupLocked     = 1 << 3
	SecbitKeepCaps                = 1 << 4
	SecbitKeepCapsLocked          = 1 << 5
	SecbitNoCapAmbientRaise       = 1 << 6
	SecbitNoCapAmbientRaiseLocked = 1 << 7

	// SecureAllBits and SecureAllLocks are the bits PR_SET_SECUREBITS
	// accepts.
	SecureAllBits  = SecbitNoroot | SecbitNoSetuidFixup | SecbitKeepCaps | SecbitNoCapAmbientRaise
	SecureAllLocks = SecureAllBits << 1
)

// Credentials are one task's ids and capabilities.
type Credentials struct {
	RealKUID, EffectiveKUID, SavedKUID, FilesystemKUID KUID
	RealKGID, EffectiveKGID, SavedKGID, FilesystemKGID KGID
	// ExtraKGIDs are the supplementary groups, sorted as Linux keeps them.
	ExtraKGIDs []KGID

	PermittedCaps, InheritableCaps, EffectiveCaps, BoundingCaps, AmbientCaps CapabilitySet

	// SecureBits are prctl(PR_SET_SECUREBITS)'s bits (Secbit*).
	SecureBits uint32
}

// NewRootCredentials returns credentials of uid 0 with all capabilities.
func NewRootCredentials() *Credentials {
	return &Credentials{
		PermittedCaps: AllCapabilities, EffectiveCaps: AllCapabilities, BoundingCaps: AllCapabilities,
	}
}

// NewUserCredentials returns credentials for uid/gid with no capabilities
// unless uid is 0.
func NewUserCredentials(uid KUID, gid KGID, extra []KGID) *Credentials {
	c := &Credentials{
		RealKUID: uid, EffectiveKUID: uid, SavedKUID: uid, FilesystemKUID: uid,
		RealKGID: gid, EffectiveKGID: gid, SavedKGID: gid, FilesystemKGID: gid,
		ExtraKGIDs: sortedGroups(extra), BoundingCaps: AllCapabilities,
	}
	if uid == RootUID {
		c.PermittedCaps, c.EffectiveCaps = AllCapabilities, AllCapabilities
	}
	return c
}

func sortedGroups(g []KGID) []KGID {
	s := append([]KGID(nil), g...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// Fork returns a deep copy of c that the caller may modify before
// publishing.
func (c *Credentials) Fork() *Credentials {
	n := *c
	n.ExtraKGIDs = append([]KGID(nil), c.ExtraKGIDs...)
	return &n
}

// HasCapability reports whether cap is effective.
func (c *Credentials) HasCapability(cap int) bool { return c.EffectiveCaps.Has(cap) }

// InGroup reports whether g is the filesystem gid or a supplementary group.
func (c *Credentials) InGroup(g KGID) bool {
	if c.FilesystemKGID == g {
		return true
	}
	for _, x := range c.ExtraKGIDs {
		if x == g {
			return true
		}
	}
	return false
}

// secure reports whether securebit b is set.
func (c *Credentials) secure(b uint32) bool { return c.SecureBits&b != 0 }

// ChangesPrivilege reports whether moving from old to n is a change that
// Linux's commit_creds treats as a privilege change: the effective or
// filesystem uid or gid differs, or the permitted set gains a capability.
// Such a change makes the process undumpable and clears its parent-death
// signal.
func ChangesPrivilege(old, n *Credentials) bool {
	return old.EffectiveKUID != n.EffectiveKUID || old.EffectiveKGID != n.EffectiveKGID ||
		old.FilesystemKUID != n.FilesystemKUID || old.FilesystemKGID != n.FilesystemKGID ||
		n.PermittedCaps&^old.PermittedCaps != 0
}
