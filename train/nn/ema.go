package nn

import (
	"fmt"

	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// EMA sets every trainable tensor of teacher to
// tau*teacher + (1-tau)*student, matching by name (names the student lacks
// are an error; tensors of the student the teacher lacks, such as a
// predictor, are ignored). Buffers are left to the teacher's own forward
// passes. Runs under op.NoGrad.
func EMA(tp *op.Tape, teacher, student *Params, tau float64) error {
	var dst, src []op.Tensor
	for _, tv := range teacher.Trainable() {
		sv := student.Get(tv.Name)
		if sv == nil {
			return fmt.Errorf("nn: ema: student has no %q", tv.Name)
		}
		dst, src = append(dst, tv.T), append(src, sv.T)
	}
	// On a GPU, one multi-tensor update where the shim has it (two kernel
	// launches for the whole model instead of three per tensor). On the
	// CPU, where launches cost nothing, the per-tensor form stays: its
	// rounding is the one the BYOL LARS parity goldens were checked with
	// (the foreach form's differs in the last bits, which LARS's trust
	// ratios amplify to 2e-4 over 20 steps).
	// gotch's AtDevice reads 8 bytes of a C int: the low 32 bits are the
	// device (-1: CPU).
	if len(dst) > 0 && int32(lib.AtDevice(dst[0])) >= 0 {
		op.ForeachEMA(dst, src, tau)
		return nil
	}
	for i := range dst {
		op.MulScalarInPlace(dst[i], tau)
		op.AddInPlace(dst[i], tp.MulScalar(src[i], 1-tau))
	}
	return nil
}
