// Package auth holds task credentials: user and group ids and capabilities.
//
// A Credentials value is immutable once published; changing credentials
// makes a copy (see Fork), so readers need no lock.
package auth

// KUID and KGID are user and group ids as the sandbox sees them.
type (
	KUID uint32
	KGID uint32
)

// NoID is the "unchanged"/"invalid" id (-1).
const NoID = ^uint32(0)

// CapabilitySet is a bit set of Linux capabilities.
type CapabilitySet uint64

// Has reports whether cap (a CAP_* number) is in s.
func (s CapabilitySet) Has(cap int) bool { return s&(1<<uint(cap)) != 0 }

// AllCapabilities is the full set up to CAP_CHECKPOINT_RESTORE (40).
const AllCapabilities CapabilitySet = 1<<41 - 1

// Capability numbers used by the sentry.
const (
	CAP_CHOWN           = 0
	CAP_DAC_OVERRIDE    = 1
	CAP_DAC_READ_SEARCH = 2
	CAP_FOWNER          = 3
	CAP_FSETID          = 4
	CAP_KILL            = 5
	CAP_SETGID          = 6
	CAP_SETUID          = 7
	CAP_SYS_ADMIN       = 21
	CAP_SYS_RESOURCE    = 24
)

// Credentials are one task's ids and capabilities.
type Credentials struct {
	RealKUID, EffectiveKUID, SavedKUID, FilesystemKUID KUID
	RealKGID, EffectiveKGID, SavedKGID, FilesystemKGID KGID
	ExtraKGIDs                                         []KGID

	PermittedCaps, InheritableCaps, EffectiveCaps, BoundingCaps, AmbientCaps CapabilitySet
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
		ExtraKGIDs: append([]KGID(nil), extra...), BoundingCaps: AllCapabilities,
	}
	if uid == 0 {
		c.PermittedCaps, c.EffectiveCaps = AllCapabilities, AllCapabilities
	}
	return c
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
