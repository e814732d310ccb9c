package bpf

import "fmt"

// SeccompDataSize is sizeof(struct seccomp_data): the only input a seccomp
// filter can load from.
const SeccompDataSize = 64

// ValidationError says why a program was rejected. Linux reports every
// such reason as EINVAL; the detail is for logs and tests.
type ValidationError struct {
	// PC is the offending instruction's index, or -1 for the program as a
	// whole (its length, its last instruction).
	PC     int
	Reason string
}

func (e *ValidationError) Error() string {
	if e.PC < 0 {
		return "bpf: " + e.Reason
	}
	return fmt.Sprintf("bpf: instruction %d: %s", e.PC, e.Reason)
}

func invalid(pc int, format string, args ...any) error {
	return &ValidationError{PC: pc, Reason: fmt.Sprintf(format, args...)}
}

// Program is a validated seccomp filter, ready to run. It is immutable.
type Program struct {
	insns []Instruction
}

// Len returns the number of instructions, as Linux counts them for its
// per-path limit on the total length of a task's filters.
func (p *Program) Len() int { return len(p.insns) }

// Instructions returns a copy of the program as it will run (after the
// rewrites Linux makes, e.g. of BPF_LEN loads).
func (p *Program) Instructions() []Instruction {
	return append([]Instruction(nil), p.insns...)
}

// seccompOpcode reports whether code is one of the opcodes a seccomp filter
// may use (Linux: seccomp_check_filter's list, after its rewrites of
// BPF_LEN loads). Everything else, including the byte and half-word loads,
// indirect loads, BPF_MOD and RET X, is rejected.
func seccompOpcode(code uint16) bool {
	switch code {
	case ClassLD | SizeW | ModeABS,
		ClassLD | ModeIMM, ClassLDX | ModeIMM,
		ClassLD | ModeMEM, ClassLDX | ModeMEM,
		ClassST, ClassSTX,
		ClassRET | SrcK, ClassRET | RetA,
		ClassMISC | MiscTAX, ClassMISC | MiscTXA,
		ClassALU | AluNEG,
		ClassJMP | JmpJA:
		return true
	}
	switch code &^ SrcX {
	case ClassALU | AluADD, ClassALU | AluSUB, ClassALU | AluMUL, ClassALU | AluDIV,
		ClassALU | AluAND, ClassALU | AluOR, ClassALU | AluXOR,
		ClassALU | AluLSH, ClassALU | AluRSH,
		ClassJMP | JmpJEQ, ClassJMP | JmpJGE, ClassJMP | JmpJGT, ClassJMP | JmpJSET:
		return true
	}
	return false
}

func isCondJump(code uint16) bool {
	return code&0x07 == ClassJMP && code&^SrcX != ClassJMP|JmpJA
}

// CompileSeccomp validates insns with Linux's rules for seccomp filters and
// returns the program to run. insns is not retained.
//
// The rules: 1 to MaxInstructions instructions; only the opcodes of
// seccompOpcode; absolute loads only of aligned 32-bit words inside struct
// seccomp_data; no division by a constant zero or shift by 32 or more;
// scratch cells below MemWords and written on every path before they are
// read; jumps forward and inside the program; the last instruction a
// return. Because every jump goes forward, every run ends.
func CompileSeccomp(insns []Instruction) (*Program, error) {
	n := len(insns)
	if n == 0 || n > MaxInstructions {
		return nil, invalid(-1, "program length %d not in 1..%d", n, MaxInstructions)
	}
	p := &Program{insns: append([]Instruction(nil), insns...)}
	for pc := range p.insns {
		in := &p.insns[pc]
		// Linux turns the length loads into constants: a seccomp filter's
		// input is always sizeof(struct seccomp_data).
		switch in.Code {
		case ClassLD | SizeW | ModeLEN:
			*in = Instruction{Code: ClassLD | ModeIMM, K: SeccompDataSize}
		case ClassLDX | SizeW | ModeLEN:
			*in = Instruction{Code: ClassLDX | ModeIMM, K: SeccompDataSize}
		}
		if !seccompOpcode(in.Code) {
			return nil, invalid(pc, "opcode %#04x not allowed in a seccomp filter", in.Code)
		}
		switch in.Code {
		case ClassLD | SizeW | ModeABS:
			if in.K >= SeccompDataSize || in.K&3 != 0 {
				return nil, invalid(pc, "load of offset %#x outside struct seccomp_data or unaligned", in.K)
			}
		case ClassALU | AluDIV | SrcK:
			if in.K == 0 {
				return nil, invalid(pc, "division by zero")
			}
		case ClassALU | AluLSH | SrcK, ClassALU | AluRSH | SrcK:
			if in.K >= 32 {
				return nil, invalid(pc, "shift by %d", in.K)
			}
		case ClassLD | ModeMEM, ClassLDX | ModeMEM, ClassST, ClassSTX:
			if in.K >= MemWords {
				return nil, invalid(pc, "scratch cell %d out of range", in.K)
			}
		case ClassJMP | JmpJA:
			if uint64(in.K) >= uint64(n-pc-1) {
				return nil, invalid(pc, "jump by %d past the end", in.K)
			}
		default:
			if isCondJump(in.Code) && (pc+int(in.JT)+1 >= n || pc+int(in.JF)+1 >= n) {
				return nil, invalid(pc, "jump (%d, %d) past the end", in.JT, in.JF)
			}
		}
	}
	if c := p.insns[n-1].Code; c != ClassRET|SrcK && c != ClassRET|RetA {
		return nil, invalid(-1, "last instruction is not a return")
	}
	if err := checkScratchInit(p.insns); err != nil {
		return nil, err
	}
	return p, nil
}

// checkScratchInit rejects a program that may read a scratch cell before
// writing it on some path (Linux: check_load_and_stores). valid[pc] is the
// set of cells written on every path that reaches pc by a jump; the
// straight-line path carries its own set, which is dropped after a jump
// (the next instruction is then reached only by other jumps) but, as in
// Linux, not after a return.
func checkScratchInit(insns []Instruction) error {
	const all = uint16(0xffff)
	var valid [MaxInstructions]uint16
	for i := range insns {
		valid[i] = all
	}
	mem := uint16(0)
	for pc, in := range insns {
		mem &= valid[pc]
		switch in.Code {
		case ClassST, ClassSTX:
			mem |= 1 << in.K
		case ClassLD | ModeMEM, ClassLDX | ModeMEM:
			if mem&(1<<in.K) == 0 {
				return invalid(pc, "scratch cell %d read before it is written", in.K)
			}
		case ClassJMP | JmpJA:
			valid[pc+1+int(in.K)] &= mem
			mem = all
		default:
			if isCondJump(in.Code) {
				valid[pc+1+int(in.JT)] &= mem
				valid[pc+1+int(in.JF)] &= mem
				mem = all
			}
		}
	}
	return nil
}
