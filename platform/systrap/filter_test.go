//go:build linux && amd64

package systrap

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
)

const verdictBase = 0x7ffe12340000

// The descriptors of the memory file and the shared file in the filters
// the tests build.
const memFD, sharedFD = 5, 7

// testProcessFilter returns the process filter for an image at
// verdictBase with memFD and sharedFD.
func testProcessFilter(t *testing.T) []unix.SockFilter {
	t.Helper()
	prog, err := processFilter(verdictBase, memFD, sharedFD)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

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
		offThreadSeccomp, offInjectSyscall, offSetFsSyscall, offSetGsSyscall} {
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
// bpf.Assembler, and must not change but deliberately: the process
// filter's were recorded again when the server's mprotect was allowed
// (TestServerMprotect).
func TestProcessFilterVerdicts(t *testing.T) {
	prog := testProcessFilter(t)
	bpftest.Pin(t, "process filter", prog, verdictGrid(
		[6]uint64{},
		[6]uint64{3: unix.MAP_SHARED | unix.MAP_FIXED, 4: memFD},
		[6]uint64{3: unix.MAP_SHARED | unix.MAP_FIXED, 4: sharedFD},
		[6]uint64{0: threadFlags},
		[6]uint64{0: forkFlags},
		[6]uint64{0: unix.PR_SET_PDEATHSIG, 1: uint64(unix.SIGKILL)},
		[6]uint64{0: archSetFS},
		[6]uint64{0: archSetGS},
	), "e699cd91b2df2f5ec3ad8d9fa49952d2")
}

func TestThreadFilterVerdicts(t *testing.T) {
	prog, err := threadFilter(verdictBase)
	if err != nil {
		t.Fatal(err)
	}
	bpftest.Pin(t, "thread filter", prog, verdictGrid([6]uint64{}, [6]uint64{0: archSetFS}, [6]uint64{0: archSetGS}), "97b7a2280f207c802dcbcf52530d99b8")
}

// TestServerMmapFlags: the server may map the memory file shared and
// fixed, populated or not, and nothing else; the shared file's mmap takes
// no MAP_POPULATE.
func TestServerMmapFlags(t *testing.T) {
	proc := testProcessFilter(t)
	server := uint64(verdictBase + offServerSyscall + 2)
	shared := uint64(verdictBase + offForkMmapRw + 2)
	for _, tc := range []struct {
		ip, flags, fd uint64
		want          uint32
	}{
		{server, unix.MAP_SHARED | unix.MAP_FIXED, memFD, bpf.RetAllow},
		{server, unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE, memFD, bpf.RetAllow},
		{server, unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE, sharedFD, bpf.RetKillProcess},
		{server, unix.MAP_PRIVATE | unix.MAP_FIXED | unix.MAP_POPULATE, memFD, bpf.RetKillProcess},
		{server, unix.MAP_SHARED | unix.MAP_POPULATE, memFD, bpf.RetKillProcess},
		{server, unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE | 1<<32, memFD, bpf.RetKillProcess},
		{server, unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_ANONYMOUS, memFD, bpf.RetKillProcess},
		{shared, unix.MAP_SHARED | unix.MAP_FIXED, sharedFD, bpf.RetAllow},
		{shared, unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE, sharedFD, bpf.RetKillProcess},
		{0x400000, unix.MAP_SHARED | unix.MAP_FIXED | unix.MAP_POPULATE, memFD, bpf.RetTrap},
	} {
		d := bpf.SeccompData{Nr: unix.SYS_MMAP, Arch: 0xc000003e, InstructionPointer: tc.ip, Args: [6]uint64{3: tc.flags, 4: tc.fd}}
		if v := bpftest.Verdict(t, proc, d); v != tc.want {
			t.Errorf("mmap flags %#x fd %d at %#x: %#x, want %#x", tc.flags, tc.fd, tc.ip, v, tc.want)
		}
	}
}

// TestServerMprotect: the server may change the access of its own
// mappings with the read, write and execute bits only (the memory
// manager's parked ranges); no other stub instruction may mprotect, and
// application code traps.
func TestServerMprotect(t *testing.T) {
	proc := testProcessFilter(t)
	server := uint64(verdictBase + offServerSyscall + 2)
	for _, tc := range []struct {
		ip, prot uint64
		want     uint32
	}{
		{server, unix.PROT_NONE, bpf.RetAllow},
		{server, unix.PROT_READ, bpf.RetAllow},
		{server, unix.PROT_READ | unix.PROT_WRITE, bpf.RetAllow},
		{server, unix.PROT_READ | unix.PROT_WRITE | unix.PROT_EXEC, bpf.RetAllow},
		{server, unix.PROT_READ | unix.PROT_GROWSDOWN, bpf.RetKillProcess},
		{server, unix.PROT_READ | 8, bpf.RetKillProcess},
		{server, unix.PROT_READ | 1<<32, bpf.RetKillProcess},
		{verdictBase + offHandlerWake + 2, unix.PROT_READ, bpf.RetKillProcess},
		{verdictBase + offInjectSyscall + 2, unix.PROT_READ, bpf.RetKillProcess},
		{0x400000, unix.PROT_READ, bpf.RetTrap},
	} {
		d := bpf.SeccompData{Nr: unix.SYS_MPROTECT, Arch: 0xc000003e, InstructionPointer: tc.ip, Args: [6]uint64{2: tc.prot}}
		if v := bpftest.Verdict(t, proc, d); v != tc.want {
			t.Errorf("mprotect prot %#x at %#x: %#x, want %#x", tc.prot, tc.ip, v, tc.want)
		}
	}
	thread, err := threadFilter(verdictBase)
	if err != nil {
		t.Fatal(err)
	}
	d := bpf.SeccompData{Nr: unix.SYS_MPROTECT, Arch: 0xc000003e, InstructionPointer: server, Args: [6]uint64{2: unix.PROT_READ}}
	if v := bpftest.Verdict(t, thread, d); v != bpf.RetTrap {
		t.Errorf("an application thread's mprotect from the server's instruction: %#x, want a trap", v)
	}
}

// TestArchPrctlRules: set_fs_syscall may set the fs base and set_gs_syscall
// the gs base, nothing else; from application code arch_prctl traps.
func TestArchPrctlRules(t *testing.T) {
	proc := testProcessFilter(t)
	thread, err := threadFilter(verdictBase)
	if err != nil {
		t.Fatal(err)
	}
	const archGetFS = 0x1003
	fs, gs := uint64(verdictBase+offSetFsSyscall+2), uint64(verdictBase+offSetGsSyscall+2)
	for _, tc := range []struct {
		ip, nr, code uint64
		proc, thread uint32
	}{
		{fs, unix.SYS_ARCH_PRCTL, archSetFS, bpf.RetAllow, bpf.RetAllow},
		{gs, unix.SYS_ARCH_PRCTL, archSetGS, bpf.RetAllow, bpf.RetAllow},
		{fs, unix.SYS_ARCH_PRCTL, archSetGS, bpf.RetKillProcess, bpf.RetTrap},
		{gs, unix.SYS_ARCH_PRCTL, archSetFS, bpf.RetKillProcess, bpf.RetTrap},
		{fs, unix.SYS_ARCH_PRCTL, archGetFS, bpf.RetKillProcess, bpf.RetTrap},
		{fs, unix.SYS_MMAP, archSetFS, bpf.RetKillProcess, bpf.RetTrap},
		{0x400000, unix.SYS_ARCH_PRCTL, archSetFS, bpf.RetTrap, bpf.RetTrap},
	} {
		d := bpf.SeccompData{Nr: int32(tc.nr), Arch: 0xc000003e, InstructionPointer: tc.ip, Args: [6]uint64{0: tc.code}}
		if v := bpftest.Verdict(t, proc, d); v != tc.proc {
			t.Errorf("process filter: nr %d code %#x at %#x: %#x, want %#x", tc.nr, tc.code, tc.ip, v, tc.proc)
		}
		if v := bpftest.Verdict(t, thread, d); v != tc.thread {
			t.Errorf("thread filter: nr %d code %#x at %#x: %#x, want %#x", tc.nr, tc.code, tc.ip, v, tc.thread)
		}
	}
}
