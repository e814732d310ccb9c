package bpf

import (
	"encoding/binary"
	"errors"
	"testing"
)

// Values from <linux/seccomp.h> and <linux/audit.h>, spelled out so the
// tests read like the C filters they model.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retAllow       = 0x7fff0000

	auditArchX8664 = 0xc000003e

	offNr   = 0
	offArch = 4
	offIP   = 8
	offArg0 = 16
)

func offArgLo(i int) uint32 { return uint32(offArg0 + 8*i) }
func offArgHi(i int) uint32 { return uint32(offArg0 + 8*i + 4) }

func must(t *testing.T, insns []Instruction) *Program {
	t.Helper()
	p, err := CompileSeccomp(insns)
	if err != nil {
		t.Fatalf("CompileSeccomp: %v", err)
	}
	return p
}

// allowList is the shape of a typical filter: check the architecture,
// allow a list of syscalls, fail getpid with EPERM, kill the rest.
func allowList() []Instruction {
	return []Instruction{
		Stmt(ClassLD|SizeW|ModeABS, offArch),
		Jump(ClassJMP|JmpJEQ|SrcK, auditArchX8664, 1, 0),
		Stmt(ClassRET|SrcK, retKillProcess),
		Stmt(ClassLD|SizeW|ModeABS, offNr),
		Jump(ClassJMP|JmpJEQ|SrcK, 0, 3, 0),  // read
		Jump(ClassJMP|JmpJEQ|SrcK, 1, 2, 0),  // write
		Jump(ClassJMP|JmpJEQ|SrcK, 39, 2, 0), // getpid
		Stmt(ClassRET|SrcK, retKillProcess),
		Stmt(ClassRET|SrcK, retAllow),
		Stmt(ClassRET|SrcK, retErrno|1),
	}
}

func TestRunAllowList(t *testing.T) {
	p := must(t, allowList())
	for _, tc := range []struct {
		name string
		d    SeccompData
		want uint32
	}{
		{"read", SeccompData{Nr: 0, Arch: auditArchX8664}, retAllow},
		{"write", SeccompData{Nr: 1, Arch: auditArchX8664}, retAllow},
		{"getpid", SeccompData{Nr: 39, Arch: auditArchX8664}, retErrno | 1},
		{"open", SeccompData{Nr: 2, Arch: auditArchX8664}, retKillProcess},
		{"x32 read", SeccompData{Nr: 0x40000000, Arch: auditArchX8664}, retKillProcess},
		{"i386", SeccompData{Nr: 0, Arch: 0x40000003}, retKillProcess},
	} {
		if got := p.Run(&tc.d); got != tc.want {
			t.Errorf("%s: Run = %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestRunLoads(t *testing.T) {
	d := SeccompData{
		Nr: -1, Arch: auditArchX8664, InstructionPointer: 0x1122334455667788,
		Args: [6]uint64{0x0101010102020202, 2, 3, 4, 5, 0xa0a0a0a0b0b0b0b0},
	}
	for _, tc := range []struct {
		off  uint32
		want uint32
	}{
		{offNr, 0xffffffff},
		{offArch, auditArchX8664},
		{offIP, 0x55667788},
		{offIP + 4, 0x11223344},
		{offArgLo(0), 0x02020202},
		{offArgHi(0), 0x01010101},
		{offArgLo(1), 2},
		{offArgHi(1), 0},
		{offArgLo(4), 5},
		{offArgLo(5), 0xb0b0b0b0},
		{offArgHi(5), 0xa0a0a0a0},
	} {
		p := must(t, []Instruction{
			Stmt(ClassLD|SizeW|ModeABS, tc.off),
			Stmt(ClassRET|RetA, 0),
		})
		if got := p.Run(&d); got != tc.want {
			t.Errorf("load %d = %#x, want %#x", tc.off, got, tc.want)
		}
	}
}

func TestRunALUAndJumps(t *testing.T) {
	d := SeccompData{Nr: 100, Args: [6]uint64{7}}
	for _, tc := range []struct {
		name  string
		insns []Instruction
		want  uint32
	}{
		{"add k", []Instruction{Stmt(ClassLD|ModeIMM, 5), Stmt(ClassALU|AluADD|SrcK, 3), Stmt(ClassRET|RetA, 0)}, 8},
		{"sub wraps", []Instruction{Stmt(ClassLD|ModeIMM, 1), Stmt(ClassALU|AluSUB|SrcK, 2), Stmt(ClassRET|RetA, 0)}, 0xffffffff},
		{"mul x", []Instruction{Stmt(ClassLDX|ModeIMM, 6), Stmt(ClassLD|ModeIMM, 7), Stmt(ClassALU|AluMUL|SrcX, 0), Stmt(ClassRET|RetA, 0)}, 42},
		{"div k", []Instruction{Stmt(ClassLD|SizeW|ModeABS, offNr), Stmt(ClassALU|AluDIV|SrcK, 7), Stmt(ClassRET|RetA, 0)}, 14},
		{"div by zero x returns 0", []Instruction{Stmt(ClassLD|ModeIMM, 9), Stmt(ClassALU|AluDIV|SrcX, 0), Stmt(ClassRET|SrcK, 99)}, 0},
		{"and or xor", []Instruction{Stmt(ClassLD|ModeIMM, 0xf0), Stmt(ClassALU|AluAND|SrcK, 0x3c), Stmt(ClassALU|AluOR|SrcK, 1), Stmt(ClassALU|AluXOR|SrcK, 0xff), Stmt(ClassRET|RetA, 0)}, 0xce},
		{"shifts", []Instruction{Stmt(ClassLD|ModeIMM, 1), Stmt(ClassALU|AluLSH|SrcK, 31), Stmt(ClassALU|AluRSH|SrcK, 30), Stmt(ClassRET|RetA, 0)}, 2},
		{"shift x masked", []Instruction{Stmt(ClassLDX|ModeIMM, 33), Stmt(ClassLD|ModeIMM, 1), Stmt(ClassALU|AluLSH|SrcX, 0), Stmt(ClassRET|RetA, 0)}, 2},
		{"neg", []Instruction{Stmt(ClassLD|ModeIMM, 1), Stmt(ClassALU|AluNEG, 0), Stmt(ClassRET|RetA, 0)}, 0xffffffff},
		{"tax txa", []Instruction{Stmt(ClassLD|ModeIMM, 4), Stmt(ClassMISC|MiscTAX, 0), Stmt(ClassLD|ModeIMM, 0), Stmt(ClassMISC|MiscTXA, 0), Stmt(ClassRET|RetA, 0)}, 4},
		{"scratch", []Instruction{Stmt(ClassLD|ModeIMM, 11), Stmt(ClassST, 15), Stmt(ClassLDX|ModeIMM, 12), Stmt(ClassSTX, 0), Stmt(ClassLD|ModeMEM, 0), Stmt(ClassLDX|ModeMEM, 15), Stmt(ClassALU|AluSUB|SrcX, 0), Stmt(ClassRET|RetA, 0)}, 1},
		{"len is 64", []Instruction{Stmt(ClassLD|SizeW|ModeLEN, 0), Stmt(ClassRET|RetA, 0)}, 64},
		{"ldx len is 64", []Instruction{Stmt(ClassLDX|SizeW|ModeLEN, 0), Stmt(ClassMISC|MiscTXA, 0), Stmt(ClassRET|RetA, 0)}, 64},
		{"ja", []Instruction{Jump(ClassJMP|JmpJA, 1, 0, 0), Stmt(ClassRET|SrcK, 1), Stmt(ClassRET|SrcK, 2)}, 2},
		{"jgt false", []Instruction{Stmt(ClassLD|SizeW|ModeABS, offArgLo(0)), Jump(ClassJMP|JmpJGT|SrcK, 7, 0, 1), Stmt(ClassRET|SrcK, 1), Stmt(ClassRET|SrcK, 2)}, 2},
		{"jge true", []Instruction{Stmt(ClassLD|SizeW|ModeABS, offArgLo(0)), Jump(ClassJMP|JmpJGE|SrcK, 7, 0, 1), Stmt(ClassRET|SrcK, 1), Stmt(ClassRET|SrcK, 2)}, 1},
		{"jset", []Instruction{Stmt(ClassLD|SizeW|ModeABS, offArgLo(0)), Jump(ClassJMP|JmpJSET|SrcK, 8, 1, 0), Stmt(ClassRET|SrcK, 1), Stmt(ClassRET|SrcK, 2)}, 1},
		{"jeq x", []Instruction{Stmt(ClassLDX|ModeIMM, 100), Stmt(ClassLD|SizeW|ModeABS, offNr), Jump(ClassJMP|JmpJEQ|SrcX, 0, 1, 0), Stmt(ClassRET|SrcK, 1), Stmt(ClassRET|SrcK, 2)}, 2},
		{"jgt x", []Instruction{Stmt(ClassLDX|ModeIMM, 99), Stmt(ClassLD|SizeW|ModeABS, offNr), Jump(ClassJMP|JmpJGT|SrcX, 0, 1, 0), Stmt(ClassRET|SrcK, 1), Stmt(ClassRET|SrcK, 2)}, 2},
	} {
		p := must(t, tc.insns)
		if got := p.Run(&d); got != tc.want {
			t.Errorf("%s: Run = %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ret := Stmt(ClassRET|SrcK, retAllow)
	long := make([]Instruction, MaxInstructions+1)
	for i := range long {
		long[i] = ret
	}
	max := long[:MaxInstructions]
	for _, tc := range []struct {
		name  string
		insns []Instruction
		ok    bool
	}{
		{"empty", nil, false},
		{"one return", []Instruction{ret}, true},
		{"max length", max, true},
		{"too long", long, false},
		{"no final return", []Instruction{Stmt(ClassLD|ModeIMM, 0)}, false},
		{"ret x", []Instruction{Stmt(ClassRET|SrcX, 0)}, false},
		{"unknown opcode", []Instruction{Stmt(0xffff, 0), ret}, false},
		{"load offset 64", []Instruction{Stmt(ClassLD|SizeW|ModeABS, 64), ret}, false},
		{"load offset 60", []Instruction{Stmt(ClassLD|SizeW|ModeABS, 60), ret}, true},
		{"unaligned load", []Instruction{Stmt(ClassLD|SizeW|ModeABS, 2), ret}, false},
		{"huge load offset", []Instruction{Stmt(ClassLD|SizeW|ModeABS, 0xfffff000), ret}, false},
		{"half-word load", []Instruction{Stmt(ClassLD|SizeH|ModeABS, 0), ret}, false},
		{"byte load", []Instruction{Stmt(ClassLD|SizeB|ModeABS, 0), ret}, false},
		{"indirect load", []Instruction{Stmt(ClassLD|SizeW|ModeIND, 0), ret}, false},
		{"msh", []Instruction{Stmt(ClassLDX|SizeB|ModeMSH, 0), ret}, false},
		{"ldx abs", []Instruction{Stmt(ClassLDX|SizeW|ModeABS, 0), ret}, false},
		{"mod", []Instruction{Stmt(ClassALU|AluMOD|SrcK, 3), ret}, false},
		{"div by constant zero", []Instruction{Stmt(ClassALU|AluDIV|SrcK, 0), ret}, false},
		{"div by x", []Instruction{Stmt(ClassALU|AluDIV|SrcX, 0), ret}, true},
		{"shift by 32", []Instruction{Stmt(ClassALU|AluLSH|SrcK, 32), ret}, false},
		{"rsh by 31", []Instruction{Stmt(ClassALU|AluRSH|SrcK, 31), ret}, true},
		{"neg x", []Instruction{Stmt(ClassALU|AluNEG|SrcX, 0), ret}, false},
		{"st cell 16", []Instruction{Stmt(ClassST, 16), ret}, false},
		{"st then ld", []Instruction{Stmt(ClassST, 3), Stmt(ClassLD|ModeMEM, 3), ret}, true},
		{"ld uninitialised", []Instruction{Stmt(ClassLD|ModeMEM, 3), ret}, false},
		{"ldx uninitialised", []Instruction{Stmt(ClassST, 2), Stmt(ClassLDX|ModeMEM, 3), ret}, false},
		{"ld initialised on one path only", []Instruction{
			Jump(ClassJMP|JmpJEQ|SrcK, 0, 0, 1),
			Stmt(ClassST, 0),
			Stmt(ClassLD|ModeMEM, 0),
			ret,
		}, false},
		{"ld initialised on both paths", []Instruction{
			Stmt(ClassST, 0),
			Jump(ClassJMP|JmpJEQ|SrcK, 0, 0, 1),
			Stmt(ClassSTX, 1),
			Stmt(ClassLD|ModeMEM, 0),
			ret,
		}, true},
		{"ld after ja skipping the store", []Instruction{
			Jump(ClassJMP|JmpJA, 1, 0, 0),
			Stmt(ClassST, 0),
			Stmt(ClassLD|ModeMEM, 0),
			ret,
		}, false},
		{"ja to last", []Instruction{Jump(ClassJMP|JmpJA, 0, 0, 0), ret}, true},
		{"ja past end", []Instruction{Jump(ClassJMP|JmpJA, 1, 0, 0), ret}, false},
		{"ja backwards", []Instruction{ret, Jump(ClassJMP|JmpJA, 0xffffffff, 0, 0), ret}, false},
		{"jt past end", []Instruction{Jump(ClassJMP|JmpJEQ|SrcK, 0, 1, 0), ret}, false},
		{"jf past end", []Instruction{Jump(ClassJMP|JmpJEQ|SrcK, 0, 0, 1), ret}, false},
		{"jeq in range", []Instruction{Jump(ClassJMP|JmpJEQ|SrcK, 0, 1, 0), ret, ret}, true},
		{"jmp with junk bits", []Instruction{Jump(ClassJMP|JmpJEQ|SrcK|0x100, 0, 0, 0), ret}, false},
	} {
		_, err := CompileSeccomp(tc.insns)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CompileSeccomp error = %v, want ok=%v", tc.name, err, tc.ok)
		}
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Errorf("%s: error %v is not a *ValidationError", tc.name, err)
		}
	}
}

func TestCompileDoesNotAliasInput(t *testing.T) {
	insns := []Instruction{Stmt(ClassLD|SizeW|ModeLEN, 0), Stmt(ClassRET|RetA, 0)}
	p := must(t, insns)
	if insns[0].Code != ClassLD|SizeW|ModeLEN {
		t.Errorf("CompileSeccomp rewrote its input")
	}
	insns[1] = Stmt(ClassRET|SrcK, 5)
	if got := p.Run(&SeccompData{}); got != 64 {
		t.Errorf("Run = %d after changing the input, want 64", got)
	}
}

func TestDecodeInstructions(t *testing.T) {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], ClassJMP|JmpJEQ|SrcK)
	b[2], b[3] = 4, 5
	binary.LittleEndian.PutUint32(b[4:], 0xdeadbeef)
	binary.LittleEndian.PutUint16(b[8:], ClassRET|SrcK)
	binary.LittleEndian.PutUint32(b[12:], retAllow)
	got := DecodeInstructions(b)
	want := []Instruction{
		{Code: ClassJMP | JmpJEQ | SrcK, JT: 4, JF: 5, K: 0xdeadbeef},
		{Code: ClassRET | SrcK, K: retAllow},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("DecodeInstructions = %v, want %v", got, want)
	}
}

func TestRunDoesNotAllocate(t *testing.T) {
	p := must(t, allowList())
	d := SeccompData{Nr: 39, Arch: auditArchX8664}
	if n := testing.AllocsPerRun(100, func() { p.Run(&d) }); n != 0 {
		t.Errorf("Run allocates %v times per call", n)
	}
}

func BenchmarkRunAllowList(b *testing.B) {
	p, err := CompileSeccomp(allowList())
	if err != nil {
		b.Fatal(err)
	}
	d := SeccompData{Nr: 1, Arch: auditArchX8664}
	for b.Loop() {
		p.Run(&d)
	}
}

// FuzzCompileRun feeds arbitrary bytes as a filter: validation must never
// panic, and a program it accepts must run to a return on any input
// without panicking. Run with `go test -fuzz FuzzCompileRun ./sentry/bpf`;
// `go test` runs only the seeds below.
func FuzzCompileRun(f *testing.F) {
	enc := func(insns []Instruction) []byte {
		b := make([]byte, len(insns)*InstructionSize)
		for i, in := range insns {
			w := b[i*InstructionSize:]
			binary.LittleEndian.PutUint16(w[0:], in.Code)
			w[2], w[3] = in.JT, in.JF
			binary.LittleEndian.PutUint32(w[4:], in.K)
		}
		return b
	}
	f.Add(enc(allowList()), int32(39), uint64(0), uint64(0))
	f.Add(enc([]Instruction{Stmt(ClassST, 0), Stmt(ClassLD|ModeMEM, 0), Stmt(ClassALU|AluDIV|SrcX, 0), Stmt(ClassRET|RetA, 0)}), int32(1), uint64(1), uint64(2))
	f.Add([]byte{0x15, 0, 0xff, 0xff, 0, 0, 0, 0}, int32(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, nr int32, ip, arg uint64) {
		insns := DecodeInstructions(b)
		p, err := CompileSeccomp(insns)
		if err != nil {
			return
		}
		d := SeccompData{Nr: nr, Arch: auditArchX8664, InstructionPointer: ip, Args: [6]uint64{arg, ^arg, arg << 7}}
		p.Run(&d)
	})
}
