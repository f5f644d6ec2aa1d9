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

// func scaleSSE(out, a *float32, n int, k float32)
// out[i] = k * a[i] for i < n rounded down to 4; the caller does the rest.
TEXT ·scaleSSE(SB), NOSPLIT, $0-28
	MOVQ  out+0(FP), DI
	MOVQ  a+8(FP), SI
	MOVQ  n+16(FP), CX
	MOVSS k+24(FP), X0
	SHUFPS $0, X0, X0

sloop:
	CMPQ   CX, $4
	JLT    sdone
	MOVUPS (SI), X1
	MULPS  X0, X1
	MOVUPS X1, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	SUBQ   $4, CX
	JMP    sloop

sdone:
	RET

// func roundRowSSE(out *uint8, a *float32, n int)
// out[i] = clamp(round-half-even(a[i]), 0, 255) for i < n rounded down to
// 16: CVTPS2DQ rounds with MXCSR's default (nearest even), the packs
// saturate to [0, 255].
TEXT ·roundRowSSE(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ n+16(FP), CX

rloop:
	CMPQ     CX, $16
	JLT      rdone
	MOVUPS   (SI), X0
	MOVUPS   16(SI), X1
	MOVUPS   32(SI), X2
	MOVUPS   48(SI), X3
	CVTPS2PL X0, X0
	CVTPS2PL X1, X1
	CVTPS2PL X2, X2
	CVTPS2PL X3, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU    X0, (DI)
	ADDQ     $64, SI
	ADDQ     $16, DI
	SUBQ     $16, CX
	JMP      rloop

rdone:
	RET

// func u8ToF32SSE(out *float32, in *uint8, n int)
// out[i] = float32(in[i]) for i < n rounded down to 16.
TEXT ·u8ToF32SSE(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ n+16(FP), CX
	PXOR X15, X15

uloop:
	CMPQ      CX, $16
	JLT       udone
	MOVOU     (SI), X0
	MOVO      X0, X1
	PUNPCKLBW X15, X0
	PUNPCKHBW X15, X1
	MOVO      X0, X2
	PUNPCKLWL X15, X0
	PUNPCKHWL X15, X2
	MOVO      X1, X3
	PUNPCKLWL X15, X1
	PUNPCKHWL X15, X3
	CVTPL2PS  X0, X0
	CVTPL2PS  X2, X2
	CVTPL2PS  X1, X1
	CVTPL2PS  X3, X3
	MOVUPS    X0, (DI)
	MOVUPS    X2, 16(DI)
	MOVUPS    X1, 32(DI)
	MOVUPS    X3, 48(DI)
	ADDQ      $16, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       uloop

udone:
	RET
