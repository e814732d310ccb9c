package boot

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/fs/vfs"
	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/control"
	"github.com/rampart-sandbox/rampart/sentry/kernel"
)

// Control makes Run an OCI sandbox: it serves the control socket and
// starts the init only on a start request.
type Control struct {
	// Socket is the path of the control socket to create.
	Socket string
	// Ready is called once: with nil when the sandbox waits for start,
	// or with the error that stopped it before.
	Ready func(error)
	// OnStart is called after the init has started, before start is
	// answered.
	OnStart func()
	// OnExit is called once with the init's exit status, before waiters
	// are answered and the sandbox exits.
	OnExit func(code int)
	// OnPause is called after a pause (true) or a resume (false).
	OnPause func(paused bool)
}

// Lifecycle phases of a controlled sandbox.
const (
	phaseCreated = iota
	phaseRunning
	phaseExited
)

type sandbox struct {
	c       *Config
	k       *kernel.Kernel
	fsys    *filesystems
	initCfg kernel.InitConfig

	mu      sync.Mutex
	phase   int  // protected by mu
	paused  bool // protected by mu
	exit    int  // protected by mu; valid once done is closed
	started chan struct{}
	done    chan struct{}
	// execs are the processes started by exec, by pid, until waited for.
	execs map[kernel.ThreadID]*kernel.ThreadGroup // protected by mu
	// consoles are the relays of the terminals of init and of exec'd
	// processes, until they end (nil until the first).
	consoles map[*hostConsole]struct{} // protected by mu
	// pod are the containers that joined the sandbox (container.go).
	pod pod
}

// runControlled serves the control socket until the container's init has
// exited (or the sandbox was killed before start) and returns its status.
func runControlled(c Config, k *kernel.Kernel, fsys *filesystems, initCfg kernel.InitConfig, ctl *lateHandler) (int, error) {
	s := &sandbox{c: &c, k: k, fsys: fsys, initCfg: initCfg, started: make(chan struct{}), done: make(chan struct{}),
		execs: map[kernel.ThreadID]*kernel.ThreadGroup{}}
	ctl.serve(s)

	// Host signals sent to the sandbox process act as `runsc kill` does.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			s.signal(int(sig.(unix.Signal)), false)
		}
	}()
	// The host terminal of init's console is the sandbox process'
	// controlling terminal: the host sends SIGWINCH when the client
	// resizes it.
	cons := c.console
	if cons != nil {
		s.addConsole(cons)
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	go func() {
		for range winch {
			s.resizeConsoles()
		}
	}()

	c.ready(nil)
	select {
	case <-s.started:
		ws := k.Wait()
		if cons != nil {
			// What init wrote last reaches the client before the
			// container is reported stopped and the sandbox exits.
			cons.drain(2 * time.Second)
		}
		s.finish(ws.ExitCode())
	case <-s.done:
	}
	<-s.done
	s.pod.close()
	return s.exit, nil
}

// lateHandler is the control socket, bound before the sandbox is fenced
// (it needs a host path) and served once the sandbox exists.
type lateHandler struct {
	srv   *control.Server
	ready chan struct{}
	s     *sandbox // set before ready is closed; nil if booting failed
	once  sync.Once
}

func listenControl(path string) (*lateHandler, error) {
	h := &lateHandler{ready: make(chan struct{})}
	srv, err := control.Listen(path, h.handle)
	if err != nil {
		return nil, err
	}
	h.srv = srv
	return h, nil
}

// serve starts answering requests with s.
func (h *lateHandler) serve(s *sandbox) {
	h.once.Do(func() {
		h.s = s
		close(h.ready)
	})
}

// close answers requests that wait for a sandbox that never came, and
// closes the socket.
func (h *lateHandler) close() {
	h.once.Do(func() { close(h.ready) })
	h.srv.Close()
}

func (h *lateHandler) handle(r control.Request, files []*os.File) control.Response {
	<-h.ready
	if h.s == nil {
		for _, f := range files {
			f.Close()
		}
		return control.Response{Error: "container not running"}
	}
	return h.s.handle(r, files)
}

// finish records the exit status once and releases the waiters.
func (s *sandbox) finish(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseExited {
		return
	}
	s.phase = phaseExited
	s.exit = code
	// The containers that joined the sandbox end with it.
	s.pod.finishAll()
	if s.c.Control.OnExit != nil {
		s.c.Control.OnExit(code)
	}
	close(s.done)
}

func (s *sandbox) handle(r control.Request, files []*os.File) control.Response {
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	switch r.Cmd {
	case control.CmdPause, control.CmdResume:
		return s.pause(r.Cmd == control.CmdPause)
	case control.CmdExec:
		return s.exec(r, files)
	case control.CmdResize:
		s.resizeConsoles()
		return control.Response{}
	case control.CmdStats:
		return control.Response{Stats: s.stats()}
	case control.CmdUpdate:
		return s.update(r)
	case control.CmdWaitPid:
		return waitExec(s.k, &s.mu, s.execs, r)
	case control.CmdSignalExec:
		return signalExec(s.k, &s.mu, s.execs, r)
	case control.CmdStart:
		return s.start()
	case control.CmdCreate:
		return s.addContainer(r, files)
	case control.CmdProcesses:
		return control.Response{Processes: processes(s.k, "", r.All)}
	case control.CmdSignal:
		if !kernel.ValidSignal(r.Signal) {
			return control.Response{Error: "invalid signal"}
		}
		if err := s.signal(r.Signal, r.All); err != "" {
			return control.Response{Error: err}
		}
		return control.Response{}
	case control.CmdWait:
		<-s.done
		s.mu.Lock()
		defer s.mu.Unlock()
		return control.Response{ExitStatus: s.exit}
	}
	return control.Response{Error: "unknown command " + r.Cmd}
}

func (s *sandbox) start() control.Response {
	s.mu.Lock()
	switch s.phase {
	case phaseRunning:
		s.mu.Unlock()
		return control.Response{Error: "cannot start an already running container"}
	case phaseExited:
		s.mu.Unlock()
		return control.Response{Error: "cannot start a container that has stopped"}
	}
	if err := s.k.StartInit(s.initCfg); err != nil {
		s.mu.Unlock()
		code, err := startError(s.initCfg.Argv[0], err)
		s.finish(code)
		return control.Response{Error: err.Error()}
	}
	s.phase = phaseRunning
	if s.c.Control.OnStart != nil {
		s.c.Control.OnStart()
	}
	close(s.started)
	s.mu.Unlock()
	return control.Response{}
}

// signal delivers sig from outside the sandbox: to the init, or with all
// to every process. Before start there is no init: SIGKILL ends the
// sandbox (status 137) and anything else is ignored, as a handler-less
// init would ignore it. It returns runc's wording for a stopped container.
func (s *sandbox) signal(sig int, all bool) string {
	s.mu.Lock()
	phase := s.phase
	s.mu.Unlock()
	switch phase {
	case phaseExited:
		return "container not running"
	case phaseCreated:
		if sig == int(unix.SIGKILL) {
			s.finish(128 + sig)
		}
		return ""
	}
	if all {
		for _, tg := range s.k.ContainerThreadGroups("") {
			s.k.SendSignal(tg, sig, nil)
		}
		return ""
	}
	if tg := s.k.FindThreadGroup(1); tg != nil {
		s.k.SendSignal(tg, sig, nil)
	}
	return ""
}

// ExecConfig is the process of runsc exec (control.Request.Process).
type ExecConfig struct {
	Argv, Envv []string
	Cwd        string
	User       *User
	Caps       *Caps
	Umask      uint32
	NoNewPrivs bool
	// StdioNames are the host's names of the three descriptors sent
	// along (what the caller's /proc/self/fd shows; "" if unknown): the
	// fenced sandbox cannot read them itself.
	StdioNames [3]string `json:",omitempty"`
}

// exec starts r.Process in the running container with files as its
// stdin, stdout and stderr.
func (s *sandbox) exec(r control.Request, files []*os.File) control.Response {
	s.mu.Lock()
	phase := s.phase
	s.mu.Unlock()
	if phase != phaseRunning {
		return control.Response{Error: "cannot exec in a stopped container"}
	}
	tg, resp := s.execIn(s.fsys, s.c.AppSeccomp, s.k.FindThreadGroup(1), "", r, files)
	if tg == nil {
		return resp
	}
	s.mu.Lock()
	s.execs[tg.PID()] = tg
	s.mu.Unlock()
	return resp
}

// execIn starts r.Process with files as its stdio in a container: its
// mount tree fsys, its seccomp filter, the rlimits of its init and its
// id. It returns the new process, or nil and the error.
func (s *sandbox) execIn(fsys *filesystems, seccomp *bpf.Program, init *kernel.ThreadGroup, container string,
	r control.Request, files []*os.File) (*kernel.ThreadGroup, control.Response) {
	var e ExecConfig
	if err := json.Unmarshal(r.Process, &e); err != nil {
		return nil, control.Response{Error: fmt.Sprintf("bad process: %v", err)}
	}
	// A process with a terminal comes with one descriptor, the host
	// replica of its console (console.go), which stands in for the three
	// until the console replaces them.
	terminal := len(files) == 1
	if terminal {
		files = []*os.File{files[0], files[0], files[0]}
	}
	if len(e.Argv) == 0 || len(files) != 3 {
		return nil, control.Response{Error: "exec needs args and three stdio descriptors"}
	}
	c := Config{User: e.User, Caps: e.Caps}
	creds := c.credentials()
	umask := e.Umask
	switch umask {
	case 0:
		umask = 0o022
	case UmaskZero:
		umask = 0
	}
	fsc := fsys.newFSContext(creds, e.Cwd, umask)
	fdt := vfs.NewFDTable()
	if err := installStdio(bootCtx{creds}, fdt, [3]int{int(files[0].Fd()), int(files[1].Fd()), int(files[2].Fd())}, e.StdioNames); err != nil {
		return nil, control.Response{Error: err.Error()}
	}
	var cons *hostConsole
	if terminal {
		fdt.DecRef(bootCtx{creds})
		var err error
		if fdt, cons, err = fsys.newConsoleFDTable(creds, int(files[0].Fd())); err != nil {
			return nil, control.Response{Error: err.Error()}
		}
	}
	var limits *kernel.Limits
	if init != nil {
		limits = init.Limits().Copy()
	}
	cfg := kernel.InitConfig{Argv: e.Argv, Envv: e.Envv, Credentials: creds, FDTable: fdt, FSContext: fsc,
		Limits: limits, Umask: umask, NoNewPrivs: e.NoNewPrivs, Seccomp: seccomp, Container: container}
	if cons != nil {
		cfg.CTTY = cons.term.Control()
	}
	var err error
	cfg.Path, err = fsys.lookPath(creds, fsc, e.Argv[0], e.Envv)
	var tg *kernel.ThreadGroup
	if err == nil {
		tg, err = s.k.StartProcess(cfg)
	}
	if err != nil {
		// The table's references to the replica go with it: the relay
		// then ends by itself.
		fdt.DecRef(bootCtx{creds})
		_, err = startError(e.Argv[0], err)
		return nil, control.Response{Error: err.Error()}
	}
	if cons != nil {
		s.addConsole(cons)
	}
	return tg, control.Response{Pid: int(tg.PID())}
}

// waitExec answers CmdWaitPid: it waits for the process r.Pid of execs
// (protected by mu) to exit and forgets it. With r.Hold the caller is the
// process' host stand-in (runsc/cmd/standin.go): if it goes away first
// (it was killed with SIGKILL, which it cannot forward), the process is
// killed too, so that nothing the host can no longer see or signal is
// left running.
func waitExec(k *kernel.Kernel, mu *sync.Mutex, execs map[kernel.ThreadID]*kernel.ThreadGroup, r control.Request) control.Response {
	mu.Lock()
	tg := execs[kernel.ThreadID(r.Pid)]
	mu.Unlock()
	if tg == nil {
		return control.Response{Error: fmt.Sprintf("no process %d started by exec", r.Pid)}
	}
	select {
	case <-tg.Exited():
	case <-r.Hangup: // nil without Hold
		k.SendSignal(tg, int(unix.SIGKILL), nil)
	}
	mu.Lock()
	delete(execs, kernel.ThreadID(r.Pid))
	mu.Unlock()
	ws := tg.ExitStatus()
	return control.Response{ExitStatus: ws.ExitCode(), Signal: ws.Signal()}
}

// signalExec answers CmdSignalExec: r.Signal to the process r.Pid of
// execs (protected by mu), as a signal from outside the sandbox.
func signalExec(k *kernel.Kernel, mu *sync.Mutex, execs map[kernel.ThreadID]*kernel.ThreadGroup, r control.Request) control.Response {
	if !kernel.ValidSignal(r.Signal) {
		return control.Response{Error: "invalid signal"}
	}
	mu.Lock()
	tg := execs[kernel.ThreadID(r.Pid)]
	mu.Unlock()
	if tg == nil {
		return control.Response{Error: fmt.Sprintf("no process %d started by exec", r.Pid)}
	}
	k.SendSignal(tg, r.Signal, nil)
	return control.Response{}
}

// pauseRefusal is runc's error for a pause (or resume) of a container
// that is not running, or already paused (or not paused); "" if the
// request can be carried out.
func pauseRefusal(running, paused, pause bool) string {
	switch {
	case !running:
		return "container not running"
	case pause && paused:
		return "container already paused"
	case !pause && !paused:
		return "container not paused"
	}
	return ""
}

// pause freezes (or thaws) every task of the running container.
func (s *sandbox) pause(pause bool) control.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := pauseRefusal(s.phase == phaseRunning, s.paused, pause); msg != "" {
		return control.Response{Error: msg}
	}
	if pause {
		s.k.Freeze()
	} else {
		s.k.Thaw()
	}
	s.paused = pause
	if s.c.Control.OnPause != nil {
		s.c.Control.OnPause(pause)
	}
	return control.Response{}
}

// stats are the container's figures from the sentry's accounting: live
// tasks, memory file allocation, and CPU time of the live processes and
// of those that init has reaped.
func (s *sandbox) stats() *control.Stats {
	st := &control.Stats{MemoryUsage: s.k.MemoryFile.Usage().InUse(),
		MemoryLimit: s.k.MemoryFile.Limit(), PidsLimit: s.k.PidsLimit()}
	st.Pids, _ = s.k.TaskCounts()
	for _, tg := range s.k.ThreadGroups() {
		u, sy := tg.CPUUsage()
		st.CPUUser += uint64(u)
		st.CPUKernel += uint64(sy)
	}
	if init := s.k.FindThreadGroup(1); init != nil {
		c := init.ChildrenUsage()
		st.CPUUser += uint64(c.User)
		st.CPUKernel += uint64(c.Sys)
	}
	return st
}

// addConsole keeps c for resizes until its relay ends.
func (s *sandbox) addConsole(c *hostConsole) {
	s.mu.Lock()
	if s.consoles == nil {
		s.consoles = make(map[*hostConsole]struct{})
	}
	s.consoles[c] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-c.done
		s.mu.Lock()
		delete(s.consoles, c)
		s.mu.Unlock()
	}()
}

// resizeConsoles gives each sentry terminal its host terminal's window
// size (on SIGWINCH for init's, on a resize request for exec's, whose
// host terminals are nobody's controlling terminal on the host).
func (s *sandbox) resizeConsoles() {
	s.mu.Lock()
	cs := make([]*hostConsole, 0, len(s.consoles))
	for c := range s.consoles {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.syncWindowSize()
	}
}
