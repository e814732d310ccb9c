package ociseccomp

import (
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/rampart-sandbox/rampart/sentry/bpf"
)

// asm is bpf.Assembler with numbered labels: newLabel returns a fresh
// one, and label -1 in a conditional jump means "the next instruction".
type asm struct {
	bpf.Assembler
	n int // labels made so far
}

func (a *asm) newLabel() int {
	a.n++
	return a.n - 1
}

func labelName(l int) string {
	if l < 0 {
		return ""
	}
	return "L" + strconv.Itoa(l)
}

func (a *asm) bind(l int) { a.Label(labelName(l)) }

func (a *asm) stmt(code uint16, k uint32) { a.Emit(code, k) }

func (a *asm) jump(code uint16, k uint32, jt, jf int) {
	a.Jump(code, k, labelName(jt), labelName(jf))
}

// ja jumps unconditionally to l (its offset is 32 bits: any distance).
func (a *asm) ja(l int) { a.JA(labelName(l)) }

func (a *asm) resolve() ([]bpf.Instruction, error) {
	insns, err := a.Assemble()
	if err != nil {
		return nil, fmt.Errorf("internal error: %w", err)
	}
	return insns, nil
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
