package bpf

// SeccompData is struct seccomp_data, the input of a seccomp filter:
//
//	offset 0  int   nr                  syscall number (raw: x32 bit included)
//	offset 4  u32   arch                AUDIT_ARCH_*
//	offset 8  u64   instruction_pointer
//	offset 16 u64   args[6]
//
// Filters read it as 32-bit words in the machine's (little-endian) order.
type SeccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

// word returns the 32-bit word at byte offset off, which the validator has
// checked is aligned and inside the struct.
func (d *SeccompData) word(off uint32) uint32 {
	switch {
	case off == 0:
		return uint32(d.Nr)
	case off == 4:
		return d.Arch
	case off < 16:
		return uint32(d.InstructionPointer >> ((off - 8) * 8))
	default:
		a := d.Args[(off-16)/8&7]
		return uint32(a >> ((off & 4) * 8))
	}
}

// Run executes the program on d and returns the value of the return
// instruction it reaches. It does not allocate. A division by a zero X
// ends the program with 0, as in Linux.
func (p *Program) Run(d *SeccompData) uint32 {
	var (
		a, x uint32
		mem  [MemWords]uint32
	)
	insns := p.insns
	for pc := 0; pc < len(insns); pc++ {
		in := &insns[pc]
		switch in.Code {
		case ClassLD | SizeW | ModeABS:
			a = d.word(in.K)
		case ClassLD | ModeIMM:
			a = in.K
		case ClassLDX | ModeIMM:
			x = in.K
		case ClassLD | ModeMEM:
			a = mem[in.K&(MemWords-1)]
		case ClassLDX | ModeMEM:
			x = mem[in.K&(MemWords-1)]
		case ClassST:
			mem[in.K&(MemWords-1)] = a
		case ClassSTX:
			mem[in.K&(MemWords-1)] = x
		case ClassMISC | MiscTAX:
			x = a
		case ClassMISC | MiscTXA:
			a = x
		case ClassRET | SrcK:
			return in.K
		case ClassRET | RetA:
			return a

		case ClassALU | AluADD | SrcK:
			a += in.K
		case ClassALU | AluADD | SrcX:
			a += x
		case ClassALU | AluSUB | SrcK:
			a -= in.K
		case ClassALU | AluSUB | SrcX:
			a -= x
		case ClassALU | AluMUL | SrcK:
			a *= in.K
		case ClassALU | AluMUL | SrcX:
			a *= x
		case ClassALU | AluDIV | SrcK:
			a /= in.K // the validator rejects a constant zero
		case ClassALU | AluDIV | SrcX:
			if x == 0 {
				return 0
			}
			a /= x
		case ClassALU | AluAND | SrcK:
			a &= in.K
		case ClassALU | AluAND | SrcX:
			a &= x
		case ClassALU | AluOR | SrcK:
			a |= in.K
		case ClassALU | AluOR | SrcX:
			a |= x
		case ClassALU | AluXOR | SrcK:
			a ^= in.K
		case ClassALU | AluXOR | SrcX:
			a ^= x
		case ClassALU | AluLSH | SrcK:
			a <<= in.K & 31
		case ClassALU | AluLSH | SrcX:
			a <<= x & 31
		case ClassALU | AluRSH | SrcK:
			a >>= in.K & 31
		case ClassALU | AluRSH | SrcX:
			a >>= x & 31
		case ClassALU | AluNEG:
			a = -a

		case ClassJMP | JmpJA:
			pc += int(in.K)
		case ClassJMP | JmpJEQ | SrcK:
			pc += cond(a == in.K, in)
		case ClassJMP | JmpJEQ | SrcX:
			pc += cond(a == x, in)
		case ClassJMP | JmpJGT | SrcK:
			pc += cond(a > in.K, in)
		case ClassJMP | JmpJGT | SrcX:
			pc += cond(a > x, in)
		case ClassJMP | JmpJGE | SrcK:
			pc += cond(a >= in.K, in)
		case ClassJMP | JmpJGE | SrcX:
			pc += cond(a >= x, in)
		case ClassJMP | JmpJSET | SrcK:
			pc += cond(a&in.K != 0, in)
		case ClassJMP | JmpJSET | SrcX:
			pc += cond(a&x != 0, in)
		default:
			// Unreachable for a validated program.
			return 0
		}
	}
	// Unreachable: the validator requires a final return.
	return 0
}

func cond(ok bool, in *Instruction) int {
	if ok {
		return int(in.JT)
	}
	return int(in.JF)
}
