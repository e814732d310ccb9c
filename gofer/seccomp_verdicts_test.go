//go:build linux && amd64

package gofer

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
)

// TestFilterVerdicts pins filterProgram's behaviour: its verdicts over a
// grid of inputs (see bpftest.Grid; numbers up to 470, the xattrat calls
// are 463..466; the calls with argument checks also start from the
// arguments they allow: socket from AF_UNIX, prctl from PR_SET_VMA,
// PR_SET_VMA_ANON_NAME) must not change.
func TestFilterVerdicts(t *testing.T) {
	for _, tc := range []struct {
		o    FilterOptions
		want string
	}{
		{FilterOptions{}, "ed4c14cc700146a4406945a4fb6b9100"},
		{FilterOptions{HostUDS: true}, "a3c583bae3e84ae94558c3151d421663"},
	} {
		prog, err := filterProgram(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		bpftest.Pin(t, fmt.Sprintf("%+v", tc.o), prog, filterGrid, tc.want)
	}
}

// filterGrid is the grid the gofer filter's verdicts are pinned on.
var filterGrid = bpftest.Grid{
	Nrs: bpftest.Numbers(470, bpf.X32SyscallBit|41, bpf.X32SyscallBit|202,
		bpf.X32SyscallBit|257),
	NrBases: map[int32][][6]uint64{
		unix.SYS_SOCKET: {{}, {0: unix.AF_UNIX}},
		unix.SYS_PRCTL:  {{}, {0: unix.PR_SET_VMA, 1: unix.PR_SET_VMA_ANON_NAME, 3: 4096}},
	},
}

// TestFilterArgs checks the verdicts of the calls allowed with some
// arguments only, with and without HostUDS.
func TestFilterArgs(t *testing.T) {
	const kill, allow = bpf.RetKillProcess, bpf.RetAllow
	for _, tc := range []struct {
		name   string
		nr     int32
		args   [6]uint64
		want   uint32 // without HostUDS
		wantHU uint32 // with HostUDS
	}{
		// What the Go runtime calls (runtime/set_vma_name_linux.go).
		{"prctl PR_SET_VMA_ANON_NAME", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA, unix.PR_SET_VMA_ANON_NAME, 0x7f0000000000, 1 << 20, 0xc000010000}, allow, allow},
		{"prctl PR_SET_VMA other", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA, 1}, kill, kill},
		{"prctl PR_SET_VMA high half", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA | 1<<32, unix.PR_SET_VMA_ANON_NAME}, kill, kill},
		{"prctl PR_SET_VMA arg1 high half", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_VMA, unix.PR_SET_VMA_ANON_NAME | 1<<32}, kill, kill},
		{"prctl PR_SET_DUMPABLE", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_DUMPABLE, 0}, kill, kill},
		{"prctl PR_SET_NO_NEW_PRIVS", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_NO_NEW_PRIVS, 1}, kill, kill},
		{"prctl PR_SET_SECCOMP", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_SECCOMP, 2}, kill, kill},
		{"prctl 0", unix.SYS_PRCTL, [6]uint64{}, kill, kill},
		{"socket AF_UNIX", unix.SYS_SOCKET, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}, kill, allow},
		{"socket AF_INET", unix.SYS_SOCKET, [6]uint64{unix.AF_INET, unix.SOCK_STREAM}, kill, kill},
		{"socket AF_UNIX high half", unix.SYS_SOCKET, [6]uint64{unix.AF_UNIX | 1<<32}, kill, kill},
	} {
		for _, o := range []FilterOptions{{}, {HostUDS: true}} {
			prog, err := filterProgram(o)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if o.HostUDS {
				want = tc.wantHU
			}
			got := bpftest.Verdict(t, prog, bpf.SeccompData{Nr: tc.nr, Arch: bpf.AuditArchX86_64, Args: tc.args})
			if got != want {
				t.Errorf("%s %+v: verdict %#x, want %#x", tc.name, o, got, want)
			}
		}
	}
}
