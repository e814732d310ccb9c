package dev

import (
	"sync"

	"golang.org/x/sys/unix"
)

// The device allow-list: config.json's linux.resources.devices, which
// decides which device nodes the application may open (read, write) and
// make (mknod), as the devices cgroup decides it for a runc container.
// Rules are matched as runc's cgroup v2 device filter matches them: the
// last rule that matches an access decides it; an access no rule matches
// is allowed. The sentry's standard devices (the memory devices, tty,
// console, ptmx and the pseudo-terminals) are always allowed, as runc
// always adds them.

// Rule is one allow-list entry.
type Rule struct {
	Allow bool
	// Type is 'a' (any), 'c' or 'b'.
	Type byte
	// Major and Minor are -1 for any.
	Major, Minor int64
	// Access holds 'r', 'w' and 'm'.
	Access string
}

var allowList struct {
	mu sync.RWMutex
	// rules is protected by mu; nil allows everything.
	rules []Rule
}

// SetAllowList makes rules the allow-list (runc's default devices are
// appended). The sandbox sets it before it runs.
func SetAllowList(rules []Rule) {
	all := append([]Rule(nil), rules...)
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}} {
		all = append(all, Rule{Allow: true, Type: 'c', Major: d[0], Minor: d[1], Access: "rwm"})
	}
	allowList.mu.Lock()
	allowList.rules = all
	allowList.mu.Unlock()
}

// Allowed reports whether the allow-list permits access ('r', 'w' or
// 'm') to the device node of type mode (S_IFCHR or S_IFBLK) numbered
// rdev.
func Allowed(mode uint32, rdev uint64, access byte) bool {
	typ := byte('c')
	if mode&unix.S_IFMT == unix.S_IFBLK {
		typ = 'b'
	}
	major, minor := int64(unix.Major(rdev)), int64(unix.Minor(rdev))
	allowList.mu.RLock()
	defer allowList.mu.RUnlock()
	for i := len(allowList.rules) - 1; i >= 0; i-- {
		r := &allowList.rules[i]
		if (r.Type == 'a' || r.Type == typ) && (r.Major < 0 || r.Major == major) &&
			(r.Minor < 0 || r.Minor == minor) && containsByte(r.Access, access) {
			return r.Allow
		}
	}
	return true
}

// MayOpen checks an open(2) of a device node with flags against the
// allow-list: EPERM, as the devices cgroup answers, when it refuses.
func MayOpen(mode uint32, rdev uint64, flags uint32) error {
	acc := flags & unix.O_ACCMODE
	if (acc == unix.O_RDONLY || acc == unix.O_RDWR) && !Allowed(mode, rdev, 'r') {
		return unix.EPERM
	}
	if (acc == unix.O_WRONLY || acc == unix.O_RDWR) && !Allowed(mode, rdev, 'w') {
		return unix.EPERM
	}
	return nil
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
