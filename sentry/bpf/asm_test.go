package bpf

import (
	"strings"
	"testing"
)

func TestAssemblerLabels(t *testing.T) {
	var a Assembler
	a.ArchIs("kill")
	a.NrIs(39, "kill") // getpid
	a.ArgEq(0, 0x1_0000_0002, "kill")
	a.Ret(RetAllow)
	a.Label("kill")
	a.Ret(RetKillProcess)
	insns, err := a.Assemble()
	if err != nil {
		t.Fatal(err)
	}
	p, err := CompileSeccomp(insns)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d    SeccompData
		want uint32
	}{
		{SeccompData{Nr: 39, Arch: AuditArchX86_64, Args: [6]uint64{0x1_0000_0002}}, RetAllow},
		{SeccompData{Nr: 39, Arch: AuditArchX86_64, Args: [6]uint64{2}}, RetKillProcess},
		{SeccompData{Nr: 39, Arch: AuditArchX86_64, Args: [6]uint64{0x2_0000_0002}}, RetKillProcess},
		{SeccompData{Nr: 39, Arch: AuditArchX86_64, Args: [6]uint64{0x1_0000_0003}}, RetKillProcess},
		{SeccompData{Nr: 40, Arch: AuditArchX86_64, Args: [6]uint64{0x1_0000_0002}}, RetKillProcess},
		{SeccompData{Nr: 39, Arch: 0x40000003, Args: [6]uint64{0x1_0000_0002}}, RetKillProcess},
	} {
		if got := p.Run(&tc.d); got != tc.want {
			t.Errorf("%+v: %#x, want %#x", tc.d, got, tc.want)
		}
	}
}

func TestAssemblerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(a *Assembler)
		want  string
	}{
		{"undefined", func(a *Assembler) { a.JEq(1, "nowhere", ""); a.Ret(0) }, "undefined"},
		{"twice", func(a *Assembler) { a.Label("x"); a.Ret(0); a.Label("x"); a.Ret(0) }, "twice"},
		{"backward", func(a *Assembler) { a.Label("x"); a.Ret(0); a.JEq(1, "x", ""); a.Ret(0) }, "forward"},
		{"past the end", func(a *Assembler) { a.JA("x"); a.Label("x") }, "forward"},
		{"too far", func(a *Assembler) {
			a.JEq(1, "far", "")
			for i := 0; i < 256; i++ {
				a.Ret(0)
			}
			a.Label("far")
			a.Ret(1)
		}, "too far"},
	} {
		var a Assembler
		tc.build(&a)
		if _, err := a.Assemble(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestAssemblerFarJA checks that JA reaches past 255 instructions and that
// a conditional jump of exactly 255 is accepted.
func TestAssemblerFarJA(t *testing.T) {
	var a Assembler
	a.LoadAbs(SeccompDataNr)
	a.JEq(1, "", "edge")
	a.JA("far")
	for i := 0; i < 254; i++ {
		a.Ret(RetTrap)
	}
	a.Label("edge")
	a.Ret(RetKillThread)
	for i := 0; i < 300; i++ {
		a.Ret(RetTrap)
	}
	a.Label("far")
	a.Ret(RetAllow)
	insns, err := a.Assemble()
	if err != nil {
		t.Fatal(err)
	}
	if insns[1].JF != 255 {
		t.Errorf("jf = %d, want 255", insns[1].JF)
	}
	p, err := CompileSeccomp(insns)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Run(&SeccompData{Nr: 1}); got != RetAllow {
		t.Errorf("nr 1: %#x, want allow", got)
	}
	if got := p.Run(&SeccompData{Nr: 2}); got != RetKillThread {
		t.Errorf("nr 2: %#x, want kill thread", got)
	}
}
