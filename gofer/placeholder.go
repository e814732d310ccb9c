package gofer

import (
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Device nodes and whiteouts. The sandbox may make character and block
// device nodes (mknod with CAP_MKNOD in the sandbox, the 0:0 whiteout of
// renameat2(RENAME_WHITEOUT)), but the gofer never makes a device node on
// the host: that needs CAP_MKNOD, and a device node left in a directory
// that the host shares would give host users whatever device the sandbox
// chose. The gofer makes a placeholder instead: an empty regular file with
// the sticky bit, whose extended attribute placeholderXattr says the type
// and number ("c 1 3"), and serves it to the sentry as that device (the
// sentry opens its own driver, never the host file: open of the node is
// refused here like any device). What the host sees is an empty file of
// mode ---------T plus permission bits; host users without CAP_SYS_ADMIN
// cannot make one (the attribute is in the trusted namespace) nor read its
// attribute. Only an empty sticky regular file costs the check of its
// attribute on a walk.
//
// Extended attributes. The sandbox's user.* attributes are the host
// file's user.* attributes. Its trusted.* and security.* are kept in the
// host's trusted namespace under hostXattrPrefix (trusted.x is
// trusted.rampart.trusted.x), never in the host's own: the host kernel
// and host tools act on theirs (security.capability gives a host binary
// capabilities, trusted.overlay.* steers a host overlayfs), and no
// sandbox may set those on a shared bind mount. The host's own trusted.*,
// security.* and system.* attributes are not shown to the sandbox.

// hostXattrPrefix is the host namespace of the sandbox's privileged
// attributes and of the placeholder marker.
const hostXattrPrefix = "trusted.rampart."

// placeholderXattr marks a device placeholder; its value is
// "c MAJOR MINOR" or "b MAJOR MINOR".
const placeholderXattr = hostXattrPrefix + "dev"

// placeholder is what the sandbox sees of a placeholder file: the device
// type (S_IFCHR or S_IFBLK) and number.
type placeholder struct {
	ftype uint32
	rdev  uint64
}

// present turns the host attributes of a placeholder into the device
// node's (nil-safe: other nodes are left alone).
func (p *placeholder) present(a *Attr) {
	if p == nil {
		return
	}
	a.Mode = p.ftype | a.Mode&0o7777&^unix.S_ISVTX
	a.Rdev = p.rdev
	a.Size, a.Blocks = 0, 0
}

// placeholderCandidate reports whether a (a host file's attributes) may be
// a placeholder: an empty regular file with the sticky bit.
func placeholderCandidate(a *Attr) bool {
	return a.Mode&unix.S_IFMT == unix.S_IFREG && a.Size == 0 && a.Mode&unix.S_ISVTX != 0
}

// placeholderValue encodes the marker of a device of type ftype.
func placeholderValue(ftype uint32, rdev uint64) string {
	t := "c"
	if ftype == unix.S_IFBLK {
		t = "b"
	}
	return t + " " + strconv.FormatUint(uint64(unix.Major(rdev)), 10) + " " + strconv.FormatUint(uint64(unix.Minor(rdev)), 10)
}

// parsePlaceholder decodes a marker; ok is false for anything else.
func parsePlaceholder(v string) (p placeholder, ok bool) {
	f := strings.Split(v, " ")
	if len(f) != 3 {
		return p, false
	}
	switch f[0] {
	case "c":
		p.ftype = unix.S_IFCHR
	case "b":
		p.ftype = unix.S_IFBLK
	default:
		return p, false
	}
	maj, err1 := strconv.ParseUint(f[1], 10, 32)
	min, err2 := strconv.ParseUint(f[2], 10, 32)
	if err1 != nil || err2 != nil {
		return p, false
	}
	p.rdev = unix.Mkdev(uint32(maj), uint32(min))
	return p, true
}

// placeholderOf checks whether name in directory dir, a candidate whose
// host attributes are a, is a placeholder, and if so presents a as the
// device and returns it.
func placeholderOf(dir *node, name string, a *Attr) *placeholder {
	fd, err := openBeneath(dir.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Ino != a.Ino || st.Dev != a.Dev {
		return nil
	}
	buf := make([]byte, 32)
	n, err := unix.Fgetxattr(fd, placeholderXattr, buf)
	if err != nil {
		return nil
	}
	p, ok := parsePlaceholder(string(buf[:n]))
	if !ok {
		return nil
	}
	p.present(a)
	return &p
}

// mkPlaceholder makes name in directory n the placeholder of the device
// node r asks for (r.Mode's type and permissions, r.Rdev, owner r.UID and
// r.GID). A host filesystem without trusted attributes (or a gofer without
// CAP_SYS_ADMIN) gets none: EPERM, as a filesystem that refuses device
// nodes.
func (s *Server) mkPlaceholder(n *node, r *Request) error {
	perm := r.Mode & 0o7777
	fd, err := unix.Openat(n.fd, r.Name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm|unix.S_ISVTX)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	v := placeholderValue(r.Mode&unix.S_IFMT, r.Rdev)
	if err := unix.Fsetxattr(fd, placeholderXattr, []byte(v), unix.XATTR_CREATE); err != nil {
		unix.Unlinkat(n.fd, r.Name, 0)
		return unix.EPERM
	}
	if err := unix.Fchown(fd, int(r.UID), int(r.GID)); err != nil && err != unix.EPERM {
		unix.Unlinkat(n.fd, r.Name, 0)
		return err
	}
	if perm&(unix.S_ISUID|unix.S_ISGID) != 0 {
		unix.Fchmod(fd, perm|unix.S_ISVTX)
	}
	return nil
}

// hostXattrName maps the sandbox's attribute name to the host's; ok is
// false for a namespace the sandbox has no access to.
// XattrNameMapped reports whether the gofer serves attribute name (others
// are EOPNOTSUPP), for a client that answers for a file it knows has no
// attributes.
func XattrNameMapped(name string) bool {
	_, ok := hostXattrName(name)
	return ok
}

func hostXattrName(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "user."):
		return name, true
	case strings.HasPrefix(name, "trusted."), strings.HasPrefix(name, "security."):
		return hostXattrPrefix + name, true
	}
	return "", false
}

// sandboxXattrName maps a host attribute name back; ok is false for the
// host's own attributes, which the sandbox does not see.
func sandboxXattrName(name string) (string, bool) {
	if strings.HasPrefix(name, "user.") {
		return name, true
	}
	if rest, ok := strings.CutPrefix(name, hostXattrPrefix); ok {
		if strings.HasPrefix(rest, "trusted.") || strings.HasPrefix(rest, "security.") {
			return rest, true
		}
	}
	return "", false
}

// sandboxXattrList filters and maps a host listxattr result (NUL-ended
// names) into buf's sandbox names.
func sandboxXattrList(host []byte) []byte {
	var out []byte
	for name := range xattrNames(host) {
		if name, ok := sandboxXattrName(string(name)); ok {
			out = append(out, name...)
			out = append(out, 0)
		}
	}
	return out
}

// hasSandboxXattr reports whether a host listxattr result holds a name
// that sandboxXattrList would show.
func hasSandboxXattr(host []byte) bool {
	for name := range xattrNames(host) {
		if _, ok := sandboxXattrName(string(name)); ok {
			return true
		}
	}
	return false
}

// xattrNames yields the names of a listxattr result (NUL-ended).
func xattrNames(host []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(host) > 0 {
			k := bytes.IndexByte(host, 0)
			if k < 0 {
				k = len(host)
			}
			if !yield(host[:k]) || k == len(host) {
				return
			}
			host = host[k+1:]
		}
	}
}
