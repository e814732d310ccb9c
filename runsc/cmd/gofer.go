package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/gofer"
)

// Gofer implements the internal `runsc gofer` command: the process that
// serves the container's root directory to the sentry (see package gofer).
// It is started by `do` in its own mount namespace with its end of the
// socketpair on --sock-fd; it chroots into the root it serves, drops every
// capability but those needed to reach files, installs its seccomp
// allow-list and serves until the sentry hangs up.
//
// Each --bind (config.json's bind mounts, in config order) is served too,
// on its own connection: descriptor sock-fd+1+i for the i-th. Its source
// is opened before the chroot, following symlinks in the host path as
// runc does; below it, as below the root, nothing is ever followed.
//
// --host-uds (the global flag's value, passed on by the starter) lets
// every served tree answer Tconnect/Tbind (gofer/server_socket.go): then
// /proc/self/fd is opened before the chroot and the seccomp filter allows
// AF_UNIX socket, connect, bind and listen.
type Gofer struct {
	root     string
	sockFD   int
	readOnly bool
	binds    bindFlags
	hostUDS  string
}

// bindFlags collects --bind=ro:PATH and --bind=rw:PATH.
type bindFlags []goferBind

type goferBind struct {
	source   string
	readOnly bool
}

func (b *bindFlags) String() string { return fmt.Sprint(len(*b)) }

func (b *bindFlags) Set(v string) error {
	mode, path, ok := strings.Cut(v, ":")
	if !ok || (mode != "ro" && mode != "rw") || !filepath.IsAbs(path) {
		return fmt.Errorf("bind %q: want ro:/PATH or rw:/PATH", v)
	}
	*b = append(*b, goferBind{source: path, readOnly: mode == "ro"})
	return nil
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string { return "serve the container's files to the sandbox (internal)" }

// Usage implements subcommands.Command.
func (*Gofer) Usage() string {
	return "gofer --root=DIR [--sock-fd=N] [--read-only] [--host-uds=MODE] [--bind=ro|rw:/SOURCE]...\n"
}

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.root, "root", "/", "directory to serve as the container's root")
	f.IntVar(&g.sockFD, "sock-fd", 3, "descriptor of the SOCK_SEQPACKET connection to the sentry")
	f.BoolVar(&g.readOnly, "read-only", false, "refuse every modification (EROFS)")
	f.StringVar(&g.hostUDS, "host-uds", "none", "host unix sockets: none, open, create or all")
	f.Var(&g.binds, "bind", "also serve this bind mount source (ro:/PATH or rw:/PATH) on descriptor sock-fd+1+i; repeatable")
}

// Execute implements subcommands.Command.
func (g *Gofer) Execute(context.Context, *flag.FlagSet, ...any) subcommands.ExitStatus {
	if err := g.run(); err != nil {
		fmt.Fprintf(os.Stderr, "runsc gofer: %v\n", err)
		return subcommands.ExitFailure
	}
	return subcommands.ExitSuccess
}

func (g *Gofer) run() error {
	uds, err := gofer.ParseHostUDS(g.hostUDS)
	if err != nil {
		return err
	}
	for i := 0; i <= len(g.binds); i++ {
		fd := g.sockFD + i
		unix.CloseOnExec(fd)
		if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_SEQPACKET {
			return fmt.Errorf("descriptor %d is not a SOCK_SEQPACKET socket", fd)
		}
	}
	// Our mount namespace is our own: keep its changes from propagating
	// back to the host (EINVAL/EPERM when not in a new namespace or not
	// privileged; then there is nothing to propagate).
	unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "")
	rootFD, err := unix.Open(g.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening root %q: %w", g.root, err)
	}
	// /proc is outside the root we chroot into: Tconnect and Tbind
	// reach their files through the magic links of our own descriptors.
	procFD := -1
	if uds != gofer.HostUDSNone {
		if procFD, err = unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("--host-uds=%s needs /proc: %w", uds, err)
		}
	}
	// Bind sources are opened while host paths still mean something.
	servers := make([]*gofer.Server, 0, 1+len(g.binds))
	for i, b := range g.binds {
		s, err := openBind(b, g.sockFD+1+i)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	// From here on no path string reaches beyond the served root: the
	// server only uses descriptors, and the process' own root is it too.
	if err := unix.Fchdir(rootFD); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil && err != unix.EPERM {
		return fmt.Errorf("chroot into %q: %w", g.root, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if procFD >= 0 {
		home, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		gofer.EnableHostUDS(procFD, home)
	}
	if err := gofer.DropCapabilities(); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	s, err := gofer.NewServer(rootFD, g.sockFD, g.readOnly)
	if err != nil {
		return err
	}
	servers = append([]*gofer.Server{s}, servers...)
	for _, s := range servers {
		s.SetHostUDS(uds)
	}
	if err := gofer.InstallFilterWith(gofer.FilterOptions{HostUDS: uds != gofer.HostUDSNone}); err != nil {
		return fmt.Errorf("installing the seccomp filter: %w", err)
	}
	// Every connection is served until the sentry hangs up on it; the
	// root's error, if any, is the one reported.
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Serve()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// openBind opens a bind mount's source (following symlinks in its host
// path) and returns the server of it on sock: a directory is served like
// the root; any other file through its parent directory, which the client
// can never reach.
func openBind(b goferBind, sock int) (*gofer.Server, error) {
	fd, err := unix.Open(b.source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount source %q: %w", b.source, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount source %q: %w", b.source, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		s, err := gofer.NewServer(fd, sock, b.readOnly)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("mount source %q: %w", b.source, err)
		}
		return s, nil
	}
	unix.Close(fd)
	real, err := filepath.EvalSymlinks(b.source)
	if err != nil {
		return nil, fmt.Errorf("mount source %q: %w", b.source, err)
	}
	dir, err := unix.Open(filepath.Dir(real), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mount source %q: %w", b.source, err)
	}
	// The file must still be the one first opened (no swap in between).
	var st2 unix.Stat_t
	if err := unix.Fstatat(dir, filepath.Base(real), &st2, unix.AT_SYMLINK_NOFOLLOW); err != nil || st2.Ino != st.Ino || st2.Dev != st.Dev {
		unix.Close(dir)
		return nil, fmt.Errorf("mount source %q changed while it was opened", b.source)
	}
	s, err := gofer.NewFileServer(dir, filepath.Base(real), sock, b.readOnly)
	if err != nil {
		return nil, fmt.Errorf("mount source %q: %w", b.source, err)
	}
	return s, nil
}
