//go:build linux && amd64

package ptrace

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
)

// TestStubFilterVerdicts pins the stub filter's behaviour: its verdicts
// over a grid of inputs (see bpftest.Grid) were recorded from the
// hand-assembled program before it moved onto bpf.Assembler, and must not
// change.
func TestStubFilterVerdicts(t *testing.T) {
	const page = 0x7ff000000000
	prog, err := stubFilter(page, 5)
	if err != nil {
		t.Fatal(err)
	}
	inject, clone := uint64(page+stubSyscallOff+2), uint64(page+stubCloneOff+2)
	bpftest.Pin(t, "stub filter", prog, bpftest.Grid{
		Nrs: bpftest.Numbers(460, bpf.X32SyscallBit|9, bpf.X32SyscallBit|11,
			bpf.X32SyscallBit|56, bpf.X32SyscallBit|60, bpf.X32SyscallBit|202),
		IPs: []uint64{0, inject, inject - 1, inject + 1, clone, clone - 1, clone + 1,
			inject ^ 1<<32, clone ^ 1<<40, inject & 0xffffffff, 0x400000},
		Bases: [][6]uint64{
			{},
			{3: unix.MAP_SHARED | unix.MAP_FIXED, 4: 5},
			{0: forkCloneFlags},
			{0: threadCloneFlags},
			{0: unix.PR_SET_PDEATHSIG, 1: uint64(unix.SIGKILL)},
		},
	}, "29a47520bf08a76007c7f0f87c80e4f5")
}
