//go:build linux && amd64

package systrap

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/platform"
	"github.com/rampart-sandbox/rampart/sentry/arch"
)

// The FP state of a task lives in its parked thread's signal frame, in
// the XSAVE layout the kernel wrote (and rt_sigreturn will load): the
// sentry reads and edits it in place, on demand.

// Offsets in the FP state.
const (
	swBytesOff    = 464 // struct _fpx_sw_bytes in fxregs_state.sw_reserved
	swBytesSize   = 48
	xcompBVOff    = arch.XsaveHeaderOffset + 8
	headerRsvdOff = arch.XsaveHeaderOffset + 16
)

// fpArea returns the frame's FP state and the number of bytes of it that
// rt_sigreturn uses (the XSAVE size the kernel put in the software
// bytes, or the legacy 512).
func (t *thread) fpArea() ([]byte, error) {
	le := binary.LittleEndian
	fp := le.Uint64(t.sigcontext()[scFPState:]) - t.stubAddr()
	if fp < pageSize || fp > slotSize-arch.FxsaveSize {
		return nil, fmt.Errorf("stub thread %d: FP state outside its stack: %w", t.tid, platform.ErrContextDead)
	}
	area := t.page[fp:]
	n := arch.FxsaveSize
	sw := area[swBytesOff:]
	if le.Uint32(sw) == arch.FPXStateMagic1 {
		size := int(le.Uint32(sw[16:])) // xstate_size (after magic1, extended_size, xfeatures)
		if size >= arch.FxsaveSize+arch.XsaveHeaderSize && size <= len(area) {
			n = size
		}
	}
	return area[:n], nil
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
	if t.inTramp {
		if err := t.leaveTrampoline(c); err != nil {
			return err
		}
	}
	area, err := t.fpArea()
	if err != nil {
		return err
	}
	n := copy(dst, area)
	clear(dst[n:])
	// The software bytes are the kernel's, not part of the XSAVE image.
	clear(dst[swBytesOff : swBytesOff+swBytesSize])
	if len(area) == arch.FxsaveSize && len(dst) >= arch.XsaveHeaderOffset+8 {
		arch.SetXstateBV(dst, arch.XfeatureFPSSE)
	}
	return nil
}

// SetFPState implements platform.Context.SetFPState. It refuses what
// XRSTOR would (and rt_sigreturn would turn into a SIGSEGV).
func (c *context) SetFPState(pas platform.AddressSpace, src []byte) error {
	if len(src) < arch.FxsaveSize || !arch.ValidMXCSR(arch.MXCSR(src)) {
		return unix.EINVAL
	}
	le := binary.LittleEndian
	if arch.UseXsave() && len(src) >= arch.XsaveHeaderOffset+arch.XsaveHeaderSize {
		if arch.XstateBV(src)&^arch.FPFeatures() != 0 || le.Uint64(src[xcompBVOff:]) != 0 {
			return unix.EINVAL
		}
		for _, b := range src[headerRsvdOff : arch.XsaveHeaderOffset+arch.XsaveHeaderSize] {
			if b != 0 {
				return unix.EINVAL
			}
		}
	}
	t, err := c.threadFor(pas)
	if err != nil {
		return err
	}
	if t.inTramp {
		if err := t.leaveTrampoline(c); err != nil {
			return err
		}
	}
	area, err := t.fpArea()
	if err != nil {
		return err
	}
	copy(area[:swBytesOff], src)
	if len(area) > arch.FxsaveSize {
		n := copy(area[arch.FxsaveSize:], src[min(len(src), arch.FxsaveSize):])
		clear(area[arch.FxsaveSize+n:])
		if len(src) <= arch.FxsaveSize {
			arch.SetXstateBV(area, arch.XfeatureFPSSE)
		}
	}
	return nil
}
