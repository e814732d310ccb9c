#include "textflag.h"

// func jumpTo(pc uintptr)
//
// Jumps to pc without touching the stack. Used only by the child half of
// forkStub to enter the stub image, from which it never returns.
TEXT ·jumpTo(SB),NOSPLIT|NOFRAME,$0-8
	MOVQ pc+0(FP), AX
	JMP AX

// func rdtscpCPU() uint32
//
// Returns the current CPU from IA32_TSC_AUX, which Linux sets to
// (node << 12) | cpu.
TEXT ·rdtscpCPU(SB),NOSPLIT,$0-4
	RDTSCP
	ANDL $0xfff, CX
	MOVL CX, ret+0(FP)
	RET
