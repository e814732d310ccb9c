package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// Pods (runsc/container/pod.go, runsc/boot/container.go): `create` of a
// container whose annotations name another container's sandbox starts no
// sandbox process. It starts the container's gofer (moved into the
// container's own cgroup before it serves), creates the container's
// control socket in its state directory, and hands both, with its stdio,
// its status file and its configuration, to the running sandbox over the
// sandbox's control socket (SCM_RIGHTS). Every later command (start, kill, wait, exec, events,
// delete) talks to the container's own socket, served by the sandbox.
//
// The state records the sandbox container's id and the gofer's pid. Its
// pid, which --pid-file gets too, is the container's host stand-in
// (standin.go): a runsc process started by create (startStandIn,
// runStandIn) that holds a wait for the container's init on its socket.
// It exits as the init does (its status, or killed by the same signal),
// so that a client that reaps the state pid for the container's exit
// (runc's containerd shim, conmon) learns of it when it happens, not when
// the sandbox ends. It forwards the signals it gets to the init, as
// `runsc kill` sends them; if it is killed (SIGKILL), the sandbox sees its
// connection close and kills the container. The state's liveness check
// (container.SandboxAlive) looks at the stand-in: its pid and start time.
// Deleting the sandbox container ends the sandbox and with it every
// container in it, which are then stopped (exit status 137 unless they
// had exited) until deleted; their stand-ins die of SIGKILL. The sandbox
// container itself has no stand-in: its pid is the sandbox process'.
//
// `ps --format json` lists host pids, which clients (containerd's shim,
// docker top) match against the host's ps: for a member, those of the
// host processes that run its processes' instructions (the stubs of their
// address spaces, platform.HostProcess), not its stand-in, which runs
// nothing of the container (runc's ps lists the processes in the
// container's cgroup, the ones doing its work); for the sandbox
// container, the sandbox process and the rest of its host processes, less
// the members' stubs. `ps` in a table lists a member's own processes,
// with the sandbox's pids.
//
// Pause freezes a member's processes in the sentry and leaves the rest of
// the sandbox running; its state says paused until resume. Its cgroup,
// which holds only its gofer, is not frozen: the gofer serves the sentry,
// which may need it on behalf of others (a process of another container
// reading /proc/PID/root of a member's), and a frozen gofer would stall
// them. The sandbox container's pause freezes the whole sandbox and its
// cgroup, members included (whose own state does not change). Update of a
// member applies its pids limit (the sentry's count of its tasks, and its
// cgroup's); memory and CPU limits are refused: its processes run in the
// sandbox process, whose memory and CPU are the sandbox container's. While
// the sandbox container is paused, requests to its members are made with
// the sandbox's cgroup thawed for the time of the request (whileThawed),
// the sentry keeping the application frozen.

// createPodMember creates container id in the sandbox of container
// sandboxID (see above). On failure nothing of id is left.
func createPodMember(g *flags.Global, id, sandboxID, bundle string, spec *specs.Spec, o *createOpts) error {
	sb, err := load(g, sandboxID)
	if err != nil {
		return fmt.Errorf("container %s joins sandbox %s: %w", id, sandboxID, err)
	}
	if sb.Pod != nil {
		return fmt.Errorf("container %s: %s is not a sandbox container (it joined %s)", id, sandboxID, sb.Pod.SandboxID)
	}
	switch sb.Status {
	case container.Stopped:
		return fmt.Errorf("container %s joins sandbox %s: the sandbox is not running", id, sandboxID)
	case container.Paused:
		return fmt.Errorf("container %s joins sandbox %s: the sandbox is paused", id, sandboxID)
	}
	cc, err := podMemberConfig(g, id, spec)
	if err != nil {
		return err
	}
	binds, err := goferBinds(spec, bundle)
	if err != nil {
		return err
	}
	s := store(g)
	if err := s.Create(id); err != nil {
		if errors.Is(err, container.ErrExists) {
			return fmt.Errorf("container with id exists: %s", id)
		}
		return err
	}
	// A terminal's master goes to the console socket now; its replica
	// to the sandbox.
	term, err := openTerminal(spec.Process, o.consoleSocket, false)
	if err != nil {
		s.Remove(id)
		return err
	}
	defer term.close()
	if err := joinSandbox(g, id, sb, bundle, spec, cc, binds, term); err != nil {
		destroyCgroup(g, id)
		s.Remove(id)
		return err
	}
	pid, err := startStandIn(g, id)
	if err != nil {
		destroy(g, id)
		return err
	}
	return finishCreate(g, id, o.pidFile, pid, spec.Hooks)
}

// podMemberConfig is what the sandbox needs of spec to run container id.
func podMemberConfig(g *flags.Global, id string, spec *specs.Spec) (*boot.ContainerConfig, error) {
	// bootConfig checks the process settings (and compiles the seccomp
	// filter, which the sandbox compiles again from the spec).
	bc, err := bootConfig(spec)
	if err != nil {
		return nil, err
	}
	cc := &boot.ContainerConfig{
		ID: id, Argv: bc.Argv, Envv: bc.Envv, Cwd: bc.Cwd, User: bc.User, Caps: bc.Caps,
		Umask: bc.Umask, Rlimits: bc.Rlimits, NoNewPrivs: bc.NoNewPrivs,
		Root: rootOptions(spec, g), Mounts: bc.OCIMounts,
	}
	if spec.Linux != nil {
		cc.Seccomp = spec.Linux.Seccomp
		if r := spec.Linux.Resources; r != nil && r.Pids != nil && r.Pids.Limit > 0 {
			cc.PidsLimit = r.Pids.Limit
		}
		// A pid namespace path (containerd: the sandbox's) shares the
		// sandbox container's PID namespace; else the member gets its own.
		for _, ns := range spec.Linux.Namespaces {
			cc.SharePIDNamespace = cc.SharePIDNamespace || (ns.Type == specs.PIDNamespace && ns.Path != "")
		}
	}
	// The fenced sandbox cannot read the names of the stdio it receives.
	for i := range cc.StdioNames {
		cc.StdioNames[i], _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(i))
	}
	return cc, nil
}

// joinSandbox starts id's gofer and hands the container to sb's sandbox.
// The caller removes the state directory and cgroup on failure.
func joinSandbox(g *flags.Global, id string, sb *container.State, bundle string, spec *specs.Spec, cc *boot.ContainerConfig, binds []string, term *hostTerminal) error {
	s := store(g)
	unlock, err := s.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	if err := setupCgroup(g, id, spec); err != nil {
		return err
	}
	// The gofer is moved into the cgroup while the rest is prepared
	// (cgroupJoin); it serves nothing before the sandbox has its
	// connections, which it gets only once the move is done.
	join, err := newCgroupJoin(g, id)
	if err != nil {
		return err
	}
	gofer, goferSocks, err := startContainerGofer(self, spec.Root.Path, rootWritable(g, spec), binds, true, g.HostUDS)
	if err != nil {
		return fmt.Errorf("starting the gofer: %w", err)
	}
	join.move("gofer", gofer.Process.Pid)
	defer func() {
		for _, f := range goferSocks {
			f.Close()
		}
	}()
	joined := false
	defer func() {
		if !joined {
			join.wait()
			gofer.Process.Kill()
			gofer.Wait()
		}
	}()
	// The gofer ends when the sandbox's ends of its connections close
	// (delete, or the sandbox's end); it is reaped by whoever adopts it.
	goferStart, _ := container.ProcStartTime(gofer.Process.Pid)
	ctl, err := control.ListenFile(s.ControlPath(id))
	if err != nil {
		return err
	}
	defer ctl.Close()
	status, err := s.OpenSandboxStatus(id)
	if err != nil {
		return fmt.Errorf("container %s: sandbox status: %w", id, err)
	}
	defer status.Close()
	owner := strconv.Itoa(os.Getuid())
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	st := &container.State{
		ID: id, Bundle: bundle, Status: container.Created, Pid: sb.Pid, PidStart: sb.PidStart,
		Created: time.Now().UTC(), Owner: owner, Annotations: spec.Annotations,
		Pod: &container.PodMember{SandboxID: sb.ID, GoferPid: gofer.Process.Pid, GoferStart: goferStart},
	}
	if err := s.Save(st); err != nil {
		return err
	}
	if err := join.wait(); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	files := append([]*os.File{os.Stdin, os.Stdout, os.Stderr, status, ctl}, goferSocks...)
	if term != nil {
		cc.Terminal = true
		files[0], files[1], files[2] = term.replica, term.replica, term.replica
	}
	raw, err := json.Marshal(cc)
	if err != nil {
		return err
	}
	req := control.Request{Cmd: control.CmdCreate, Container: raw}
	if _, err := control.CallWithFiles(s.ControlPath(sb.ID), req, files, 60*time.Second); err != nil {
		if errors.Is(err, control.ErrUnreachable) {
			return fmt.Errorf("container %s joins sandbox %s: the sandbox is not running", id, sb.ID)
		}
		return err
	}
	joined = true
	return nil
}

// destroyPodMember ends container st, which joined a sandbox, and
// removes its state: the sandbox kills its processes and unmounts its
// tree (if the sandbox still runs), then its gofer and cgroup go.
func destroyPodMember(g *flags.Global, st *container.State) error {
	s := store(g)
	// A paused sandbox cannot answer: it is thawed for the request (and
	// frozen again), as kill does.
	paused := false
	if sb, err := load(g, st.Pod.SandboxID); err == nil {
		paused = sb.Status == container.Paused
	}
	err := whileThawed(g, st.Pod.SandboxID, paused, true, func() error {
		_, err := control.Call(s.ControlPath(st.ID), control.Request{Cmd: control.CmdDestroy}, 15*time.Second)
		return err
	})
	if err != nil && !errors.Is(err, control.ErrUnreachable) {
		return err
	}
	if p := st.Pod; p != nil {
		killHostProcess(p.GoferPid, p.GoferStart)
		if p.StandIn {
			// It ends by itself once the container has stopped;
			// one that hangs does not outlive the container.
			killHostProcess(st.Pid, st.PidStart)
		}
	}
	if err := destroyCgroup(g, st.ID); err != nil {
		return err
	}
	// The socket was made by create, not by the sandbox.
	os.Remove(filepath.Join(s.Dir(st.ID), filepath.Base(s.ControlPath(st.ID))))
	return s.Remove(st.ID)
}

// killHostProcess kills host process pid, if it is still the one that
// started at start (so that a reused pid is never killed), and waits up
// to five seconds for it to go.
func killHostProcess(pid int, start uint64) {
	if t, ok := container.ProcStartTime(pid); !ok || t != start {
		return
	}
	unix.Kill(pid, unix.SIGKILL)
	for i := 0; i < 500; i++ {
		if t, ok := container.ProcStartTime(pid); !ok || t != start {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startStandIn starts the host stand-in of pod member id (see above),
// which has joined its sandbox, records its pid as the state's and
// returns it once the stand-in holds its wait. It is started in a session
// of its own (the caller's terminal is not its business), with no stdio
// (the container has the caller's), and is left to the caller's
// subreaper, which reaps it for the container's exit, as runc's init.
func startStandIn(g *flags.Global, id string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cmd := exec.Command(self, append(g.Args(), "exec", "--stand-in", "--", id)...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("container %s: starting its host stand-in: %w", id, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	pid := cmd.Process.Pid
	start, alive := container.ProcStartTime(pid)
	if string(msg) != "\x00" || !alive {
		cmd.Process.Kill()
		cmd.Wait()
		if len(msg) == 0 || string(msg) == "\x00" {
			msg = []byte("it exited")
		}
		return 0, fmt.Errorf("container %s: host stand-in: %s", id, msg)
	}
	cmd.Process.Release()
	_, err = store(g).Update(id, func(st *container.State) bool {
		st.Pid, st.PidStart = pid, start
		st.Pod.StandIn = true
		return true
	})
	if err != nil {
		// destroy cannot know it: the container's end ends it.
		return 0, err
	}
	return pid, nil
}

// runStandIn is `exec --stand-in ID`, the host stand-in of pod member id
// started by startStandIn: descriptor 3 gets "\x00" once its wait for
// the container's init is held, or the error. It exits as the init does.
func runStandIn(g *flags.Global, id string) {
	ready := os.NewFile(3, "ready")
	sigs := catchSignals()
	path := store(g).ControlPath(id)
	waiting, err := control.Send(path, control.Request{Cmd: control.CmdWait, Hold: true}, nil, 0)
	if err != nil {
		ready.WriteString(err.Error())
		os.Exit(1)
	}
	ready.Write([]byte{0})
	ready.Close()
	forward(sigs, func(sig unix.Signal) {
		_, err := control.Call(path, control.Request{Cmd: control.CmdSignal, Signal: int(sig)}, 5*time.Second)
		if err != nil && g.Debug {
			logLine(g, "debug", fmt.Sprintf("container %s: forwarding %v: %v", id, sig, err))
		}
	})
	resp, err := waiting.Wait()
	if err != nil {
		// The sandbox is gone, and the container's processes with
		// it.
		logLine(g, "debug", fmt.Sprintf("container %s: waiting for its init: %v", id, err))
		exitAs(128+int(unix.SIGKILL), unix.SIGKILL)
	}
	exitAs(resp.ExitStatus, unix.Signal(resp.Signal))
}

// podPs prints the processes of pod member st as the sandbox sees them.
func podPs(g *flags.Global, st *container.State) error {
	procs, err := podProcesses(g, st, false)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 5, 1, 2, ' ', 0)
	fmt.Fprint(w, "UID\tPID\tPPID\tCMD\n")
	for _, p := range procs {
		fmt.Fprintf(w, "%d\t%d\t%d\t%s\n", p.UID, p.PID, p.PPID, p.Cmd)
	}
	return w.Flush()
}

// podThawTarget is whileThawed's target for container id: a member's
// requests are served by its sandbox, which only the sandbox container's
// pause freezes (a member's pause is the sentry's; see above). For any
// other container it returns id and paused.
func podThawTarget(g *flags.Global, id string, paused bool) (string, bool) {
	st, err := store(g).Load(id)
	if err != nil || st.Pod == nil {
		return id, paused
	}
	sb, err := load(g, st.Pod.SandboxID)
	if err != nil {
		return st.Pod.SandboxID, false
	}
	return sb.ID, sb.Status == container.Paused
}

// podPause pauses (or resumes) pod member st: the sentry freezes its
// processes and records its status.
func podPause(g *flags.Global, st *container.State, resume bool) error {
	cmd := control.CmdPause
	if resume {
		cmd = control.CmdResume
	}
	return whileThawed(g, st.ID, true, true, func() error {
		_, err := control.Call(store(g).ControlPath(st.ID), control.Request{Cmd: cmd}, 10*time.Second)
		if errors.Is(err, control.ErrUnreachable) {
			return errors.New("container not running")
		}
		return err
	})
}

// podProcesses returns the processes of pod member st (or with all,
// those of every container of sandbox container st), as the sandbox sees
// them; none once it has stopped.
func podProcesses(g *flags.Global, st *container.State, all bool) ([]control.Process, error) {
	if st.Status == container.Stopped {
		return nil, nil
	}
	var resp control.Response
	err := whileThawed(g, st.ID, st.Status == container.Paused, true, func() error {
		var err error
		resp, err = control.Call(store(g).ControlPath(st.ID), control.Request{Cmd: control.CmdProcesses, All: all}, 10*time.Second)
		return err
	})
	if err != nil && !errors.Is(err, control.ErrUnreachable) {
		return nil, err
	}
	return resp.Processes, nil
}

// podHostPids returns the host pids of pod member st's processes (see
// above), sorted, [] when it has none.
func podHostPids(g *flags.Global, st *container.State) ([]int, error) {
	procs, err := podProcesses(g, st, false)
	if err != nil || len(procs) == 0 {
		return []int{}, err
	}
	sb, err := load(g, st.Pod.SandboxID)
	if err != nil || sb.Status == container.Stopped {
		return []int{}, nil
	}
	inner := map[int]bool{}
	for _, p := range procs {
		if p.HostPID > 0 {
			inner[p.HostPID] = true
		}
	}
	out := []int{}
	for host, in := range sandboxNSPids(sb.Pid) {
		if inner[in] {
			out = append(out, host)
		}
	}
	sort.Ints(out)
	return out, nil
}

// sandboxHostPids returns the host pids of sandbox container st (see
// above): the sandbox process and its descendants, less the stubs of the
// processes of the containers that joined it.
func sandboxHostPids(g *flags.Global, st *container.State) []int {
	pids := sandboxPids(st.Pid)
	if st.Status != container.Running {
		// A paused sandbox is not thawed for this.
		return pids
	}
	procs, err := podProcesses(g, st, true)
	if err != nil {
		return pids
	}
	members := map[int]bool{}
	for _, p := range procs {
		if p.Container != "" && p.HostPID > 0 {
			members[p.HostPID] = true
		}
	}
	if len(members) == 0 {
		return pids
	}
	ns := sandboxNSPids(st.Pid)
	out := pids[:0]
	for _, p := range pids {
		if !members[ns[p]] {
			out = append(out, p)
		}
	}
	return out
}

// sandboxNSPids maps the host pid of sandbox process root and of each of
// its descendants to its pid in the sandbox's PID namespace (the last
// field of NSpid in /proc/PID/status, the namespace the sentry sees).
func sandboxNSPids(root int) map[int]int {
	out := map[int]int{}
	for _, pid := range sandboxPids(root) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "NSpid:" {
				continue
			}
			if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
				out[pid] = n
			}
			break
		}
	}
	return out
}
