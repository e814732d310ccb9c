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
)

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
