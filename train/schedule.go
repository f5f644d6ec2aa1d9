package train

import (
	"fmt"
	"math"
)

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
		return fmt.Errorf("train: %w: tau base %v and end %v must be in [0, 1]", ErrConfig, s.Base, s.End)
	}
	switch s.Kind {
	case "cosine", "linear", "constant":
		return nil
	}
	return fmt.Errorf("train: %w: tau kind %q: want cosine, linear or constant", ErrConfig, s.Kind)
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
