package pipeline

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Sample is one item flowing through a pipeline: a value plus the identity
// that makes its processing reproducible and its errors traceable.
//
// Index, Epoch and Seed identify the sample for randomness: every random draw
// made while processing it must come from Rand (or SampleRand with the same
// arguments), so that results do not depend on worker count, scheduling or
// rank layout. Pos is the sample's position in this rank's epoch order (after
// shuffling and sharding); the pipeline uses it to resume.
type Sample[T any] struct {
	Value  T
	Index  int    // global index in the unshuffled source (for batches: batch number in the epoch)
	Pos    int    // position in this rank's epoch order
	Epoch  int    // epoch number, from 0
	Seed   uint64 // run seed (Order.Seed)
	Key    string // path, tar key or other name of the sample; may be empty
	Origin string // where the sample was declared, e.g. "train.csv:12" or "shard-0001.tar"; may be empty
}

// Rand returns the sample's random stream for the given view (0 for
// single-view stages): SampleRand(Seed, Epoch, Index, view).
func (s Sample[T]) Rand(view int) *rand.Rand {
	return SampleRand(s.Seed, uint64(s.Epoch), uint64(s.Index), uint64(view))
}

// With returns a sample with the same identity carrying value v.
func With[T, U any](s Sample[T], v U) Sample[U] {
	return Sample[U]{Value: v, Index: s.Index, Pos: s.Pos, Epoch: s.Epoch, Seed: s.Seed, Key: s.Key, Origin: s.Origin}
}

// ErrSkip may be returned by a map function to drop a sample silently (a
// filter, not an error): it is neither reported nor counted against the
// error budget.
var ErrSkip = errors.New("pipeline: skip sample")

// ErrTooManyErrors is returned (wrapped) by an iteration when the error policy's
// budget is exceeded.
var ErrTooManyErrors = errors.New("pipeline: too many sample errors")

// ErrNotRandomAccess is returned when Order.Shuffle is set on a source that
// does not implement RandomAccess.
var ErrNotRandomAccess = errors.New("pipeline: source does not support random access")

// SampleError is a failure confined to one sample: an unreadable file, a
// truncated tar member, a manifest line with a bad label, a decode error or a
// panic recovered in a map function. It names the sample so that a report can
// point the user at the file (and line) to fix. Per-sample errors are handled
// by the pipeline's ErrorPolicy; any other error stops the pipeline.
type SampleError struct {
	Index  int    // global source index of the sample (-1 if unknown)
	Epoch  int    // epoch in which it failed
	Key    string // path or key of the sample
	Origin string // e.g. "train.csv:12" or "shard-0001.tar"
	Stage  string // stage that failed ("source", a map's Name, ...)
	Panic  bool   // the error is a recovered panic
	Err    error  // underlying cause
}

func (e *SampleError) Error() string {
	where := e.Key
	if where == "" {
		where = fmt.Sprintf("sample #%d", e.Index)
	}
	if e.Origin != "" {
		where += " (" + e.Origin + ")"
	}
	stage := ""
	if e.Stage != "" {
		stage = e.Stage + ": "
	}
	what := ""
	if e.Panic {
		what = "panic: "
	}
	return fmt.Sprintf("pipeline: %s%s: %s%v", stage, where, what, e.Err)
}

func (e *SampleError) Unwrap() error { return e.Err }

// sampleErr builds the SampleError of sample s failing with err in stage.
// An err that already is a *SampleError keeps its own fields except those it
// left empty.
func sampleErr[T any](s Sample[T], stage string, err error) *SampleError {
	var se *SampleError
	if errors.As(err, &se) {
		c := *se
		if c.Key == "" {
			c.Key = s.Key
		}
		if c.Origin == "" {
			c.Origin = s.Origin
		}
		if c.Stage == "" {
			c.Stage = stage
		}
		c.Index, c.Epoch = s.Index, s.Epoch
		return &c
	}
	return &SampleError{Index: s.Index, Epoch: s.Epoch, Key: s.Key, Origin: s.Origin, Stage: stage, Err: err}
}

// State is the position of a running pipeline, small enough to store in a
// checkpoint (it marshals to JSON as is). Starting a pipeline from a State
// produces exactly the items that would have followed the item after which
// the State was taken.
type State struct {
	Seed     uint64 `json:"seed"`
	Epoch    int    `json:"epoch"`
	Position int    `json:"position"` // positions of the epoch order consumed (read, kept or dropped)
	Emitted  int    `json:"emitted"`  // items (samples or batches) delivered in this epoch
	Errors   int    `json:"errors"`   // per-sample errors skipped so far (counts against the budget)
}
