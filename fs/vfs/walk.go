package vfs

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// Limits of the path walk, as Linux.
const (
	// PathMax is PATH_MAX: a path argument of this many bytes or more
	// (including the NUL) gives ENAMETOOLONG.
	PathMax = 4096
	// NameMax is NAME_MAX, the longest path component.
	NameMax = 255
	// MaxSymlinkTraversals is how many symlinks one walk may follow
	// before failing with ELOOP.
	MaxSymlinkTraversals = 40
)

// PathOperation names a file for a path-based operation.
type PathOperation struct {
	// Root is the task's root: absolute paths and symlinks start here and
	// ".." never goes above it.
	Root VirtualDentry
	// Start is where a relative path starts (the cwd or a dirfd).
	Start VirtualDentry
	// Path is the path; "" is ENOENT.
	Path string
	// Follow says whether a symlink as the final component is followed.
	Follow bool
	// Resolve holds openat2's RESOLVE_* flags (0 for every other call).
	Resolve uint64
}

// openat2's resolve flags.
const (
	ResolveNoXdev       = 0x01
	ResolveNoMagiclinks = 0x02
	ResolveNoSymlinks   = 0x04
	ResolveBeneath      = 0x08
	ResolveInRoot       = 0x10
	ResolveCached       = 0x20
	// resolveScoped are the flags that confine the walk below Start.
	resolveScoped = ResolveBeneath | ResolveInRoot
)

// resolver is the state of one path walk. It holds a reference on cur.
type resolver struct {
	vfs      *VirtualFilesystem
	ctx      Context
	creds    *auth.Credentials
	root     VirtualDentry // borrowed from the PathOperation
	cur      VirtualDentry
	symlinks int
	// resolve are the PathOperation's RESOLVE_* flags.
	rflags uint64
	// anon is the file a magic link as the last component named when
	// that file has no dentry (errAnonFile); the resolver holds a
	// reference until a caller takes it.
	anon *FileDescription
	// opening says that the path is resolved for an open(2) without
	// O_CREAT, with flags openFlags: the last component's lookup, if it
	// is not cached, goes to an OpenLookuper's LookupOpen.
	opening   bool
	openFlags uint32
}

func (vfs *VirtualFilesystem) newResolver(ctx Context, pop *PathOperation) resolver {
	pop.Start.IncRef()
	r := resolver{vfs: vfs, ctx: ctx, creds: ctx.Credentials(), root: pop.Root, cur: pop.Start, rflags: pop.Resolve}
	if r.rflags&resolveScoped != 0 {
		r.root = pop.Start
	}
	return r
}

func (r *resolver) release() {
	r.cur.DecRef()
	r.cur = VirtualDentry{}
	if r.anon != nil {
		r.anon.DecRef(r.ctx)
		r.anon = nil
	}
}

// MagicLink is implemented by symlink nodes whose target is an object, not
// a path: procfs's /proc/[pid]/fd/N, cwd and root. Following one jumps to
// the object itself, like Linux's nd_jump_link, so it reaches files that
// have no path (pipes, the sandbox's donated stdio behind /dev/stdout) and
// paths outside the caller's root.
type MagicLink interface {
	// MagicTarget returns the object: a referenced dentry, or, for an open
	// file without one, a referenced description and a zero dentry. ok is
	// false when the node is an ordinary symlink after all.
	MagicTarget(ctx Context) (vd VirtualDentry, file *FileDescription, ok bool, err error)
}

// errAnonFile reports that the walk ended at a magic link to a file with
// no dentry, now in resolver.anon. It never leaves the package: callers
// that cannot use the file turn it into ENXIO, as Linux does for sockets.
var errAnonFile = errors.New("magic link to a file without a path")

// followMagic follows the magic link ml (next, in r.cur) with rest still
// to walk. It returns the path left to walk, or landed when rest names the
// target itself.
func (r *resolver) followMagic(next VirtualDentry, ml MagicLink, rest string) (string, bool, error) {
	if r.rflags&(ResolveNoSymlinks|ResolveNoMagiclinks) != 0 {
		next.DecRef()
		return "", false, unix.ELOOP
	}
	vd, file, ok, err := ml.MagicTarget(r.ctx)
	if err == nil && !ok {
		path, err := r.followSymlink(next, rest)
		return path, false, err
	}
	next.DecRef()
	if err != nil {
		return "", false, err
	}
	if r.rflags&resolveScoped != 0 || (r.rflags&ResolveNoXdev != 0 && (file != nil || vd.mount != r.cur.mount)) {
		if file != nil {
			file.DecRef(r.ctx)
		}
		vd.DecRef()
		return "", false, unix.EXDEV
	}
	r.symlinks++
	if r.symlinks > MaxSymlinkTraversals {
		if file != nil {
			file.DecRef(r.ctx)
		}
		vd.DecRef()
		return "", false, unix.ELOOP
	}
	path := strings.TrimLeft(rest, "/")
	if file != nil {
		if rest != "" {
			file.DecRef(r.ctx)
			return "", false, unix.ENOTDIR
		}
		r.anon = file
		return "", false, errAnonFile
	}
	r.cur.DecRef()
	r.cur = vd
	if path == "" {
		if rest != "" && !vd.dentry.IsDir() {
			return "", false, unix.ENOTDIR
		}
		return "", true, nil
	}
	return path, false, nil
}

func (r *resolver) setCur(vd VirtualDentry) {
	vd.IncRef()
	r.cur.DecRef()
	r.cur = vd
}

// walkParent walks every component of path but the last, leaving r.cur at
// the directory that should contain it. It returns the last component
// ("" if path names r.cur itself, e.g. "/") and whether it was followed by
// slashes.
func (r *resolver) walkParent(path string) (string, bool, error) {
	if path == "" {
		return "", false, unix.ENOENT
	}
	if path[0] == '/' {
		if err := r.jumpRoot(); err != nil {
			return "", false, err
		}
	}
	for {
		for len(path) > 0 && path[0] == '/' {
			path = path[1:]
		}
		if path == "" {
			return "", true, nil
		}
		i := strings.IndexByte(path, '/')
		if i < 0 {
			if len(path) > NameMax {
				return "", false, unix.ENAMETOOLONG
			}
			return path, false, nil
		}
		comp, rest := path[:i], path[i:]
		if len(comp) > NameMax {
			return "", false, unix.ENAMETOOLONG
		}
		if strings.TrimLeft(rest, "/") == "" {
			return comp, true, nil
		}
		next, err := r.step(comp, lookupIntent{rest: rest})
		if err != nil {
			return "", false, err
		}
		if next.dentry.IsSymlink() {
			if ml, ok := next.dentry.inode.(MagicLink); ok {
				if path, _, err = r.followMagic(next, ml, rest); err != nil {
					return "", false, err
				}
				continue
			}
			path, err = r.followSymlink(next, rest)
			if err != nil {
				return "", false, err
			}
			continue
		}
		r.cur.DecRef()
		r.cur = next
		path = rest
	}
}

// followSymlink consumes next (a symlink found in r.cur) and returns the
// path to continue with: its target followed by rest. An absolute target
// moves r.cur to the root.
func (r *resolver) followSymlink(next VirtualDentry, rest string) (string, error) {
	defer next.DecRef()
	if r.rflags&ResolveNoSymlinks != 0 {
		return "", unix.ELOOP
	}
	r.symlinks++
	if r.symlinks > MaxSymlinkTraversals {
		return "", unix.ELOOP
	}
	target, err := next.dentry.inode.Readlink(r.ctx)
	if err != nil {
		return "", err
	}
	if target == "" {
		return "", unix.ENOENT
	}
	if target[0] == '/' {
		if err := r.jumpRoot(); err != nil {
			return "", err
		}
	}
	return target + rest, nil
}

// jumpRoot moves r.cur to the root for an absolute path, as Linux's
// nd_jump_root: EXDEV under RESOLVE_BENEATH, or under RESOLVE_NO_XDEV when
// the root is on another mount.
func (r *resolver) jumpRoot() error {
	if r.rflags&ResolveBeneath != 0 {
		return unix.EXDEV
	}
	if r.rflags&ResolveNoXdev != 0 && r.cur.mount != r.root.mount {
		return unix.EXDEV
	}
	r.setCur(r.root)
	return nil
}

// checkSearch checks that r.cur is a directory that may be searched.
func (r *resolver) checkSearch() error {
	if !r.cur.dentry.IsDir() {
		return unix.ENOTDIR
	}
	return checkInodePermission(r.creds, MayExec, r.cur.dentry.inode)
}

// step looks up one component (".", ".." or a name) in r.cur and returns a
// reference to the result, with mounts followed.
func (r *resolver) step(name string, in lookupIntent) (VirtualDentry, error) {
	if err := r.checkSearch(); err != nil {
		return VirtualDentry{}, err
	}
	switch name {
	case ".":
		r.cur.IncRef()
		return r.cur, nil
	case "..":
		vd := r.dotdot()
		if r.rflags != 0 {
			if r.rflags&ResolveBeneath != 0 && r.cur == r.root {
				vd.DecRef()
				return VirtualDentry{}, unix.EXDEV
			}
			if r.rflags&ResolveNoXdev != 0 && vd.mount != r.cur.mount {
				vd.DecRef()
				return VirtualDentry{}, unix.EXDEV
			}
		}
		return vd, nil
	}
	d, err := r.vfs.lookupChild(r.ctx, r.cur.dentry, name, in)
	if err != nil {
		return VirtualDentry{}, err
	}
	vd := r.vfs.followMounts(VirtualDentry{r.cur.mount, d})
	if r.rflags&ResolveNoXdev != 0 && vd.mount != r.cur.mount {
		vd.DecRef()
		return VirtualDentry{}, unix.EXDEV
	}
	return vd, nil
}

// dotdot returns a reference to the parent of r.cur, crossing mounts and
// never leaving r.root.
func (r *resolver) dotdot() VirtualDentry {
	m, d := r.cur.mount, r.cur.dentry
	for {
		if m == r.root.mount && d == r.root.dentry {
			d.IncRef()
			return VirtualDentry{m, d}
		}
		if d != m.root {
			break
		}
		r.vfs.mountMu.RLock()
		pm, pd := m.parent, m.point
		r.vfs.mountMu.RUnlock()
		if pm == nil {
			d.IncRef()
			return VirtualDentry{m, d}
		}
		m, d = pm, pd
	}
	r.vfs.renameMu.RLock()
	p := d.parent
	if p == nil {
		p = d
	}
	p.IncRef()
	r.vfs.renameMu.RUnlock()
	return r.vfs.followMounts(VirtualDentry{m, p})
}

// lookupChild returns a reference to the cached or newly looked-up child
// name of the directory parent.
func (vfs *VirtualFilesystem) lookupChild(ctx Context, parent *Dentry, name string, in lookupIntent) (*Dentry, error) {
	parent.mu.Lock()
	defer parent.mu.Unlock()
	d, err := parent.childIntentLocked(ctx, name, in)
	if err != nil {
		return nil, err
	}
	d.IncRef()
	// Only here, with a reference on the one dentry it returns: callers
	// of childLocked hold dentries of parent without references of their
	// own (rename looks up two) that a sweep could free.
	if _, ok := d.inode.(Expirer); ok && len(parent.children) >= max(parent.sweepAt, minSweep) {
		parent.sweepExpiredLocked(d)
	}
	return d, nil
}

// lookupIntent is what the resolver knows of what follows a lookup: the
// open(2) it is for, with flags (OpenLookuper), or the path still to walk
// below it, rest (PathLookuper). The zero value knows nothing.
type lookupIntent struct {
	open  bool
	flags uint32
	rest  string
}

// maxAhead bounds the names a lookup is told it will be followed by
// (PathLookuper).
const maxAhead = 8

// ahead returns the names of in.rest that the resolver will look up below
// the one it looks up now, in order: the components of rest but its last
// (the resolver's final lookup, which may be an open's or a create's), up
// to the first "." or "..", at most maxAhead. It returns nil when there
// are none.
func (in *lookupIntent) ahead() []string {
	rest := in.rest
	var names []string
	for len(names) < maxAhead {
		rest = strings.TrimLeft(rest, "/")
		i := strings.IndexByte(rest, '/')
		if i < 0 || strings.TrimLeft(rest[i:], "/") == "" {
			break // rest is the last component
		}
		name := rest[:i]
		if name == "." || name == ".." || len(name) > NameMax {
			break
		}
		names = append(names, name)
		rest = rest[i:]
	}
	return names
}

// childLocked returns the cached or newly looked-up child name without a
// new reference. parent.mu must be held.
func (parent *Dentry) childLocked(ctx Context, name string) (*Dentry, error) {
	return parent.childIntentLocked(ctx, name, lookupIntent{})
}

// childIntentLocked is childLocked for a lookup that in describes
// (OpenLookuper, PathLookuper). parent.mu must be held.
func (parent *Dentry) childIntentLocked(ctx Context, name string, in lookupIntent) (*Dentry, error) {
	if d, ok := parent.children[name]; ok {
		rv, dynamic := d.inode.(Revalidator)
		if !dynamic || rv.Valid(ctx) {
			return d, nil
		}
		// The node is gone (a process' /proc directory): forget it and
		// its cached subtree, then look the name up afresh.
		d.killLocked(parent, name)
		d.pruneChildren()
		defer d.decRef()
	}
	if parent.dead {
		return nil, unix.ENOENT
	}
	var ino Inode
	var err error
	lo, openOK := parent.inode.(OpenLookuper)
	pl, aheadOK := parent.inode.(PathLookuper)
	var ahead []string
	if aheadOK && in.rest != "" {
		ahead = in.ahead()
	}
	switch {
	case openOK && in.open:
		ino, err = lo.LookupOpen(ctx, name, in.flags)
	case len(ahead) > 0:
		ino, err = pl.LookupAhead(ctx, name, ahead)
	default:
		ino, err = parent.inode.Lookup(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	d := newDentry(ino, parent, name)
	if parent.children == nil {
		parent.children = make(map[string]*Dentry)
	}
	parent.children[name] = d
	return d, nil
}

// Expirer is implemented by Inodes whose node can vanish for good without
// an unlink and that can tell so without I/O: a reaped process' /proc
// directory. A node that nobody looks up again is not found stale by a
// lookup (Revalidator): a directory's cache, of /proc's pids or of a
// process' tids, would keep every dead one, and with it the kernel's
// whole record of the process (its task, address space, files), for the
// sandbox's life. Lookups that cache an Expirer sweep the directory
// instead (lookupChild), each time its cache doubles.
type Expirer interface {
	Expired() bool
}

// minSweep is the smallest cache a sweep looks at: below it, dead nodes
// wait for their lookup or the next sweep.
const minSweep = 64

// sweepExpiredLocked drops the cached children of parent whose node
// expired, with their cached subtrees, but keep (the lookup's own: its
// process may have died since, and the lookup returns it as Linux would,
// cached), and sets the size of the next sweep to twice what is left: a
// cache of n live nodes costs O(1) per insertion and holds at most 2n (or
// minSweep) entries. parent.mu must be held, and no dentry of parent may
// be held without a reference.
func (parent *Dentry) sweepExpiredLocked(keep *Dentry) {
	var gone []*Dentry
	for name, c := range parent.children {
		if e, ok := c.inode.(Expirer); ok && c != keep && e.Expired() {
			c.killLocked(parent, name)
			gone = append(gone, c)
		}
	}
	parent.sweepAt = 2 * len(parent.children)
	for _, c := range gone {
		c.pruneChildren()
		c.decRef()
	}
}

// Revalidator is implemented by Inodes of synthetic filesystems (procfs)
// whose nodes can vanish without an unlink: a cached dentry whose node
// reports !Valid is dropped, with its cached subtree, and looked up again.
type Revalidator interface {
	Valid(ctx Context) bool
}

// pruneChildren drops d's cached subtree (d is dead). Called with d's
// parent's mu held: the lock order is parent before child.
func (d *Dentry) pruneChildren() {
	d.mu.Lock()
	kids := d.children
	d.children = nil
	d.mu.Unlock()
	for _, c := range kids {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
		c.pruneChildren()
		c.decRef()
	}
}

// insertChildLocked caches a node just created as name. parent.mu must be
// held.
func (parent *Dentry) insertChildLocked(ino Inode, name string) *Dentry {
	d := newDentry(ino, parent, name)
	if parent.children == nil {
		parent.children = make(map[string]*Dentry)
	}
	parent.children[name] = d
	return d
}

// resolve walks the whole path and returns a reference to what it names.
func (r *resolver) resolve(path string, follow bool) (VirtualDentry, error) {
	for {
		name, trailing, err := r.walkParent(path)
		if err != nil {
			return VirtualDentry{}, err
		}
		if name == "" {
			vd := r.cur
			r.cur = VirtualDentry{}
			return vd, nil
		}
		var in lookupIntent
		if r.opening && !trailing {
			in = lookupIntent{open: true, flags: r.openFlags}
		}
		next, err := r.step(name, in)
		if err != nil {
			return VirtualDentry{}, err
		}
		if next.dentry.IsSymlink() && (follow || trailing) {
			rest := ""
			if trailing {
				rest = "/"
			}
			if ml, ok := next.dentry.inode.(MagicLink); ok {
				var landed bool
				if path, landed, err = r.followMagic(next, ml, rest); err != nil {
					return VirtualDentry{}, err
				}
				if landed {
					vd := r.cur
					r.cur = VirtualDentry{}
					return vd, nil
				}
				continue
			}
			path, err = r.followSymlink(next, rest)
			if err != nil {
				return VirtualDentry{}, err
			}
			continue
		}
		if trailing && !next.dentry.IsDir() {
			next.DecRef()
			return VirtualDentry{}, unix.ENOTDIR
		}
		return next, nil
	}
}

// GetDentryAt returns a reference to the file pop names.
func (vfs *VirtualFilesystem) GetDentryAt(ctx Context, pop *PathOperation) (VirtualDentry, error) {
	r := vfs.newResolver(ctx, pop)
	defer r.release()
	vd, err := r.resolve(pop.Path, pop.Follow)
	if err == errAnonFile {
		err = unix.ENXIO
	}
	return vd, err
}

// getFileAt is GetDentryAt for operations that can also act on an open
// file reached through a magic link (stat of /dev/stdout when it is a
// pipe): exactly one of the results is set on success.
func (vfs *VirtualFilesystem) getFileAt(ctx Context, pop *PathOperation) (VirtualDentry, *FileDescription, error) {
	r := vfs.newResolver(ctx, pop)
	defer r.release()
	vd, err := r.resolve(pop.Path, pop.Follow)
	if err == errAnonFile {
		f := r.anon
		r.anon = nil
		return VirtualDentry{}, f, nil
	}
	return vd, nil, err
}

// parentOp is the result of walking to the parent of a path's last
// component, for operations that create or remove names.
type parentOp struct {
	r        resolver
	name     string
	trailing bool
}

// walkToParent walks pop.Path up to its last component. The caller must
// call p.r.release().
func (vfs *VirtualFilesystem) walkToParent(ctx Context, pop *PathOperation) (*parentOp, error) {
	p := &parentOp{r: vfs.newResolver(ctx, pop)}
	name, trailing, err := p.r.walkParent(pop.Path)
	if err != nil {
		p.r.release()
		return nil, err
	}
	p.name, p.trailing = name, trailing
	if !p.r.cur.dentry.IsDir() {
		p.r.release()
		return nil, unix.ENOTDIR
	}
	return p, nil
}

// WalkParentError returns what walking pop to the parent of its last
// component fails with, or nil. A syscall of two paths (rename) reports
// the first path's walk errors before any of the second path's own (an
// empty or unreadable path, a bad descriptor), as Linux, which reads the
// second only when it walks it.
func (vfs *VirtualFilesystem) WalkParentError(ctx Context, pop *PathOperation) error {
	p, err := vfs.walkToParent(ctx, pop)
	if err != nil {
		return err
	}
	p.r.release()
	return nil
}

// isDotName reports whether the last component is not a plain name.
func (p *parentOp) isDotName() bool {
	return p.name == "" || p.name == "." || p.name == ".."
}
