//go:build amd64 && !purego

#include "textflag.h"

// func addSymSSE(out, a, b *float32, n int, k float32)
// out[i] += k * (a[i] + b[i])
TEXT ·addSymSSE(SB), NOSPLIT, $0-36
	MOVQ  out+0(FP), DI
	MOVQ  a+8(FP), SI
	MOVQ  b+16(FP), DX
	MOVQ  n+24(FP), CX
	MOVSS k+32(FP), X0
	SHUFPS $0, X0, X0

loop8:
	CMPQ   CX, $8
	JL     loop1
	MOVUPS (SI), X1
	MOVUPS 16(SI), X4
	MOVUPS (DX), X2
	MOVUPS 16(DX), X5
	ADDPS  X2, X1
	ADDPS  X5, X4
	MULPS  X0, X1
	MULPS  X0, X4
	MOVUPS (DI), X3
	MOVUPS 16(DI), X6
	ADDPS  X1, X3
	ADDPS  X4, X6
	MOVUPS X3, (DI)
	MOVUPS X6, 16(DI)
	ADDQ   $32, SI
	ADDQ   $32, DX
	ADDQ   $32, DI
	SUBQ   $8, CX
	JMP    loop8

loop1:
	TESTQ CX, CX
	JE    done
	MOVSS (SI), X1
	MOVSS (DX), X2
	ADDSS X2, X1
	MULSS X0, X1
	MOVSS (DI), X3
	ADDSS X1, X3
	MOVSS X3, (DI)
	ADDQ  $4, SI
	ADDQ  $4, DX
	ADDQ  $4, DI
	DECQ  CX
	JMP   loop1

done:
	RET
