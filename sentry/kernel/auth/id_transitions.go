package auth

import "golang.org/x/sys/unix"

// Linux: kernel/sys.c (__sys_setuid, __sys_setreuid, __sys_setresuid,
// __sys_setfsuid and the gid twins) and security/commoncap.c
// (cap_task_fix_setuid). Every new id is checked against the old
// credentials; CAP_SETUID (CAP_SETGID) lifts the checks.

// SetUID implements setuid(2): with CAP_SETUID it sets the real, effective
// and saved uid; without it, only the effective uid, and only to the real
// or saved uid. -1 is EINVAL.
func (c *Credentials) SetUID(id uint32) (*Credentials, error) {
	if id == NoID {
		return nil, unix.EINVAL
	}
	u := KUID(id)
	n := c.Fork()
	if c.HasCapability(CAP_SETUID) {
		n.RealKUID, n.SavedKUID = u, u
	} else if u != c.RealKUID && u != c.SavedKUID {
		return nil, unix.EPERM
	}
	n.EffectiveKUID, n.FilesystemKUID = u, u
	n.fixSetuid(c)
	return n, nil
}

// SetREUID implements setreuid(2): the real uid may become the real or
// effective uid, the effective uid any of real, effective or saved;
// setting the real uid, or an effective uid other than the old real uid,
// also sets the saved uid to the new effective uid.
func (c *Credentials) SetREUID(r, e uint32) (*Credentials, error) {
	priv := c.HasCapability(CAP_SETUID)
	n := c.Fork()
	if r != NoID {
		u := KUID(r)
		if !priv && u != c.RealKUID && u != c.EffectiveKUID {
			return nil, unix.EPERM
		}
		n.RealKUID = u
	}
	if e != NoID {
		u := KUID(e)
		if !priv && u != c.RealKUID && u != c.EffectiveKUID && u != c.SavedKUID {
			return nil, unix.EPERM
		}
		n.EffectiveKUID = u
	}
	if r != NoID || (e != NoID && KUID(e) != c.RealKUID) {
		n.SavedKUID = n.EffectiveKUID
	}
	n.FilesystemKUID = n.EffectiveKUID
	n.fixSetuid(c)
	return n, nil
}

// SetRESUID implements setresuid(2): without CAP_SETUID each new id (other
// than -1, "unchanged") must be one of the old real, effective or saved
// uids. The filesystem uid follows the effective uid.
func (c *Credentials) SetRESUID(r, e, s uint32) (*Credentials, error) {
	if !c.HasCapability(CAP_SETUID) {
		for _, id := range [3]uint32{r, e, s} {
			u := KUID(id)
			if id != NoID && u != c.RealKUID && u != c.EffectiveKUID && u != c.SavedKUID {
				return nil, unix.EPERM
			}
		}
	}
	n := c.Fork()
	if r != NoID {
		n.RealKUID = KUID(r)
	}
	if e != NoID {
		n.EffectiveKUID = KUID(e)
	}
	if s != NoID {
		n.SavedKUID = KUID(s)
	}
	n.FilesystemKUID = n.EffectiveKUID
	n.fixSetuid(c)
	return n, nil
}

// SetFSUID implements setfsuid(2), which never fails: it returns the old
// filesystem uid and the new credentials (c itself when nothing changes:
// -1, or a uid that is none of real, effective, saved or filesystem uid
// without CAP_SETUID).
func (c *Credentials) SetFSUID(id uint32) (*Credentials, KUID) {
	old := c.FilesystemKUID
	u := KUID(id)
	if id == NoID || u == old {
		return c, old
	}
	if u != c.RealKUID && u != c.EffectiveKUID && u != c.SavedKUID && !c.HasCapability(CAP_SETUID) {
		return c, old
	}
	n := c.Fork()
	n.FilesystemKUID = u
	if !c.secure(SecbitNoSetuidFixup) {
		if old == RootUID && u != RootUID {
			n.EffectiveCaps &^= FSCapabilities
		} else if old != RootUID && u == RootUID {
			n.EffectiveCaps |= n.PermittedCaps & FSCapabilities
		}
	}
	return n, old
}

// fixSetuid applies the capability effects of a uid change from old to c
// (Linux's cap_emulate_setxuid), unless SECBIT_NO_SETUID_FIXUP is set:
//   - when no uid is 0 any more after some was, the ambient set is
//     cleared, and the permitted and effective sets too unless
//     SECBIT_KEEP_CAPS is set;
//   - when the effective uid leaves 0, the effective set is cleared;
//   - when it becomes 0, the effective set becomes the permitted set.
func (c *Credentials) fixSetuid(old *Credentials) {
	if old.secure(SecbitNoSetuidFixup) {
		return
	}
	wasRoot := old.RealKUID == RootUID || old.EffectiveKUID == RootUID || old.SavedKUID == RootUID
	isRoot := c.RealKUID == RootUID || c.EffectiveKUID == RootUID || c.SavedKUID == RootUID
	if wasRoot && !isRoot {
		if !old.secure(SecbitKeepCaps) {
			c.PermittedCaps, c.EffectiveCaps = 0, 0
		}
		c.AmbientCaps = 0
	}
	if old.EffectiveKUID == RootUID && c.EffectiveKUID != RootUID {
		c.EffectiveCaps = 0
	}
	if old.EffectiveKUID != RootUID && c.EffectiveKUID == RootUID {
		c.EffectiveCaps = c.PermittedCaps
	}
}

// SetGID implements setgid(2) with setuid(2)'s rules and CAP_SETGID.
func (c *Credentials) SetGID(id uint32) (*Credentials, error) {
	if id == NoID {
		return nil, unix.EINVAL
	}
	g := KGID(id)
	n := c.Fork()
	if c.HasCapability(CAP_SETGID) {
		n.RealKGID, n.SavedKGID = g, g
	} else if g != c.RealKGID && g != c.SavedKGID {
		return nil, unix.EPERM
	}
	n.EffectiveKGID, n.FilesystemKGID = g, g
	return n, nil
}

// SetREGID implements setregid(2) with setreuid(2)'s rules.
func (c *Credentials) SetREGID(r, e uint32) (*Credentials, error) {
	priv := c.HasCapability(CAP_SETGID)
	n := c.Fork()
	if r != NoID {
		g := KGID(r)
		if !priv && g != c.RealKGID && g != c.EffectiveKGID {
			return nil, unix.EPERM
		}
		n.RealKGID = g
	}
	if e != NoID {
		g := KGID(e)
		if !priv && g != c.RealKGID && g != c.EffectiveKGID && g != c.SavedKGID {
			return nil, unix.EPERM
		}
		n.EffectiveKGID = g
	}
	if r != NoID || (e != NoID && KGID(e) != c.RealKGID) {
		n.SavedKGID = n.EffectiveKGID
	}
	n.FilesystemKGID = n.EffectiveKGID
	return n, nil
}

// SetRESGID implements setresgid(2) with setresuid(2)'s rules.
func (c *Credentials) SetRESGID(r, e, s uint32) (*Credentials, error) {
	if !c.HasCapability(CAP_SETGID) {
		for _, id := range [3]uint32{r, e, s} {
			g := KGID(id)
			if id != NoID && g != c.RealKGID && g != c.EffectiveKGID && g != c.SavedKGID {
				return nil, unix.EPERM
			}
		}
	}
	n := c.Fork()
	if r != NoID {
		n.RealKGID = KGID(r)
	}
	if e != NoID {
		n.EffectiveKGID = KGID(e)
	}
	if s != NoID {
		n.SavedKGID = KGID(s)
	}
	n.FilesystemKGID = n.EffectiveKGID
	return n, nil
}

// SetFSGID implements setfsgid(2) with setfsuid(2)'s rules (no capability
// effects).
func (c *Credentials) SetFSGID(id uint32) (*Credentials, KGID) {
	old := c.FilesystemKGID
	g := KGID(id)
	if id == NoID || g == old {
		return c, old
	}
	if g != c.RealKGID && g != c.EffectiveKGID && g != c.SavedKGID && !c.HasCapability(CAP_SETGID) {
		return c, old
	}
	n := c.Fork()
	n.FilesystemKGID = g
	return n, old
}

// NGroupsMax is NGROUPS_MAX, the most supplementary groups a task has.
const NGroupsMax = 65536

// SetGroups implements setgroups(2) once the caller has checked the size
// (EINVAL above NGroupsMax): it needs CAP_SETGID, and keeps the list
// sorted as Linux does (getgroups returns it in that order).
func (c *Credentials) SetGroups(groups []KGID) (*Credentials, error) {
	if len(groups) > NGroupsMax {
		return nil, unix.EINVAL
	}
	if !c.HasCapability(CAP_SETGID) {
		return nil, unix.EPERM
	}
	n := c.Fork()
	n.ExtraKGIDs = sortedGroups(groups)
	return n, nil
}
