package ociseccomp

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
	"github.com/rampart-sandbox/rampart/syscalls/linux"
)

// fuzzBytes hands out a fuzzer's bytes as numbers, zeros once they run out.
type fuzzBytes struct{ b []byte }

func (r *fuzzBytes) u8() int {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return int(v)
}

func (r *fuzzBytes) u64() uint64 {
	var w [8]byte
	n := copy(w[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(w[:])
}

// value is an argument value: small numbers, the edges of the 32-bit
// halves and any 64-bit number, so that comparisons meet equal halves.
func (r *fuzzBytes) value() uint64 {
	switch r.u8() % 4 {
	case 0:
		return uint64(r.u8() % 4)
	case 1:
		return uint64(r.u8()%4) << 32
	case 2:
		return 0xffffffff + uint64(r.u8()%3)
	}
	return r.u64()
}

var fuzzActions = []specs.LinuxSeccompAction{
	specs.ActAllow, specs.ActErrno, specs.ActKill, specs.ActKillProcess,
	specs.ActTrap, specs.ActTrace, specs.ActLog, specs.ActKillThread,
}

// decodeProfile builds a profile from r: a default action, up to eight
// rules of a few syscalls each, with up to three argument conditions
// (sometimes an index or an operator Compile refuses), and sometimes a
// rule naming every syscall of names, whose jumps need several chunks.
func decodeProfile(r *fuzzBytes, names []string) *specs.LinuxSeccomp {
	errnoRet := func() *uint {
		if r.u8()%2 == 0 {
			return nil
		}
		v := uint(r.u8()) | uint(r.u8()%3)<<8
		if r.u8()%16 == 0 {
			v = 0x10000 // out of range: refused
		}
		return &v
	}
	s := &specs.LinuxSeccomp{DefaultAction: fuzzActions[r.u8()%len(fuzzActions)]}
	s.DefaultErrnoRet = errnoRet()
	ops := append([]string{"SCMP_CMP_NOPE"}, Operators...)
	for i, n := 0, r.u8()%9; i < n; i++ {
		sc := specs.LinuxSyscall{Action: fuzzActions[r.u8()%len(fuzzActions)]}
		sc.ErrnoRet = errnoRet()
		if r.u8()%32 == 0 {
			sc.Names = names
		} else {
			for j, m := 0, 1+r.u8()%4; j < m; j++ {
				sc.Names = append(sc.Names, names[(r.u8()|r.u8()<<8)%len(names)])
			}
		}
		for j, m := 0, r.u8()%4; j < m; j++ {
			idx := uint(r.u8() % 7) // 6: refused
			if r.u8()%2 == 0 && j > 0 {
				idx = sc.Args[0].Index // several conditions on one argument
			}
			op := ops[r.u8()%len(ops)]
			if op == ops[0] && r.u8()%8 != 0 {
				op = ops[1]
			}
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: idx, Op: specs.LinuxSeccompOperator(op), Value: r.value(), ValueTwo: r.value()})
		}
		s.Syscalls = append(s.Syscalls, sc)
	}
	return s
}

// holds is one OCI argument condition, read directly.
func holds(a specs.LinuxSeccompArg, d *bpf.SeccompData) bool {
	v := d.Args[a.Index]
	switch a.Op {
	case specs.OpNotEqual:
		return v != a.Value
	case specs.OpLessThan:
		return v < a.Value
	case specs.OpLessEqual:
		return v <= a.Value
	case specs.OpEqualTo:
		return v == a.Value
	case specs.OpGreaterEqual:
		return v >= a.Value
	case specs.OpGreaterThan:
		return v > a.Value
	case specs.OpMaskedEqual:
		return v&a.Value == a.ValueTwo
	}
	panic("unknown operator " + a.Op)
}

// verdict is what a profile Compile accepted says of d, read as the
// package comment and runc describe it, without BPF: another
// architecture is killed, an x32 number gets the default action; the
// first rule without conditions that names the syscall decides alone;
// else the first rule whose conditions hold (all of them, or any one when
// one argument has several) decides; else the default action does.
func verdict(s *specs.LinuxSeccomp, d *bpf.SeccompData) uint32 {
	if d.Arch != unix.AUDIT_ARCH_X86_64 {
		return unix.SECCOMP_RET_KILL_PROCESS
	}
	def, _ := action(s.DefaultAction, s.DefaultErrnoRet)
	if uint32(d.Nr) >= x32SyscallBit {
		return def
	}
	names := func(sc specs.LinuxSyscall) bool {
		for _, name := range sc.Names {
			if nr, ok := linux.SyscallNumber(name); ok && int32(nr) == d.Nr {
				return true
			}
		}
		return false
	}
	for _, sc := range s.Syscalls {
		if len(sc.Args) == 0 && names(sc) {
			ret, _ := action(sc.Action, sc.ErrnoRet)
			return ret
		}
	}
	for _, sc := range s.Syscalls {
		if len(sc.Args) == 0 || !names(sc) {
			continue
		}
		var seen [maxArgs]bool
		anyOne := false
		for _, a := range sc.Args {
			anyOne = anyOne || seen[a.Index]
			seen[a.Index] = true
		}
		match := !anyOne
		for _, a := range sc.Args {
			if anyOne && holds(a, d) {
				match = true
				break
			}
			if !anyOne && !holds(a, d) {
				match = false
				break
			}
		}
		if match {
			ret, _ := action(sc.Action, sc.ErrnoRet)
			return ret
		}
	}
	return def
}

// FuzzProfile compiles random OCI seccomp profiles and runs each program
// Compile accepts on syscalls made to meet its rules (their numbers,
// arguments equal to a condition's value, one above and below it, random
// ones, other architectures, x32 numbers): the program must answer what
// the profile says (verdict), which checks the code generation (64-bit
// comparisons on 32-bit halves, the jump chains and their chunks) rather
// than the reading of the profile, which the other tests pin down.
// `make fuzz` (test/e2e/fuzz.sh) fuzzes it for a while.
func FuzzProfile(f *testing.F) {
	b, err := os.ReadFile("testdata/docker_like.json")
	if err != nil {
		f.Fatal(err)
	}
	var docker specs.LinuxSeccomp
	if err := json.Unmarshal(b, &docker); err != nil {
		f.Fatal(err)
	}
	names := []string{"nosuchcall"}
	for _, sc := range docker.Syscalls {
		names = append(names, sc.Names...)
	}
	f.Add([]byte{1, 0, 3, 0, 0, 5, 0, 1, 0, 2, 1, 0, 4, 7, 3, 9, 9, 9, 9, 9, 9, 9, 9, 1, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{2, 1, 38, 1, 8, 0, 0, 1, 0, 9, 0, 0, 1, 2, 3, 0, 2, 4, 1, 1, 5, 0, 3, 2, 6}, []byte{255, 0, 255, 0})
	f.Add([]byte{0, 0, 2, 3, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 0, 0, 0}, []byte{9, 9, 9})
	f.Fuzz(func(t *testing.T, prof, data []byte) {
		s := decodeProfile(&fuzzBytes{b: prof}, names)
		p, err := Compile(s)
		if err != nil {
			return
		}
		r := &fuzzBytes{b: data}
		check := func(d *bpf.SeccompData) {
			if got, want := p.Run(d), verdict(s, d); got != want {
				js, _ := json.Marshal(s)
				t.Fatalf("nr %d arch %#x args %#x: the program says %#x, the profile %#x\nprofile: %s", d.Nr, d.Arch, d.Args, got, want, js)
			}
		}
		for _, sc := range s.Syscalls {
			for _, name := range sc.Names[:min(len(sc.Names), 4)] {
				nr, ok := linux.SyscallNumber(name)
				if !ok {
					continue
				}
				for k := 0; k < 4; k++ {
					d := bpf.SeccompData{Nr: int32(nr), Arch: unix.AUDIT_ARCH_X86_64}
					for i := range d.Args {
						d.Args[i] = r.value()
					}
					for _, a := range sc.Args {
						if a.Index < maxArgs {
							d.Args[a.Index] = a.Value + uint64(k%3) - 1
							if k == 3 {
								d.Args[a.Index] = a.ValueTwo
							}
						}
					}
					check(&d)
				}
			}
		}
		for k := 0; k < 8; k++ {
			d := bpf.SeccompData{Nr: int32(r.u8() | r.u8()<<8), Arch: unix.AUDIT_ARCH_X86_64}
			switch k {
			case 0:
				d.Arch = unix.AUDIT_ARCH_I386
			case 1:
				d.Nr |= x32SyscallBit
			case 2:
				d.Nr = -1 - d.Nr
			}
			for i := range d.Args {
				d.Args[i] = r.value()
			}
			check(&d)
		}
	})
}
