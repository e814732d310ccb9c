// Package bpftest is for tests only. It runs a seccomp filter in the
// sentry's interpreter (package bpf) over a grid of seccomp_data inputs and
// digests the verdicts, so that a test can pin the whole behaviour of a
// filter the project installs on the host (the platforms' stubs, the fence,
// the gofer) in one string: any changed verdict changes the digest.
//
// It also holds what the filter tests' children share (GCUnderFilter).
//
// It is an ordinary package only so that tests in several packages can
// share it; import it from _test.go files only.
package bpftest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"runtime/debug"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// auditArchI386 is AUDIT_ARCH_I386: every grid runs both architectures.
const auditArchI386 = 0x40000003

// Grid describes the inputs a filter is run over. For both
// AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386, every number in Nrs, every
// instruction pointer in IPs and then in EdgeIPs, and every base argument
// vector of the number, the base vector itself is run; then, for IPs (not
// EdgeIPs) and for the numbers the program compares with or NrBases names,
// each argument in turn is set to each interesting value other than its
// base value.
//
// The interesting values are 0, 1, 0xffffffff, 1<<32, 1<<63, all ones,
// every value in a base vector, and for every constant K of the program K,
// K-1 and K+1 (each in 32 bits), alone and with bit 32 or bit 63 set. The
// numbers the program compares with are these values truncated to int32.
type Grid struct {
	// Nrs are the syscall numbers, in order (see Numbers).
	Nrs []int32
	// IPs are the instruction pointers; none means 0 only.
	IPs []uint64
	// EdgeIPs are instruction pointers run with the base vectors only.
	EdgeIPs []uint64
	// Bases are the base argument vectors; none means the zero vector only.
	Bases [][6]uint64
	// NrBases replaces Bases for the numbers it names, whose arguments
	// are varied even where the program does not compare with them.
	NrBases map[int32][][6]uint64
}

// Numbers returns the syscall numbers 0..last, then -1, last+1, 1000, the
// largest and smallest int32 and the x32 bit alone, then extra (x32 numbers,
// say), each number once.
func Numbers(last int32, extra ...int32) []int32 {
	var nrs []int32
	seen := map[int32]bool{}
	add := func(nr int32) {
		if !seen[nr] {
			seen[nr] = true
			nrs = append(nrs, nr)
		}
	}
	for nr := int32(0); nr <= last; nr++ {
		add(nr)
	}
	for _, nr := range append([]int32{-1, last + 1, 1000, 0x7fffffff, -0x80000000, bpf.X32SyscallBit}, extra...) {
		add(nr)
	}
	return nrs
}

// Walk runs prog over the grid g and calls fn with each input and its
// verdict, in the grid's order. It fails tb at once if the validator
// rejects prog. fn must not keep d.
func Walk(tb testing.TB, prog []unix.SockFilter, g Grid, fn func(d *bpf.SeccompData, verdict uint32)) {
	tb.Helper()
	varyNr := map[int32]bool{}
	vals := map[uint64]bool{0: true, 1: true, 0xffffffff: true, 1 << 32: true, 1 << 63: true, ^uint64(0): true}
	for _, in := range prog {
		k := uint64(in.K)
		for _, v := range []uint64{k, k - 1, k + 1, k | 1<<32, k | 1<<63} {
			vals[v&0xffffffff|v&(1<<32|1<<63)] = true
		}
	}
	for _, b := range g.Bases {
		for _, v := range b {
			vals[v] = true
		}
	}
	for nr, bs := range g.NrBases {
		varyNr[nr] = true
		for _, b := range bs {
			for _, v := range b {
				vals[v] = true
			}
		}
	}
	sorted := make([]uint64, 0, len(vals))
	for v := range vals {
		sorted = append(sorted, v)
		varyNr[int32(v)] = true
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	p, err := bpf.CompileSeccomp(instructions(prog))
	if err != nil {
		tb.Fatalf("filter rejected by the validator: %v", err)
	}
	ips := g.IPs
	if len(ips) == 0 {
		ips = []uint64{0}
	}
	ips = append(append([]uint64(nil), ips...), g.EdgeIPs...)
	run := func(d *bpf.SeccompData) { fn(d, p.Run(d)) }
	for _, arch := range []uint32{bpf.AuditArchX86_64, auditArchI386} {
		for _, nr := range g.Nrs {
			bases, ok := g.NrBases[nr]
			if !ok {
				bases = g.Bases
			}
			if len(bases) == 0 {
				bases = [][6]uint64{{}}
			}
			for k, ip := range ips {
				vary := k < len(ips)-len(g.EdgeIPs) && varyNr[nr]
				for _, base := range bases {
					d := bpf.SeccompData{Nr: nr, Arch: arch, InstructionPointer: ip, Args: base}
					run(&d)
					if !vary {
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
}

// Verdict runs prog on the one input d and returns its verdict. It fails tb
// at once if the validator rejects prog.
func Verdict(tb testing.TB, prog []unix.SockFilter, d bpf.SeccompData) uint32 {
	tb.Helper()
	p, err := bpf.CompileSeccomp(instructions(prog))
	if err != nil {
		tb.Fatalf("filter rejected by the validator: %v", err)
	}
	return p.Run(&d)
}

func instructions(prog []unix.SockFilter) []bpf.Instruction {
	insns := make([]bpf.Instruction, len(prog))
	for i, in := range prog {
		insns[i] = bpf.Instruction{Code: in.Code, JT: in.Jt, JF: in.Jf, K: in.K}
	}
	return insns
}

// Result is what Run found.
type Result struct {
	// Digest is the first 32 hex digits of the SHA-256 of the verdicts, in
	// the grid's order, each as 4 little-endian bytes.
	Digest string
	// Inputs is the number of inputs run, Allowed how many of them got
	// SECCOMP_RET_ALLOW.
	Inputs, Allowed int
}

// Run runs prog over the grid g and returns the digest of its verdicts.
func Run(tb testing.TB, prog []unix.SockFilter, g Grid) Result {
	tb.Helper()
	h := sha256.New()
	var buf [4]byte
	var r Result
	Walk(tb, prog, g, func(_ *bpf.SeccompData, v uint32) {
		binary.LittleEndian.PutUint32(buf[:], v)
		h.Write(buf[:])
		r.Inputs++
		if v == bpf.RetAllow {
			r.Allowed++
		}
	})
	r.Digest = hex.EncodeToString(h.Sum(nil))[:32]
	return r
}

// Pin runs prog over the grid g and fails t, naming the filter with what,
// unless the digest of its verdicts is want.
func Pin(t testing.TB, what string, prog []unix.SockFilter, g Grid, want string) {
	t.Helper()
	r := Run(t, prog, g)
	t.Logf("%s: %d inputs, %d allowed, digest %s", what, r.Inputs, r.Allowed, r.Digest)
	if r.Digest != want {
		t.Errorf("%s: verdicts changed: digest %s, want %s (%d inputs, %d allowed)", what, r.Digest, want, r.Inputs, r.Allowed)
	}
}

// GCUnderFilter turns the collector on (a test child starts with
// GOGC=off so that no cycle runs before its filter is installed) and
// allocates until cycles start: 64 MiB churned with at most 5 MiB live. It
// returns how many cycles have run, so that a child can check that the Go
// runtime's first GC cycles, with their lazily started workers, came
// under its seccomp filter.
func GCUnderFilter() uint32 {
	debug.SetGCPercent(100)
	var keep [][]byte
	for i := 0; i < 64; i++ {
		keep = append(keep, make([]byte, 1<<20))
		if len(keep) > 4 {
			keep = keep[1:]
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}
