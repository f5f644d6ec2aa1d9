package pipeline

import "math/bits"

// permutation is a pseudo-random bijection of [0, n) keyed by (seed, epoch),
// computed in O(1) memory: a balanced Feistel network on the smallest even
// power-of-two domain covering n, with cycle walking back into [0, n). The
// shuffle order of an epoch is therefore a pure function of (seed, epoch, n),
// and the sample at any position can be found without materializing the
// order, which is what lets a shuffled epoch resume at any position.
type permutation struct {
	n    uint64
	half uint      // bits per Feistel half
	mask uint64    // (1<<half)-1
	keys [6]uint64 // round keys
}

func newPermutation(n int, seed, epoch uint64) permutation {
	p := permutation{n: uint64(n)}
	b := uint(bits.Len64(uint64(max(n-1, 1))))
	if b%2 == 1 {
		b++
	}
	if b < 2 {
		b = 2
	}
	p.half = b / 2
	p.mask = 1<<p.half - 1
	k := splitmix64(seed ^ 0x243f6a8885a308d3)
	k = splitmix64(k ^ epoch)
	for i := range p.keys {
		k = splitmix64(k + uint64(i))
		p.keys[i] = k
	}
	return p
}

func (p *permutation) round(x, k uint64) uint64 {
	return splitmix64(x^k) & p.mask
}

func (p *permutation) encrypt(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^p.round(r, k)
	}
	return l<<p.half | r
}

// at returns the source index at position i of the permuted order.
func (p *permutation) at(i int) int {
	x := uint64(i)
	for {
		x = p.encrypt(x)
		if x < p.n {
			return int(x)
		}
	}
}
