package train

import "math/rand/v2"

// EpochSampler draws batches of example indices for in-memory datasets
// (HuBERT's and data2vec's): a fresh permutation per epoch keyed by
// (seed, epoch), consumed batch by batch; an epoch's tail shorter than a
// batch is dropped. The k-th batch depends only on the seed and k, so a
// resumed run replays Next k times to reach its position.
type EpochSampler struct {
	n, batch int
	seed     uint64
	epoch    int
	perm     []int
	pos      int
}

// NewEpochSampler samples batches of min(batch, n) indices out of n.
func NewEpochSampler(n, batch int, seed uint64) *EpochSampler {
	return &EpochSampler{n: n, batch: min(batch, n), seed: seed, epoch: -1}
}

// Next returns the next batch of indices (valid until the next call) and
// its epoch.
func (s *EpochSampler) Next() ([]int, int) {
	if s.perm == nil || s.pos+s.batch > s.n {
		s.epoch++
		s.perm = rand.New(rand.NewPCG(s.seed, uint64(s.epoch)+0x9e37)).Perm(s.n)
		s.pos = 0
	}
	idx := s.perm[s.pos : s.pos+s.batch]
	s.pos += s.batch
	return idx, s.epoch
}
