package sslkit

import (
	"maps"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// NetPrefix names a one-network trainer's tensors in its checkpoints
// (NetState); its backbone's are NetPrefix + BackbonePrefix + name.
const NetPrefix = "net."

// OptimPrefix names the optimizer state in a NetState's checkpoints:
// "optim.<param>.<slot>".
const OptimPrefix = "optim."

// NetState is the state of a trainer with one optimized network and one
// optimizer (the pretext methods, SimCLR, SimSiam, SOP), optionally with
// a second network that the optimizer does not update (MoCo v3's
// momentum encoder, DINO's teacher). Embedded in the trainer it gives the
// train.Trainer methods State, Load and Close, and train.Replicated.
// Checkpoints hold the network under Prefix, the teacher under
// TeacherPrefix and the optimizer state under OptimPrefix.
type NetState struct {
	Params *nn.Params
	Opt    *nn.Optimizer
	// Prefix is the network's checkpoint prefix ("": NetPrefix).
	Prefix string
	// Teacher, when set, is saved, loaded, freed and replicated after
	// Params, under TeacherPrefix.
	Teacher       *nn.Params
	TeacherPrefix string
}

func (s NetState) prefix() string {
	if s.Prefix == "" {
		return NetPrefix
	}
	return s.Prefix
}

// State returns the checkpoint tensors and the update count.
func (s NetState) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := s.Params.Snapshot(ts, s.prefix()); err != nil {
		return nil, 0, err
	}
	if s.Teacher != nil {
		if err := s.Teacher.Snapshot(ts, s.TeacherPrefix); err != nil {
			return nil, 0, err
		}
	}
	os, err := s.Opt.State(s.Params, OptimPrefix)
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, os)
	return ts, s.Opt.Steps(), nil
}

// Load restores the networks and the optimizer from a checkpoint's
// tensors.
func (s NetState) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := s.Params.Load(path, ts, s.prefix()); err != nil {
		return err
	}
	if s.Teacher != nil {
		if err := s.Teacher.Load(path, ts, s.TeacherPrefix); err != nil {
			return err
		}
	}
	return s.Opt.SetState(path, s.Params, ts, OptimPrefix, st.OptSteps)
}

// Close frees the networks and the optimizer state.
func (s NetState) Close() error {
	defer op.LockThread()()
	s.Params.Free()
	if s.Teacher != nil {
		s.Teacher.Free()
	}
	s.Opt.Free()
	return nil
}

// ReplicatedTensors are the networks' tensors, the teacher's after the
// network's (rank 0's are broadcast at the start of a data-parallel
// run).
func (s NetState) ReplicatedTensors() []op.Tensor {
	ts := nn.Tensors(s.Params.List())
	if s.Teacher != nil {
		ts = append(ts, nn.Tensors(s.Teacher.List())...)
	}
	return ts
}
