#include "textflag.h"

// func spinWhile(w *uint32, v uint32, now, deadline int64) (changed bool, last int64)
//
// Spins with PAUSE while *w == v and the time-stamp counter is below
// deadline. It reports whether *w changed, and the counter as it last
// read it (now if it never did).
TEXT ·spinWhile(SB),NOSPLIT,$0-48
	MOVQ w+0(FP), BX
	MOVL v+8(FP), CX
	MOVQ now+16(FP), DI
	MOVQ deadline+24(FP), SI
loop:
	CMPL 0(BX), CX
	JNE changed
	PAUSE
	RDTSC
	SHLQ $32, DX
	ORQ DX, AX
	MOVQ AX, DI
	CMPQ AX, SI
	JLT loop
	CMPL 0(BX), CX
	JNE changed
	MOVB $0, changed+32(FP)
	MOVQ DI, last+40(FP)
	RET
changed:
	MOVB $1, changed+32(FP)
	MOVQ DI, last+40(FP)
	RET
