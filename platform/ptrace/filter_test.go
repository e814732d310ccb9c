//go:build linux && amd64

package ptrace

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// TestStubFilterVerdicts pins the stub filter's behaviour: its verdicts
// over a grid of inputs (see verdictDigest) were recorded from the
// hand-assembled program before it moved onto bpf.Assembler, and must not
// change.
func TestStubFilterVerdicts(t *testing.T) {
	const page = 0x7ff000000000
	prog, err := stubFilter(page, 5)
	if err != nil {
		t.Fatal(err)
	}
	inject, clone := uint64(page+stubSyscallOff+2), uint64(page+stubCloneOff+2)
	ips := []uint64{0, inject, inject - 1, inject + 1, clone, clone - 1, clone + 1,
		inject ^ 1<<32, clone ^ 1<<40, inject & 0xffffffff, 0x400000}
	bases := [][6]uint64{
		{},
		{3: unix.MAP_SHARED | unix.MAP_FIXED, 4: 5},
		{0: forkCloneFlags},
		{0: threadCloneFlags},
		{0: unix.PR_SET_PDEATHSIG, 1: uint64(unix.SIGKILL)},
	}
	got, n, allowed := verdictDigest(t, prog, ips, nil, bases)
	t.Logf("%d inputs, %d allowed, digest %s", n, allowed, got)
	const want = "29a47520bf08a76007c7f0f87c80e4f5"
	if got != want {
		t.Errorf("stub filter verdicts changed: digest %s, want %s (%d inputs, %d allowed)", got, want, n, allowed)
	}
}

// verdictDigest runs prog in the sentry's interpreter over a grid of
// seccomp_data inputs and returns a digest of the verdicts, with the
// number of inputs and how many of them were allowed. The grid: every
// syscall number 0..460 and a few out-of-range and x32 ones, both
// AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386, every instruction pointer in
// ips, and for every base argument vector each argument set to each of
// the interesting values (every constant the program compares with, its
// neighbours, with the high half set, 0, all ones). Arguments are varied
// for the syscall numbers the program compares with (and their
// neighbours) only; the other numbers run with the base vectors.
//
// edgeIPs are run with the base vectors only (no argument variation).
func verdictDigest(t *testing.T, prog []unix.SockFilter, ips, edgeIPs []uint64, bases [][6]uint64) (string, int, int) {
	t.Helper()
	insns := make([]bpf.Instruction, len(prog))
	vals := map[uint64]bool{0: true, 1: true, 0xffffffff: true, 1 << 32: true, 1 << 63: true, ^uint64(0): true}
	for i, in := range prog {
		insns[i] = bpf.Instruction{Code: in.Code, JT: in.Jt, JF: in.Jf, K: in.K}
		k := uint64(in.K)
		for _, v := range []uint64{k, k - 1, k + 1, k | 1<<32, k | 1<<63} {
			vals[v&0xffffffff|v&(1<<32|1<<63)] = true
		}
	}
	for _, b := range bases {
		for _, v := range b {
			vals[v] = true
		}
	}
	var sorted []uint64
	for v := range vals {
		sorted = append(sorted, v)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	p, err := bpf.CompileSeccomp(insns)
	if err != nil {
		t.Fatalf("filter rejected by the validator: %v", err)
	}
	var nrs []int32
	varyNr := map[int32]bool{}
	for v := range vals {
		varyNr[int32(v)] = true
	}
	for nr := int32(0); nr <= 460; nr++ {
		nrs = append(nrs, nr)
	}
	nrs = append(nrs, -1, 461, 1000, 0x7fffffff, -0x80000000,
		0x40000000, 0x40000000|9, 0x40000000|11, 0x40000000|56, 0x40000000|60, 0x40000000|202)
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
			for k, ip := range append(append([]uint64(nil), ips...), edgeIPs...) {
				edge := k >= len(ips)
				for _, base := range bases {
					d := bpf.SeccompData{Nr: nr, Arch: arch, InstructionPointer: ip, Args: base}
					run(&d)
					if edge || !varyNr[nr] {
						continue
					}
					for i := 0; i < 6; i++ {
						for _, v := range sorted {
							if v == base[i] {
								continue
							}
							d.Args = base
							d.Args[i] = v
							run(&d)
						}
					}
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], n, allowed
}
