package auth

import (
	"testing"

	"golang.org/x/sys/unix"
)

func noID() uint32 { return NoID }

func uids(c *Credentials) [4]KUID {
	return [4]KUID{c.RealKUID, c.EffectiveKUID, c.SavedKUID, c.FilesystemKUID}
}

func TestSetRESUIDUnprivileged(t *testing.T) {
	c := NewUserCredentials(1000, 1000, nil)
	c.EffectiveKUID, c.SavedKUID, c.FilesystemKUID = 1001, 1002, 1001
	for _, tc := range []struct {
		r, e, s uint32
		want    [4]KUID
		err     error
	}{
		{1002, 1000, 1001, [4]KUID{1002, 1000, 1001, 1000}, nil},
		{noID(), noID(), noID(), [4]KUID{1000, 1001, 1002, 1001}, nil},
		{1003, noID(), noID(), [4]KUID{}, unix.EPERM},
		{noID(), 0, noID(), [4]KUID{}, unix.EPERM},
	} {
		n, err := c.SetRESUID(tc.r, tc.e, tc.s)
		if err != tc.err {
			t.Errorf("SetRESUID(%d, %d, %d) = %v, want %v", tc.r, tc.e, tc.s, err, tc.err)
			continue
		}
		if err == nil && uids(n) != tc.want {
			t.Errorf("SetRESUID(%d, %d, %d) ids = %v, want %v", tc.r, tc.e, tc.s, uids(n), tc.want)
		}
	}
	if uids(c) != [4]KUID{1000, 1001, 1002, 1001} {
		t.Errorf("the old credentials changed: %v", uids(c))
	}
}

func TestSetUID(t *testing.T) {
	root := NewRootCredentials()
	n, err := root.SetUID(5)
	if err != nil || uids(n) != [4]KUID{5, 5, 5, 5} {
		t.Fatalf("root SetUID(5) = %v, %v", uids(n), err)
	}
	if n.PermittedCaps != 0 || n.EffectiveCaps != 0 {
		t.Errorf("root SetUID(5) kept capabilities: %#x %#x", n.PermittedCaps, n.EffectiveCaps)
	}
	if _, err := n.SetUID(0); err != unix.EPERM {
		t.Errorf("SetUID(0) after dropping = %v, want EPERM", err)
	}
	if _, err := root.SetUID(NoID); err != unix.EINVAL {
		t.Errorf("SetUID(-1) = %v, want EINVAL", err)
	}
	u := NewUserCredentials(1, 1, nil)
	u.SavedKUID = 2
	n, err = u.SetUID(2)
	if err != nil || uids(n) != [4]KUID{1, 2, 2, 2} {
		t.Errorf("unprivileged SetUID(saved) = %v, %v", uids(n), err)
	}
}

func TestSetREUID(t *testing.T) {
	c := NewUserCredentials(10, 10, nil)
	c.EffectiveKUID, c.SavedKUID = 20, 30
	if _, err := c.SetREUID(30, NoID); err != unix.EPERM {
		t.Errorf("real := saved = %v, want EPERM", err)
	}
	n, err := c.SetREUID(NoID, 10)
	if err != nil || uids(n) != [4]KUID{10, 10, 30, 10} {
		t.Errorf("euid := real = %v, %v; want saved kept", uids(n), err)
	}
	n, err = c.SetREUID(NoID, 30)
	if err != nil || uids(n) != [4]KUID{10, 30, 30, 30} {
		t.Errorf("euid := saved = %v, %v; want saved = euid", uids(n), err)
	}
	n, err = c.SetREUID(20, 10)
	if err != nil || uids(n) != [4]KUID{20, 10, 10, 10} {
		t.Errorf("swap = %v, %v", uids(n), err)
	}
}

func TestCapabilitiesFollowUIDs(t *testing.T) {
	root := NewRootCredentials()
	// Effective uid leaves 0 but saved stays: only effective is cleared.
	n, _ := root.SetRESUID(NoID, 1000, NoID)
	if n.EffectiveCaps != 0 || n.PermittedCaps != AllCapabilities {
		t.Fatalf("seteuid(1000): E=%#x P=%#x", n.EffectiveCaps, n.PermittedCaps)
	}
	n, _ = n.SetRESUID(NoID, 0, NoID)
	if n.EffectiveCaps != AllCapabilities {
		t.Errorf("seteuid(0): E=%#x, want permitted", n.EffectiveCaps)
	}
	// KEEP_CAPS keeps permitted but clears ambient and effective.
	k, _ := root.SetKeepCaps(1)
	k.InheritableCaps = CapabilitySetOf(CAP_NET_ADMIN)
	_, k, _ = k.Ambient(AmbientRaise, CAP_NET_ADMIN, 0, 0)
	n, _ = k.SetRESUID(1, 1, 1)
	if n.PermittedCaps != AllCapabilities || n.EffectiveCaps != 0 || n.AmbientCaps != 0 {
		t.Errorf("keepcaps setresuid: P=%#x E=%#x A=%#x", n.PermittedCaps, n.EffectiveCaps, n.AmbientCaps)
	}
	// NO_SETUID_FIXUP: nothing moves.
	f := root.Fork()
	f.SecureBits = SecbitNoSetuidFixup
	n, _ = f.SetRESUID(1, 1, 1)
	if n.PermittedCaps != AllCapabilities || n.EffectiveCaps != AllCapabilities {
		t.Errorf("no-fixup setresuid: P=%#x E=%#x", n.PermittedCaps, n.EffectiveCaps)
	}
	// fsuid toggles the fs capabilities only.
	n, old := root.SetFSUID(7)
	if old != 0 || n.EffectiveCaps != AllCapabilities&^FSCapabilities {
		t.Errorf("setfsuid(7): old %d E=%#x", old, n.EffectiveCaps)
	}
	n, old = n.SetFSUID(0)
	if old != 7 || n.EffectiveCaps != AllCapabilities {
		t.Errorf("setfsuid(0): old %d E=%#x", old, n.EffectiveCaps)
	}
	// Unprivileged setfsuid to a foreign id changes nothing.
	u := NewUserCredentials(5, 5, nil)
	if n, old := u.SetFSUID(6); n != u || old != 5 {
		t.Errorf("unprivileged setfsuid(6) changed credentials")
	}
}

func TestSetGroups(t *testing.T) {
	root := NewRootCredentials()
	n, err := root.SetGroups([]KGID{5, 3, 3})
	if err != nil || len(n.ExtraKGIDs) != 3 || n.ExtraKGIDs[0] != 3 || n.ExtraKGIDs[2] != 5 {
		t.Errorf("SetGroups = %v, %v; want sorted", n.ExtraKGIDs, err)
	}
	if _, err := NewUserCredentials(1, 1, nil).SetGroups(nil); err != unix.EPERM {
		t.Errorf("unprivileged SetGroups = %v, want EPERM", err)
	}
	if _, err := root.SetGroups(make([]KGID, NGroupsMax+1)); err != unix.EINVAL {
		t.Errorf("SetGroups(NGROUPS_MAX+1) = %v, want EINVAL", err)
	}
}

func TestSetCapabilities(t *testing.T) {
	root := NewRootCredentials()
	all := AllCapabilities
	raw := CapabilitySetOf(CAP_NET_RAW)
	if _, err := root.SetCapabilities(all, all&^raw, 0); err != unix.EPERM {
		t.Errorf("effective outside permitted = %v, want EPERM", err)
	}
	n, err := root.SetCapabilities(all&^raw, all&^raw, raw)
	if err != nil {
		t.Fatalf("drop NET_RAW, make it inheritable: %v", err)
	}
	if _, err := n.SetCapabilities(all, all, raw); err != unix.EPERM {
		t.Errorf("regain permitted = %v, want EPERM", err)
	}
	// Without CAP_SETPCAP inheritable is capped by old inheritable|permitted.
	noPcap, _ := n.SetCapabilities(all&^raw&^CapabilitySetOf(CAP_SETPCAP), all&^raw, 0)
	if _, err := noPcap.SetCapabilities(noPcap.EffectiveCaps, noPcap.PermittedCaps, raw); err != unix.EPERM {
		t.Errorf("inheritable beyond permitted without SETPCAP = %v, want EPERM", err)
	}
	// Ambient shrinks with permitted & inheritable.
	a := root.Fork()
	a.InheritableCaps = raw
	_, a, _ = a.Ambient(AmbientRaise, CAP_NET_RAW, 0, 0)
	a, _ = a.SetCapabilities(all, all, 0)
	if a.AmbientCaps != 0 {
		t.Errorf("ambient survived losing inheritable: %#x", a.AmbientCaps)
	}
}

func TestAmbientAndBounding(t *testing.T) {
	root := NewRootCredentials()
	if _, _, err := root.Ambient(AmbientRaise, CAP_NET_RAW, 0, 0); err != unix.EPERM {
		t.Errorf("raise without inheritable = %v, want EPERM", err)
	}
	for _, tc := range []struct{ op, cap, a4 uint64 }{{AmbientIsSet, 41, 0}, {AmbientClearAll, 1, 0}, {AmbientIsSet, 1, 1}, {9, 1, 0}} {
		if _, _, err := root.Ambient(tc.op, tc.cap, tc.a4, 0); err != unix.EINVAL {
			t.Errorf("Ambient(%d, %d, %d) = %v, want EINVAL", tc.op, tc.cap, tc.a4, err)
		}
	}
	n, err := root.DropBoundingCap(CAP_NET_RAW)
	if err != nil || n.BoundingCaps.Has(CAP_NET_RAW) {
		t.Errorf("DropBoundingCap: %v", err)
	}
	if _, err := root.DropBoundingCap(41); err != unix.EINVAL {
		t.Errorf("DropBoundingCap(41) = %v, want EINVAL", err)
	}
	if _, err := NewUserCredentials(1, 1, nil).DropBoundingCap(41); err != unix.EPERM {
		t.Errorf("unprivileged DropBoundingCap(41) = %v, want EPERM first", err)
	}
}

func TestSecureBits(t *testing.T) {
	root := NewRootCredentials()
	n, err := root.SetSecureBits(SecbitKeepCaps | SecbitKeepCapsLocked)
	if err != nil {
		t.Fatal(err)
	}
	for _, bits := range []uint64{SecbitKeepCapsLocked, SecbitKeepCaps, 1 << 8} {
		if _, err := n.SetSecureBits(bits); err != unix.EPERM {
			t.Errorf("SetSecureBits(%#x) = %v, want EPERM", bits, err)
		}
	}
	if _, err := n.SetKeepCaps(0); err != unix.EPERM {
		t.Errorf("SetKeepCaps(0) when locked = %v, want EPERM", err)
	}
	if _, err := root.SetKeepCaps(2); err != unix.EINVAL {
		t.Errorf("SetKeepCaps(2) = %v, want EINVAL", err)
	}
}

func TestForExec(t *testing.T) {
	root := NewRootCredentials()
	root.BoundingCaps &^= CapabilitySetOf(CAP_MKNOD)
	root.PermittedCaps &^= CapabilitySetOf(CAP_NET_RAW)
	root.EffectiveCaps = root.PermittedCaps
	root.SecureBits = SecbitKeepCaps
	n := root.ForExec(false)
	if n.PermittedCaps != root.BoundingCaps || n.EffectiveCaps != n.PermittedCaps || n.SecureBits != 0 {
		t.Errorf("root exec: P=%#x E=%#x bits=%#x", n.PermittedCaps, n.EffectiveCaps, n.SecureBits)
	}
	n = root.ForExec(true)
	if n.PermittedCaps.Has(CAP_NET_RAW) {
		t.Errorf("no_new_privs exec regained NET_RAW")
	}
	// Real root, effective non-root: permitted but not effective.
	r := root.Fork()
	r.EffectiveKUID, r.SavedKUID = 1000, 1000
	n = r.ForExec(false)
	if n.PermittedCaps != root.BoundingCaps || n.EffectiveCaps != 0 || n.SavedKUID != 1000 {
		t.Errorf("real-root exec: P=%#x E=%#x suid=%d", n.PermittedCaps, n.EffectiveCaps, n.SavedKUID)
	}
	// SECBIT_NOROOT: nothing but ambient.
	nr := root.Fork()
	nr.SecureBits = SecbitNoroot
	if n := nr.ForExec(false); n.PermittedCaps != 0 || n.EffectiveCaps != 0 {
		t.Errorf("noroot exec: P=%#x E=%#x", n.PermittedCaps, n.EffectiveCaps)
	}
	// Non-root with ambient: P = E = ambient.
	u := NewUserCredentials(1000, 1000, nil)
	amb := CapabilitySetOf(CAP_NET_ADMIN)
	u.PermittedCaps, u.InheritableCaps, u.AmbientCaps = amb|CapabilitySetOf(CAP_CHOWN), amb, amb
	n = u.ForExec(false)
	if n.PermittedCaps != amb || n.EffectiveCaps != amb || n.InheritableCaps != amb || n.AmbientCaps != amb {
		t.Errorf("ambient exec: P=%#x E=%#x I=%#x A=%#x", n.PermittedCaps, n.EffectiveCaps, n.InheritableCaps, n.AmbientCaps)
	}
}

func TestChangesPrivilege(t *testing.T) {
	root := NewRootCredentials()
	n, _ := root.SetGroups([]KGID{1})
	if ChangesPrivilege(root, n) {
		t.Errorf("setgroups counted as a privilege change")
	}
	n, _ = root.SetRESGID(NoID, 5, NoID)
	if !ChangesPrivilege(root, n) {
		t.Errorf("egid change not counted")
	}
}
