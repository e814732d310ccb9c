//go:build linux && amd64

package fence

import (
	"fmt"
	"testing"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/sentry/bpf/bpftest"
)

// TestProgramVerdicts pins Program's behaviour: its verdicts over a grid
// of inputs (see bpftest.Grid), for every option combination and deny
// action, must not change. The base argument vectors of a number a rule
// names are zero and each of the rule's entries (its Eq values in place).
func TestProgramVerdicts(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		deny uint32
		want string
	}{
		{Options{}, RetKillProcess, "53775558c3e21382bfcb5db475972785"},
		{Options{}, RetTrap, "584d5b6297901db4f87d99ccddcfe2cc"},
		{Options{}, RetLog, "ed4a6b29ac3c36a7c6594da591c2ef29"},
		{Options{HostNetwork: true}, RetKillProcess, "45da03a9cf6c2719313f026e0aa0e8cc"},
		{Options{HostUDS: true}, RetKillProcess, "8de7c5233e4171cf682aee190cbfc54a"},
		{Options{HostNetwork: true, HostUDS: true}, RetKillProcess, "45da03a9cf6c2719313f026e0aa0e8cc"},
	} {
		rules := Rules(tc.opts)
		prog, err := Program(rules, tc.deny)
		if err != nil {
			t.Fatal(err)
		}
		bpftest.Pin(t, fmt.Sprintf("%+v deny %#x", tc.opts, tc.deny), prog, programGrid(rules), tc.want)
	}
}

// programGrid returns the grid Program's verdicts are pinned on.
func programGrid(rules []Rule) bpftest.Grid {
	g := bpftest.Grid{
		Nrs: bpftest.Numbers(460, bpf.X32SyscallBit|9, bpf.X32SyscallBit|202,
			bpf.X32SyscallBit|232),
		NrBases: map[int32][][6]uint64{},
	}
	for _, r := range rules {
		bs := [][6]uint64{{}}
		for _, a := range r.Any {
			var b [6]uint64
			for i, c := range a {
				if c.op == checkEq {
					b[i] = c.val
				}
			}
			bs = append(bs, b)
		}
		g.NrBases[int32(r.Nr)] = bs
	}
	return g
}

// Names fence_test.go's TestProgram uses.
const (
	auditArchX86_64 = bpf.AuditArchX86_64
	x32SyscallBit   = bpf.X32SyscallBit
)
