package ociseccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// asm assembles a program whose forward jumps name labels; resolve turns
// them into offsets. Label -1 in a conditional jump means "the next
// instruction".
type asm struct {
	insns []bpf.Instruction
	// jt, jf and ja are the label targets of insns (by index), -1 none.
	jt, jf []int
	labels []int // label -> instruction index, -1 until bound
}

func (a *asm) newLabel() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *asm) bind(l int) { a.labels[l] = len(a.insns) }

func (a *asm) emit(in bpf.Instruction, jt, jf int) {
	a.insns = append(a.insns, in)
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

func (a *asm) stmt(code uint16, k uint32) { a.emit(bpf.Stmt(code, k), -1, -1) }

func (a *asm) jump(code uint16, k uint32, jt, jf int) { a.emit(bpf.Jump(code, k, 0, 0), jt, jf) }

// ja jumps unconditionally to l (its offset is 32 bits: any distance).
func (a *asm) ja(l int) { a.emit(bpf.Stmt(bpf.ClassJMP|bpf.JmpJA, 0), l, -1) }

func (a *asm) resolve() ([]bpf.Instruction, error) {
	out := make([]bpf.Instruction, len(a.insns))
	copy(out, a.insns)
	off := func(pc, l int) (int, error) {
		if l < 0 {
			return 0, nil
		}
		t := a.labels[l]
		if t <= pc {
			return 0, fmt.Errorf("internal error: label %d unbound or backward at %d", l, pc)
		}
		return t - pc - 1, nil
	}
	for pc := range out {
		jt, err := off(pc, a.jt[pc])
		if err != nil {
			return nil, err
		}
		jf, err := off(pc, a.jf[pc])
		if err != nil {
			return nil, err
		}
		if out[pc].Code == bpf.ClassJMP|bpf.JmpJA {
			out[pc].K = uint32(jt)
			continue
		}
		if jt > 255 || jf > 255 {
			return nil, fmt.Errorf("internal error: jump at %d too far (%d, %d)", pc, jt, jf)
		}
		out[pc].JT, out[pc].JF = uint8(jt), uint8(jf)
	}
	return out, nil
}

// compare emits c: it falls through when c holds and jumps to fail when
// not. The 64-bit argument is compared on its high word first (unsigned,
// as libseccomp compares), then its low word.
func (a *asm) compare(c cond, fail int) {
	const (
		ld  = bpf.ClassLD | bpf.SizeW | bpf.ModeABS
		jeq = bpf.ClassJMP | bpf.JmpJEQ | bpf.SrcK
		jgt = bpf.ClassJMP | bpf.JmpJGT | bpf.SrcK
		jge = bpf.ClassJMP | bpf.JmpJGE | bpf.SrcK
		and = bpf.ClassALU | bpf.AluAND | bpf.SrcK
	)
	lo := uint32(offArgs + 8*c.index)
	hi := lo + 4
	vlo, vhi := uint32(c.value), uint32(c.value>>32)
	pass := a.newLabel()
	switch c.op {
	case specs.OpEqualTo:
		a.stmt(ld, hi)
		a.jump(jeq, vhi, -1, fail)
		a.stmt(ld, lo)
		a.jump(jeq, vlo, pass, fail)
	case specs.OpNotEqual:
		a.stmt(ld, hi)
		a.jump(jeq, vhi, -1, pass)
		a.stmt(ld, lo)
		a.jump(jeq, vlo, fail, pass)
	case specs.OpGreaterThan:
		a.stmt(ld, hi)
		a.jump(jgt, vhi, pass, -1)
		a.jump(jeq, vhi, -1, fail)
		a.stmt(ld, lo)
		a.jump(jgt, vlo, pass, fail)
	case specs.OpGreaterEqual:
		a.stmt(ld, hi)
		a.jump(jgt, vhi, pass, -1)
		a.jump(jeq, vhi, -1, fail)
		a.stmt(ld, lo)
		a.jump(jge, vlo, pass, fail)
	case specs.OpLessThan:
		a.stmt(ld, hi)
		a.jump(jge, vhi, -1, pass)
		a.jump(jeq, vhi, -1, fail)
		a.stmt(ld, lo)
		a.jump(jge, vlo, fail, pass)
	case specs.OpLessEqual:
		a.stmt(ld, hi)
		a.jump(jge, vhi, -1, pass)
		a.jump(jeq, vhi, -1, fail)
		a.stmt(ld, lo)
		a.jump(jgt, vlo, fail, pass)
	case specs.OpMaskedEqual:
		mlo, mhi := vlo, vhi
		a.stmt(ld, hi)
		a.stmt(and, mhi)
		a.jump(jeq, uint32(c.two>>32), -1, fail)
		a.stmt(ld, lo)
		a.stmt(and, mlo)
		a.jump(jeq, uint32(c.two), pass, fail)
	}
	a.bind(pass)
}
