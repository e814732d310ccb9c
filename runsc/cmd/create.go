package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/loader/vdso"
)

// Create implements `runsc create`: the sandbox is started and waits, its
// init loaded-to-be but not run, until `runsc start`.
type Create struct {
	Global *flags.Global
	opts   createOpts
}

type createOpts struct {
	bundle        string
	pidFile       string
	consoleSocket string
	noPivot       bool
	noNewKeyring  bool
	preserveFDs   int
	// term is set by createContainer for a process with a terminal.
	term *hostTerminal
}

func (o *createOpts) set(f *flag.FlagSet) {
	f.StringVar(&o.bundle, "bundle", ".", "path to the root of the bundle directory")
	f.StringVar(&o.bundle, "b", ".", "path to the root of the bundle directory (short for --bundle)")
	f.StringVar(&o.pidFile, "pid-file", "", "file to write the sandbox process' pid to")
	f.StringVar(&o.consoleSocket, "console-socket", "", "unix socket to send the pty master to (process.terminal)")
	f.BoolVar(&o.noPivot, "no-pivot", false, "accepted for runc compatibility")
	f.BoolVar(&o.noNewKeyring, "no-new-keyring", false, "accepted for runc compatibility")
	f.IntVar(&o.preserveFDs, "preserve-fds", 0, "accepted for runc compatibility; ignored")
}

// Name implements subcommands.Command.
func (*Create) Name() string { return "create" }

// Synopsis implements subcommands.Command.
func (*Create) Synopsis() string { return "create a container" }

// Usage implements subcommands.Command.
func (*Create) Usage() string {
	return "create [flags] <container-id>\n\nCreates the container described by BUNDLE/config.json; `start` runs its process.\n"
}

// SetFlags implements subcommands.Command.
func (c *Create) SetFlags(f *flag.FlagSet) { c.opts.set(f) }

// Execute implements subcommands.Command.
func (c *Create) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, err := oneID(f.Args())
	if err == nil {
		err = c.Global.Validate()
	}
	if err == nil {
		_, err = createContainer(c.Global, id, &c.opts, false)
	}
	if err != nil {
		return fail(c.Global, err)
	}
	return subcommands.ExitSuccess
}

// createContainer makes the state directory of id and starts its sandbox
// process, which serves the control socket; it returns once the sandbox
// is ready for start (or has failed, leaving nothing behind). With
// foreground the sandbox dies with the caller (run).
func createContainer(g *flags.Global, id string, o *createOpts, foreground bool) (*exec.Cmd, error) {
	bundle, err := filepath.Abs(o.bundle)
	if err != nil {
		return nil, err
	}
	spec, err := container.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	// A container of a pod joins its sandbox container's sandbox (pod.go).
	if sb, err := container.PodSandbox(id, spec.Annotations); err != nil || sb != "" {
		if err == nil && foreground {
			err = fmt.Errorf("container %s joins sandbox %s: run it detached, or create and start it", id, sb)
		}
		if err == nil {
			err = createPodMember(g, id, sb, bundle, spec, o)
		}
		return nil, err
	}
	// Mounts are checked before anything exists, so that a bad one
	// leaves nothing behind.
	if _, err := boot.ParseMounts(spec); err != nil {
		return nil, err
	}
	if _, err := goferBinds(spec, bundle); err != nil {
		return nil, err
	}
	if err := ociConfig(spec, &boot.Config{}); err != nil {
		return nil, err
	}
	s := store(g)
	// The terminal's master goes to the console socket, or is relayed to
	// the caller's terminal (run in the foreground): console.go.
	term, err := openTerminal(spec.Process, o.consoleSocket, foreground)
	if err != nil {
		return nil, err
	}
	created := false
	defer func() {
		if !created {
			term.close()
		}
	}()
	o.term = term
	if err := s.Create(id); err != nil {
		if errors.Is(err, container.ErrExists) {
			return nil, fmt.Errorf("container with id exists: %s", id)
		}
		return nil, err
	}
	cmd, err := startSandbox(g, id, bundle, spec.Annotations, foreground, term)
	if err != nil {
		s.Remove(id)
		return nil, err
	}
	if err := applyDeviceRules(g, id, spec); err != nil {
		destroy(g, id)
		return nil, err
	}
	if err := finishCreate(g, id, o.pidFile, cmd.Process.Pid, spec.Hooks); err != nil {
		return nil, err
	}
	created = true
	return cmd, nil
}

// debugPhase stamps the end of a start-up phase under --debug, on stderr
// (with the time since began): where `run` spends its time.
func debugPhase(g *flags.Global, began time.Time, who, name string) {
	if g.Debug {
		fmt.Fprintf(os.Stderr, "runsc %s: %s done at %s (+%v)\n", who, name, time.Now().Format("15:04:05.000000"), time.Since(began).Round(10*time.Microsecond))
	}
}

func startSandbox(g *flags.Global, id, bundle string, annotations map[string]string, foreground bool, term *hostTerminal) (*exec.Cmd, error) {
	// The vDSO's calibration window opens here (vdso.Sample).
	clock := vdso.TakeSample()
	began := time.Now()
	phase := func(name string) { debugPhase(g, began, "create", name) }
	s := store(g)
	unlock, err := s.Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	spec, err := container.LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	// The ready connection (descriptor 4 of the sandbox): the sandbox
	// waits on it for the go-ahead byte (it is in its cgroup), and says
	// "ok" on it when it waits for start, or why it stopped.
	r, w, err := readyPair()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// The gofer and the sandbox are started outside the container's
	// cgroup and moved into it while they start (cgroupJoin); the
	// cgroup goes again if they do not start.
	if err := setupCgroup(g, id, spec); err != nil {
		w.Close()
		return nil, err
	}
	phase("cgroup setup")
	started := false
	defer func() {
		if !started {
			destroyCgroup(g, id)
		}
	}()
	join, err := newCgroupJoin(g, id)
	if err != nil {
		w.Close()
		return nil, err
	}
	// The container's root is served by its gofer: descriptor 3 of the
	// sandbox (boot.GoferFD) is the connection; the ready connection is
	// 4; the bind mounts' connections follow (boot.FirstBindFD).
	binds, err := goferBinds(spec, bundle)
	if err != nil {
		w.Close()
		return nil, err
	}
	// The gofer's start (a fork and an exec in a new mount namespace,
	// 1-3 ms) overlaps the sandbox's.
	goferStart, goferSocks, err := beginContainerGofer(self, spec.Root.Path, rootWritable(g, spec), binds, !foreground, g.HostUDS)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the gofer: %w", err)
	}
	gofer := goferStart.cmd
	defer closeFiles(goferSocks)
	killGofer := func() {
		join.wait()
		if goferStart.wait() == nil {
			gofer.Process.Kill()
			gofer.Wait()
		}
	}
	args := append(g.Args(), "boot", "--clock-sample="+clock.String(), "--bundle="+bundle, "--id="+id, "--ready-fd=4")
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if term != nil && !foreground {
		// The console is the application's stdio; the caller's own
		// (the containerd shim's output pipe) must not be kept open.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	}
	// Descriptors 3, 4, 5 (boot.ConsoleFD: passToSandbox fills it when
	// there is a terminal) and the bind mounts' from boot.FirstBindFD on.
	cmd.ExtraFiles = append([]*os.File{goferSocks[0], w, nil}, goferSocks[1:]...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC |
			unix.CLONE_NEWUTS | sandboxNetNamespace(g, spec),
		Setsid: !foreground,
	}
	if foreground {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	sandboxNamespaces(cmd.SysProcAttr, spec)
	term.passToSandbox(cmd)
	if err := startWithCaps(sandboxBootCaps, foreground, func() error { return startInNetNS(cmd, netNSPath(spec)) }); err != nil {
		w.Close()
		killGofer()
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	if err := goferStart.wait(); err != nil {
		w.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("starting the gofer: %w", err)
	}
	// The moves pay their grace periods together.
	join.move("gofer", gofer.Process.Pid)
	join.move("sandbox", cmd.Process.Pid)
	phase("sandbox")
	w.Close()
	term.release()
	// The gofer now lives as long as the sandbox's end of the connection;
	// reap it when it ends so that it leaves no zombie behind this
	// process (run's foreground case).
	goferDone := make(chan struct{})
	go func() {
		gofer.Wait()
		close(goferDone)
	}()
	start, _ := container.ProcStartTime(cmd.Process.Pid)
	owner := strconv.Itoa(os.Getuid())
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	st := &container.State{
		ID: id, Bundle: bundle, Status: container.Created, Pid: cmd.Process.Pid, PidStart: start,
		Created: time.Now().UTC(), Owner: owner, Annotations: annotations,
	}
	// On failure neither process is left (the caller removes the state
	// directory, the deferred destroyCgroup the cgroup).
	fail := func(err error) (*exec.Cmd, error) {
		join.wait()
		cmd.Process.Kill()
		cmd.Wait()
		gofer.Process.Kill()
		<-goferDone
		return nil, err
	}
	if err := s.Save(st); err != nil {
		return fail(err)
	}
	phase("state")
	if err := join.wait(); err != nil {
		// A sandbox that failed on its own (and so could not be
		// moved) says why: that is the error to report.
		cmd.Process.Kill()
		cmd.Wait()
		if m := readyMessage(r); m != "" && m != "ok" {
			return fail(errors.New(m))
		}
		return fail(fmt.Errorf("container %q: %w", id, err))
	}
	phase("cgroup")
	// The go-ahead. A sandbox that has exited already (the write fails)
	// has said why on r.
	r.Write([]byte{1})
	msg := readyMessage(r)
	phase("ready")
	switch msg {
	case "ok":
		started = true
		return cmd, nil
	case "":
		return fail(errors.New("the sandbox exited while it was being created"))
	default:
		return fail(errors.New(msg))
	}
}

// readyPair returns the two ends of the ready connection between create
// and the sandbox (descriptor 4 of the sandbox: runsc/cmd/boot_oci.go):
// create's end and the sandbox's. It is a stream socketpair, not a pipe,
// because it carries the go-ahead one way and the sandbox's "ok" (or
// error) the other.
func readyPair() (mine, sandbox *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "ready"), os.NewFile(uintptr(fds[1]), "sandbox-ready"), nil
}

// readyMessage reads what the sandbox says on the ready connection until
// it closes its end: "ok" once it waits for start, or why it stopped.
func readyMessage(r io.Reader) string {
	msg, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return strings.TrimSpace(string(msg))
}

// goferBinds returns the gofer's --bind values for spec's bind mounts, in
// config order: the host source (relative to the bundle if relative) and
// whether it is read-only. A source that does not exist is an error, as
// for runc.
func goferBinds(spec *specs.Spec, bundle string) ([]string, error) {
	var out []string
	for _, m := range spec.Mounts {
		if !boot.IsBindMount(m) {
			continue
		}
		src := boot.BindSource(m, bundle)
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("mount %s: source %s: %w", m.Destination, m.Source, errors.Unwrap(err))
		}
		mode := "rw"
		for _, o := range m.Options {
			switch o {
			case "ro":
				mode = "ro"
			case "rw":
				mode = "rw"
			}
		}
		out = append(out, mode+":"+src)
	}
	return out, nil
}

// startContainerGofer starts the container's gofer, in its own mount
// namespace and process group (terminal signals are not its business),
// serving root (read-only unless rootWritable) and each bind source on its own connection; it
// returns the sandbox's ends of the connections, root's first, which the
// caller passes on and closes. A gofer started for a detached container
// (create) must outlive its starter: it then gets no parent-death signal
// and ends when the sandbox's ends of the connections close.
//
// hostUDS is --host-uds, passed on to the gofer (gofer/server_socket.go).
func startContainerGofer(self, root string, rootWritable bool, binds []string, detached bool, hostUDS string) (*exec.Cmd, []*os.File, error) {
	g, sandboxEnds, err := beginContainerGofer(self, root, rootWritable, binds, detached, hostUDS)
	if err != nil {
		return nil, nil, err
	}
	if err := g.wait(); err != nil {
		closeFiles(sandboxEnds)
		return nil, nil, err
	}
	return g.cmd, sandboxEnds, nil
}

// goferStart is a gofer whose start beginContainerGofer began.
type goferStart struct {
	cmd  *exec.Cmd
	errc chan error
	once sync.Once
	err  error
}

// wait waits until the gofer runs (its exec succeeded) or failed to, and
// says which; it may be called again.
func (g *goferStart) wait() error {
	g.once.Do(func() { g.err = <-g.errc })
	return g.err
}

// beginContainerGofer is startContainerGofer without the wait for the
// gofer's exec, which takes 1-3 ms (the fork of the caller, a copy of its
// mount namespace, the exec): the caller starts the sandbox meanwhile and
// calls wait before it uses g.cmd. The sandbox's ends of the connections
// are valid at once.
func beginContainerGofer(self, root string, rootWritable bool, binds []string, detached bool, hostUDS string) (*goferStart, []*os.File, error) {
	var goferEnds, sandboxEnds []*os.File
	for i := 0; i <= len(binds); i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			closeFiles(goferEnds)
			closeFiles(sandboxEnds)
			return nil, nil, err
		}
		goferEnds = append(goferEnds, os.NewFile(uintptr(fds[0]), "gofer-socket"))
		sandboxEnds = append(sandboxEnds, os.NewFile(uintptr(fds[1]), "sandbox-socket"))
	}
	args := []string{"gofer", "--root=" + root, "--sock-fd=3"}
	if hostUDS != "" && hostUDS != "none" {
		args = append(args, "--host-uds="+hostUDS)
	}
	if !rootWritable {
		args = append(args, "--read-only")
	}
	for _, b := range binds {
		args = append(args, "--bind="+b)
	}
	c := exec.Command(self, args...)
	if !detached {
		// A detached gofer outlives its caller: it must not keep the
		// caller's stderr (a client's pipe) open.
		c.Stderr = os.Stderr
	}
	c.ExtraFiles = goferEnds
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS,
		Setpgid:    true,
	}
	if !detached {
		c.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	g := &goferStart{cmd: c, errc: make(chan error, 1)}
	go func() {
		err := startWithCaps(goferBootCaps, !detached, c.Start)
		closeFiles(goferEnds)
		g.errc <- err
	}()
	return g, sandboxEnds, nil
}

// closeFiles closes every file of fs.
func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

func writePidFile(path string, pid int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// rootWritable says whether the gofer may change the container's image:
// without the root overlay (the default for OCI containers) and with a
// root that config.json does not make read-only. Under --overlay=root
// writes stay in sandbox memory and the gofer serves the image read-only.
func rootWritable(g *flags.Global, spec *specs.Spec) bool {
	return !g.RootOverlay(true) && (spec.Root == nil || !spec.Root.Readonly)
}

// sandboxBootCaps are the capabilities the sandbox process uses before it
// fences itself (runsc/fence.Apply): mounting its empty root and
// pivot_root (CAP_SYS_ADMIN), opening the host files it reads first (the
// bundle, the state and debug-log directories) as root whoever owns them
// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), and, when it is exec'd with
// them in its bounding set (startWithCaps), dropping them from it
// (CAP_SETPCAP).
var sandboxBootCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP, unix.CAP_DAC_OVERRIDE, unix.CAP_DAC_READ_SEARCH}

// goferBootCaps are the capabilities the gofer uses: the ones it keeps
// (gofer.KeepCapabilities), CAP_SYS_CHROOT to chroot into the root it
// serves, and CAP_SETPCAP as for the sandbox.
var goferBootCaps = func() []uintptr {
	caps := []uintptr{unix.CAP_SYS_CHROOT, unix.CAP_SETPCAP}
	for _, c := range gofer.KeepCapabilities {
		caps = append(caps, uintptr(c))
	}
	return caps
}()

// startWithCaps runs start (which forks and execs a child of root: the
// sandbox or the gofer) on an OS thread of its own whose credentials make
// the child start with the capabilities keep and an empty bounding set,
// so that it has no bounding-set capability left to drop. Each drop
// stops every thread of the child (AllThreadsSyscall: runsc/fence,
// gofer.DropCapabilities), a scheduling delay per thread on a loaded
// host, and dropping all 41 was the largest part of the start-up (issue
// 6).
//
// When root execs a file without file capabilities, its new permitted
// (and effective) set is its bounding set plus its inheritable set
// (capabilities(7)): the thread puts keep in its inheritable set, then
// empties its bounding set. Where the inheritable set cannot be raised
// the bounding set keeps keep instead (the child drops those itself),
// and where it cannot be changed at all (no CAP_SETPCAP) the child
// starts with the caller's sets. The child drops whatever it has either
// way: this only saves it work.
//
// The thread's credentials cannot be restored, so it runs nothing else:
// it ends when its goroutine returns, or, with pdeathsig (the child gets
// a signal when the thread that forked it ends), stays parked for the
// life of this process.
func startWithCaps(keep []uintptr, pdeathsig bool, start func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with the goroutine.
		runtime.LockOSThread()
		var mask uint64
		for _, c := range keep {
			mask |= 1 << c
		}
		// This thread only: raw capget/capset/prctl, not
		// AllThreadsSyscall.
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if unix.Capget(&hdr, &data[0]) == nil {
			for i := range data {
				data[i].Inheritable |= data[i].Permitted & uint32(mask>>(32*i))
			}
			if unix.Capset(&hdr, &data[0]) == nil {
				mask = 0 // keep is inherited: empty the bounding set
			}
		}
		// Up to the kernel's last capability (EINVAL past it); EPERM
		// leaves the rest to the child.
		for c := uintptr(0); c < 64; c++ {
			if mask&(1<<c) != 0 {
				continue
			}
			if _, _, e := unix.RawSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0); e != 0 {
				break
			}
		}
		err := start()
		errc <- err
		if pdeathsig && err == nil {
			select {}
		}
	}()
	return <-errc
}
