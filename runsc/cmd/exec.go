package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/boot"
	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// Exec implements `runsc exec`: a new process in a running container, with
// the caller's stdin, stdout and stderr, or with a terminal of its own
// (--tty, or "terminal" in --process) whose master goes to
// --console-socket or is relayed to the caller's terminal.
type Exec struct {
	Global        *flags.Global
	process       string
	cwd           string
	env           stringList
	user          string
	caps          stringList
	detach        bool
	pidFile       string
	tty           bool
	consoleSocket string
	noNewPrivs    bool
	preserveFDs   int
	// consoleWatch runs the resize watcher of an exec'd process'
	// console (console.go) instead.
	consoleWatch bool
	// detachChild marks the child a --detach exec leaves behind
	// (execDetached): it reads the final process spec from --process,
	// writes its own pid to --pid-file, reports the start on fd 3 and
	// waits for the process, whose exit status becomes its own.
	detachChild bool
	// standIn runs the host stand-in of the init of a container that
	// joined another's sandbox (pod.go: startStandIn) instead.
	standIn bool
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// Name implements subcommands.Command.
func (*Exec) Name() string { return "exec" }

// Synopsis implements subcommands.Command.
func (*Exec) Synopsis() string { return "run a new process in a running container" }

// Usage implements subcommands.Command.
func (*Exec) Usage() string {
	return "exec [flags] <container-id> [CMD [ARG...]]\n\nWithout --detach, exits with the process' status. The new process is the\nsentry's and has no host pid of its own: --pid-file gets the pid of a runsc\nprocess that waits for it and exits with its status (with --detach, a child\nleft behind), as the exec'd process of runc does for conmon and containerd's\nshim, which reap that pid for the exec's status. It forwards the signals it\nreceives to the process, dies of the signal that killed the process, and its\nown death (SIGKILL) kills the process.\n"
}

// SetFlags implements subcommands.Command.
func (c *Exec) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.process, "process", "", "runtime-spec process JSON file (- for stdin)")
	f.StringVar(&c.process, "p", "", "short for --process")
	f.StringVar(&c.cwd, "cwd", "", "working directory")
	f.Var(&c.env, "env", "KEY=VALUE to add to the environment (repeatable)")
	f.Var(&c.env, "e", "short for --env")
	f.StringVar(&c.user, "user", "", "uid[:gid]")
	f.StringVar(&c.user, "u", "", "short for --user")
	f.Var(&c.caps, "cap", "capability to add (repeatable)")
	f.BoolVar(&c.detach, "detach", false, "do not wait for the process")
	f.BoolVar(&c.detach, "d", false, "short for --detach")
	f.StringVar(&c.pidFile, "pid-file", "", "file to write the pid of the process' host stand-in to")
	f.BoolVar(&c.tty, "tty", false, "allocate a pseudo-terminal")
	f.BoolVar(&c.tty, "t", false, "short for --tty")
	f.StringVar(&c.consoleSocket, "console-socket", "", "unix socket to send the pty master to (with --tty)")
	f.BoolVar(&c.noNewPrivs, "no-new-privs", false, "set no_new_privs")
	f.IntVar(&c.preserveFDs, "preserve-fds", 0, "accepted for runc compatibility; ignored")
	f.BoolVar(&c.consoleWatch, "console-watch", false, "internal use only")
	f.BoolVar(&c.detachChild, "detach-child", false, "internal use only")
	f.BoolVar(&c.standIn, "stand-in", false, "internal use only")
}

// Execute implements subcommands.Command.
func (c *Exec) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err != nil {
		return fail(g, err)
	}
	if c.consoleWatch {
		if err := watchResizes(g, id); err != nil {
			return fail(g, err)
		}
		return subcommands.ExitSuccess
	}
	if c.detachChild {
		return c.runDetachChild(id, f.Args()[1:])
	}
	if c.standIn {
		runStandIn(g, id)
		return subcommands.ExitFailure
	}
	x, err := c.run(id, f.Args()[1:], nil)
	if err != nil {
		return fail(g, err)
	}
	exitAs(x.code, x.sig)
	return subcommands.ExitSuccess
}

// run execs the process and, unless detached, waits for it and returns
// how it ended. started, if not nil, is called once the process runs (the
// detach child's report). A waiting run is the process' host stand-in
// (standin.go): its pid goes to --pid-file, it forwards the signals it
// gets to the process, and its death kills the process.
func (c *Exec) run(id string, args []string, started func()) (execExit, error) {
	g := c.Global
	st, err := load(g, id)
	if err != nil {
		return execExit{}, err
	}
	if st.Status != container.Running {
		return execExit{}, fmt.Errorf("cannot exec in a %s container", st.Status)
	}
	p, err := c.processSpec(st, args)
	if err != nil {
		return execExit{}, err
	}
	if len(p.Args) == 0 {
		return execExit{}, errors.New("exec: no command")
	}
	if c.detach && c.pidFile != "" && !c.detachChild {
		return execExit{}, c.execDetached(id, p)
	}
	wait := !c.detach || c.detachChild
	var sigs chan os.Signal
	if wait {
		// Signals that come before the process exists are forwarded
		// once it does.
		sigs = catchSignals()
		defer signal.Stop(sigs)
	}
	spec := &specs.Spec{Process: p, Root: &specs.Root{}}
	bc, err := bootConfig(spec)
	if err != nil {
		return execExit{}, err
	}
	e := boot.ExecConfig{Argv: bc.Argv, Envv: bc.Envv, Cwd: bc.Cwd, User: bc.User, Caps: bc.Caps,
		Umask: bc.Umask, NoNewPrivs: bc.NoNewPrivs}
	// The fenced sandbox cannot read the names of the stdio it receives.
	for i := range e.StdioNames {
		e.StdioNames[i], _ = os.Readlink("/proc/self/fd/" + strconv.Itoa(i))
	}
	raw, err := json.Marshal(&e)
	if err != nil {
		return execExit{}, err
	}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	term, err := openTerminal(p, c.consoleSocket, !c.detach)
	if err != nil {
		return execExit{}, err
	}
	if term != nil {
		files = []*os.File{term.replica}
	}
	path := store(g).ControlPath(id)
	resp, err := control.CallWithFiles(path, control.Request{Cmd: control.CmdExec, Process: raw}, files, 0)
	if err != nil {
		term.close()
		return execExit{}, err
	}
	pid := resp.Pid
	if term != nil && term.attach == nil {
		if err := startResizeWatcher(g, id, term.replica); err != nil {
			logLine(g, "warning", err.Error())
		}
	}
	// The sandbox has its own copy: the client sees EIO when it closes
	// it.
	term.release()
	attach := term.attachment()
	if attach != nil {
		defer attach.Close()
	}
	var waiting *control.Pending
	if wait {
		// The wait is held from now on: if this process dies, so
		// does the exec'd one.
		waiting, err = control.Send(path, control.Request{Cmd: control.CmdWaitPid, Pid: pid, Hold: true}, nil, 0)
		if err != nil {
			return execExit{}, err
		}
		defer waiting.Close()
		forward(sigs, func(sig unix.Signal) {
			if sig == unix.SIGWINCH && attach != nil {
				// The host terminal is nobody's controlling
				// terminal on the host: the sandbox is told
				// about resizes, as runc does, instead.
				attach.Resize()
				control.Call(path, control.Request{Cmd: control.CmdResize}, 5*time.Second)
				return
			}
			_, err := control.Call(path, control.Request{Cmd: control.CmdSignalExec, Pid: pid, Signal: int(sig)}, 5*time.Second)
			if err != nil && g.Debug {
				logLine(g, "debug", fmt.Sprintf("exec: forwarding %v: %v", sig, err))
			}
		})
	}
	if c.pidFile != "" {
		if err := writePidFile(c.pidFile, os.Getpid()); err != nil {
			return execExit{}, err
		}
	}
	if started != nil {
		started()
	}
	if !wait {
		return execExit{}, nil
	}
	resp, err = waiting.Wait()
	if err != nil {
		return execExit{}, err
	}
	if attach != nil {
		attach.WaitTimeout(2 * time.Second)
	}
	return execExit{code: resp.ExitStatus, sig: unix.Signal(resp.Signal)}, nil
}

// execExit is how an exec'd process ended: its exit code (128+N when
// killed by signal N) and the signal that killed it (0 if it exited).
type execExit struct {
	code int
	sig  unix.Signal
}

// execDetached is exec --detach --pid-file: the clients reap the pid in
// the pid file for the exec's exit status (they are its subreaper), so a
// child runsc is left behind to exec p and wait for it, with this
// process' stdio. It returns once the child reports that p runs.
func (c *Exec) execDetached(id string, p *specs.Process) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer specR.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return err
	}
	defer readyR.Close()
	args := append(c.Global.Args(), "exec", "--detach", "--detach-child", "--process=/proc/self/fd/4",
		"--pid-file="+c.pidFile)
	if c.consoleSocket != "" {
		args = append(args, "--console-socket="+c.consoleSocket)
	}
	args = append(args, "--", id)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{readyW, specR}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		specW.Close()
		return err
	}
	go func() {
		specW.Write(raw)
		specW.Close()
	}()
	msg, _ := io.ReadAll(readyR)
	if string(msg) == "\x00" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if len(msg) == 0 {
		return errors.New("exec: the waiting runsc died before the process started")
	}
	return errors.New(string(msg))
}

// runDetachChild is the child of execDetached: fd 3 gets "\x00" once the
// process runs, or the error.
func (c *Exec) runDetachChild(id string, args []string) subcommands.ExitStatus {
	ready := os.NewFile(3, "ready")
	reported := false
	x, err := c.run(id, args, func() {
		ready.Write([]byte{0})
		ready.Close()
		reported = true
	})
	if err != nil {
		if !reported {
			// The parent logs it.
			ready.WriteString(err.Error())
			ready.Close()
			return subcommands.ExitFailure
		}
		// The sandbox ended under the process: its init exited, and
		// every other process was killed with it, as in a pid namespace.
		logLine(c.Global, "debug", "exec: waiting for the process: "+err.Error())
		exitAs(128+int(unix.SIGKILL), unix.SIGKILL)
	}
	exitAs(x.code, x.sig)
	return subcommands.ExitSuccess
}

// processSpec is --process, or the container's process with args and the
// flags applied.
func (c *Exec) processSpec(st *container.State, args []string) (*specs.Process, error) {
	if c.process != "" {
		var r io.Reader = os.Stdin
		if c.process != "-" {
			f, err := os.Open(c.process)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		var p specs.Process
		if err := json.NewDecoder(r).Decode(&p); err != nil {
			return nil, fmt.Errorf("process: %w", err)
		}
		if c.tty {
			p.Terminal = true
		}
		return &p, nil
	}
	spec, err := container.LoadSpec(st.Bundle)
	if err != nil {
		return nil, err
	}
	p := spec.Process
	p.Args = args
	p.Terminal = c.tty
	p.Env = append(p.Env, c.env...)
	if c.cwd != "" {
		p.Cwd = c.cwd
	}
	if c.user != "" {
		u, g, _ := strings.Cut(c.user, ":")
		uid, err := strconv.ParseUint(u, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: want uid[:gid]", c.user)
		}
		p.User = specs.User{UID: uint32(uid)}
		if g != "" {
			gid, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: want uid[:gid]", c.user)
			}
			p.User.GID = uint32(gid)
		}
	}
	if len(c.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		pc := p.Capabilities
		pc.Bounding = append(pc.Bounding, c.caps...)
		pc.Effective = append(pc.Effective, c.caps...)
		pc.Permitted = append(pc.Permitted, c.caps...)
	}
	if c.noNewPrivs {
		p.NoNewPrivileges = true
	}
	return p, nil
}

// Pause implements `runsc pause` and, with resume set, `runsc resume`.
type Pause struct {
	Global *flags.Global
	resume bool
	simple
}

// NewPause returns the pause command, or with resume the resume command.
func NewPause(g *flags.Global, resume bool) *Pause {
	if resume {
		return &Pause{g, true, simple{"resume", "resume a paused container", "resume <container-id>\n"}}
	}
	return &Pause{g, false, simple{"pause", "freeze every process of a container", "pause <container-id>\n"}}
}

// Execute implements subcommands.Command.
func (c *Pause) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err != nil {
		return fail(g, err)
	}
	st, err := load(g, id)
	if err != nil {
		return fail(g, err)
	}
	cmd := control.CmdPause
	switch {
	case c.resume && st.Status != container.Paused:
		return fail(g, errors.New("container not paused"))
	case !c.resume && st.Status != container.Running:
		return fail(g, errors.New("container not running"))
	case c.resume:
		cmd = control.CmdResume
	}
	if st.Pod != nil {
		// A pod member's processes are frozen in the sandbox (pod.go).
		if err := podPause(g, st, c.resume); err != nil {
			return fail(g, err)
		}
		return subcommands.ExitSuccess
	}
	// The sentry stops its tasks, then the host freezes the sandbox's
	// processes; resume thaws them first (a frozen sandbox cannot answer).
	if c.resume {
		if err := freezeCgroup(g, id, false); err != nil {
			return fail(g, err)
		}
	}
	if _, err := control.Call(store(g).ControlPath(id), control.Request{Cmd: cmd}, 10*time.Second); err != nil {
		return fail(g, err)
	}
	if !c.resume {
		if err := freezeCgroup(g, id, true); err != nil {
			return fail(g, err)
		}
	}
	return subcommands.ExitSuccess
}
