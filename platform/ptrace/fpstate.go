//go:build linux && amd64

package ptrace

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// The FP state of a task lives in its stub thread between Switches (the
// thread keeps its registers while stopped), so it is read and written only
// on demand, with PTRACE_GETREGSET/SETREGSET NT_X86_XSTATE, or
// PTRACE_GETFPREGS/SETFPREGS where the host has no XSAVE.

// threadFor returns the context's stub thread in pas, creating it if the
// task has not run there yet (a new thread starts from the stub's initial
// FP state, which the kernel replaces for a forked child).
func (c *context) threadFor(pas platform.AddressSpace) (*thread, error) {
	as, _ := pas.(*addressSpace)
	if t := c.last; t != nil && t.as == as && !t.dead {
		return t, nil
	}
	t, err := c.lookup(as)
	if err != nil {
		return nil, err
	}
	if t.dead {
		return nil, platform.ErrContextDead
	}
	return t, nil
}

// FPState implements platform.Context.FPState.
func (c *context) FPState(pas platform.AddressSpace, dst []byte) error {
	if len(dst) < arch.FxsaveSize {
		return unix.EINVAL
	}
	t, err := c.threadFor(pas)
	if err != nil {
		return err
	}
	if arch.UseXsave() {
		n, err := getXstate(t.tid, dst)
		if err != nil {
			return fmt.Errorf("PTRACE_GETREGSET NT_X86_XSTATE: %w", err)
		}
		clear(dst[n:])
		return nil
	}
	var fx [arch.FxsaveSize]byte
	if err := getFPRegs(t.tid, &fx); err != nil {
		return fmt.Errorf("PTRACE_GETFPREGS: %w", err)
	}
	clear(dst)
	copy(dst, fx[:])
	arch.SetXstateBV(dst, arch.XfeatureFPSSE)
	return nil
}

// SetFPState implements platform.Context.SetFPState.
func (c *context) SetFPState(pas platform.AddressSpace, src []byte) error {
	if len(src) < arch.FxsaveSize {
		return unix.EINVAL
	}
	t, err := c.threadFor(pas)
	if err != nil {
		return err
	}
	if arch.UseXsave() {
		return setXstate(t.tid, src)
	}
	var fx [arch.FxsaveSize]byte
	copy(fx[:], src)
	return setFPRegs(t.tid, &fx)
}
