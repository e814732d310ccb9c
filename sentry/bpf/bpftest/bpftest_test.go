package bpftest

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// testProgram allows getpid, and write when its third argument is 5 (the
// verdicts swapped if swap), and kills anything else.
func testProgram(t *testing.T, swap bool) []unix.SockFilter {
	t.Helper()
	yes, no := uint32(bpf.RetAllow), uint32(bpf.RetKillProcess)
	if swap {
		yes, no = no, yes
	}
	var a bpf.Assembler
	a.ArchIs("kill")
	a.NrIs(unix.SYS_GETPID, "write")
	a.Ret(bpf.RetAllow)
	a.Label("write")
	a.NrIs(unix.SYS_WRITE, "kill")
	a.ArgEq(2, 5, "no")
	a.Ret(yes)
	a.Label("no")
	a.Ret(no)
	a.Label("kill")
	a.Ret(bpf.RetKillProcess)
	prog, err := a.AssembleSock()
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

func TestNumbers(t *testing.T) {
	got := Numbers(3, bpf.X32SyscallBit|1, 2, bpf.X32SyscallBit|1)
	want := []int32{0, 1, 2, 3, -1, 4, 1000, 0x7fffffff, -0x80000000, bpf.X32SyscallBit, bpf.X32SyscallBit | 1}
	if len(got) != len(want) {
		t.Fatalf("Numbers = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Numbers = %v, want %v", got, want)
		}
	}
}

// TestWalkGrid checks which inputs a grid runs: arguments are varied for
// the numbers the program compares with and those NrBases names, at IPs
// but not EdgeIPs.
func TestWalkGrid(t *testing.T) {
	const nrBased = 300
	g := Grid{
		Nrs:     []int32{unix.SYS_WRITE, unix.SYS_GETPID, 200, nrBased},
		IPs:     []uint64{0x1000, 0x2000},
		EdgeIPs: []uint64{0x3000},
		Bases:   [][6]uint64{{}, {1: 77}},
		NrBases: map[int32][][6]uint64{nrBased: {{0: 9}}},
	}
	type key struct {
		nr   int32
		arch uint32
		ip   uint64
	}
	runs := map[key]int{}
	arg2 := map[uint64]bool{}
	Walk(t, testProgram(t, false), g, func(d *bpf.SeccompData, v uint32) {
		runs[key{d.Nr, d.Arch, d.InstructionPointer}]++
		if d.Nr == unix.SYS_WRITE && d.Arch == bpf.AuditArchX86_64 {
			arg2[d.Args[2]] = true
			want := uint32(bpf.RetKillProcess)
			if d.Args[2] == 5 {
				want = bpf.RetAllow
			}
			if v != want {
				t.Errorf("verdict %#x for %+v, want %#x", v, *d, want)
			}
		}
	})
	for _, v := range []uint64{0, 4, 5, 6, 5 | 1<<32, 5 | 1<<63, 77, ^uint64(0)} {
		if !arg2[v] {
			t.Errorf("write never run with third argument %#x", v)
		}
	}
	for _, arch := range []uint32{bpf.AuditArchX86_64, auditArchI386} {
		for _, nr := range g.Nrs {
			varied := nr != 200
			for _, ip := range append(g.IPs, g.EdgeIPs...) {
				n := runs[key{nr, arch, ip}]
				bases := len(g.Bases)
				if nr == nrBased {
					bases = 1
				}
				if ip == 0x3000 || !varied {
					if n != bases {
						t.Errorf("nr %d arch %#x ip %#x: %d runs, want the %d base vectors only", nr, arch, ip, n, bases)
					}
				} else if n <= 6*bases {
					t.Errorf("nr %d arch %#x ip %#x: %d runs, arguments not varied", nr, arch, ip, n)
				}
			}
		}
	}
}

// TestRunDigest checks that the digest is stable and changes with a
// verdict: the two programs have the same constants, hence the same grid,
// and differ only in the verdicts of write.
func TestRunDigest(t *testing.T) {
	g := Grid{Nrs: Numbers(460)}
	a, a2, b := Run(t, testProgram(t, false), g), Run(t, testProgram(t, false), g), Run(t, testProgram(t, true), g)
	if a != a2 {
		t.Errorf("same program, different results: %+v, %+v", a, a2)
	}
	if a.Inputs != b.Inputs {
		t.Fatalf("the grids differ: %d and %d inputs", a.Inputs, b.Inputs)
	}
	if a.Digest == b.Digest {
		t.Errorf("swapped verdicts, same digest %s", a.Digest)
	}
	// Allowed: getpid on x86-64 for both, and write on x86-64 for one of
	// the two.
	getpid, write := 0, 0
	Walk(t, testProgram(t, false), g, func(d *bpf.SeccompData, _ uint32) {
		if d.Arch == bpf.AuditArchX86_64 && d.Nr == unix.SYS_GETPID {
			getpid++
		}
		if d.Arch == bpf.AuditArchX86_64 && d.Nr == unix.SYS_WRITE {
			write++
		}
	})
	if a.Allowed+b.Allowed != 2*getpid+write || a.Allowed <= getpid {
		t.Errorf("allowed %d and %d, want getpid's %d each and write's %d between them", a.Allowed, b.Allowed, getpid, write)
	}
}

func TestVerdict(t *testing.T) {
	prog := testProgram(t, false)
	for _, tc := range []struct {
		d    bpf.SeccompData
		want uint32
	}{
		{bpf.SeccompData{Nr: unix.SYS_WRITE, Arch: bpf.AuditArchX86_64, Args: [6]uint64{2: 5}}, bpf.RetAllow},
		{bpf.SeccompData{Nr: unix.SYS_WRITE, Arch: bpf.AuditArchX86_64, Args: [6]uint64{2: 5 | 1<<32}}, bpf.RetKillProcess},
		{bpf.SeccompData{Nr: unix.SYS_GETPID, Arch: bpf.AuditArchX86_64}, bpf.RetAllow},
		{bpf.SeccompData{Nr: unix.SYS_GETPID, Arch: auditArchI386}, bpf.RetKillProcess},
	} {
		if got := Verdict(t, prog, tc.d); got != tc.want {
			t.Errorf("Verdict(%+v) = %#x, want %#x", tc.d, got, tc.want)
		}
	}
}
