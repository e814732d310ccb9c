//go:build linux && amd64

package systrap

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
)

const verdictBase = 0x7ffe12340000

// verdictGrid returns the grid the filters are pinned on (see
// bpftest.Grid): the instruction pointers after each syscall instruction
// the filters name, with their neighbours (edge), and a few others:
// application addresses, the image with another high half.
func verdictGrid(bases ...[6]uint64) bpftest.Grid {
	g := bpftest.Grid{
		Nrs: bpftest.Numbers(460, bpf.X32SyscallBit|9, bpf.X32SyscallBit|11,
			bpf.X32SyscallBit|56, bpf.X32SyscallBit|60, bpf.X32SyscallBit|202),
		Bases: bases,
	}
	for _, off := range []uint64{offHandlerWake, offHandlerWait, offServerWait, offServerWake,
		offHandlerSigreturn, offHandlerExit, offServerSyscall, offForkPrctl, offForkMmapRw,
		offForkMmapRo, offForkMmapPtr, offThreadSigaltstack, offThreadSigprocmask,
		offThreadSeccomp, offInjectSyscall} {
		ip := verdictBase + off + 2
		g.IPs = append(g.IPs, ip)
		g.EdgeIPs = append(g.EdgeIPs, ip-1, ip+1, ip^1<<32, ip&0xffffffff)
	}
	g.IPs = append(g.IPs, 0, 0x400000, verdictBase+offInjectTrap+2, verdictBase+offPatchTrap+2)
	return g
}

// TestProcessFilterVerdicts and TestThreadFilterVerdicts pin the filters'
// behaviour: their verdicts over a grid of inputs (see verdictGrid) were
// recorded from the hand-assembled programs before they moved onto
// bpf.Assembler, and must not change.
func TestProcessFilterVerdicts(t *testing.T) {
	const memFD, sharedFD = 5, 7
	prog, err := processFilter(verdictBase, memFD, sharedFD)
	if err != nil {
		t.Fatal(err)
	}
	bpftest.Pin(t, "process filter", prog, verdictGrid(
		[6]uint64{},
		[6]uint64{3: unix.MAP_SHARED | unix.MAP_FIXED, 4: memFD},
		[6]uint64{3: unix.MAP_SHARED | unix.MAP_FIXED, 4: sharedFD},
		[6]uint64{0: threadFlags},
		[6]uint64{0: forkFlags},
		[6]uint64{0: unix.PR_SET_PDEATHSIG, 1: uint64(unix.SIGKILL)},
	), "c76c691e0b7c5b83b2531df2eddd5dce")
}

func TestThreadFilterVerdicts(t *testing.T) {
	prog, err := threadFilter(verdictBase)
	if err != nil {
		t.Fatal(err)
	}
	bpftest.Pin(t, "thread filter", prog, verdictGrid(), "f28553f4155f05fd324ba83988e637b2")
}
