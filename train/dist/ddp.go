package dist

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// PyTorch DDP's bucket sizes: the first gradient bucket holds 1 MiB (its
// all-reduce starts early in the backward pass), the others 25 MiB; module
// states are broadcast in 250 MiB buckets.
const (
	FirstBucketBytes     = 1 << 20
	BucketBytes          = 25 << 20
	BroadcastBucketBytes = 250 << 20
)

// tensorInfo is what bucketing needs to know of a tensor.
type tensorInfo struct {
	dtype  gotch.DType
	device int32 // -1 CPU, else the CUDA index
	numel  int64
	shape  []int64
}

func (t tensorInfo) bytes() int64 { return t.numel * int64(t.dtype.Size()) }

// infos reads the tensors' dtypes, devices and shapes.
func infos(ts []op.Tensor) (out []tensorInfo, err error) {
	defer op.Catch(&err)
	out = make([]tensorInfo, len(ts))
	for i, t := range ts {
		if t == nil {
			return nil, fmt.Errorf("dist: tensor %d is nil", i)
		}
		sh := op.Shape(t)
		dt := gotch.CKind2DType(lib.AtScalarType(t))
		op.Check()
		dev := int32(lib.AtDevice(t))
		op.Check()
		out[i] = tensorInfo{dtype: dt, device: dev, numel: op.Numel(sh), shape: sh}
	}
	return out, nil
}

// plan assigns the tensors, taken in the order given, to buckets of one
// dtype and device: a bucket closes once it holds at least its limit in
// bytes (limits[0] for each kind's first bucket, then limits[1]); the
// buckets still open at the end close in the order their kinds first
// appeared. It returns the tensors' indexes in bucket order and each
// bucket's end in that order (PyTorch's compute_bucket_assignment_by_size,
// for tensors of equal rank on every process).
func plan(ts []tensorInfo, order []int, limits [2]int64) (perm []int, ends []int64) {
	type kind struct {
		dt  gotch.DType
		dev int32
	}
	type open struct {
		idx   []int
		bytes int64
		n     int // buckets of this kind closed so far
	}
	buckets := map[kind]*open{}
	var kinds []kind
	var closed [][]int
	for _, i := range order {
		k := kind{ts[i].dtype, ts[i].device}
		b := buckets[k]
		if b == nil {
			b = &open{}
			buckets[k] = b
			kinds = append(kinds, k)
		}
		b.idx = append(b.idx, i)
		b.bytes += ts[i].bytes()
		limit := limits[1]
		if b.n == 0 {
			limit = limits[0]
		}
		if b.bytes >= limit {
			closed = append(closed, b.idx)
			b.idx, b.bytes = nil, 0
			b.n++
		}
	}
	for _, k := range kinds {
		if b := buckets[k]; len(b.idx) > 0 {
			closed = append(closed, b.idx)
		}
	}
	for _, c := range closed {
		perm = append(perm, c...)
		ends = append(ends, int64(len(perm)))
	}
	return perm, ends
}

// fingerprint hashes the tensors' dtypes, devices and shapes in order.
func fingerprint(ts []tensorInfo) int64 {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	for _, t := range ts {
		put(int64(t.dtype.CKind()))
		put(int64(t.device))
		put(int64(len(t.shape)))
		for _, d := range t.shape {
			put(d)
		}
	}
	return int64(h.Sum64() >> 1)
}

// checkLayout verifies that every rank passes tensors of the same dtypes,
// devices and shapes (a mismatch would make the flattened collectives
// disagree), naming the ranks that differ from rank 0.
func (g *Group) checkLayout(what string, ts []tensorInfo, dev int32) (err error) {
	var total int64
	for _, t := range ts {
		total += t.numel
	}
	mine := []int64{int64(len(ts)), total, fingerprint(ts)}
	x, err := op.FromInt64(mine, deviceOf(dev), 3)
	if err != nil {
		return fmt.Errorf("dist: %s: %w", what, err)
	}
	defer op.Free(x)
	all, err := g.AllGather(x)
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range all {
			op.Free(t)
		}
	}()
	defer op.Catch(&err)
	ref := op.ToInt64(all[0])
	var differ []int
	for r := 1; r < g.world; r++ {
		v := op.ToInt64(all[r])
		if v[0] != ref[0] || v[1] != ref[1] || v[2] != ref[2] {
			differ = append(differ, r)
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("dist: %s: %s passed other tensors than rank 0 (%d tensors of %d elements on rank 0, %d of %d on rank %d)",
			what, rankList(differ), ref[0], ref[1], op.ToInt64(all[differ[0]])[0], op.ToInt64(all[differ[0]])[1], differ[0])
	}
	return nil
}

func deviceOf(dev int32) gotch.Device {
	if dev < 0 {
		return gotch.CPU
	}
	return gotch.CudaBuilder(uint(dev))
}

// Broadcast copies each tensor of rank root into the same tensor of every
// other rank (same shapes and dtypes on every rank, in the same order):
// flattened into 250 MiB buckets of one dtype and device, one broadcast
// each, as PyTorch DDP broadcasts a model's state at construction.
func (g *Group) Broadcast(ts []op.Tensor, root int) error {
	if root < 0 || root >= g.world {
		return fmt.Errorf("dist: broadcast from rank %d of %d", root, g.world)
	}
	if len(ts) == 0 {
		return nil
	}
	in, err := infos(ts)
	if err != nil {
		return err
	}
	return g.broadcast("broadcast", ts, in, root)
}

// BroadcastParams is Broadcast for a model's parameters and buffers (e.g.
// BatchNorm's running statistics) at the start of a run, after checking
// that every rank passes the same dtypes and shapes (a mismatch would
// otherwise pair the wrong bytes).
func (g *Group) BroadcastParams(ts []op.Tensor, root int) error {
	if root < 0 || root >= g.world {
		return fmt.Errorf("dist: broadcast from rank %d of %d", root, g.world)
	}
	if len(ts) == 0 {
		return nil
	}
	in, err := infos(ts)
	if err != nil {
		return err
	}
	if err := g.checkLayout("broadcast parameters", in, in[0].device); err != nil {
		return err
	}
	return g.broadcast("broadcast parameters", ts, in, root)
}

func (g *Group) broadcast(what string, ts []op.Tensor, in []tensorInfo, root int) error {
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	perm, ends := plan(in, order, [2]int64{BroadcastBucketBytes, BroadcastBucketBytes})
	sorted := make([]op.Tensor, len(perm))
	for i, j := range perm {
		sorted[i] = ts[j]
	}
	return g.call(what, func() (int, string) { return lib.SslpipeDistBroadcastCoalesced(g.pg, sorted, ends, root) })
}

// BucketOptions size a Reducer's buckets; zero values take PyTorch DDP's
// (FirstBucketBytes, BucketBytes).
type BucketOptions struct {
	First int64 // bytes of each dtype's first bucket
	Size  int64 // bytes of the later buckets
}

// Reducer averages a fixed list of parameters' gradients over the ranks,
// as PyTorch DDP does after the backward pass: the parameters, taken in
// reverse order (the order their gradients are ready in a backward pass),
// are assigned once to buckets of one dtype and device; each bucket's
// gradients are flattened into one tensor (a cat of views), divided by the
// world size, summed over the ranks with one all-reduce (DDP's default
// communication hook) and copied back. The buckets' all-reduces run
// concurrently, issued in the same order on every rank.
//
// A parameter without a gradient on a rank (unused in its forward pass)
// takes part with zeros: it gets the average when another rank had a
// gradient for it, and keeps no gradient when no rank had (DDP's
// find_unused_parameters semantics). BatchNorm's running statistics are
// buffers, not parameters: they stay per rank, as in DDP.
type Reducer struct {
	g      *Group
	params []op.Tensor // in bucket order
	ends   []int64
	perm   []int
}

// NewReducer plans the buckets for params (a model's trainable parameters,
// in the same order on every rank) and checks that every rank passes the
// same shapes. It keeps the handles, not the tensors: free them after the
// Reducer's last use.
func NewReducer(g *Group, params []op.Tensor, opt BucketOptions) (*Reducer, error) {
	if opt.First <= 0 {
		opt.First = FirstBucketBytes
	}
	if opt.Size <= 0 {
		opt.Size = BucketBytes
	}
	r := &Reducer{g: g}
	if len(params) == 0 {
		return r, nil
	}
	in, err := infos(params)
	if err != nil {
		return nil, err
	}
	if err := g.checkLayout("gradient reducer", in, in[0].device); err != nil {
		return nil, err
	}
	order := make([]int, len(params))
	for i := range order {
		order[i] = len(params) - 1 - i
	}
	r.perm, r.ends = plan(in, order, [2]int64{opt.First, opt.Size})
	r.params = make([]op.Tensor, len(r.perm))
	for i, j := range r.perm {
		r.params[i] = params[j]
	}
	return r, nil
}

// Buckets lists each bucket's parameters as indexes into the list given
// to NewReducer, in the order their all-reduces are issued.
func (r *Reducer) Buckets() [][]int {
	var out [][]int
	start := int64(0)
	for _, e := range r.ends {
		out = append(out, append([]int(nil), r.perm[start:e]...))
		start = e
	}
	return out
}

// AverageGrads replaces every parameter's gradient by its mean over the
// ranks (see Reducer). Call it on every rank after the backward pass and
// before the optimizer step.
func (r *Reducer) AverageGrads() error {
	if len(r.params) == 0 {
		return nil
	}
	return r.g.call("gradient allreduce", func() (int, string) { return lib.SslpipeDistReduceGrads(r.g.pg, r.params, r.ends) })
}

// gradPlan is AverageGradients' bucket assignment for one layout.
type gradPlan struct {
	fp   int64
	perm []int
	ends []int64
}

// AverageGradients replaces each gradient tensor by its mean over the
// ranks, in place (train.Collective): the gradients, the same dtypes and
// shapes in the same order on every rank, are taken in reverse order into
// DDP's buckets (FirstBucketBytes, then BucketBytes, per dtype and
// device); each bucket is flattened (a cat of views), divided by the world
// size, summed over the ranks with one all-reduce (the buckets' run
// concurrently) and copied back. The assignment is kept while the layout
// stays the same; a new layout is first checked across the ranks. For
// parameters that may lack a gradient on some ranks use a Reducer.
func (g *Group) AverageGradients(grads []op.Tensor) (err error) {
	if len(grads) == 0 {
		return nil
	}
	if g.err != nil {
		return g.err
	}
	in, err := infos(grads)
	if err != nil {
		return err
	}
	fp := fingerprint(in)
	if g.grads == nil || g.grads.fp != fp {
		if err := g.checkLayout("gradient average", in, in[0].device); err != nil {
			return err
		}
		order := make([]int, len(grads))
		for i := range order {
			order[i] = len(grads) - 1 - i
		}
		perm, ends := plan(in, order, [2]int64{FirstBucketBytes, BucketBytes})
		g.grads = &gradPlan{fp: fp, perm: perm, ends: ends}
	}
	p := g.grads
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var tp op.Tape
	defer tp.Drop()
	flats := make([]op.Tensor, len(p.ends))
	start := int64(0)
	for b, end := range p.ends {
		parts := make([]op.Tensor, 0, end-start)
		for _, i := range p.perm[start:end] {
			parts = append(parts, tp.Reshape(grads[i], -1))
		}
		flats[b] = tp.Cat(parts, 0)
		op.MulScalarInPlace(flats[b], 1/float64(g.world))
		start = end
	}
	if err := g.AllReduce(flats, Sum); err != nil {
		return err
	}
	start = 0
	for b, end := range p.ends {
		off := int64(0)
		for _, i := range p.perm[start:end] {
			op.CopyInPlace(grads[i], tp.Reshape(tp.Narrow(flats[b], 0, off, in[i].numel), in[i].shape...))
			off += in[i].numel
		}
		start = end
	}
	return nil
}

// SumFloat64 sums vals over the ranks, in place (train.Collective:
// metrics), in float64.
func (g *Group) SumFloat64(vals []float64) (err error) {
	if len(vals) == 0 {
		return nil
	}
	defer op.LockThread()()
	defer op.Catch(&err)
	dims := []int64{int64(len(vals))}
	c := lib.AtTensorOfData(unsafe.Pointer(&vals[0]), dims, 1, 8, int(gotch.Double.CKind()))
	op.Check()
	var tp op.Tape
	defer tp.Drop()
	x := tp.Own(c)
	if g.dev != gotch.CPU {
		x = tp.To(x, g.dev)
	}
	if err := g.AllReduce([]op.Tensor{x}, Sum); err != nil {
		return err
	}
	x = tp.Contiguous(tp.To(x, gotch.CPU))
	lib.AtCopyData(x, unsafe.Pointer(&vals[0]), uint(len(vals)), 8)
	op.Check()
	return nil
}
