package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
	"github.com/rampart-sandbox/rampart/sentry/control"
)

// fail reports err as runc does: a log line in --log-format to --log (or
// to stderr when there is no --log), and the message on stderr, which
// clients such as containerd's shim and conmon show the user.
func fail(g *flags.Global, err error) subcommands.ExitStatus {
	logLine(g, "error", err.Error())
	if g.Log != "" {
		fmt.Fprintln(os.Stderr, "runsc: "+err.Error())
	}
	return subcommands.ExitFailure
}

// logLine writes one log line: runc's JSON ({"level","msg","time"}) or
// logrus' text format.
func logLine(g *flags.Global, level, msg string) {
	now := time.Now().Format(time.RFC3339Nano)
	var line string
	if g.LogFmt == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		line = string(b) + "\n"
	} else {
		line = fmt.Sprintf("time=%q level=%s msg=%q\n", now, level, msg)
	}
	if g.Log == "" {
		os.Stderr.WriteString(line)
		return
	}
	f, err := os.OpenFile(g.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: log %s: %v\n", g.Log, err)
		os.Stderr.WriteString(line)
		return
	}
	f.WriteString(line)
	f.Close()
}

func store(g *flags.Global) container.Store { return container.Store{Root: g.Root} }

// oneID returns the single container id argument.
func oneID(args []string) (string, error) {
	if len(args) < 1 {
		return "", errors.New("container id cannot be empty")
	}
	if err := container.ValidID(args[0]); err != nil {
		return "", err
	}
	return args[0], nil
}

// load returns id's state as it is now (stopped once the sandbox is gone).
func load(g *flags.Global, id string) (*container.State, error) {
	st, err := store(g).Load(id)
	if err != nil {
		if errors.Is(err, container.ErrNotExist) {
			return nil, fmt.Errorf("container %q does not exist", id)
		}
		return nil, err
	}
	container.Refresh(st)
	return st, nil
}

// ociState is the runtime spec's state, with runc's extra fields.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs,omitempty"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

const ociVersion = "1.2.0"

func toOCI(st *container.State) ociState {
	o := ociState{OCIVersion: ociVersion, ID: st.ID, Pid: st.Pid, Status: st.Status, Bundle: st.Bundle,
		Created: st.Created, Owner: st.Owner, Annotations: st.Annotations}
	if spec, err := container.LoadSpec(st.Bundle); err == nil {
		o.Rootfs = spec.Root.Path
	}
	if st.Status == container.Stopped {
		o.Pid = 0
	}
	return o
}

// parseSignal accepts 9, KILL, SIGKILL, kill.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// killSandbox ends st's sandbox process (and with it every stub: it is
// the init of their PID namespace) and waits for it to go.
func killSandbox(st *container.State) error {
	if st.Pod != nil || !container.SandboxAlive(st) {
		// A container that joined a sandbox (pod.go) is ended over
		// its socket, never by killing the sandbox.
		return nil
	}
	if err := unix.Kill(st.Pid, unix.SIGKILL); err != nil && err != unix.ESRCH {
		return fmt.Errorf("killing the sandbox: %w", err)
	}
	for i := 0; i < 1000; i++ {
		if !container.SandboxAlive(st) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("sandbox process %d did not exit", st.Pid)
}

// destroy kills what is left of id and removes its state.
func destroy(g *flags.Global, id string) error {
	s := store(g)
	st, err := s.Load(id)
	if err == nil && st.Pod != nil {
		return destroyPodMember(g, st)
	}
	// Everything in the container's cgroup dies first (thawed, if it
	// was paused), and the cgroup goes.
	if err := destroyCgroup(g, id); err != nil {
		return err
	}
	if err == nil {
		if err := killSandbox(st); err != nil {
			return err
		}
	}
	return s.Remove(id)
}

// sandboxPids returns the host pids of the sandbox process and its
// descendants (the stubs that run the application's instructions).
func sandboxPids(root int) []int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[pid] = pp
	}
	out := []int{root}
	for pid := range parent {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// wait returns id's init exit status, waiting for it.
func waitExit(g *flags.Global, id string) (int, error) {
	resp, err := control.Call(store(g).ControlPath(id), control.Request{Cmd: control.CmdWait}, 0)
	if err == nil {
		return resp.ExitStatus, nil
	}
	if !errors.Is(err, control.ErrUnreachable) {
		return 0, err
	}
	// The sandbox is gone (or going): its last act was to record the
	// status.
	for i := 0; ; i++ {
		st, err := load(g, id)
		if err != nil {
			return 0, err
		}
		if st.Exited {
			return st.ExitStatus, nil
		}
		if st.Status == container.Stopped && i > 50 {
			// Killed from outside before it could say.
			return 128 + int(unix.SIGKILL), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}
