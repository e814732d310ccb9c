package proc

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
)

// AnonNamer is implemented by file implementations without a path (event
// files, epoll, timerfd …) to name themselves in /proc/[pid]/fd: the link
// reads "anon_inode:" followed by the name, e.g. "[eventfd]".
type AnonNamer interface {
	AnonInodeName() string
}

// FDInfoer is implemented by files that add lines of their own to
// /proc/[pid]/fdinfo (a pidfd's Pid and NSpid); ctx is the reader.
type FDInfoer interface {
	FDInfo(ctx vfs.Context) string
}

// hostFile is implemented by files wrapping a descriptor the host
// donated (fs/host).
type hostFile interface {
	HostName() string
}

// fdDir is /proc/[pid]/fd (symlinks to what each descriptor refers to) or,
// with info, /proc/[pid]/fdinfo (the descriptor's position and flags).
type fdDir struct{ info bool }

// fdTable returns the descriptor table of the node's task, or nil once it
// exited.
func (p *node) fdTable() *vfs.FDTable {
	t := p.task()
	if t == nil {
		return nil
	}
	r, alive := t.Resources()
	if !alive {
		return nil
	}
	return r.FDs
}

// getFD returns a new reference to the node's task's descriptor fd.
func (p *node) getFD(fd int32) (*vfs.FileDescription, vfs.FDFlags) {
	fdt := p.fdTable()
	if fdt == nil {
		return nil, vfs.FDFlags{}
	}
	return fdt.Get(fd)
}

func (s fdDir) node(d *inode, fd int32, f *vfs.FileDescription) *inode {
	name := strconv.Itoa(int(fd))
	var c *inode
	if s.info {
		c = d.NewChild(name, unix.S_IFREG|0o444)
		c.File = &fileOps{Gen: func(ctx vfs.Context, n *inode) ([]byte, error) { return genFDInfo(ctx, n, fd) }}
	} else {
		mode := uint32(unix.S_IFLNK)
		if f.IsReadable() {
			mode |= 0o500
		}
		if f.IsWritable() {
			mode |= 0o300
		}
		c = d.NewChild(name, mode)
		c.Target = func(ctx vfs.Context, n *inode) (string, error) { return fdLink(ctx, n, fd) }
		c.Magic = func(ctx vfs.Context, n *inode) (vfs.VirtualDentry, *vfs.FileDescription, error) {
			return fdMagic(ctx, n, fd)
		}
	}
	c.Data.exists = func() bool {
		f, _ := c.Data.getFD(fd)
		if f == nil {
			return false
		}
		f.DecRef(vfs.KernelContext{})
		return true
	}
	return c
}

func (s fdDir) Lookup(ctx vfs.Context, d *inode, name string) (*inode, error) {
	if err := mayPtrace(ctx, &d.Data); err != nil {
		return nil, err
	}
	fd, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	f, _ := d.Data.getFD(int32(fd))
	if f == nil {
		return nil, unix.ENOENT
	}
	defer f.DecRef(ctx)
	return s.node(d, int32(fd), f), nil
}

func (s fdDir) Entries(ctx vfs.Context, d *inode) ([]dirEntry, error) {
	if err := mayPtrace(ctx, &d.Data); err != nil {
		return nil, err
	}
	fdt := d.Data.fdTable()
	if fdt == nil {
		return nil, nil
	}
	var out []dirEntry
	for fd, end := int32(0), int32(fdt.Len()); fd < end; fd++ {
		f, _ := fdt.Get(fd)
		if f == nil {
			continue
		}
		out = append(out, dirEntry{Name: strconv.Itoa(int(fd)), Key: int64(fd), Node: s.node(d, fd, f)})
		f.DecRef(ctx)
	}
	return out, nil
}

// fdLink returns what /proc/[pid]/fd/N reads: the file's path as the
// caller sees it, or "type:[inode]" for files without one.
func fdLink(ctx vfs.Context, n *inode, fd int32) (string, error) {
	if err := mayPtrace(ctx, &n.Data); err != nil {
		return "", err
	}
	f, _ := n.Data.getFD(fd)
	if f == nil {
		return "", unix.ENOENT
	}
	defer f.DecRef(ctx)
	if vd := f.VirtualDentry(); vd.Ok() {
		root := n.Data.fs.callerRoot(ctx)
		defer root.DecRef()
		return n.Data.fs.k.VFS.PathnameWithin(root, vd), nil
	}
	return anonName(ctx, f), nil
}

// fdMagic is what following /proc/[pid]/fd/N reaches: the file's dentry,
// or the file itself when it has none.
func fdMagic(ctx vfs.Context, n *inode, fd int32) (vfs.VirtualDentry, *vfs.FileDescription, error) {
	if err := mayPtrace(ctx, &n.Data); err != nil {
		return vfs.VirtualDentry{}, nil, err
	}
	f, _ := n.Data.getFD(fd)
	if f == nil {
		return vfs.VirtualDentry{}, nil, unix.ENOENT
	}
	if vd := f.VirtualDentry(); vd.Ok() {
		vd.IncRef()
		f.DecRef(ctx)
		return vd, nil, nil
	}
	return vfs.VirtualDentry{}, f, nil
}

// anonName names a file that has no path.
func anonName(ctx vfs.Context, f *vfs.FileDescription) string {
	if a, ok := f.Impl().(AnonNamer); ok {
		return "anon_inode:" + a.AnonInodeName()
	}
	st, err := f.Stat(ctx)
	if err != nil {
		return "anon_inode:[unknown]"
	}
	// A file donated by the host (the sandbox's stdio) is named as the
	// host names it: the caller's own /proc shows the same name natively.
	// The name was recorded when the file was donated (the sentry has no
	// host /proc to read it from).
	if h, ok := f.Impl().(hostFile); ok && st.Mode&unix.S_IFMT != unix.S_IFIFO && st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		if p := h.HostName(); p != "" {
			return p
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return fmt.Sprintf("pipe:[%d]", st.Ino)
	case unix.S_IFSOCK:
		return fmt.Sprintf("socket:[%d]", st.Ino)
	case unix.S_IFCHR:
		// A donated host device (the sandbox's stdio): name the usual
		// ones by their device numbers.
		maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
		switch {
		case maj == 1 && min == 3:
			return "/dev/null"
		case maj == 1 && min == 5:
			return "/dev/zero"
		case maj == 5 && min == 0:
			return "/dev/tty"
		case maj == 5 && min == 1:
			return "/dev/console"
		case maj == 136 || maj == 137 || maj == 138 || maj == 139:
			return fmt.Sprintf("/dev/pts/%d", (maj-136)*256+min)
		case maj == 4:
			return fmt.Sprintf("/dev/tty%d", min)
		}
	}
	return "anon_inode:[unknown]"
}

func genFDInfo(ctx vfs.Context, n *inode, fd int32) ([]byte, error) {
	f, flags := n.Data.getFD(fd)
	if f == nil {
		return nil, unix.ENOENT
	}
	defer f.DecRef(ctx)
	var pos int64
	if f.Seekable() && !f.IsOPath() {
		if p, err := f.Seek(ctx, 0, unix.SEEK_CUR); err == nil {
			pos = p
		}
	}
	fl := f.StatusFlags()
	var mntID uint64
	if vd := f.VirtualDentry(); vd.Ok() {
		fl |= unix.O_LARGEFILE
		mntID = vd.Mount().ID()
	}
	if flags.CloseOnExec {
		fl |= unix.O_CLOEXEC
	}
	var ino uint64
	if st, err := f.Stat(ctx); err == nil {
		ino = st.Ino
	}
	info := fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", pos, fl, mntID, ino)
	if x, ok := f.Impl().(FDInfoer); ok {
		info += x.FDInfo(ctx)
	}
	return []byte(info), nil
}
