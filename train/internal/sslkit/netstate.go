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

// NetState is the state of a trainer with one network and one optimizer
// (the pretext methods: rotation, jigsaw, inpainting, colorization).
// Embedded in the trainer it gives the train.Trainer methods State, Load
// and Close, and train.Replicated. Checkpoints hold the network under
// NetPrefix and the optimizer state as "optim.<param>.<slot>".
type NetState struct {
	Params *nn.Params
	Opt    *nn.Optimizer
}

// State returns the checkpoint tensors and the update count.
func (s NetState) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := s.Params.Snapshot(ts, NetPrefix); err != nil {
		return nil, 0, err
	}
	os, err := s.Opt.State(s.Params, "optim.")
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, os)
	return ts, s.Opt.Steps(), nil
}

// Load restores the network and the optimizer from a checkpoint's
// tensors.
func (s NetState) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := s.Params.Load(path, ts, NetPrefix); err != nil {
		return err
	}
	return s.Opt.SetState(path, s.Params, ts, "optim.", st.OptSteps)
}

// Close frees the network and the optimizer state.
func (s NetState) Close() error {
	defer op.LockThread()()
	s.Params.Free()
	s.Opt.Free()
	return nil
}

// ReplicatedTensors are the network's tensors (rank 0's are broadcast at
// the start of a data-parallel run).
func (s NetState) ReplicatedTensors() []op.Tensor { return nn.Tensors(s.Params.List()) }
