#include "textflag.h"

// func spinWhile(w *uint32, v uint32, deadline int64) bool
//
// Spins with PAUSE while *w == v and the time-stamp counter is below
// deadline. It reports whether *w changed.
TEXT ·spinWhile(SB),NOSPLIT,$0-25
	MOVQ w+0(FP), BX
	MOVL v+8(FP), CX
	MOVQ deadline+16(FP), SI
loop:
	CMPL 0(BX), CX
	JNE changed
	PAUSE
	RDTSC
	SHLQ $32, DX
	ORQ DX, AX
	CMPQ AX, SI
	JLT loop
	CMPL 0(BX), CX
	JNE changed
	MOVB $0, ret+24(FP)
	RET
changed:
	MOVB $1, ret+24(FP)
	RET
