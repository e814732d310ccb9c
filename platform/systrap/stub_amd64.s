#include "textflag.h"

// func jumpTo(pc uintptr)
//
// Jumps to pc without touching the stack. Used only by the child half of
// forkStub to enter the stub image, from which it never returns.
TEXT ·jumpTo(SB),NOSPLIT|NOFRAME,$0-8
	MOVQ pc+0(FP), AX
	JMP AX

// func currentCPU() uint32
//
// Returns the current CPU from the limit of the per-CPU segment Linux
// sets up for the vDSO's getcpu (GDT entry 15, selector 0x7b), which
// holds (node << 12) | cpu. LSL needs neither RDTSCP nor RDPID, which
// some VMs hide.
TEXT ·currentCPU(SB),NOSPLIT,$0-4
	MOVL $0x7b, AX
	BYTE $0x0f; BYTE $0x03; BYTE $0xc0 // LSL AX, AX
	ANDL $0xfff, AX
	MOVL AX, ret+0(FP)
	RET

// func cas16(p *byte, old, new *[16]byte) bool
//
// LOCK CMPXCHG16B: replaces the 16 bytes at p (16-byte aligned) with *new
// if they equal *old, in one atomic store (syscall patching).
TEXT ·cas16(SB),NOSPLIT,$0-25
	MOVQ p+0(FP), DI
	MOVQ old+8(FP), SI
	MOVQ new+16(FP), R8
	MOVQ 0(SI), AX
	MOVQ 8(SI), DX
	MOVQ 0(R8), BX
	MOVQ 8(R8), CX
	LOCK
	CMPXCHG16B (DI)
	SETEQ ret+24(FP)
	RET
