package train

import (
	"fmt"
	"math"

	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// LRSchedule is linear warmup then cosine decay:
//
//	lr(k) = base*(k+1)/warmup                                   for k < warmup
//	lr(k) = final + (base-final)*(1+cos(pi*(k-warmup)/(total-warmup)))/2  after
//
// k counts optimizer steps from 0.
type LRSchedule struct {
	Base, Final   float64
	Warmup, Total int64
}

// At returns the learning rate of step k.
func (s LRSchedule) At(k int64) float64 {
	if k < s.Warmup {
		return s.Base * float64(k+1) / float64(s.Warmup)
	}
	n := s.Total - s.Warmup
	if n <= 0 {
		return s.Base
	}
	f := float64(min(k-s.Warmup, n)) / float64(n)
	return s.Final + (s.Base-s.Final)*(1+math.Cos(math.Pi*f))/2
}

// ScaledLR is the linear scaling rule lr*batch/256.
func ScaledLR(lr float64, batch int) float64 { return lr * float64(batch) / 256 }

// TauSchedule gives an EMA teacher's decay tau at step k (the teacher
// becomes tau*teacher + (1-tau)*student after step k).
type TauSchedule struct {
	// Kind "cosine" (BYOL, DINO): tau = 1 - (1-Base)*(cos(pi*k/Total)+1)/2,
	// rising from Base to 1 over Total steps. Kind "linear" (data2vec):
	// tau rises linearly from Base to End over Steps steps, then stays
	// at End. Kind "constant": Base.
	Kind  string  `yaml:"kind" json:"kind"`
	Base  float64 `yaml:"base" json:"base"`
	End   float64 `yaml:"end" json:"end"`
	Steps int64   `yaml:"steps" json:"steps"` // linear: anneal steps; cosine: total steps (0: the run's)
}

// Validate checks the schedule.
func (s TauSchedule) Validate() error {
	if !(s.Base >= 0 && s.Base <= 1) || !(s.End >= 0 && s.End <= 1) {
		return fmt.Errorf("train: tau base %v and end %v must be in [0, 1]", s.Base, s.End)
	}
	switch s.Kind {
	case "cosine", "linear", "constant":
		return nil
	}
	return fmt.Errorf("train: tau kind %q: want cosine, linear or constant", s.Kind)
}

// At returns tau at step k; total is the run length, used by cosine when
// Steps is 0.
func (s TauSchedule) At(k, total int64) float64 {
	switch s.Kind {
	case "cosine":
		n := s.Steps
		if n <= 0 {
			n = total
		}
		f := math.Min(float64(k)/float64(max(n, 1)), 1)
		return 1 - (1-s.Base)*(math.Cos(math.Pi*f)+1)/2
	case "linear":
		if k >= s.Steps || s.Steps <= 0 {
			return s.End
		}
		return s.Base + (s.End-s.Base)*float64(k)/float64(s.Steps)
	}
	return s.Base
}

// emaUpdate sets every trainable tensor of teacher to
// tau*teacher + (1-tau)*student (matching names). Buffers are left to the
// teacher's own forward passes. Must run under noGrad.
func emaUpdate(tp *tape, teacher, student *Module, tau float64) error {
	var dst, src []tensor
	for _, tv := range teacher.Params() {
		sv, ok := student.byName[tv.Name]
		if !ok {
			return fmt.Errorf("train: ema: student has no %q", tv.Name)
		}
		dst, src = append(dst, tv.t), append(src, sv.t)
	}
	// On a GPU, one multi-tensor update where the shim has it (two kernel
	// launches for the whole model instead of three per tensor). On the
	// CPU, where launches cost nothing, the per-tensor form stays: its
	// rounding is the one the LARS parity goldens were checked with (the
	// foreach form's differs in the last bits, which LARS's trust ratios
	// amplify to 2e-4 over 20 steps).
	// gotch's AtDevice reads 8 bytes of a C int: the low 32 bits are the device (-1: CPU).
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
