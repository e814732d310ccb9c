package ociseccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"sort"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// TestCompileUnchanged pins compile's output for the Docker-like profile
// and for one using every operator: the instructions themselves and the
// verdicts over a grid (both AUDIT_ARCH_X86_64 and AUDIT_ARCH_I386, every
// syscall number 0..470 and some out-of-range and x32 ones with zero
// arguments; for the syscalls with argument rules, each argument set in
// turn to every constant the program compares with, its neighbours, with
// the high half set, 0, all ones). Both digests were recorded before the
// assembler moved onto bpf.Assembler and must not change.
func TestCompileUnchanged(t *testing.T) {
	b, err := os.ReadFile("testdata/docker_like.json")
	if err != nil {
		t.Fatal(err)
	}
	var docker specs.LinuxSeccomp
	if err := json.Unmarshal(b, &docker); err != nil {
		t.Fatal(err)
	}
	arg := func(i uint, v, two uint64, op specs.LinuxSeccompOperator) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, ValueTwo: two, Op: op}
	}
	const v = 0x0000_0001_8000_0000
	ops := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "gettid"}, Action: specs.ActAllow},
			{Names: []string{"chmod"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{arg(1, v, 0, specs.OpEqualTo)}},
			{Names: []string{"chown"}, Action: specs.ActTrap, Args: []specs.LinuxSeccompArg{arg(0, v, 0, specs.OpNotEqual), arg(2, 7, 0, specs.OpLessThan)}},
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{arg(5, v, 0, specs.OpLessEqual)}},
			{Names: []string{"write"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{arg(3, v, 0, specs.OpGreaterThan)}},
			{Names: []string{"close"}, Action: specs.ActLog, Args: []specs.LinuxSeccompArg{arg(4, v, 0, specs.OpGreaterEqual)}},
			{Names: []string{"open"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{arg(1, v, 1<<32, specs.OpMaskedEqual)}},
			{Names: []string{"open"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{arg(1, 3, 0, specs.OpEqualTo), arg(1, 5, 0, specs.OpEqualTo)}},
		},
	}
	for _, tc := range []struct {
		name             string
		s                *specs.LinuxSeccomp
		vary             []int32
		wantInsns, wantV string
	}{
		{"docker", &docker, []int32{unix.SYS_PERSONALITY, unix.SYS_CLONE, unix.SYS_SOCKET, unix.SYS_CLONE3}, "3b1df8ecd0e3a7db521a7ccd2d3d2525", "16fe32db82ebec7bb96a65ffe223c0d8"},
		{"operators", ops, []int32{unix.SYS_CHMOD, unix.SYS_CHOWN, unix.SYS_READ, unix.SYS_WRITE, unix.SYS_CLOSE, unix.SYS_OPEN, unix.SYS_GETPID}, "1ab84200ee5a152f6d07651be5c7cec4", "d358262bde0e56173d541734dafdd1fe"},
	} {
		insns, err := compile(tc.s)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		hi := sha256.New()
		var w [8]byte
		vals := map[uint64]bool{0: true, 1: true, 0xffffffff: true, 1 << 32: true, 1 << 63: true, ^uint64(0): true, v: true}
		for _, in := range insns {
			binary.LittleEndian.PutUint16(w[0:], in.Code)
			w[2], w[3] = in.JT, in.JF
			binary.LittleEndian.PutUint32(w[4:], in.K)
			hi.Write(w[:])
			k := uint64(in.K)
			for _, x := range []uint64{k, k - 1, k + 1, k | 1<<32, k | 1<<63} {
				vals[x&0xffffffff|x&(1<<32|1<<63)] = true
			}
		}
		var sorted []uint64
		for x := range vals {
			sorted = append(sorted, x)
		}
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		vary := map[int32]bool{}
		for _, nr := range tc.vary {
			vary[nr] = true
		}
		p, err := bpf.CompileSeccomp(insns)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var nrs []int32
		for nr := int32(0); nr <= 470; nr++ {
			nrs = append(nrs, nr)
		}
		nrs = append(nrs, -1, 1000, 0x7fffffff, -0x80000000, 0x40000000, 0x40000000|2, 0x40000000|39, 0x40000000|90)
		hv := sha256.New()
		n := 0
		for _, arch := range []uint32{bpf.AuditArchX86_64, 0x40000003} {
			for _, nr := range nrs {
				d := bpf.SeccompData{Nr: nr, Arch: arch}
				binary.LittleEndian.PutUint32(w[:4], p.Run(&d))
				hv.Write(w[:4])
				n++
				if !vary[nr] {
					continue
				}
				for i := 0; i < 6; i++ {
					for _, x := range sorted {
						d.Args = [6]uint64{}
						d.Args[i] = x
						binary.LittleEndian.PutUint32(w[:4], p.Run(&d))
						hv.Write(w[:4])
						n++
					}
				}
			}
		}
		gotI := hex.EncodeToString(hi.Sum(nil))[:32]
		gotV := hex.EncodeToString(hv.Sum(nil))[:32]
		t.Logf("%s: %d instructions, digest %s; %d inputs, verdict digest %s", tc.name, len(insns), gotI, n, gotV)
		if gotI != tc.wantInsns || gotV != tc.wantV {
			t.Errorf("%s: program changed: digests %s, %s, want %s, %s", tc.name, gotI, gotV, tc.wantInsns, tc.wantV)
		}
	}
}
