package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/runsc/container"
	"github.com/rampart-sandbox/rampart/runsc/flags"
)

// finishCreate ends a create (of a sandbox's first container or of a pod
// member) whose processes are up: it writes the caller's --pid-file with
// pid, then runs the prestart, createRuntime and createContainer hooks,
// which the runtime spec runs after the container's environment exists
// and before its process starts. If either fails, the container is
// destroyed and the error returned.
func finishCreate(g *flags.Global, id, pidFile string, pid int, hooks *specs.Hooks) error {
	err := func() error {
		if pidFile != "" {
			if err := writePidFile(pidFile, pid); err != nil {
				return err
			}
		}
		if hooks == nil {
			return nil
		}
		st, err := load(g, id)
		if err == nil {
			err = runHooks("prestart", hooks.Prestart, st)
		}
		if err == nil {
			err = runHooks("createRuntime", hooks.CreateRuntime, st)
		}
		if err == nil {
			err = runHooks("createContainer", hooks.CreateContainer, st)
		}
		return err
	}()
	if err != nil {
		destroy(g, id)
	}
	return err
}

// runHooks runs hooks in order on the host, each with the container's
// state on stdin and its own timeout, and stops at the first failure.
// (createContainer and startContainer hooks, which the runtime spec runs
// in the container's namespaces, are run here too, on the host, until the
// sandbox can run host binaries for them.)
func runHooks(kind string, hooks []specs.Hook, st *container.State) error {
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(toOCI(st))
	if err != nil {
		return err
	}
	for _, h := range hooks {
		ctx := context.Background()
		cancel := func() {}
		if h.Timeout != nil && *h.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		}
		cmd := exec.CommandContext(ctx, h.Path)
		if len(h.Args) > 0 {
			cmd.Args = h.Args
		}
		cmd.Env = h.Env
		cmd.Stdin = bytes.NewReader(state)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			return fmt.Errorf("%s hook %s: timed out after %ds", kind, h.Path, *h.Timeout)
		}
		if err != nil {
			return fmt.Errorf("%s hook %s: %v: %s", kind, h.Path, err, bytes.TrimSpace(out.Bytes()))
		}
	}
	return nil
}
