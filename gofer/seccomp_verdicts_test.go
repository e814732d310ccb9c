//go:build linux && amd64

package gofer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// TestFilterVerdicts pins filterProgram's behaviour: its verdicts over a
// grid of inputs were recorded from the hand-assembled program before it
// moved onto bpf.Assembler, and must not change. The grid: both
// AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386, every syscall number 0..470 (the xattrat calls are 463..466) and
// some out-of-range and x32 ones with zero arguments; and for socket (the
// only call with an argument check) each argument set in turn to each
// interesting value (every constant the program compares with, its
// neighbours, with the high half set, 0, all ones).
func TestFilterVerdicts(t *testing.T) {
	for _, tc := range []struct {
		o    FilterOptions
		want string
	}{
		{FilterOptions{}, "faa02aa76477a9e635c96782f98d5026"},
		{FilterOptions{HostUDS: true}, "d2229a6200a7a9750a546c581e63bb99"},
	} {
		prog, err := filterProgram(tc.o)
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
		var sorted []uint64
		for v := range vals {
			sorted = append(sorted, v)
		}
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		p, err := bpf.CompileSeccomp(insns)
		if err != nil {
			t.Fatalf("%+v: filter rejected by the validator: %v", tc.o, err)
		}
		var nrs []int32
		for nr := int32(0); nr <= 470; nr++ {
			nrs = append(nrs, nr)
		}
		nrs = append(nrs, -1, 461, 1000, 0x7fffffff, -0x80000000,
			0x40000000, 0x40000000|0, 0x40000000|41, 0x40000000|202, 0x40000000|257)
		h := sha256.New()
		var buf [4]byte
		n, allowed := 0, 0
		run := func(d *bpf.SeccompData) {
			v := p.Run(d)
			binary.LittleEndian.PutUint32(buf[:], v)
			h.Write(buf[:])
			n++
			if v == 0x7fff0000 {
				allowed++
			}
		}
		for _, arch := range []uint32{0xc000003e, 0x40000003} {
			for _, nr := range nrs {
				d := bpf.SeccompData{Nr: nr, Arch: arch}
				run(&d)
				if nr != unix.SYS_SOCKET {
					continue
				}
				for _, base := range [][6]uint64{{}, {0: unix.AF_UNIX}} {
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
		t.Logf("%+v: %d inputs, %d allowed, digest %s", tc.o, n, allowed, got)
		if got != tc.want {
			t.Errorf("%+v: verdicts changed: digest %s, want %s", tc.o, got, tc.want)
		}
	}
}
