//go:build linux && amd64

package fence

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"testing"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// TestProgramVerdicts pins Program's behaviour: its verdicts over a grid
// of inputs, for every option combination and deny action, were recorded
// from the hand-assembled filter before it moved onto bpf.Assembler, and
// must not change.
//
// The grid: both AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386, every syscall
// number 0..460, some out-of-range and x32 ones, with zero arguments; and
// for each number a rule names, starting from zero and from each of the
// rule's entries (its Eq values in place), every argument set in turn to
// each interesting value: every constant the program compares with, its
// neighbours, with the high half set, 0, all ones.
func TestProgramVerdicts(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		deny uint32
		want string
	}{
		{Options{}, RetKillProcess, "f8dc8337c36f96d09562d37fca580bd9"},
		{Options{}, RetTrap, "ad33078591a804929e73e91b69b6525e"},
		{Options{}, RetLog, "fb65154cc21d569d703f92175b8e2305"},
		{Options{HostNetwork: true}, RetKillProcess, "f3c1a83b938366b910b7c5755cb6b8f6"},
		{Options{HostUDS: true}, RetKillProcess, "76a716900089f66d37d01095d3e5a9b4"},
		{Options{HostNetwork: true, HostUDS: true}, RetKillProcess, "f3c1a83b938366b910b7c5755cb6b8f6"},
	} {
		rules := Rules(tc.opts)
		prog, err := Program(rules, tc.deny)
		if err != nil {
			t.Fatal(err)
		}
		insns := make([]bpf.Instruction, len(prog))
		vals := map[uint64]bool{0: true, 1: true, 0xffffffff: true, 1 << 32: true, 1 << 63: true, ^uint64(0): true}
		for i, in := range prog {
			insns[i] = bpf.Instruction{Code: in.Code, JT: in.Jt, JF: in.Jf, K: in.K}
			k := uint64(in.K)
			for _, v := range []uint64{k, k - 1, k + 1, k | 1<<32, k | 1<<63} {
				vals[v&0xffffffff|v&(1<<32|1<<63)] = true
			}
		}
		bases := map[int32][][6]uint64{}
		for _, r := range rules {
			bs := [][6]uint64{{}}
			for _, a := range r.Any {
				var b [6]uint64
				for i, c := range a {
					if c.op == checkEq {
						b[i] = c.val
						vals[c.val] = true
					}
				}
				bs = append(bs, b)
			}
			bases[int32(r.Nr)] = bs
		}
		var sorted []uint64
		for v := range vals {
			sorted = append(sorted, v)
		}
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		p, err := bpf.CompileSeccomp(insns)
		if err != nil {
			t.Fatalf("%+v: filter rejected by the validator: %v", tc.opts, err)
		}
		var nrs []int32
		for nr := int32(0); nr <= 460; nr++ {
			nrs = append(nrs, nr)
		}
		nrs = append(nrs, -1, 461, 1000, 0x7fffffff, -0x80000000,
			0x40000000, 0x40000000|0, 0x40000000|9, 0x40000000|202, 0x40000000|232)
		h := sha256.New()
		var buf [4]byte
		n, allowed := 0, 0
		run := func(d *bpf.SeccompData) {
			v := p.Run(d)
			binary.LittleEndian.PutUint32(buf[:], v)
			h.Write(buf[:])
			n++
			if v == RetAllow {
				allowed++
			}
		}
		for _, arch := range []uint32{0xc000003e, 0x40000003} {
			for _, nr := range nrs {
				d := bpf.SeccompData{Nr: nr, Arch: arch}
				run(&d)
				for _, base := range bases[nr] {
					for i := 0; i < 6; i++ {
						for _, v := range sorted {
							d.Args = base
							d.Args[i] = v
							run(&d)
						}
					}
				}
			}
		}
		got := hex.EncodeToString(h.Sum(nil))[:32]
		t.Logf("%+v deny %#x: %d inputs, %d allowed, digest %s", tc.opts, tc.deny, n, allowed, got)
		if got != tc.want {
			t.Errorf("%+v deny %#x: verdicts changed: digest %s, want %s", tc.opts, tc.deny, got, tc.want)
		}
	}
}

// Names fence_test.go's TestProgram uses.
const (
	auditArchX86_64 = bpf.AuditArchX86_64
	x32SyscallBit   = bpf.X32SyscallBit
)
