package train

import (
	"fmt"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// The models here run on the shared op layer (package train/op); tensor
// and tape are its types under short local names. What follows are the
// pieces only these models use.

// tensor is a libtorch tensor handle (a heap-allocated at::Tensor).
type tensor = op.Tensor

// tape owns the tensors of one computation (op.Tape). When its BF16 is set
// the convolution and linear layers below autocast to bfloat16 as
// torch.autocast does on CUDA: they take bfloat16 copies of their inputs
// and weights and return bfloat16; BatchNorm, ReLU, pooling and adds run on
// what they get (BatchNorm keeps float32 parameters and statistics);
// backbone features (the global average pool) and head outputs come back
// as float32 for the loss. (op.Tape's own Linear, Matmul and Conv1d, which
// the Transformer models use, instead cast each product back to float32.)
type tape = op.Tape

func i64s(v ...int64) []int64 { return v }

// conv2d is torch.nn.functional.conv2d with square stride and padding
// (b may be nil), autocast by tp.BF16.
func conv2d(tp *tape, x, w, b tensor, stride, pad int64) tensor {
	x, w, b = lowp(tp, x), lowp(tp, w), lowp(tp, b)
	var out tensor
	lib.AtgConv2d(&out, x, w, b, i64s(stride, stride), 2, i64s(pad, pad), 2, i64s(1, 1), 2, 1)
	return tp.Own(out)
}

// linearOp is x·wᵀ + b (b may be nil), autocast by tp.BF16.
func linearOp(tp *tape, x, w, b tensor) tensor {
	x, w, b = lowp(tp, x), lowp(tp, w), lowp(tp, b)
	var out tensor
	lib.AtgLinear(&out, x, w, b)
	return tp.Own(out)
}

// lowp is x's bfloat16 copy under tp.BF16 (nil stays nil).
func lowp(tp *tape, x tensor) tensor {
	if x == nil || !tp.BF16 {
		return x
	}
	return tp.ToDtype(x, gotch.BFloat16)
}

// fromFloat32CPU copies data into a new float32 CPU tensor (caller owns it).
func fromFloat32CPU(data []float32, dims ...int64) (tensor, error) {
	t, err := op.FromFloat32(data, gotch.CPU, dims...)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return t, nil
}

// fromInt64CPU copies data into a new int64 CPU tensor (caller owns it).
func fromInt64CPU(data []int64, dims ...int64) (tensor, error) {
	t, err := op.FromInt64(data, gotch.CPU, dims...)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return t, nil
}

// libTo moves x to dev into *out (no tape; the caller owns *out).
func libTo(out *tensor, x tensor, dev gotch.Device) {
	lib.AtgTo(out, x, int32(dev.CInt()))
	op.Check()
}
