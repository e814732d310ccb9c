package boot

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/devpts"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/fs/sys"
	"github.com/rampart-sandbox/rampart/fs/tmpfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
)

// This file applies config.json's mounts, linux.maskedPaths and
// linux.readonlyPaths to the sandbox's mount tree, in config order, so
// that /proc/self/mountinfo lists them as runc would (destination, type,
// source). Bind mounts reach the host through the gofer: `runsc create`
// starts it with one connection per bind mount (FirstBindFD+i of the
// sandbox for the i-th bind mount), and every destination is resolved by
// the sentry's VFS inside the container's root, so a symlink at a
// destination can never lead out of it.

// FirstBindFD is the sandbox's descriptor of the gofer connection serving
// the first bind mount's source (GoferFD is the root's, 4 the readiness
// pipe, ConsoleFD the terminal's, closed when there is none); the i-th
// bind mount's is FirstBindFD+i.
const FirstBindFD = ConsoleFD + 1

// OCIMounts is what the sandbox mounts for config.json.
type OCIMounts struct {
	Mounts        []Mount
	MaskedPaths   []string
	ReadonlyPaths []string
	// RootUnbindable is linux.rootfsPropagation "unbindable": the root
	// cannot be bind-mounted. (The sandbox has one mount namespace and no
	// peers, so shared, slave and private all behave as private.)
	RootUnbindable bool
}

// Mount is one entry of config.json's mounts, parsed.
type Mount struct {
	// Destination is the cleaned absolute path in the container.
	Destination string
	// Type is config.json's type; "bind" for any bind mount.
	Type string
	// Source is config.json's source, cleaned (mountinfo shows it).
	Source string
	// Flags are the per-mount flags (ro, nosuid, nodev, noexec).
	Flags vfs.MountOptions
	// Data are the filesystem's own options (size=, mode=, ...),
	// comma-separated as mount(2) takes them.
	Data string
	// Bind and Recursive say MS_BIND and MS_REC.
	Bind, Recursive bool
	// GoferFD is, for a bind mount, the sandbox's descriptor of the
	// connection to the gofer serving its source.
	GoferFD int
}

// Mount options that are per-mount flags, and those accepted and ignored
// (atime policy, synchronousness, propagation: the sandbox has one mount
// namespace and no peers).
var (
	mountFlagOptions = map[string]func(*Mount){
		"ro":       func(m *Mount) { m.Flags.ReadOnly = true },
		"rw":       func(m *Mount) { m.Flags.ReadOnly = false },
		"nosuid":   func(m *Mount) { m.Flags.NoSuid = true },
		"suid":     func(m *Mount) { m.Flags.NoSuid = false },
		"nodev":    func(m *Mount) { m.Flags.NoDev = true },
		"dev":      func(m *Mount) { m.Flags.NoDev = false },
		"noexec":   func(m *Mount) { m.Flags.NoExec = true },
		"exec":     func(m *Mount) { m.Flags.NoExec = false },
		"bind":     func(m *Mount) { m.Bind = true },
		"rbind":    func(m *Mount) { m.Bind, m.Recursive = true, true },
		"defaults": func(*Mount) {},
	}
	ignoredMountOptions = map[string]bool{
		"async": true, "sync": true, "dirsync": true, "atime": true, "noatime": true,
		"diratime": true, "nodiratime": true, "relatime": true, "norelatime": true,
		"strictatime": true, "nostrictatime": true, "lazytime": true, "nolazytime": true,
		"mand": true, "nomand": true, "silent": true, "loud": true, "iversion": true, "noiversion": true,
		"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true,
		"rslave": true, "unbindable": true, "runbindable": true, "tmpcopyup": true,
	}
	// mountTypes are the filesystem types the sandbox can mount.
	mountTypes = map[string]bool{
		"tmpfs": true, "proc": true, "sysfs": true, "devpts": true, "mqueue": true,
		"cgroup": true, "cgroup2": true,
	}
)

// IsBindMount reports whether m is a bind mount: runc's rule is a "bind"
// or "rbind" option, whatever the type says (which may be "bind", "none"
// or empty).
func IsBindMount(m specs.Mount) bool {
	if m.Type == "bind" || m.Type == "rbind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// BindSource returns the host path of bind mount m's source: relative
// sources are relative to the bundle, as runc (which runs in it) reads
// them.
func BindSource(m specs.Mount, bundle string) string {
	if filepath.IsAbs(m.Source) {
		return filepath.Clean(m.Source)
	}
	return filepath.Join(bundle, m.Source)
}

// ParseMounts parses config.json's mounts in order, giving the i-th bind
// mount GoferFD FirstBindFD+i. Unknown types and options are errors: the
// container must not start with a mount silently missing.
func ParseMounts(spec *specs.Spec) (*OCIMounts, error) {
	om := &OCIMounts{}
	if spec.Linux != nil {
		om.MaskedPaths = spec.Linux.MaskedPaths
		om.ReadonlyPaths = spec.Linux.ReadonlyPaths
		switch spec.Linux.RootfsPropagation {
		case "", "shared", "rshared", "slave", "rslave", "private", "rprivate":
		case "unbindable", "runbindable":
			om.RootUnbindable = true
		default:
			return nil, fmt.Errorf("linux.rootfsPropagation: unknown mode %q", spec.Linux.RootfsPropagation)
		}
	}
	nbind := 0
	for _, sm := range spec.Mounts {
		if !path.IsAbs(sm.Destination) {
			return nil, fmt.Errorf("mount destination %q: not an absolute path", sm.Destination)
		}
		m := Mount{Destination: path.Clean(sm.Destination), Type: sm.Type, Source: sm.Source, GoferFD: -1}
		if m.Source != "" {
			m.Source = filepath.Clean(m.Source)
		}
		var data []string
		for _, o := range sm.Options {
			if set, ok := mountFlagOptions[o]; ok {
				set(&m)
				continue
			}
			if ignoredMountOptions[o] || strings.HasPrefix(o, "X-") || strings.HasPrefix(o, "x-") {
				continue
			}
			data = append(data, o)
		}
		if IsBindMount(sm) {
			m.Bind, m.Type = true, "bind"
			if sm.Type == "rbind" {
				m.Recursive = true
			}
			if sm.Source == "" {
				return nil, fmt.Errorf("mount %s: a bind mount needs a source", m.Destination)
			}
			// Filesystem options mean nothing to a bind mount (Linux
			// ignores mount(2)'s data with MS_BIND).
			data = nil
			m.GoferFD = FirstBindFD + nbind
			nbind++
		} else if !mountTypes[sm.Type] {
			return nil, fmt.Errorf("mount %s: unsupported filesystem type %q", m.Destination, sm.Type)
		}
		m.Data = strings.Join(data, ",")
		switch m.Type {
		case "tmpfs", "mqueue":
			if _, err := tmpfs.ParseOptions(m.Data, tmpfs.DefaultSize*2); err != nil {
				return nil, fmt.Errorf("mount %s: bad %s options %q", m.Destination, m.Type, m.Data)
			}
		}
		om.Mounts = append(om.Mounts, m)
	}
	return om, nil
}

// mounter applies an OCIMounts to the sandbox's tree.
type mounter struct {
	f   *filesystems
	k   *kernel.Kernel
	mf  *memfile.MemoryFile
	ctx bootCtx
	// defaults are the mounts the tree had before config.json's (see
	// rootfs.NewSandboxRoot), by mount point; a config mount on or above
	// one replaces it.
	defaults []vfs.MountInfo
	// reuse holds the default proc, sysfs, cgroup2 and devpts
	// instances: the sandbox has one of each to show.
	reuse map[string]vfs.Filesystem
	// devfs is a detached devfs, the source of device bind mounts and
	// masked files.
	devfs vfs.VirtualDentry
}

// applyOCIMounts mounts config.json's mounts in order, then masks
// linux.maskedPaths and makes linux.readonlyPaths read-only.
func (f *filesystems) applyOCIMounts(k *kernel.Kernel, mf *memfile.MemoryFile, om *OCIMounts) error {
	if om == nil {
		return nil
	}
	mt := &mounter{f: f, k: k, mf: mf, ctx: bootCtx{auth.NewRootCredentials()}, reuse: map[string]vfs.Filesystem{}}
	for _, mi := range f.vfs.Mounts(f.root) {
		if mi.Root.Mount() == f.root.Mount() {
			continue
		}
		mt.defaults = append(mt.defaults, mi)
		switch n := mi.Filesystem.Name(); n {
		case "proc", "sysfs", "cgroup2", "devpts":
			mt.reuse[n] = mi.Filesystem
		}
	}
	// Deepest first, so that a replaced tree goes leaf by leaf.
	sort.SliceStable(mt.defaults, func(i, j int) bool { return len(mt.defaults[i].Point) > len(mt.defaults[j].Point) })
	devfs, err := f.vfs.NewDisconnectedMount(dev.New(f.vfs.NewAnonDevMinor()), vfs.MountOptions{})
	if err != nil {
		return err
	}
	mt.devfs = devfs
	defer devfs.DecRef()
	for i := range om.Mounts {
		m := &om.Mounts[i]
		if err := mt.mount(m); err != nil {
			return fmt.Errorf("mount %s (%s): %w", m.Destination, m.Type, err)
		}
	}
	for _, p := range om.MaskedPaths {
		if err := mt.mask(p); err != nil {
			return fmt.Errorf("masked path %s: %w", p, err)
		}
	}
	for _, p := range om.ReadonlyPaths {
		if err := mt.readonly(p); err != nil {
			return fmt.Errorf("read-only path %s: %w", p, err)
		}
	}
	if om.RootUnbindable {
		f.root.Mount().SetUnbindable(true)
	}
	return nil
}

// removeDefaults unmounts the default mounts at dest and below it.
func (mt *mounter) removeDefaults(dest string) {
	kept := mt.defaults[:0]
	for _, mi := range mt.defaults {
		if mi.Point == dest || dest == "/" || strings.HasPrefix(mi.Point, dest+"/") {
			// Already detached with a parent is fine (EINVAL).
			mt.f.vfs.UmountFlags(mi.Root, true)
			continue
		}
		kept = append(kept, mi)
	}
	mt.defaults = kept
}

// lookup resolves p inside the container's root (symlinks included,
// never above the root).
func (mt *mounter) lookup(p string, follow bool) (vfs.VirtualDentry, error) {
	r := mt.f.root
	return mt.f.vfs.GetDentryAt(mt.ctx, &vfs.PathOperation{Root: r, Start: r, Path: p, Follow: follow})
}

// target resolves a mount's destination, creating what is missing (a
// directory, or an empty file when dir is false) as runc does. Creating
// needs a writable parent: on a read-only root the destination must
// exist.
func (mt *mounter) target(dest string, dir bool) (vfs.VirtualDentry, error) {
	vd, err := mt.lookup(dest, true)
	if err == nil {
		return vd, nil
	}
	if err != unix.ENOENT {
		return vfs.VirtualDentry{}, err
	}
	// Make the parents, then the destination itself.
	parts := strings.Split(strings.TrimPrefix(dest, "/"), "/")
	r := mt.f.root
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		pop := &vfs.PathOperation{Root: r, Start: r, Path: p}
		var err error
		if i < len(parts)-1 || dir {
			err = mt.f.vfs.MkdirAt(mt.ctx, pop, 0o755)
		} else {
			var fd *vfs.FileDescription
			fd, err = mt.f.vfs.OpenAt(mt.ctx, pop, &vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_EXCL | unix.O_RDONLY, Mode: 0o644})
			if err == nil {
				fd.DecRef(mt.ctx)
			}
		}
		if err != nil && err != unix.EEXIST {
			return vfs.VirtualDentry{}, fmt.Errorf("destination does not exist and cannot be created: %w", err)
		}
	}
	return mt.lookup(dest, true)
}

func (mt *mounter) mount(m *Mount) error {
	mt.removeDefaults(m.Destination)
	opts := m.Flags
	opts.Source, opts.Data = m.Source, m.Data
	if m.Bind {
		return mt.bind(m, opts)
	}
	target, err := mt.target(m.Destination, true)
	if err != nil {
		return err
	}
	defer target.DecRef()
	v := mt.f.vfs
	var fs vfs.Filesystem
	switch m.Type {
	case "tmpfs", "mqueue":
		to, err := tmpfs.ParseOptions(m.Data, tmpfs.DefaultSize*2)
		if err != nil {
			return err
		}
		to.DevMinor = v.NewAnonDevMinor()
		// POSIX message queues are not implemented: mqueue is an
		// empty directory for what expects it mounted.
		opts.Type = m.Type
		fs = tmpfs.New(mt.mf, to)
	case "proc":
		fs = mt.reuse["proc"]
		if fs == nil {
			fs = proc.New(mt.k, proc.Options{DevMinor: v.NewAnonDevMinor(), Sysctls: mt.f.sysctls})
		}
	case "sysfs":
		fs = mt.reuse["sysfs"]
		if fs == nil {
			fs = sys.New(mt.k, sys.Options{DevMinor: v.NewAnonDevMinor()})
		}
	case "cgroup", "cgroup2":
		// The sandbox's own cgroup view, whichever version asked.
		fs = mt.reuse["cgroup2"]
		if fs == nil {
			fs = sys.NewCgroup(mt.k, sys.Options{DevMinor: v.NewAnonDevMinor()})
		}
		opts.Type = m.Type
	case "devpts":
		// newinstance, ptmxmode=, mode= and gid= are accepted and shown;
		// the sandbox has one devpts, whose nodes have fixed modes.
		fs = mt.reuse["devpts"]
		if fs == nil {
			fs = devpts.New(mt.k, v.NewAnonDevMinor())
		}
	default:
		return fmt.Errorf("unsupported filesystem type %q", m.Type)
	}
	if err := v.Mount(target, fs, opts); err != nil {
		return err
	}
	if m.Destination == "/dev" && m.Type == "tmpfs" {
		return mt.populateDev()
	}
	return nil
}

// populateDev gives a tmpfs mounted on /dev what a container runtime puts
// there: the memory devices, tty, the pts and shm mount points and the
// standard symlinks.
func (mt *mounter) populateDev() error {
	v := mt.f.vfs
	r := mt.f.root
	pop := func(p string) *vfs.PathOperation { return &vfs.PathOperation{Root: r, Start: r, Path: "/dev/" + p} }
	for _, d := range []struct {
		name  string
		minor uint32
	}{{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}} {
		if err := v.MknodAt(mt.ctx, pop(d.name), unix.S_IFCHR|0o666, unix.Mkdev(1, d.minor)); err != nil && err != unix.EEXIST {
			return fmt.Errorf("/dev/%s: %w", d.name, err)
		}
	}
	for _, d := range []struct {
		name string
		mode uint32
	}{{"pts", 0o755}, {"shm", 0o1777}} {
		if err := v.MkdirAt(mt.ctx, pop(d.name), d.mode); err != nil && err != unix.EEXIST {
			return fmt.Errorf("/dev/%s: %w", d.name, err)
		}
	}
	for _, l := range [][2]string{{"ptmx", "pts/ptmx"}, {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"}} {
		if err := v.SymlinkAt(mt.ctx, pop(l[0]), l[1]); err != nil && err != unix.EEXIST {
			return fmt.Errorf("/dev/%s: %w", l[0], err)
		}
	}
	// tty has no tmpfs driver: the devfs node (the caller's controlling
	// terminal) is bound onto an empty file, as rootless runc binds it.
	return mt.bindDevice("/dev/tty", "tty", vfs.MountOptions{Source: "/dev/tty"})
}

// bindDevice binds the detached devfs's node name onto dest (made if
// missing).
func (mt *mounter) bindDevice(dest, name string, opts vfs.MountOptions) error {
	src, err := mt.f.vfs.GetDentryAt(mt.ctx, &vfs.PathOperation{Root: mt.devfs, Start: mt.devfs, Path: name})
	if err != nil {
		return err
	}
	defer src.DecRef()
	target, err := mt.target(dest, false)
	if err != nil {
		return err
	}
	defer target.DecRef()
	return mt.f.vfs.BindMount(src, target, false, opts)
}

// devfsNames are the host devices a bind mount may name, by number: the
// sandbox binds its own node instead (a host device is not the
// container's to open).
var devfsNames = map[uint64]string{
	unix.Mkdev(1, 3): "null", unix.Mkdev(1, 5): "zero", unix.Mkdev(1, 7): "full",
	unix.Mkdev(1, 8): "random", unix.Mkdev(1, 9): "urandom", unix.Mkdev(5, 0): "tty",
}

// bind mounts the gofer-served source of m on its destination.
func (mt *mounter) bind(m *Mount, opts vfs.MountOptions) error {
	if t, err := unix.GetsockoptInt(m.GoferFD, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_SEQPACKET {
		return fmt.Errorf("no gofer connection on descriptor %d", m.GoferFD)
	}
	unix.CloseOnExec(m.GoferFD)
	c, err := gproto.NewClient(m.GoferFD)
	if err != nil {
		return fmt.Errorf("connecting to the gofer: %w", err)
	}
	_, a, err := c.Attach()
	if err != nil {
		c.Close()
		return fmt.Errorf("attaching to the gofer: %w", err)
	}
	switch a.Mode & unix.S_IFMT {
	case unix.S_IFDIR, unix.S_IFREG:
	case unix.S_IFSOCK:
		// A host socket (docker.sock): connect reaches it only with
		// --host-uds=open or all; otherwise it is a socket file
		// nothing listens on, as for any other bind mount.
	case unix.S_IFCHR:
		c.Close()
		name, ok := devfsNames[a.Rdev]
		if !ok {
			return fmt.Errorf("source %s: device %d:%d is not available in the sandbox", m.Source, unix.Major(a.Rdev), unix.Minor(a.Rdev))
		}
		return mt.bindDevice(m.Destination, name, opts)
	default:
		c.Close()
		return fmt.Errorf("source %s: neither a directory, a regular file, a socket nor a device", m.Source)
	}
	// mountinfo's root field of a bind mount is its source's path, as
	// runc's shows it (runtime-tools compares its base name).
	opts.FSRoot = path.Join("/", m.Source)
	// A bind mount is a host directory the host may change too: shared
	// file access revalidates what the sentry caches.
	gfs, err := gofer.New(mt.mf, c, gofer.Options{Writable: !opts.ReadOnly, FileAccess: gofer.Shared})
	if err != nil {
		c.Close()
		return fmt.Errorf("attaching to the gofer: %w", err)
	}
	src, err := mt.f.vfs.NewDisconnectedMount(gfs, opts)
	if err != nil {
		gfs.Close()
		return err
	}
	defer src.DecRef()
	target, err := mt.target(m.Destination, a.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer target.DecRef()
	return mt.f.vfs.BindMount(src, target, m.Recursive, opts)
}

// mask hides p: a directory under an empty read-only tmpfs, a file under
// the null device (reads see end of file). A path that does not exist is
// not an error.
func (mt *mounter) mask(p string) error {
	vd, err := mt.lookup(p, true)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer vd.DecRef()
	if vd.Dentry().IsDir() {
		fs := tmpfs.New(mt.mf, tmpfs.Options{RootMode: 0o755, DevMinor: mt.f.vfs.NewAnonDevMinor(), Size: 4096})
		return mt.f.vfs.Mount(vd, fs, vfs.MountOptions{ReadOnly: true, Source: "tmpfs"})
	}
	src, err := mt.f.vfs.GetDentryAt(mt.ctx, &vfs.PathOperation{Root: mt.devfs, Start: mt.devfs, Path: "null"})
	if err != nil {
		return err
	}
	defer src.DecRef()
	return mt.f.vfs.BindMount(src, vd, false, vfs.MountOptions{ReadOnly: true, Source: "udev", Type: "devtmpfs"})
}

// readonly binds p onto itself read-only, keeping the flags of the mount
// it is on. A path that does not exist is not an error.
func (mt *mounter) readonly(p string) error {
	vd, err := mt.lookup(p, true)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer vd.DecRef()
	opts := vd.Mount().Options()
	opts.ReadOnly = true
	// Not recursive: a bind of a path onto itself would copy itself.
	return mt.f.vfs.BindMount(vd, vd, false, opts)
}
