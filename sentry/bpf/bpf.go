// Package bpf owns classic BPF as seccomp(2) uses it: the instruction
// format (struct sock_filter), the validator that accepts exactly the
// programs Linux accepts as seccomp filters, and the interpreter that runs a
// validated program on a struct seccomp_data.
//
// The sentry evaluates application seccomp filters itself with this
// package; they are never installed on the host. The package has no locks
// and no global state: a Program is immutable once built and may be run by
// any number of goroutines at once.
//
// Linux: kernel/seccomp.c (seccomp_check_filter) and net/core/filter.c
// (bpf_check_classic, check_load_and_stores) define the rules; see
// Documentation/userspace-api/seccomp_filter.rst.
package bpf

import (
	"encoding/binary"
	"fmt"
)

// Instruction is one classic BPF instruction, struct sock_filter.
type Instruction struct {
	// Code is the opcode: class | size/op | mode/source.
	Code uint16
	// JT and JF are the forward jump offsets of a conditional jump.
	JT, JF uint8
	// K is the instruction's constant operand.
	K uint32
}

// InstructionSize is sizeof(struct sock_filter).
const InstructionSize = 8

// MaxInstructions is BPF_MAXINSNS, the longest program Linux accepts.
const MaxInstructions = 4096

// MemWords is BPF_MEMWORDS, the number of scratch memory cells M[].
const MemWords = 16

// Instruction classes.
const (
	ClassLD   = 0x00
	ClassLDX  = 0x01
	ClassST   = 0x02
	ClassSTX  = 0x03
	ClassALU  = 0x04
	ClassJMP  = 0x05
	ClassRET  = 0x06
	ClassMISC = 0x07
)

// Load sizes and modes (LD/LDX).
const (
	SizeW = 0x00
	SizeH = 0x08
	SizeB = 0x10

	ModeIMM = 0x00
	ModeABS = 0x20
	ModeIND = 0x40
	ModeMEM = 0x60
	ModeLEN = 0x80
	ModeMSH = 0xa0
)

// ALU operations.
const (
	AluADD = 0x00
	AluSUB = 0x10
	AluMUL = 0x20
	AluDIV = 0x30
	AluOR  = 0x40
	AluAND = 0x50
	AluLSH = 0x60
	AluRSH = 0x70
	AluNEG = 0x80
	AluMOD = 0x90
	AluXOR = 0xa0
)

// Jump conditions.
const (
	JmpJA   = 0x00
	JmpJEQ  = 0x10
	JmpJGT  = 0x20
	JmpJGE  = 0x30
	JmpJSET = 0x40
)

// Operand sources (ALU, JMP) and return values (RET).
const (
	SrcK = 0x00
	SrcX = 0x08
	RetA = 0x10
)

// MISC operations.
const (
	MiscTAX = 0x00
	MiscTXA = 0x80
)

// Stmt and Jump build instructions, like the BPF_STMT and BPF_JUMP macros.
func Stmt(code uint16, k uint32) Instruction { return Instruction{Code: code, K: k} }

// Jump builds a conditional or unconditional jump.
func Jump(code uint16, k uint32, jt, jf uint8) Instruction {
	return Instruction{Code: code, JT: jt, JF: jf, K: k}
}

// DecodeInstructions decodes a user's array of struct sock_filter (native,
// little-endian byte order). len(b) must be a multiple of InstructionSize.
func DecodeInstructions(b []byte) []Instruction {
	insns := make([]Instruction, len(b)/InstructionSize)
	for i := range insns {
		w := b[i*InstructionSize:]
		insns[i] = Instruction{
			Code: binary.LittleEndian.Uint16(w[0:]),
			JT:   w[2],
			JF:   w[3],
			K:    binary.LittleEndian.Uint32(w[4:]),
		}
	}
	return insns
}

// String formats an instruction for error messages and tests.
func (i Instruction) String() string {
	return fmt.Sprintf("{code %#04x jt %d jf %d k %#x}", i.Code, i.JT, i.JF, i.K)
}
