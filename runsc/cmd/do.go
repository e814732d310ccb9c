// Package cmd implements runsc's subcommands.
package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
)

// Do implements `runsc do`: run one command in a fresh sandbox whose root is
// a view of the host's / under an in-memory overlay (the program may write
// anywhere; the host never changes; read-only with --overlay=none) with an
// empty tmpfs on /tmp. The root is served by a `runsc gofer` process: the
// sandbox never opens host files.
type Do struct {
	Global   *flags.Global
	cwd      string
	hostname string
	rootDir  string
	// tmpOnRoot leaves /tmp to the root filesystem (no tmpfs on it).
	tmpOnRoot bool
	// volumes are --volume HOSTDIR:DIR values, in order.
	volumes volumeList
}

// volumeList is a repeatable --volume HOSTDIR:DIR flag.
type volumeList []string

// String implements flag.Value.
func (v *volumeList) String() string { return strings.Join(*v, ",") }

// Set implements flag.Value.
func (v *volumeList) Set(s string) error {
	if _, err := volumeMounts([]string{s}); err != nil {
		return err
	}
	*v = append(*v, s)
	return nil
}

// volumeMounts turns --volume HOSTDIR:DIR values into read-write
// recursive bind mounts, as config.json would list them: `runsc do` then
// serves them through the OCI bind-mount machinery (a gofer connection
// each, the gofer write path, mounted by boot.ParseMounts' rules).
func volumeMounts(vols []string) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, v := range vols {
		src, dst, ok := strings.Cut(v, ":")
		if !ok || src == "" || !filepath.IsAbs(dst) {
			return nil, fmt.Errorf("--volume %q: want HOSTDIR:DIR with DIR absolute", v)
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, fmt.Errorf("--volume %q: %w", v, err)
		}
		out = append(out, specs.Mount{Destination: dst, Type: "bind", Source: abs, Options: []string{"rbind", "rw"}})
	}
	return out, nil
}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a new sandbox" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return "do [flags] -- CMD [ARG...]\n\nRuns CMD in a new sandbox whose root is a view of the host's / (writable: changes\nstay in sandbox memory; read-only with --overlay=none) with an empty tmpfs on /tmp. Standard I/O are the caller's; the exit status is\nthe program's (128+N when it is killed by signal N).\n\nSIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to runsc go to the program,\nwhich is the init of its sandbox: as for a container's init (runsc kill), one it\nhas no handler for is ignored; only SIGKILL ends a program that does not\nhandle them.\n"
}

// SetFlags implements subcommands.Command.
func (d *Do) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.cwd, "cwd", "", "working directory inside the sandbox (default: the caller's, if visible)")
	f.StringVar(&d.hostname, "hostname", "", "hostname of the sandbox (default: the host's)")
	f.StringVar(&d.rootDir, "root-dir", "/", "host directory served read-only as the sandbox's root (for tests; it must contain tmp, dev, proc and sys)")
	f.BoolVar(&d.tmpOnRoot, "tmp-on-root", false, "mount no tmpfs on /tmp: files made there live on the root filesystem (its overlay), for running file tests on it")
	f.Var(&d.volumes, "volume", "HOSTDIR:DIR: bind the host directory HOSTDIR read-write on DIR, served by the gofer (repeatable; e.g. for running file tests on the gofer's write path)")
}

// Execute implements subcommands.Command.
func (d *Do) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	clock := vdso.TakeSample()
	if err := d.Global.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		return subcommands.ExitUsageError
	}
	args := f.Args()
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, d.Usage())
		return subcommands.ExitUsageError
	}
	if st, err := os.Stat(d.rootDir); err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "runsc: --root-dir %q is not a directory\n", d.rootDir)
		return subcommands.ExitUsageError
	}
	cwd := d.cwd
	if cwd == "" && d.rootDir != "/" {
		cwd = "/"
	}
	if cwd == "" {
		if wd, err := os.Getwd(); err == nil {
			cwd = wd
		} else {
			cwd = "/"
		}
	}
	hostname := d.hostname
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	mounts, err := volumeMounts(d.volumes)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		return subcommands.ExitUsageError
	}
	binds, err := goferBinds(&specs.Spec{Mounts: mounts}, "/")
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: --volume: %v\n", err)
		return subcommands.ExitUsageError
	}
	// The gofer's start and the sandbox's overlap: each is a fork and an
	// exec of this binary, in new namespaces (1-3 ms).
	goferStart, goferSocks, err := beginContainerGofer(self, d.rootDir, false, binds, false, d.Global.HostUDS)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: starting the gofer: %v\n", err)
		return subcommands.ExitFailure
	}
	gofer := goferStart.cmd
	defer func() {
		if goferStart.wait() == nil {
			gofer.Process.Kill()
			gofer.Wait()
		}
	}()
	bootArgs := append(d.Global.Args(), "boot", "--clock-sample="+clock.String(), "--cwd="+cwd, "--hostname="+hostname, "--tmp-on-root="+strconv.FormatBool(d.tmpOnRoot))
	for _, v := range d.volumes {
		bootArgs = append(bootArgs, "--volume="+v)
	}
	bootArgs = append(bootArgs, "--")
	bootArgs = append(bootArgs, args...)
	c := exec.Command(self, bootArgs...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Env = os.Environ()
	// The sandbox's end of the root's gofer connection is its descriptor
	// 3 (boot.GoferFD); the volumes' are boot.FirstBindFD on, as for an
	// OCI container (no readiness pipe nor console in between).
	c.ExtraFiles = []*os.File{goferSocks[0]}
	for len(c.ExtraFiles) < boot.FirstBindFD-3 {
		c.ExtraFiles = append(c.ExtraFiles, nil)
	}
	c.ExtraFiles = append(c.ExtraFiles, goferSocks[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{
		// The sandbox gets its own mount, pid, ipc, uts and network
		// namespaces; it dies with us.
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC |
			unix.CLONE_NEWUTS | d.Global.NetNamespace(),
		Pdeathsig: syscall.SIGKILL,
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	// As runsc create does: the sandbox starts with the few capabilities
	// it uses before its fence, inherited, and an empty bounding set, so
	// that the fence has no bounding-set capability to drop on every
	// thread (about 41 stops of all threads, 10 ms of a 40 ms start).
	err = startWithCaps(sandboxBootCaps, true, c.Start)
	closeFiles(goferSocks)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: starting the sandbox: %v\n", err)
		return subcommands.ExitFailure
	}
	if gerr := goferStart.wait(); gerr != nil {
		c.Process.Kill()
		c.Wait()
		fmt.Fprintf(os.Stderr, "runsc: starting the gofer: %v\n", gerr)
		return subcommands.ExitFailure
	}
	go func() {
		for s := range sigs {
			c.Process.Signal(s)
		}
	}()
	err = c.Wait()
	signal.Stop(sigs)
	if err == nil {
		return subcommands.ExitSuccess
	}
	if ee, ok := err.(*exec.ExitError); ok {
		ws := ee.Sys().(syscall.WaitStatus)
		gofer.Process.Kill()
		gofer.Wait()
		if ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ws.ExitStatus())
	}
	fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
	return subcommands.ExitFailure
}
