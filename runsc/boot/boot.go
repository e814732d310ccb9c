// Package boot assembles and runs a sandbox inside the `runsc boot`
// process: the memory file, the platform, the mount tree, the kernel and
// the container's first process.
package boot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/dev"
	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/platform/ptrace"
	"github.com/rampart-sandbox/rampart/platform/systrap"
	"github.com/rampart-sandbox/rampart/runsc/fence"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
	"github.com/rampart-sandbox/rampart/sentry/memfile"
	"github.com/rampart-sandbox/rampart/sentry/socket"
	"github.com/rampart-sandbox/rampart/sentry/socket/hostinet"
	sunix "github.com/rampart-sandbox/rampart/sentry/socket/unix"
	"github.com/rampart-sandbox/rampart/syscalls/linux"
)

// Config describes the sandbox to run.
type Config struct {
	// ClockSample, if not nil, is the TSC and CLOCK_MONOTONIC as the
	// starter read them at its start: the vDSO's calibration window opens
	// there (vdso.New), not when the sandbox builds it.
	ClockSample *vdso.Sample

	Argv     []string
	Envv     []string
	Cwd      string
	Hostname string
	Strace   bool

	// Platform is "ptrace" (the default when empty) or "systrap".
	Platform string
	// Spin is systrap's Options.Spin.
	Spin int
	// NoPatch turns systrap's syscall patching (Options.Patch) off.
	NoPatch bool

	Debug bool
	// DebugDir, if set, receives the sandbox's debug log.
	DebugDir string
	// Terminal gives the init a terminal of the sentry's devpts as its
	// stdio and controlling terminal, relayed to the host terminal on
	// ConsoleFD (console.go); console is that relay.
	Terminal bool
	console  *hostConsole

	// User, if set, are the init's ids; nil means the caller's.
	User *User
	// Caps, if set, are the init's capability sets.
	Caps *Caps
	// Umask is the init's umask (0 means 022, UmaskZero means 0).
	Umask uint32
	// Limits, if set, are the memory and pids limits the sentry
	// enforces (limits.go).
	Limits *Limits
	// Rlimits override the defaults, by resource number.
	Rlimits map[int]unix.Rlimit
	// NoNewPrivs sets no_new_privs on the init.
	NoNewPrivs bool
	// AppSeccomp, if set, is config.json's linux.seccomp compiled
	// (runsc/ociseccomp): the init and every exec'd process start under
	// it, as runc installs it after capabilities and no_new_privs.
	AppSeccomp *bpf.Program
	// Root says how the root filesystem is mounted (fs.go).
	Root rootfs.RootOptions
	// FileAccess is the caching mode of the gofer's root (--file-access:
	// "exclusive", the default when empty, or "shared"); bind mounts are
	// always shared.
	FileAccess string
	// HostNetwork is --network=host: the sandbox's inet sockets are host
	// sockets and it shows the host's interfaces.
	HostNetwork bool
	// HostUDS is --host-uds: whether unix sockets may connect to host
	// sockets (open) or bind new ones (create) on gofer-served trees;
	// the gofer enforces the same policy (gofer/server_socket.go).
	HostUDS gofer.HostUDS
	// OCIMounts, if set, are config.json's mounts, masked and read-only
	// paths, applied over the default tree (see mounts.go).
	OCIMounts *OCIMounts
	// Sysctls are config.json's linux.sysctl (sysctl.go).
	Sysctls map[string]string
	// Devices are config.json's linux.devices, made in the sandbox's
	// /dev (devices.go).
	Devices []Device
	// DeviceRules, if set, are linux.resources.devices: the device
	// allow-list the sentry applies to the application (fs/dev).
	DeviceRules []dev.Rule
	// OOMScoreAdj, if set, is the init's oom_score_adj.
	OOMScoreAdj *int
	// UserNS, if set, is the user namespace the sandbox process was
	// started in (userns.go).
	UserNS *UserNamespace
	// CgroupJoined, if set, returns once the starter has moved this
	// process and the gofer into the container's cgroup (or fails if
	// it gave up): Run waits for it before anything that must be born
	// there or charged to it, the platform's stubs and the first
	// request to the gofer. It may be called more than once, and
	// concurrently.
	CgroupJoined func() error
	// Control, if set, makes this an OCI sandbox: the init is started
	// only when asked over the control socket (see control.go).
	Control *Control

	// Fence fences the process from the host (runsc/fence: empty root,
	// no capabilities, the sentry's seccomp filter) before the first
	// application instruction. Only for a process that is the init of
	// its own mount and pid namespaces (runsc boot).
	Fence bool
	// Seccomp are the fence's filter options.
	Seccomp fence.Options
}

// newNetworkStack is linux.NewNetworkStack with --host-uds applied to
// its AF_UNIX family: host-backed unix sockets get a host network of
// their own (its epoll instance is made now, before the fence).
func newNetworkStack(c linux.NetworkConfig, uds gofer.HostUDS) *socket.Stack {
	st := linux.NewNetworkStack(c)
	if uds == gofer.HostUDSNone {
		return st
	}
	if p, err := st.ProviderOf(unix.AF_UNIX); err == nil {
		if fam, ok := p.(*sunix.Family); ok {
			fam.EnableHost(hostinet.NewNet(), uds&gofer.HostUDSOpen != 0, uds&gofer.HostUDSCreate != 0)
		}
	}
	return st
}

// rootResult is what attaching to the gofer's root gave (Run).
type rootResult struct {
	fsys *filesystems
	err  error
}

// UmaskZero in Config.Umask asks for umask 0.
const UmaskZero = 1 << 31

// User are the ids of the container's init.
type User struct {
	UID, GID uint32
	Groups   []uint32
}

// Caps are the capability sets of the container's init, as bit masks.
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Exit codes for a first process that could not be started, as a shell
// reports them.
const (
	exitNotFound      = 127
	exitCannotExecute = 126
)

// Run runs the sandbox until its first process and every other task have
// exited, and returns the exit code to report (128+N for death by signal N).
func Run(c Config) (int, error) {
	var debugLog io.Writer
	if c.DebugDir != "" {
		if err := os.MkdirAll(c.DebugDir, 0o755); err != nil {
			return 1, fmt.Errorf("debug log directory: %w", err)
		}
		name := filepath.Join(c.DebugDir, fmt.Sprintf("runsc.boot.%s.%d.log", time.Now().Format("20060102-150405"), os.Getpid()))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return 1, fmt.Errorf("debug log: %w", err)
		}
		defer f.Close()
		debugLog = f
	} else if c.Debug {
		debugLog = os.Stderr
	}
	// Under --debug each start-up phase is stamped with the time since
	// Run began (the start-up's budget: bench/run.sh oci_run).
	began := time.Now()
	phase := func(name string) {
		if debugLog != nil {
			fmt.Fprintf(debugLog, "runsc boot: %s done at %s (+%v)\n", name, time.Now().Format("15:04:05.000000"), time.Since(began).Round(10*time.Microsecond))
		}
	}

	// Everything that needs a host path comes before the fence: the
	// host's CPU description, the names of the donated stdio, the local
	// time zone (loaded on first use), the control socket.
	cpuInfo := proc.ReadHostCPUInfo()
	stdioNames := hostFDNames([3]int{0, 1, 2})
	_ = time.Local.String()
	var ctl *lateHandler
	if c.Control != nil {
		var err error
		ctl, err = listenControl(c.Control.Socket)
		if err != nil {
			return 1, c.ready(err)
		}
		defer ctl.close()
	}
	phase("control socket")
	if c.UserNS != nil {
		if err := becomeNamespaceRoot(); err != nil {
			return 1, c.ready(err)
		}
	}
	// The memory file (a memfd: no host path) comes first, so that the
	// vDSO's clock calibration, which sleeps about 10 ms, runs while the
	// sandbox is fenced and the platform, the file systems and the
	// kernel are made; it is joined before anything runs (vd.wait).
	mf, err := memfile.New("rampart-memory")
	if err != nil {
		return 1, fmt.Errorf("creating the memory file: %w", err)
	}
	defer func() { mf.Close(); phase("memory file closed") }()
	vd := startVDSO(mf, runtime.NumCPU(), c.ClockSample)
	defer func() { vd.stop(); phase("vdso stopped") }()
	phase("memory file")
	// The root comes from the gofer (GoferFD), which the starter runs on
	// the host directory to serve, at the same time as this process:
	// attaching to it is traffic on the connection only (no host path,
	// no capability), so it goes on while the sandbox is fenced and the
	// platform started, and a gofer slower to start than the sandbox
	// delays only what needs the mount tree.
	roots := make(chan rootResult, 1)
	go func() {
		if err := c.cgroupJoined(); err != nil {
			roots <- rootResult{err: err}
			return
		}
		fsys, err := newFilesystems(mf, c.Root, c.FileAccess)
		roots <- rootResult{fsys, err}
	}()
	systrap.OpenHostLoad() // before the fence hides /proc
	if c.Fence {
		if os.Getpid() != 1 {
			return 1, c.ready(errors.New("fencing the sandbox: not the init of a new pid namespace"))
		}
		if err := fence.Apply(); err != nil {
			return 1, c.ready(err)
		}
		if ctl != nil {
			ctl.srv.KeepSocket()
		}
	}
	phase("fence")

	// The platform comes after the fence: its stubs are forked from
	// the fenced process, in the container's cgroup.
	if c.CgroupJoined != nil {
		if err := c.CgroupJoined(); err != nil {
			return 1, c.ready(err)
		}
		phase("cgroup")
	}
	p, err := newPlatform(c.Platform, systrap.Options{Spin: c.Spin, Patch: !c.NoPatch}, mf.FD())
	if err != nil {
		return 1, err
	}
	defer func() { p.Close(); phase("platform closed") }()

	phase("platform")
	root := <-roots
	if root.err != nil {
		return 1, c.ready(root.err)
	}
	fsys := root.fsys
	phase("root filesystem")

	netcfg := linux.NetworkConfig{Host: c.HostNetwork, Sysctl: fsys.sysctls.Uint}
	if c.HostNetwork {
		if netcfg.Interfaces, err = hostinet.HostInterfaces(); err != nil {
			return 1, fmt.Errorf("reading the host's interfaces: %w", err)
		}
	}
	kcfg := kernel.Config{
		Platform:     p,
		MemoryFile:   mf,
		VFS:          fsys.vfs,
		SyscallTable: linux.Table(),
		Hostname:     c.Hostname,
		NumCPU:       runtime.NumCPU(),
		DebugLog:     debugLog,
		Loader:       &execLoader{vdso: vd, maxAddr: p.MaxUserAddress()},
		Network:      newNetworkStack(netcfg, c.HostUDS),
		AppClock:     vd.now,
	}
	if c.Strace {
		kcfg.Strace = newStraceTracer(os.Stderr)
	}
	k := kernel.New(kcfg)
	phase("kernel")
	applyLimits(k, c.Limits)
	if err := fsys.mountSys(k); err != nil {
		return 1, err
	}
	if c.OOMScoreAdj != nil {
		fsys.oomScoreAdj = *c.OOMScoreAdj
	}
	if c.UserNS != nil {
		fsys.uidMap, fsys.gidMap = c.UserNS.UIDMap, c.UserNS.GIDMap
	}
	if err := fsys.mountProc(k, time.Now(), cpuInfo); err != nil {
		return 1, err
	}
	if err := fsys.mountDevpts(k); err != nil {
		return 1, err
	}
	if err := applySysctls(k, fsys.sysctls, c.Sysctls); err != nil {
		return 1, c.ready(err)
	}
	if err := fsys.applyOCIMounts(k, mf, c.OCIMounts); err != nil {
		return 1, c.ready(err)
	}
	if err := fsys.makeDevices(c.Devices); err != nil {
		return 1, c.ready(err)
	}
	phase("mounts")
	if c.DeviceRules != nil {
		dev.SetAllowList(c.DeviceRules)
	}

	creds := c.credentials()
	umask := c.Umask
	switch umask {
	case 0:
		umask = 0o022
	case UmaskZero:
		umask = 0
	}
	fsc := fsys.newFSContext(creds, c.Cwd, umask)
	fdt, err := fsys.newStdioFDTable(creds, stdioNames)
	if err != nil {
		return 1, c.ready(err)
	}
	if c.Terminal {
		fdt.DecRef(bootCtx{creds})
		if fdt, c.console, err = fsys.newConsoleFDTable(creds, ConsoleFD); err != nil {
			return 1, c.ready(err)
		}
	}
	var limits *kernel.Limits
	if len(c.Rlimits) > 0 {
		limits = kernel.DefaultLimits()
		for r, v := range c.Rlimits {
			limits.Set(r, v)
		}
	}
	initCfg := kernel.InitConfig{
		Argv:        c.Argv,
		Envv:        c.Envv,
		Credentials: creds,
		FDTable:     fdt,
		FSContext:   fsc,
		Limits:      limits,
		Umask:       umask,
		NoNewPrivs:  c.NoNewPrivs,
		Seccomp:     c.AppSeccomp,
	}
	if c.console != nil {
		initCfg.CTTY = c.console.term.Control()
	}
	initCfg.Path, err = fsys.lookPath(creds, fsc, c.Argv[0], c.Envv)
	phase("init lookup")
	if c.Fence {
		// The last step before any application instruction.
		opts := c.Seccomp
		opts.MemoryFD = mf.FD()
		if ferr := fence.InstallFilter(opts); ferr != nil {
			return 1, c.ready(fmt.Errorf("installing the sentry's seccomp filter: %w", ferr))
		}
	}
	phase("seccomp filter")
	if verr := vd.wait(); verr != nil {
		return 1, c.ready(verr)
	}
	phase("vdso")
	if c.Control != nil {
		if err != nil {
			code, err := startError(c.Argv[0], err)
			return code, c.ready(err)
		}
		code, err := runControlled(c, k, fsys, initCfg, ctl)
		phase("run")
		return code, err
	}
	if err == nil {
		err = k.StartInit(initCfg)
	}
	if err != nil {
		return startError(c.Argv[0], err)
	}
	phase("init start")

	// Signals sent to the sandbox process from outside go to init, as
	// signals from an ancestor PID namespace do: an init without a
	// handler ignores them (kernel.Kernel.SendSignal with a nil sender),
	// the rule `runsc kill` follows too.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	go func() {
		for s := range sigs {
			if tg := k.FindThreadGroup(1); tg != nil {
				k.SendSignal(tg, int(s.(unix.Signal)), nil)
			}
		}
	}()
	ws := k.Wait()
	phase("init exit")
	signal.Stop(sigs)
	if ws.CoreDumped() {
		fmt.Fprintf(os.Stderr, "runsc: the container's init was killed by signal %d (%v), core dumped (no core file is written)\n",
			ws.Signal(), unix.Signal(ws.Signal()))
	}
	return ws.ExitCode(), nil
}

// startError turns a failure to start the first process into the message
// and exit code a shell would give.
func startError(name string, err error) (int, error) {
	var errno unix.Errno
	errors.As(err, &errno)
	switch errno {
	case unix.ENOENT:
		return exitNotFound, fmt.Errorf("%s: no such file or directory", name)
	case unix.ENOEXEC:
		return exitCannotExecute, fmt.Errorf("%s: exec format error: %v", name, err)
	case unix.EACCES:
		return exitCannotExecute, fmt.Errorf("%s: permission denied", name)
	}
	return exitCannotExecute, fmt.Errorf("%s: %v", name, err)
}

// credentials are the init's credentials: c.User and c.Caps, or the
// caller's ids.
func (c *Config) credentials() *auth.Credentials {
	var creds *auth.Credentials
	if c.User != nil {
		groups := make([]auth.KGID, len(c.User.Groups))
		for i, g := range c.User.Groups {
			groups[i] = auth.KGID(g)
		}
		creds = auth.NewUserCredentials(auth.KUID(c.User.UID), auth.KGID(c.User.GID), groups)
	} else {
		creds = auth.NewUserCredentials(auth.KUID(os.Getuid()), auth.KGID(os.Getgid()), hostGroups())
	}
	if c.Caps != nil {
		creds.BoundingCaps = auth.CapabilitySet(c.Caps.Bounding)
		creds.EffectiveCaps = auth.CapabilitySet(c.Caps.Effective)
		creds.PermittedCaps = auth.CapabilitySet(c.Caps.Permitted)
		creds.InheritableCaps = auth.CapabilitySet(c.Caps.Inheritable)
		creds.AmbientCaps = auth.CapabilitySet(c.Caps.Ambient)
	}
	return creds
}

// cgroupJoined waits for c.CgroupJoined, if set.
func (c *Config) cgroupJoined() error {
	if c.CgroupJoined == nil {
		return nil
	}
	return c.CgroupJoined()
}

// ready reports err (or success, for nil) to an OCI caller waiting for the
// sandbox to be created, and returns err.
func (c *Config) ready(err error) error {
	if c.Control != nil && c.Control.Ready != nil {
		c.Control.Ready(err)
		c.Control.Ready = nil
	}
	return err
}

// hostFDNames returns what the host's /proc/self/fd shows for fds (""
// where it cannot be read), for fs/host.File.SetHostName. It must run
// before the fence.
func hostFDNames(fds [3]int) [3]string {
	var out [3]string
	for i, fd := range fds {
		out[i], _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	}
	return out
}

func hostGroups() []auth.KGID {
	gs, err := unix.Getgroups()
	if err != nil {
		return nil
	}
	out := make([]auth.KGID, len(gs))
	for i, g := range gs {
		out[i] = auth.KGID(g)
	}
	return out
}

// newPlatform starts the platform named by --platform on the memory file.
func newPlatform(name string, opts systrap.Options, memFD int) (platform.Platform, error) {
	switch name {
	case "", "ptrace":
		p, err := ptrace.New(memFD)
		if err != nil {
			return nil, fmt.Errorf("starting the ptrace platform: %w", err)
		}
		return p, nil
	case "systrap":
		p, err := systrap.New(memFD, opts)
		if err != nil {
			return nil, fmt.Errorf("starting the systrap platform: %w", err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown platform %q", name)
}
