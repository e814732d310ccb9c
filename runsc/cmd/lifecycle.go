package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// simple is the boilerplate of a subcommand without flags of its own.
type simple struct {
	name, synopsis, usage string
}

func (s simple) Name() string         { return s.name }
func (s simple) Synopsis() string     { return s.synopsis }
func (s simple) Usage() string        { return s.usage }
func (simple) SetFlags(*flag.FlagSet) {}

// Start implements `runsc start`: run the init of a created container.
type Start struct {
	Global *flags.Global
	simple
}

// NewStart returns the start command.
func NewStart(g *flags.Global) *Start {
	return &Start{g, simple{"start", "start a created container", "start <container-id>\n"}}
}

// Execute implements subcommands.Command.
func (c *Start) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, err := oneID(f.Args())
	if err == nil {
		err = startContainer(c.Global, id)
	}
	if err != nil {
		return fail(c.Global, err)
	}
	return subcommands.ExitSuccess
}

func startContainer(g *flags.Global, id string) error {
	st, err := load(g, id)
	if err != nil {
		return err
	}
	switch st.Status {
	case container.Stopped:
		return errors.New("cannot start a container that has stopped")
	case container.Running:
		return errors.New("cannot start an already running container")
	case container.Paused:
		return errors.New("cannot start a paused container")
	}
	spec, _ := container.LoadSpec(st.Bundle)
	if spec != nil && spec.Hooks != nil {
		if err := runHooks("startContainer", spec.Hooks.StartContainer, st); err != nil {
			killSandbox(st)
			return err
		}
	}
	if _, err = control.Call(store(g).ControlPath(id), control.Request{Cmd: control.CmdStart}, 30*time.Second); err != nil {
		return err
	}
	if spec != nil && spec.Hooks != nil {
		if st, err := load(g, id); err == nil {
			if err := runHooks("poststart", spec.Hooks.Poststart, st); err != nil {
				logLine(g, "warning", err.Error())
			}
		}
	}
	return nil
}

// Run implements `runsc run`: create and start, then (without --detach)
// wait for the init, remove the container and exit with its status.
type Run struct {
	Global *flags.Global
	opts   createOpts
	detach bool
	keep   bool
}

// Name implements subcommands.Command.
func (*Run) Name() string { return "run" }

// Synopsis implements subcommands.Command.
func (*Run) Synopsis() string { return "create and start a container" }

// Usage implements subcommands.Command.
func (*Run) Usage() string {
	return "run [flags] <container-id>\n\nExit status: the init's (128+N when killed by signal N).\n"
}

// SetFlags implements subcommands.Command.
func (c *Run) SetFlags(f *flag.FlagSet) {
	c.opts.set(f)
	f.BoolVar(&c.detach, "detach", false, "detach from the container's process")
	f.BoolVar(&c.detach, "d", false, "detach (short for --detach)")
	f.BoolVar(&c.keep, "keep", false, "do not delete the container after it exits")
}

// Execute implements subcommands.Command.
func (c *Run) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err == nil {
		err = g.Validate()
	}
	if err != nil {
		return fail(g, err)
	}
	sigs := make(chan os.Signal, 16)
	if !c.detach {
		// Signals to run go to the init, as `runsc kill` sends them.
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH)
	}
	began := time.Now()
	phase := func(name string) { debugPhase(g, began, "run", name) }
	phase("flags")
	cmd, err := createContainer(g, id, &c.opts, !c.detach)
	if err != nil {
		return fail(g, err)
	}
	phase("create")
	if err := startContainer(g, id); err != nil {
		destroy(g, id)
		c.opts.term.close()
		return fail(g, err)
	}
	phase("start")
	if c.detach {
		return subcommands.ExitSuccess
	}
	attach := c.opts.term.attachment()
	go func() {
		for s := range sigs {
			if s == unix.SIGWINCH {
				// As runc: a resize of the caller's terminal
				// resizes the container's (the host then sends
				// the sandbox SIGWINCH), and is never forwarded.
				if attach != nil {
					attach.Resize()
				}
				continue
			}
			control.Call(store(g).ControlPath(id), control.Request{Cmd: control.CmdSignal, Signal: int(s.(unix.Signal))}, 5*time.Second)
		}
	}()
	code := sandboxExit(cmd)
	signal.Stop(sigs)
	phase("sandbox exit")
	if attach != nil {
		attach.WaitTimeout(2 * time.Second)
	}
	if st, err := store(g).Load(id); err == nil && st.Exited {
		code = st.ExitStatus
	}
	if !c.keep {
		st, _ := store(g).Load(id)
		destroy(g, id)
		if st != nil {
			poststop(g, st)
		}
		phase("delete")
	}
	os.Exit(code)
	return subcommands.ExitSuccess
}

// sandboxExit waits for the sandbox process: it exits with the init's
// status.
func sandboxExit(cmd *exec.Cmd) int {
	err := cmd.Wait()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
	return 1
}

// State implements `runsc state`.
type State struct {
	Global *flags.Global
	simple
}

// NewState returns the state command.
func NewState(g *flags.Global) *State {
	return &State{g, simple{"state", "print a container's state (runtime-spec JSON)", "state <container-id>\n"}}
}

// Execute implements subcommands.Command.
func (c *State) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, err := oneID(f.Args())
	if err != nil {
		return fail(c.Global, err)
	}
	st, err := load(c.Global, id)
	if err != nil {
		return fail(c.Global, err)
	}
	b, _ := json.MarshalIndent(toOCI(st), "", "  ")
	fmt.Println(string(b))
	return subcommands.ExitSuccess
}

// Kill implements `runsc kill ID [SIGNAL]` (default SIGTERM).
type Kill struct {
	Global *flags.Global
	all    bool
}

// Name implements subcommands.Command.
func (*Kill) Name() string { return "kill" }

// Synopsis implements subcommands.Command.
func (*Kill) Synopsis() string { return "send a signal to a container's init" }

// Usage implements subcommands.Command.
func (*Kill) Usage() string {
	return "kill [--all] <container-id> [SIGNAL]\n\nSIGNAL is a number or a name (TERM, SIGTERM); the default is SIGTERM. As for a\nLinux PID-namespace init, an init without a handler ignores every signal but\nSIGKILL and SIGSTOP.\n"
}

// SetFlags implements subcommands.Command.
func (c *Kill) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&c.all, "all", false, "send the signal to every process of the container")
	f.BoolVar(&c.all, "a", false, "short for --all")
}

// Execute implements subcommands.Command.
func (c *Kill) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err != nil {
		return fail(g, err)
	}
	sig := unix.SIGTERM
	if f.NArg() > 1 {
		if sig, err = parseSignal(f.Arg(1)); err != nil {
			return fail(g, err)
		}
	}
	st, err := load(g, id)
	if err != nil {
		return fail(g, err)
	}
	if st.Status == container.Stopped {
		return fail(g, errors.New("container not running"))
	}
	err = whileThawed(g, id, st.Status == container.Paused, sig != unix.SIGKILL, func() error {
		_, err := control.Call(store(g).ControlPath(id), control.Request{Cmd: control.CmdSignal, Signal: int(sig), All: c.all}, 10*time.Second)
		return err
	})
	if errors.Is(err, control.ErrUnreachable) && sig == unix.SIGKILL {
		// The sandbox does not answer: end it from outside.
		err = killSandbox(st)
		store(g).Update(id, func(st *container.State) bool {
			if st.Exited {
				return false
			}
			st.Status, st.Exited, st.ExitStatus = container.Stopped, true, 128+int(sig)
			return true
		})
	}
	if err != nil {
		if errors.Is(err, control.ErrUnreachable) {
			err = errors.New("container not running")
		}
		return fail(g, err)
	}
	return subcommands.ExitSuccess
}

// Delete implements `runsc delete`.
type Delete struct {
	Global *flags.Global
	force  bool
}

// Name implements subcommands.Command.
func (*Delete) Name() string { return "delete" }

// Synopsis implements subcommands.Command.
func (*Delete) Synopsis() string { return "delete a container and everything it left" }

// Usage implements subcommands.Command.
func (*Delete) Usage() string {
	return "delete [--force] <container-id>\n\nA created or stopped container is deleted; a running one only with --force.\n"
}

// SetFlags implements subcommands.Command.
func (c *Delete) SetFlags(f *flag.FlagSet) {
	f.BoolVar(&c.force, "force", false, "kill the container first if it is running")
	f.BoolVar(&c.force, "f", false, "short for --force")
}

// Execute implements subcommands.Command.
func (c *Delete) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err != nil {
		return fail(g, err)
	}
	st, err := load(g, id)
	if err != nil {
		if c.force {
			// Nothing, or what a failed create left: remove it.
			destroyCgroup(g, id)
			if err := store(g).Remove(id); err != nil {
				return fail(g, err)
			}
			return subcommands.ExitSuccess
		}
		return fail(g, err)
	}
	if (st.Status == container.Running || st.Status == container.Paused) && !c.force {
		return fail(g, fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st.Status))
	}
	if err := destroy(g, id); err != nil {
		return fail(g, err)
	}
	poststop(g, st)
	return subcommands.ExitSuccess
}

// poststop runs the poststop hooks of a deleted container; a failure is
// only logged, as the runtime spec says.
func poststop(g *flags.Global, st *container.State) {
	spec, _ := container.LoadSpec(st.Bundle)
	if spec == nil || spec.Hooks == nil {
		return
	}
	st.Status = container.Stopped
	if err := runHooks("poststop", spec.Hooks.Poststop, st); err != nil {
		logLine(g, "warning", err.Error())
	}
}

// List implements `runsc list`.
type List struct {
	Global *flags.Global
	format string
	quiet  bool
}

// Name implements subcommands.Command.
func (*List) Name() string { return "list" }

// Synopsis implements subcommands.Command.
func (*List) Synopsis() string { return "list the containers under --root" }

// Usage implements subcommands.Command.
func (*List) Usage() string { return "list [--format table|json] [-q]\n" }

// SetFlags implements subcommands.Command.
func (c *List) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.format, "format", "table", "table or json")
	f.StringVar(&c.format, "f", "table", "short for --format")
	f.BoolVar(&c.quiet, "quiet", false, "print only the ids")
	f.BoolVar(&c.quiet, "q", false, "short for --quiet")
}

// Execute implements subcommands.Command.
func (c *List) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	ids, err := store(g).List()
	if err != nil {
		return fail(g, err)
	}
	var states []ociState
	for _, id := range ids {
		st, err := load(g, id)
		if err != nil {
			continue // being created or deleted
		}
		states = append(states, toOCI(st))
	}
	switch {
	case c.quiet:
		for _, s := range states {
			fmt.Println(s.ID)
		}
	case c.format == "json":
		if states == nil {
			states = []ociState{}
		}
		b, _ := json.Marshal(states)
		fmt.Println(string(b))
	case c.format == "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		w.Flush()
	default:
		return fail(g, fmt.Errorf("invalid format option %q", c.format))
	}
	return subcommands.ExitSuccess
}

// Ps implements `runsc ps`: the host pids of the container's processes
// (the application's processes are the sentry's tasks and have no host
// pid of their own; the host processes are the sandbox process and the
// stubs in which the processes' instructions run: pod.go says which are
// whose).
type Ps struct {
	Global *flags.Global
	format string
}

// Name implements subcommands.Command.
func (*Ps) Name() string { return "ps" }

// Synopsis implements subcommands.Command.
func (*Ps) Synopsis() string { return "list the host processes of a container" }

// Usage implements subcommands.Command.
func (*Ps) Usage() string { return "ps [--format table|json] <container-id>\n" }

// SetFlags implements subcommands.Command.
func (c *Ps) SetFlags(f *flag.FlagSet) {
	f.StringVar(&c.format, "format", "table", "table or json")
	f.StringVar(&c.format, "f", "table", "short for --format")
}

// Execute implements subcommands.Command.
func (c *Ps) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	g := c.Global
	id, err := oneID(f.Args())
	if err != nil {
		return fail(g, err)
	}
	st, err := load(g, id)
	if err != nil {
		return fail(g, err)
	}
	if st.Pod != nil && c.format == "table" {
		// A pod member's own processes (pod.go).
		if err := podPs(g, st); err != nil {
			return fail(g, err)
		}
		return subcommands.ExitSuccess
	}
	pids := []int{}
	switch {
	case st.Status == container.Stopped:
	case st.Pod != nil:
		if pids, err = podHostPids(g, st); err != nil {
			return fail(g, err)
		}
	default:
		pids = sandboxHostPids(g, st)
	}
	switch c.format {
	case "json":
		b, _ := json.Marshal(pids)
		fmt.Println(string(b))
	case "table":
		fmt.Println("PID")
		for _, p := range pids {
			fmt.Println(p)
		}
	default:
		return fail(g, fmt.Errorf("invalid format option %q", c.format))
	}
	return subcommands.ExitSuccess
}

// Wait implements `runsc wait` (ours): wait for the init to exit; exit
// with its status and print it.
type Wait struct {
	Global *flags.Global
	simple
}

// NewWait returns the wait command.
func NewWait(g *flags.Global) *Wait {
	return &Wait{g, simple{"wait", "wait for a container's init to exit", "wait <container-id>\n\nPrints the init's exit status and exits with it.\n"}}
}

// Execute implements subcommands.Command.
func (c *Wait) Execute(_ context.Context, f *flag.FlagSet, _ ...any) subcommands.ExitStatus {
	id, err := oneID(f.Args())
	if err != nil {
		return fail(c.Global, err)
	}
	code, err := waitExit(c.Global, id)
	if err != nil {
		return fail(c.Global, err)
	}
	fmt.Println(code)
	os.Exit(code)
	return subcommands.ExitSuccess
}
