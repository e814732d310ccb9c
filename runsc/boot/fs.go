package boot

import (
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/devpts"
	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/fs/sys"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/loader"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/memmap"
)

// bootCtx is the vfs.Context of the boot code itself.
type bootCtx struct{ creds *auth.Credentials }

func (c bootCtx) Credentials() *auth.Credentials      { return c.creds }
func (c bootCtx) CopyIn(uint64, []byte) (int, error)  { return 0, unix.EFAULT }
func (c bootCtx) CopyOut(uint64, []byte) (int, error) { return 0, unix.EFAULT }

type filesystems struct {
	vfs  *vfs.VirtualFilesystem
	root vfs.VirtualDentry
	// sysctls are the sandbox's writable sysctls, shown by every procfs
	// instance and read by the network stack (net.unix.max_dgram_qlen).
	sysctls *proc.Sysctls
	// oomScoreAdj is the oom_score_adj processes start with (set before
	// mountProc).
	oomScoreAdj int
	// uidMap and gidMap are the sandbox's user namespace maps, if it
	// has its own (set before mountProc).
	uidMap, gidMap []proc.IDMapEntry
}

// GoferFD is the descriptor on which `runsc boot` finds its end of the
// SOCK_SEQPACKET connection to the gofer serving the root filesystem (the
// starter passes it as its first extra file).
const GoferFD = 3

// newFilesystems builds the mount tree on the gofer's root, mounted as
// opts say (normally under the in-memory overlay), cached as fileAccess
// says (gofer.ParseFileAccess).
func newFilesystems(mf *memfile.MemoryFile, opts rootfs.RootOptions, fileAccess string) (*filesystems, error) {
	access, err := gofer.ParseFileAccess(fileAccess)
	if err != nil {
		return nil, err
	}
	if t, err := unix.GetsockoptInt(GoferFD, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("no gofer connection on descriptor %d", GoferFD)
	}
	unix.CloseOnExec(GoferFD)
	c, err := gproto.NewClient(GoferFD)
	if err != nil {
		return nil, fmt.Errorf("connecting to the gofer: %w", err)
	}
	// Writable unless the gofer serves the root read-only.
	writable, err := gofer.ServedWritable(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("attaching to the gofer's root: %w", err)
	}
	gfs, err := gofer.New(mf, c, gofer.Options{Writable: writable, FileAccess: access})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("attaching to the gofer's root: %w", err)
	}
	v, root, err := rootfs.NewSandboxRoot(mf, gfs, opts)
	if err != nil {
		return nil, fmt.Errorf("building the sandbox's mount tree: %w", err)
	}
	return &filesystems{vfs: v, root: root, sysctls: proc.NewSysctls()}, nil
}

// mountProc mounts the procfs describing k on /proc (over the empty
// directory that hides the host's).
func (f *filesystems) mountProc(k *kernel.Kernel, boot time.Time, cpuInfo string) error {
	pfs := proc.New(k, proc.Options{DevMinor: f.vfs.NewAnonDevMinor(), BootTime: boot, HostCPUInfo: cpuInfo, Sysctls: f.sysctls, OOMScoreAdj: f.oomScoreAdj, UIDMap: f.uidMap, GIDMap: f.gidMap})
	if err := f.vfs.MountAt(bootCtx{auth.NewRootCredentials()}, f.root, "/proc", pfs, vfs.MountOptions{}); err != nil {
		return fmt.Errorf("mounting proc on /proc: %w", err)
	}
	return nil
}

// mountDevpts mounts the pseudo-terminal filesystem of k on /dev/pts
// (/dev/ptmx links to its ptmx).
func (f *filesystems) mountDevpts(k *kernel.Kernel) error {
	pts := devpts.New(k, f.vfs.NewAnonDevMinor())
	if err := f.vfs.MountAt(bootCtx{auth.NewRootCredentials()}, f.root, "/dev/pts", pts, vfs.MountOptions{}); err != nil {
		return fmt.Errorf("mounting devpts on /dev/pts: %w", err)
	}
	registerPtmx(pts)
	return nil
}

// newFSContext returns root and cwd for the first process; a cwd that does
// not exist in the sandbox falls back to /.
func (f *filesystems) newFSContext(creds *auth.Credentials, cwd string, umask uint32) *vfs.FSContext {
	ctx := bootCtx{creds}
	vd, err := f.vfs.GetDentryAt(ctx, &vfs.PathOperation{Root: f.root, Start: f.root, Path: cwd, Follow: true})
	if err != nil {
		return vfs.NewFSContext(f.root, f.root, umask)
	}
	defer vd.DecRef()
	return vfs.NewFSContext(f.root, vd, umask)
}

// newStdioFDTable returns a table with host descriptors 0, 1 and 2 as
// the first process' stdio; names are their host paths (hostFDNames).
func (f *filesystems) newStdioFDTable(creds *auth.Credentials, names [3]string) (*vfs.FDTable, error) {
	t := vfs.NewFDTable()
	if err := installStdio(bootCtx{creds}, t, [3]int{0, 1, 2}, names); err != nil {
		return nil, fmt.Errorf("installing stdio: %w", err)
	}
	return t, nil
}

// installStdio installs hostFDs as descriptors 0, 1 and 2 of t and
// records their host names (fs/host.File.SetHostName).
func installStdio(ctx bootCtx, t *vfs.FDTable, hostFDs [3]int, names [3]string) error {
	if err := rootfs.InstallStdio(ctx, t, hostFDs); err != nil {
		return err
	}
	for i, name := range names {
		if name == "" {
			continue
		}
		fd, _ := t.Get(int32(i))
		if fd == nil {
			continue
		}
		if h, ok := fd.Impl().(interface{ SetHostName(string) }); ok {
			h.SetHostName(name)
		}
		fd.DecRef(ctx)
	}
	return nil
}

// lookPath finds name like execvp: a name with a slash is used as it is,
// otherwise each directory of $PATH in the sandbox is tried.
func (f *filesystems) lookPath(creds *auth.Credentials, fsc *vfs.FSContext, name string, envv []string) (string, error) {
	ctx := bootCtx{creds}
	if strings.Contains(name, "/") {
		fd, err := f.vfs.OpenExecutable(ctx, fsc, name)
		if err != nil {
			return "", err
		}
		fd.DecRef(ctx)
		return name, nil
	}
	p := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range envv {
		if strings.HasPrefix(e, "PATH=") {
			p = e[5:]
		}
	}
	firstErr := error(unix.ENOENT)
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = "."
		}
		cand := path.Join(dir, name)
		fd, err := f.vfs.OpenExecutable(ctx, fsc, cand)
		if err == nil {
			fd.DecRef(ctx)
			return cand, nil
		}
		if err != unix.ENOENT && err != unix.ENOTDIR && firstErr == unix.ENOENT {
			firstErr = err
		}
	}
	return "", firstErr
}

// taskOpener opens executables for the loader on behalf of a task.
type taskOpener struct{ t *kernel.Task }

// OpenExecutable implements loader.Opener.
func (o taskOpener) OpenExecutable(name string) (loader.File, string, error) {
	t := o.t
	v := t.Kernel().VFS
	fd, err := v.OpenExecutable(t, t.FSContext(), name)
	if err != nil {
		return nil, "", err
	}
	resolved := name
	if vd := fd.VirtualDentry(); vd.Ok() {
		root := t.FSContext().Root()
		resolved = v.PathnameWithin(root, vd)
		root.DecRef()
	}
	return &execFile{t: t, fd: fd}, resolved, nil
}

// execFile adapts an open vfs file to loader.File.
type execFile struct {
	t  *kernel.Task
	fd *vfs.FileDescription
}

func (f *execFile) ReadAt(p []byte, off int64) (int, error) { return f.fd.ReadAt(f.t, p, off) }

func (f *execFile) Size() int64 {
	n, err := f.fd.Size(f.t)
	if err != nil {
		return 0
	}
	return n
}

func (f *execFile) Mappable() memmap.Mappable { return f.fd.Mappable() }

func (f *execFile) Hold() func(bool) {
	fd, t := f.fd, f.t
	return func(inc bool) {
		if inc {
			fd.IncRef()
		} else {
			fd.DecRef(t)
		}
	}
}

func (f *execFile) Release() { f.fd.DecRef(f.t) }

// mountSys mounts the sysfs describing k read-only on /sys, and the
// sandbox's cgroup v2 view on /sys/fs/cgroup, as a container runtime
// mounts them (over the empty directory that hides the host's /sys).
func (f *filesystems) mountSys(k *kernel.Kernel) error {
	ctx := bootCtx{auth.NewRootCredentials()}
	ro := vfs.MountOptions{ReadOnly: true, NoSuid: true, NoDev: true, NoExec: true}
	sfs := sys.New(k, sys.Options{DevMinor: f.vfs.NewAnonDevMinor()})
	if err := f.vfs.MountAt(ctx, f.root, "/sys", sfs, ro); err != nil {
		return fmt.Errorf("mounting sysfs on /sys: %w", err)
	}
	cfs := sys.NewCgroup(k, sys.Options{DevMinor: f.vfs.NewAnonDevMinor()})
	if err := f.vfs.MountAt(ctx, f.root, "/sys/fs/cgroup", cfs, ro); err != nil {
		return fmt.Errorf("mounting cgroup2 on /sys/fs/cgroup: %w", err)
	}
	return nil
}
