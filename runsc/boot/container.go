package boot

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/gofer"
	"github.com/rampart-sandbox/rampart/fs/proc"
	"github.com/rampart-sandbox/rampart/fs/rootfs"
	"github.com/rampart-sandbox/rampart/fs/vfs"
	gproto "github.com/rampart-sandbox/rampart/gofer"
	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/ociseccomp"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/control"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
	"github.com/rampart-sandbox/rampart/sentry/kernel/auth"
)

// This file adds containers to a running sandbox: the containers of a
// Kubernetes pod after its sandbox container (runsc/container/pod.go).
// Each one that joins has, in the sandbox's one kernel:
//   - its own mount tree: its gofer-served root under its own in-memory
//     overlay, a mount of its own attached to nothing
//     (rootfs.NewContainerRoot), with the sandbox's proc, sysfs, cgroup
//     and devpts mounted in it, and its config.json's mounts (mounts.go);
//   - its own processes: its init enters the sandbox as exec'd processes
//     do (kernel.StartProcess) and everything it forks carries the
//     container's id (kernel.ThreadGroup.Container), so that signals,
//     exec, stats and teardown address the container's processes alone.
//     When its init exits, the rest of them are killed, as the death of a
//     PID-namespace init kills its namespace;
//   - its own control socket, created by the CLI in the container's
//     state directory and served here (control.Serve): every request on
//     it is about that container.
//
// It shares with the sandbox's other containers the PID namespace (pids
// are unique in the sandbox, the container's init is not pid 1 and
// /proc shows every container's processes, as a pod with
// shareProcessNamespace), the network stack, the UTS names (config.json's
// hostname of a joining container is not applied) and IPC. A signal from
// outside (runsc kill) to its init is ignored where the init has the
// default action, but for SIGKILL and SIGSTOP, as for a PID-namespace
// init. Its host stand-in (runsc/cmd/pod.go) holds a wait for its init
// on its socket (control.Request.Hold): when the stand-in goes away, the
// container is killed. Its pause freezes its own processes in the sentry
// (kernel.FreezeContainer), as a cgroup freezer would, while the rest of
// the sandbox runs on; the sandbox container's pause freezes everything.
// It may have a pids limit of its own (kernel.SetContainerPidsLimit,
// from config.json and runsc update), under the sandbox's. Its memory is
// the sandbox's: the memory file is accounted as a whole, so memory
// figures in its stats are the sandbox's and a memory limit of its own
// is refused by update (and not enforced by the sentry at create, where
// its cgroup has it, as the host's limit of its gofer).
// With a terminal, a resize of the client's end reaches the container
// on a resize request (runsc exec --tty's watcher sends them; a client
// that resizes the master itself is not heard).
//
// Lock order: sandbox.mu, then pod.mu, then podContainer.mu.

// ContainerConfig is a container joining the sandbox, as the CLI sends
// it with control.CmdCreate (Request.Container).
type ContainerConfig struct {
	ID         string
	Argv, Envv []string
	Cwd        string
	User       *User
	Caps       *Caps
	// Umask as Config.Umask.
	Umask      uint32
	Rlimits    map[int]unix.Rlimit
	NoNewPrivs bool
	// Root says how its root filesystem is mounted.
	Root rootfs.RootOptions
	// Mounts are config.json's mounts (ParseMounts): the i-th bind
	// mount's GoferFD FirstBindFD+i names the i-th bind connection sent
	// along.
	Mounts *OCIMounts
	// Seccomp is config.json's linux.seccomp, compiled in the sandbox.
	Seccomp *specs.LinuxSeccomp
	// StdioNames are the host names of the stdio descriptors sent along.
	StdioNames [3]string
	// Terminal (process.terminal): the three stdio descriptors sent
	// along are the host replica of the container's console, relayed to
	// a terminal of the sandbox's devpts, its init's controlling
	// terminal (console.go).
	Terminal bool
	// PidsLimit is config.json's linux.resources.pids.limit (0: none):
	// the most tasks the container's processes may have.
	PidsLimit int64 `json:",omitempty"`
	// SharePIDNamespace (linux.namespaces has a pid entry with a path):
	// the container's processes live in the sandbox container's PID
	// namespace; otherwise it gets its own, whose pid 1 is its init.
	SharePIDNamespace bool
}

// The descriptors sent with control.CmdCreate, in order.
const (
	podStdin = iota
	podStdout
	podStderr
	podStatus
	podControl
	podRootGofer
	podFirstBind
)

// pod is the registry of the containers that joined the sandbox.
type pod struct {
	mu         sync.Mutex
	containers map[string]*podContainer // protected by mu
	// closed is set once the sandbox has ended: no container joins.
	closed bool // protected by mu
}

// podContainer is one container that joined the sandbox.
type podContainer struct {
	id      string
	s       *sandbox
	fsys    *filesystems
	seccomp *bpf.Program
	// pidns is the container's PID namespace: its own, or the root one
	// when it shares the sandbox container's (SharePIDNamespace).
	pidns   *kernel.PIDNamespace
	initCfg kernel.InitConfig
	rootFS  *gofer.Filesystem
	status  *os.File
	done    chan struct{}

	mu sync.Mutex
	// srv serves the container's socket, once it is served.
	srv   *control.Server                         // protected by mu
	phase int                                     // protected by mu
	exit  int                                     // protected by mu; valid once done is closed
	init  *kernel.ThreadGroup                     // protected by mu
	execs map[kernel.ThreadID]*kernel.ThreadGroup // protected by mu
	// gone is set by destroy: the container's tree is unmounted.
	gone bool // protected by mu
	// exitSignal is the signal that ended the init, 0 if it exited.
	exitSignal int // protected by mu; valid once done is closed
	// paused is set while the container's processes are frozen (pause).
	paused bool // protected by mu
}

// dupFile returns a new descriptor (close-on-exec) for f, which the
// caller then owns: the files that come with a request are closed after
// it.
func dupFile(f *os.File) (int, error) {
	return unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}

// addContainer adds the container of r (control.CmdCreate) to the
// sandbox, ready for start; on any error nothing of it is left.
func (s *sandbox) addContainer(r control.Request, files []*os.File) control.Response {
	var cc ContainerConfig
	if err := json.Unmarshal(r.Container, &cc); err != nil {
		return control.Response{Error: fmt.Sprintf("bad container: %v", err)}
	}
	if len(cc.Argv) == 0 {
		return control.Response{Error: "container: process.args must not be empty"}
	}
	nbind := 0
	if cc.Mounts != nil {
		for _, m := range cc.Mounts.Mounts {
			if m.Bind {
				nbind++
			}
		}
	}
	if len(files) != podFirstBind+nbind {
		return control.Response{Error: fmt.Sprintf("container: %d descriptors sent, %d expected", len(files), podFirstBind+nbind)}
	}
	s.mu.Lock()
	phase := s.phase
	s.mu.Unlock()
	if phase == phaseExited {
		return control.Response{Error: "the sandbox has stopped"}
	}
	s.pod.mu.Lock()
	_, dup := s.pod.containers[cc.ID]
	closed := s.pod.closed
	s.pod.mu.Unlock()
	if dup || cc.ID == "" {
		return control.Response{Error: fmt.Sprintf("container %q is already in the sandbox", cc.ID)}
	}
	if closed {
		return control.Response{Error: "the sandbox has stopped"}
	}
	pc := &podContainer{id: cc.ID, s: s, done: make(chan struct{}), execs: map[kernel.ThreadID]*kernel.ThreadGroup{}}
	if err := pc.build(&cc, files); err != nil {
		pc.discard()
		return control.Response{Error: err.Error()}
	}
	s.pod.mu.Lock()
	if s.pod.containers == nil {
		s.pod.containers = map[string]*podContainer{}
	}
	_, dup = s.pod.containers[cc.ID]
	if dup || s.pod.closed {
		s.pod.mu.Unlock()
		pc.discard()
		return control.Response{Error: fmt.Sprintf("container %q could not join the sandbox", cc.ID)}
	}
	s.pod.containers[cc.ID] = pc
	s.pod.mu.Unlock()
	if cc.PidsLimit > 0 {
		s.k.SetContainerPidsLimit(cc.ID, cc.PidsLimit)
	}
	srv, err := control.Serve(files[podControl], pc.handle)
	if err != nil {
		s.pod.remove(pc)
		pc.discard()
		return control.Response{Error: err.Error()}
	}
	pc.mu.Lock()
	pc.srv = srv
	pc.mu.Unlock()
	return control.Response{}
}

// server returns the server of the container's socket, nil before it is
// served.
func (pc *podContainer) server() *control.Server {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.srv
}

// build makes the container's mount tree, its init's configuration and
// its status record from cc and the descriptors sent along.
func (pc *podContainer) build(cc *ContainerConfig, files []*os.File) error {
	s := pc.s
	k := s.k
	sfd, err := dupFile(files[podStatus])
	if err != nil {
		return fmt.Errorf("container %s: status file: %w", cc.ID, err)
	}
	pc.status = os.NewFile(uintptr(sfd), "status")

	// The root, served by the container's own gofer.
	gfd, err := dupFile(files[podRootGofer])
	if err != nil {
		return err
	}
	if t, err := unix.GetsockoptInt(gfd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_SEQPACKET {
		unix.Close(gfd)
		return fmt.Errorf("container %s: no gofer connection", cc.ID)
	}
	c, err := gproto.NewClient(gfd)
	if err != nil {
		unix.Close(gfd)
		return fmt.Errorf("container %s: connecting to the gofer: %w", cc.ID, err)
	}
	gfs, err := gofer.New(k.MemoryFile, c)
	if err != nil {
		c.Close()
		return fmt.Errorf("container %s: attaching to the gofer's root: %w", cc.ID, err)
	}
	pc.rootFS = gfs
	root, err := rootfs.NewContainerRoot(s.fsys.vfs, k.MemoryFile, gfs, cc.Root)
	if err != nil {
		return fmt.Errorf("container %s: building its mount tree: %w", cc.ID, err)
	}
	pc.fsys = &filesystems{vfs: s.fsys.vfs, root: root}
	pc.pidns = k.RootPIDNamespace()
	if !cc.SharePIDNamespace {
		if pc.pidns, err = pc.pidns.NewChild(); err != nil {
			return fmt.Errorf("container %s: its PID namespace: %w", cc.ID, err)
		}
	}
	if err := pc.mountShared(); err != nil {
		return fmt.Errorf("container %s: %w", cc.ID, err)
	}
	if cc.Mounts != nil {
		for i := range cc.Mounts.Mounts {
			m := &cc.Mounts.Mounts[i]
			if !m.Bind {
				continue
			}
			n := m.GoferFD - FirstBindFD
			if n < 0 || podFirstBind+n >= len(files) {
				return fmt.Errorf("container %s: mount %s: no gofer connection", cc.ID, m.Destination)
			}
			if m.GoferFD, err = dupFile(files[podFirstBind+n]); err != nil {
				return err
			}
		}
		if err := pc.fsys.applyOCIMounts(k, k.MemoryFile, cc.Mounts); err != nil {
			return fmt.Errorf("container %s: %w", cc.ID, err)
		}
	}
	if cc.Seccomp != nil {
		if pc.seccomp, err = ociseccomp.Compile(cc.Seccomp); err != nil {
			return fmt.Errorf("container %s: %w", cc.ID, err)
		}
	}

	// The init's configuration, as Run makes the first container's.
	bc := Config{User: cc.User, Caps: cc.Caps}
	creds := bc.credentials()
	umask := cc.Umask
	switch umask {
	case 0:
		umask = 0o022
	case UmaskZero:
		umask = 0
	}
	fsc := pc.fsys.newFSContext(creds, cc.Cwd, umask)
	var fdt *vfs.FDTable
	var cons *hostConsole
	if cc.Terminal {
		fdt, cons, err = pc.fsys.newConsoleFDTable(creds, int(files[podStdin].Fd()))
	} else {
		fdt = vfs.NewFDTable()
		stdio := [3]int{int(files[podStdin].Fd()), int(files[podStdout].Fd()), int(files[podStderr].Fd())}
		if err = installStdio(bootCtx{creds}, fdt, stdio, cc.StdioNames); err != nil {
			fdt.DecRef(bootCtx{creds})
		}
	}
	if err != nil {
		fsc.Release()
		return fmt.Errorf("container %s: installing stdio: %w", cc.ID, err)
	}
	limits := kernel.DefaultLimits()
	for r, v := range cc.Rlimits {
		limits.Set(r, v)
	}
	pc.initCfg = kernel.InitConfig{
		Argv: cc.Argv, Envv: cc.Envv, Credentials: creds, FDTable: fdt, FSContext: fsc,
		Limits: limits, Umask: umask, NoNewPrivs: cc.NoNewPrivs, Seccomp: pc.seccomp, Container: cc.ID,
		PIDNamespace: pc.pidns,
	}
	if cons != nil {
		// The relay ends by itself once every holder of the replica
		// has closed it (teardown's, if the init never starts).
		pc.initCfg.CTTY = cons.term.Control()
		s.addConsole(cons)
	}
	if pc.initCfg.Path, err = pc.fsys.lookPath(creds, fsc, cc.Argv[0], cc.Envv); err != nil {
		_, err = startError(cc.Argv[0], err)
		return err
	}
	pc.record(container.Created, 0)
	return nil
}

// mountShared mounts the sandbox's own proc, sysfs, cgroup and devpts
// filesystems in the container's tree, where the first container has
// them: the sandbox has one kernel to describe and one set of terminals.
func (pc *podContainer) mountShared() error {
	v := pc.fsys.vfs
	ctx := bootCtx{auth.NewRootCredentials()}
	have := map[string]vfs.Filesystem{}
	for _, mi := range v.Mounts(pc.s.fsys.root) {
		if n := mi.Filesystem.Name(); have[n] == nil {
			have[n] = mi.Filesystem
		}
	}
	ro := vfs.MountOptions{ReadOnly: true, NoSuid: true, NoDev: true, NoExec: true}
	for _, m := range []struct {
		fs, path string
		opts     vfs.MountOptions
	}{{"sysfs", "/sys", ro}, {"cgroup2", "/sys/fs/cgroup", ro}, {"proc", "/proc", vfs.MountOptions{}}, {"devpts", "/dev/pts", vfs.MountOptions{}}} {
		fs := have[m.fs]
		if fs == nil {
			continue
		}
		if p, ok := fs.(*proc.Filesystem); ok && pc.pidns != pc.s.k.RootPIDNamespace() {
			// Its own /proc shows its own PID namespace.
			fs = p.ForPIDNamespace(pc.pidns, v.NewAnonDevMinor())
		}
		if err := v.MountAt(ctx, pc.fsys.root, m.path, fs, m.opts); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.fs, m.path, err)
		}
	}
	return nil
}

// record writes the container's status for the CLI (its state's
// sandbox-status file).
func (pc *podContainer) record(status string, code int) {
	if pc.status == nil {
		return
	}
	if err := container.WriteSandboxStatus(pc.status, status, code); err != nil {
		pc.s.k.Warnf("container %s: recording its status: %v", pc.id, err)
	}
}

// teardown releases what build made and the container holds: its init's
// unused configuration, its mount tree (detached, so that nothing can
// reach it from the container again) and its root's gofer connection
// (the gofer then exits; the bind mounts' connections are the same
// process', which the CLI kills). The container's processes must be
// gone. Its status file stays open for the last record (discard).
func (pc *podContainer) teardown() {
	ctx := bootCtx{auth.NewRootCredentials()}
	pc.mu.Lock()
	started := pc.init != nil
	pc.gone = true
	pc.mu.Unlock()
	if !started {
		if pc.initCfg.FDTable != nil {
			pc.initCfg.FDTable.DecRef(ctx)
			pc.initCfg.FDTable = nil
		}
		if pc.initCfg.FSContext != nil {
			pc.initCfg.FSContext.Release()
			pc.initCfg.FSContext = nil
		}
	}
	if pc.fsys != nil {
		v := pc.fsys.vfs
		mounts := v.Mounts(pc.fsys.root)
		for i := len(mounts) - 1; i >= 0; i-- {
			if mounts[i].Root.Mount() != pc.fsys.root.Mount() {
				v.UmountFlags(mounts[i].Root, true)
			}
		}
		pc.fsys.root.DecRef()
		pc.fsys = nil
	}
	if pc.rootFS != nil {
		pc.rootFS.Close()
	}
}

// discard undoes a container that could not join the sandbox.
func (pc *podContainer) discard() {
	pc.teardown()
	if pc.status != nil {
		pc.status.Close()
	}
}

func (p *pod) remove(pc *podContainer) {
	p.mu.Lock()
	if p.containers[pc.id] == pc {
		delete(p.containers, pc.id)
	}
	p.mu.Unlock()
}

// list returns the containers that joined the sandbox.
func (p *pod) list() []*podContainer {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*podContainer, 0, len(p.containers))
	for _, pc := range p.containers {
		out = append(out, pc)
	}
	return out
}

// finishAll ends every container that joined the sandbox, as the
// sandbox ends: those still running are reported killed (SIGKILL), and
// no container joins any more.
func (p *pod) finishAll() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for _, pc := range p.list() {
		pc.mu.Lock()
		init := pc.init
		pc.mu.Unlock()
		ws := kernel.Signaled(int(unix.SIGKILL), false)
		if init != nil {
			select {
			case <-init.Exited():
				ws = init.ExitStatus()
			default:
			}
		}
		pc.finish(ws)
	}
}

// close stops serving the containers' sockets, letting their waiters
// have their answers first.
func (p *pod) close() {
	for _, pc := range p.list() {
		if srv := pc.server(); srv != nil {
			srv.Close()
		}
	}
}

// finish records the container's exit status once and releases its
// waiters.
func (pc *podContainer) finish(ws kernel.WaitStatus) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.phase == phaseExited {
		return
	}
	pc.phase = phaseExited
	code := ws.ExitCode()
	pc.exit, pc.exitSignal = code, ws.Signal()
	pc.record(container.Stopped, code)
	close(pc.done)
}

// handle serves a request on the container's own control socket.
func (pc *podContainer) handle(r control.Request, files []*os.File) control.Response {
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	switch r.Cmd {
	case control.CmdStart:
		return pc.start()
	case control.CmdSignal:
		if !kernel.ValidSignal(r.Signal) {
			return control.Response{Error: "invalid signal"}
		}
		if err := pc.signal(r.Signal, r.All); err != "" {
			return control.Response{Error: err}
		}
		return control.Response{}
	case control.CmdWait:
		select {
		case <-pc.done:
		case <-r.Hangup: // nil without Hold
			// The container's host stand-in (runsc/cmd/pod.go) went
			// away: the container goes with it, as a container whose
			// init the host killed.
			pc.signal(int(unix.SIGKILL), false)
			<-pc.done
		}
		pc.mu.Lock()
		defer pc.mu.Unlock()
		return control.Response{ExitStatus: pc.exit, Signal: pc.exitSignal}
	case control.CmdExec:
		return pc.exec(r, files)
	case control.CmdWaitPid:
		return waitExec(pc.s.k, &pc.mu, pc.execs, r)
	case control.CmdSignalExec:
		return signalExec(pc.s.k, &pc.mu, pc.execs, r)
	case control.CmdStats:
		return control.Response{Stats: pc.stats()}
	case control.CmdProcesses:
		return control.Response{Processes: processes(pc.s.k, pc.id, false)}
	case control.CmdResize:
		pc.s.resizeConsoles()
		return control.Response{}
	case control.CmdPause, control.CmdResume:
		return pc.pause(r.Cmd == control.CmdPause)
	case control.CmdUpdate:
		return pc.update(r)
	case control.CmdDestroy:
		return pc.destroy()
	}
	return control.Response{Error: "unknown command " + r.Cmd}
}

func (pc *podContainer) start() control.Response {
	pc.s.mu.Lock()
	sbPhase := pc.s.phase
	pc.s.mu.Unlock()
	pc.mu.Lock()
	switch {
	case pc.phase == phaseRunning:
		pc.mu.Unlock()
		return control.Response{Error: "cannot start an already running container"}
	case pc.phase == phaseExited || pc.gone:
		pc.mu.Unlock()
		return control.Response{Error: "cannot start a container that has stopped"}
	case sbPhase != phaseRunning:
		pc.mu.Unlock()
		return control.Response{Error: "cannot start a container whose sandbox container is not running"}
	}
	tg, err := pc.s.k.StartProcess(pc.initCfg)
	if err != nil {
		pc.mu.Unlock()
		code, err := startError(pc.initCfg.Argv[0], err)
		pc.finish(kernel.Exited(code))
		return control.Response{Error: err.Error()}
	}
	// The process owns its descriptor table and filesystem context now.
	pc.initCfg.FDTable, pc.initCfg.FSContext = nil, nil
	pc.init = tg
	pc.phase = phaseRunning
	pc.record(container.Running, 0)
	pc.mu.Unlock()
	go func() {
		<-tg.Exited()
		// The container's other processes die with its init (SIGKILL
		// ends frozen tasks too); nothing of it stays frozen.
		pc.killAll()
		pc.finish(tg.ExitStatus())
		pc.s.k.ThawContainer(pc.id)
	}()
	return control.Response{}
}

// pause freezes (or thaws) the container's processes, leaving the rest
// of the sandbox running, and records its status (paused or running)
// for the CLI.
func (pc *podContainer) pause(pause bool) control.Response {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if msg := pauseRefusal(pc.phase == phaseRunning && !pc.gone, pc.paused, pause); msg != "" {
		return control.Response{Error: msg}
	}
	if pause {
		pc.s.k.FreezeContainer(pc.id)
		pc.record(container.Paused, 0)
	} else {
		pc.s.k.ThawContainer(pc.id)
		pc.record(container.Running, 0)
	}
	pc.paused = pause
	return control.Response{}
}

// update applies r.Limits (runsc update) to the container: its own pids
// limit. Its memory is the sandbox's (see above): a memory limit cannot
// be applied to it alone and is refused, rather than applied to the
// whole sandbox or ignored.
func (pc *podContainer) update(r control.Request) control.Response {
	l := r.Limits
	if l == nil {
		return control.Response{Error: "update without limits"}
	}
	if l.MemoryBytes != nil {
		return control.Response{Error: fmt.Sprintf("container %s is part of a pod: the sandbox accounts memory for all its containers together, so a memory limit cannot apply to one alone; update the sandbox container", pc.id)}
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.phase == phaseExited || pc.gone {
		return control.Response{Error: "container not running"}
	}
	if l.Pids != nil {
		pc.s.k.SetContainerPidsLimit(pc.id, *l.Pids)
	}
	return control.Response{}
}

// killAll sends SIGKILL to every process of the container.
func (pc *podContainer) killAll() {
	k := pc.s.k
	for _, tg := range k.ContainerThreadGroups(pc.id) {
		k.SendSignal(tg, int(unix.SIGKILL), nil)
	}
}

// signal delivers sig from outside to the container's init, or with all
// to each of its processes. Before start, SIGKILL stops the container
// (status 137) and anything else is ignored, as for the sandbox's.
func (pc *podContainer) signal(sig int, all bool) string {
	pc.mu.Lock()
	phase, init := pc.phase, pc.init
	pc.mu.Unlock()
	switch phase {
	case phaseExited:
		return "container not running"
	case phaseCreated:
		if sig == int(unix.SIGKILL) {
			pc.finish(kernel.Signaled(sig, false))
		}
		return ""
	}
	k := pc.s.k
	if all {
		for _, tg := range k.ContainerThreadGroups(pc.id) {
			k.SendSignal(tg, sig, nil)
		}
		return ""
	}
	if sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
		// The container's init is its PID namespace's as far as the
		// outside can tell: it ignores what it does not handle.
		if _, caught := init.SignalDispositions(); caught&(1<<uint(sig-1)) == 0 {
			return ""
		}
	}
	k.SendSignal(init, sig, nil)
	return ""
}

func (pc *podContainer) exec(r control.Request, files []*os.File) control.Response {
	pc.mu.Lock()
	phase, init := pc.phase, pc.init
	pc.mu.Unlock()
	if phase != phaseRunning {
		return control.Response{Error: "cannot exec in a stopped container"}
	}
	if pc.s.k.ContainerFrozen(pc.id) {
		return control.Response{Error: "cannot exec in a paused container"}
	}
	tg, resp := pc.s.execIn(pc.fsys, pc.seccomp, init, pc.id, r, files)
	if tg == nil {
		return resp
	}
	pc.mu.Lock()
	pc.execs[tg.PID()] = tg
	pc.mu.Unlock()
	return resp
}

// stats are the container's figures: its live tasks and their CPU time
// (with what its init reaped); memory is the sandbox's (the memory file
// is not accounted per container).
func (pc *podContainer) stats() *control.Stats {
	k := pc.s.k
	st := &control.Stats{MemoryUsage: k.MemoryFile.Usage().InUse(), MemoryLimit: k.MemoryFile.Limit(), PidsLimit: k.PidsLimit()}
	if n := k.ContainerPidsLimit(pc.id); n > 0 {
		st.PidsLimit = n
	}
	for _, tg := range k.ContainerThreadGroups(pc.id) {
		st.Pids += len(tg.Tasks())
		u, sy := tg.CPUUsage()
		st.CPUUser += uint64(u)
		st.CPUKernel += uint64(sy)
	}
	pc.mu.Lock()
	init := pc.init
	pc.mu.Unlock()
	if init != nil {
		c := init.ChildrenUsage()
		st.CPUUser += uint64(c.User)
		st.CPUKernel += uint64(c.Sys)
	}
	return st
}

// destroy ends the container (runsc delete): its processes are killed
// and waited for, it is reported stopped, its tree is unmounted, its
// gofer connection closed, and it leaves the sandbox; its socket closes
// once this answer is sent.
func (pc *podContainer) destroy() control.Response {
	pc.killAll()
	deadline := time.Now().Add(5 * time.Second)
	for len(pc.s.k.ContainerThreadGroups(pc.id)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(pc.s.k.ContainerThreadGroups(pc.id)); n > 0 {
		return control.Response{Error: fmt.Sprintf("container %s: %d processes did not exit", pc.id, n)}
	}
	pc.finish(kernel.Signaled(int(unix.SIGKILL), false))
	pc.s.pod.remove(pc)
	pc.s.k.ThawContainer(pc.id)
	pc.s.k.SetContainerPidsLimit(pc.id, 0)
	pc.mu.Lock()
	gone := pc.gone
	pc.mu.Unlock()
	if !gone {
		pc.teardown()
	}
	go func() {
		if srv := pc.server(); srv != nil {
			srv.Close()
		}
		pc.status.Close()
	}()
	return control.Response{}
}

// processes lists the live processes of container id, or with all of
// every container, by pid.
func processes(k *kernel.Kernel, id string, all bool) []control.Process {
	out := []control.Process{}
	tgs := k.ThreadGroups()
	if !all {
		tgs = k.ContainerThreadGroups(id)
	}
	for _, tg := range tgs {
		st := tg.State()
		if st.Reaped || st.Zombie {
			continue
		}
		p := control.Process{PID: int(st.PID), PPID: int(st.PPID), Container: tg.Container(), HostPID: hostPID(tg)}
		if t := tg.Leader(); t != nil {
			p.UID = uint32(t.Credentials().RealKUID)
			p.Cmd = t.Name()
		}
		out = append(out, p)
	}
	return out
}

// hostPID returns the pid, in the sandbox process' PID namespace, of the
// host process that runs tg's instructions (its address space's stub),
// or 0 if there is none (an exiting process, a platform without one).
func hostPID(tg *kernel.ThreadGroup) int {
	for _, t := range tg.Tasks() {
		r, alive := t.Resources()
		if !alive || r.MM == nil {
			continue
		}
		if hp, ok := r.MM.AddressSpace().(platform.HostProcess); ok {
			return hp.HostPID()
		}
	}
	return 0
}
