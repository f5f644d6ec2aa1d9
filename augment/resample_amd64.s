//go:build amd64 && !purego

#include "textflag.h"

// func cpuHasSSE41() bool
TEXT ·cpuHasSSE41(SB), NOSPLIT, $0-1
	MOVL  $1, AX
	XORL  CX, CX
	CPUID
	SHRL  $19, CX
	ANDL  $1, CX
	MOVB  CX, ret+0(FP)
	RET

// func vertRowSSE41(dst, src *uint8, stride, n int, k *int32, taps int) int
// For j in [0, n rounded down to 16): dst[j] = clip8(2^21 + sum_i src[i*stride+j]*k[i]).
// Returns the number of bytes done (a multiple of 16).
TEXT ·vertRowSSE41(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ stride+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ k+32(FP), R9
	MOVQ taps+40(FP), R10
	XORQ DX, DX
	MOVL $0x200000, AX
	MOVQ AX, X15
	PSHUFL $0, X15, X15
	PXOR X14, X14

vblock:
	CMPQ CX, $16
	JLT  vdone
	MOVO X15, X0
	MOVO X15, X1
	MOVO X15, X2
	MOVO X15, X3
	MOVQ SI, R11
	MOVQ R9, R12
	MOVQ R10, R13

vtap:
	MOVOU (R11), X4
	MOVL  (R12), AX
	MOVQ  AX, X5
	PSHUFL $0, X5, X5
	MOVO  X4, X6
	PUNPCKLBW X14, X6
	PUNPCKHBW X14, X4
	MOVO  X6, X7
	PUNPCKLWL X14, X7
	PUNPCKHWL X14, X6
	MOVO  X4, X8
	PUNPCKLWL X14, X8
	PUNPCKHWL X14, X4
	PMULLD X5, X7
	PMULLD X5, X6
	PMULLD X5, X8
	PMULLD X5, X4
	PADDL X7, X0
	PADDL X6, X1
	PADDL X8, X2
	PADDL X4, X3
	ADDQ  R8, R11
	ADDQ  $4, R12
	DECQ  R13
	JNZ   vtap

	PSRAL $22, X0
	PSRAL $22, X1
	PSRAL $22, X2
	PSRAL $22, X3
	PACKSSLW X1, X0
	PACKSSLW X3, X2
	PACKUSWB X2, X0
	MOVOU X0, (DI)
	ADDQ  $16, SI
	ADDQ  $16, DI
	ADDQ  $16, DX
	SUBQ  $16, CX
	JMP   vblock

vdone:
	MOVQ DX, ret+48(FP)
	RET

// func horizRow3SSE41(dst, src *uint8, w int, bounds *int, k4 *int32, ksize int)
// RGB horizontal pass of one row: for each output xx, with xmin, n =
// bounds[2xx], bounds[2xx+1], dst[3xx+c] = clip8(2^21 + sum_i
// src[3(xmin+i)+c]*k[xx*ksize+i]); k4 holds each coefficient 4 times. Reads one byte past the last tap's
// pixel: the caller guarantees it is inside the buffer.
TEXT ·horizRow3SSE41(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ w+16(FP), CX
	MOVQ bounds+24(FP), R8
	MOVQ k+32(FP), R9
	MOVQ ksize+40(FP), R10
	SHLQ $4, R10
	MOVL $0x200000, AX
	MOVQ AX, X15
	PSHUFL $0, X15, X15

hpix:
	TESTQ CX, CX
	JZ    hdone
	MOVQ  (R8), R11
	MOVQ  8(R8), R13
	LEAQ  (R11)(R11*2), R11
	ADDQ  SI, R11
	MOVQ  R9, R12
	MOVO  X15, X0
	TESTQ R13, R13
	JZ    hstore

htap:
	PMOVZXBD (R11), X1
	MOVOU (R12), X2
	PMULLD X2, X1
	PADDL X1, X0
	ADDQ  $3, R11
	ADDQ  $16, R12
	DECQ  R13
	JNZ   htap

hstore:
	PSRAL $22, X0
	PACKSSLW X0, X0
	PACKUSWB X0, X0
	MOVQ  X0, AX
	MOVW  AX, (DI)
	SHRL  $16, AX
	MOVB  AX, 2(DI)
	ADDQ  $3, DI
	ADDQ  $16, R8
	ADDQ  R10, R9
	DECQ  CX
	JMP   hpix

hdone:
	RET
