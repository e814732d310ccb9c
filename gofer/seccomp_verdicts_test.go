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
// are 463..466; socket, the only call with an argument check, also starts
// from AF_UNIX) must not change.
func TestFilterVerdicts(t *testing.T) {
	for _, tc := range []struct {
		o    FilterOptions
		want string
	}{
		{FilterOptions{}, "b0f3fb225eba999e0b4be79dd92eb96b"},
		{FilterOptions{HostUDS: true}, "3455f8f8d31185ec6de96c3f360ec1ae"},
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
	NrBases: map[int32][][6]uint64{unix.SYS_SOCKET: {{}, {0: unix.AF_UNIX}}},
}
