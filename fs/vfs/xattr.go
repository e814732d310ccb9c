package vfs

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Extended attribute limits, as Linux's.
const (
	// XattrNameMax is XATTR_NAME_MAX: a longer (or empty) name is ERANGE.
	XattrNameMax = 255
	// XattrSizeMax is XATTR_SIZE_MAX: a longer value is E2BIG.
	XattrSizeMax = 65536
	// XattrListMax is XATTR_LIST_MAX.
	XattrListMax = 65536
)

// XattrInode is implemented by the nodes of filesystems that store
// extended attributes (tmpfs). Nodes without it give EOPNOTSUPP, which is
// what the gofer-served root does (fs/gofer). The VFS has
// checked permissions and the name's namespace before calling.
type XattrInode interface {
	// GetXattr returns the value of name, or ENODATA.
	GetXattr(ctx Context, name string) ([]byte, error)
	// SetXattr sets name to value; flags are XATTR_CREATE (EEXIST if it
	// exists) or XATTR_REPLACE (ENODATA if it does not).
	SetXattr(ctx Context, name string, value []byte, flags int) error
	// ListXattr returns every name.
	ListXattr(ctx Context) ([]string, error)
	// RemoveXattr removes name, or gives ENODATA.
	RemoveXattr(ctx Context, name string) error
}

// Namespaces of extended attribute names.
const (
	xattrUser     = "user."
	xattrTrusted  = "trusted."
	xattrSecurity = "security."
	xattrSystem   = "system."
)

// checkXattr applies Linux's xattr_permission to an access (MayRead or
// MayWrite) of name on vd.
func checkXattr(creds *auth.Credentials, vd VirtualDentry, name string, ats uint32) error {
	ino := vd.dentry.inode
	if ats&MayWrite != 0 && vd.mount.ReadOnly() {
		return unix.EROFS
	}
	if strings.HasPrefix(name, xattrSecurity) || strings.HasPrefix(name, xattrSystem) {
		return nil
	}
	if strings.HasPrefix(name, xattrTrusted) {
		if !creds.HasCapability(auth.CAP_SYS_ADMIN) {
			if ats&MayWrite != 0 {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		return nil
	}
	mode, uid, _ := ino.Perms()
	if strings.HasPrefix(name, xattrUser) {
		if t := mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
			if ats&MayWrite != 0 {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		if mode&unix.S_IFMT == unix.S_IFDIR && mode&unix.S_ISVTX != 0 && ats&MayWrite != 0 && !isOwner(creds, uid) {
			return unix.EPERM
		}
	}
	return checkInodePermission(creds, ats, ino)
}

// knownXattrNamespace reports whether the sentry's filesystems know name's
// namespace; others are EOPNOTSUPP, as Linux finds no handler.
func knownXattrNamespace(name string) bool {
	return strings.HasPrefix(name, xattrUser) || strings.HasPrefix(name, xattrTrusted) ||
		strings.HasPrefix(name, xattrSecurity)
}

func xattrInode(vd VirtualDentry) (XattrInode, error) {
	x, ok := vd.dentry.inode.(XattrInode)
	if !ok {
		return nil, unix.EOPNOTSUPP
	}
	return x, nil
}

// GetXattr implements getxattr(2) on vd.
func GetXattr(ctx Context, vd VirtualDentry, name string) ([]byte, error) {
	if err := checkXattr(ctx.Credentials(), vd, name, MayRead); err != nil {
		return nil, err
	}
	x, err := xattrInode(vd)
	if err != nil {
		return nil, err
	}
	if !knownXattrNamespace(name) {
		return nil, unix.EOPNOTSUPP
	}
	return x.GetXattr(ctx, name)
}

// SetXattr implements setxattr(2) on vd.
func SetXattr(ctx Context, vd VirtualDentry, name string, value []byte, flags int) error {
	if err := checkXattr(ctx.Credentials(), vd, name, MayWrite); err != nil {
		return err
	}
	x, err := xattrInode(vd)
	if err != nil {
		return err
	}
	if !knownXattrNamespace(name) {
		return unix.EOPNOTSUPP
	}
	return notifyAttrib(vd, x.SetXattr(ctx, name, value, flags))
}

// RemoveXattr implements removexattr(2) on vd.
func RemoveXattr(ctx Context, vd VirtualDentry, name string) error {
	if err := checkXattr(ctx.Credentials(), vd, name, MayWrite); err != nil {
		return err
	}
	x, err := xattrInode(vd)
	if err != nil {
		return err
	}
	if !knownXattrNamespace(name) {
		return unix.EOPNOTSUPP
	}
	return notifyAttrib(vd, x.RemoveXattr(ctx, name))
}

// ListXattr implements listxattr(2) on vd: the names the caller may see
// (trusted.* only with CAP_SYS_ADMIN). A filesystem without extended
// attributes lists none, as Linux.
func ListXattr(ctx Context, vd VirtualDentry) ([]string, error) {
	x, ok := vd.dentry.inode.(XattrInode)
	if !ok {
		return nil, nil
	}
	names, err := x.ListXattr(ctx)
	if err != nil {
		return nil, err
	}
	if ctx.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
		return names, nil
	}
	out := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, xattrTrusted) {
			out = append(out, n)
		}
	}
	return out, nil
}
