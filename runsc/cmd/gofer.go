package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"

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
type Gofer struct {
	root     string
	sockFD   int
	readOnly bool
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string { return "serve the container's files to the sandbox (internal)" }

// Usage implements subcommands.Command.
func (*Gofer) Usage() string { return "gofer --root=DIR [--sock-fd=N] [--read-only]\n" }

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.root, "root", "/", "directory to serve as the container's root")
	f.IntVar(&g.sockFD, "sock-fd", 3, "descriptor of the SOCK_SEQPACKET connection to the sentry")
	f.BoolVar(&g.readOnly, "read-only", false, "refuse every modification (EROFS)")
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
	unix.CloseOnExec(g.sockFD)
	if t, err := unix.GetsockoptInt(g.sockFD, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_SEQPACKET {
		return fmt.Errorf("descriptor %d is not a SOCK_SEQPACKET socket", g.sockFD)
	}
	// Our mount namespace is our own: keep its changes from propagating
	// back to the host (EINVAL/EPERM when not in a new namespace or not
	// privileged; then there is nothing to propagate).
	unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "")
	rootFD, err := unix.Open(g.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening root %q: %w", g.root, err)
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
	if err := gofer.DropCapabilities(); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	s, err := gofer.NewServer(rootFD, g.sockFD, g.readOnly)
	if err != nil {
		return err
	}
	if err := gofer.InstallFilter(); err != nil {
		return fmt.Errorf("installing the seccomp filter: %w", err)
	}
	if err := s.Serve(); err != nil {
		return err
	}
	return nil
}
