package preprocess

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/sslpipe/sslpipe/pipeline"
)

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// itemResult is what processing one image or audio input gives.
type itemResult struct {
	Fields  []Field
	Seconds float64 // audio seconds
	InBytes int64
	Err     error
}

// itemFunc processes one input's bytes into the fields of its sample. It
// runs on pipeline worker goroutines and must be safe for concurrent use.
type itemFunc func(ctx context.Context, in *input, data []byte) (itemResult, error)

// mediaShard writes the samples of the image or audio inputs of one shard,
// processing them on r.o.Workers goroutines in input order.
func mediaShard(ctx context.Context, r *runner, ins []input, job shardJob, fn itemFunc, w *shardWriter, rec *shardRecord) error {
	part := ins[job.First : job.First+job.N]
	src := pipeline.Slice(part)
	s := pipeline.From[input](src, pipeline.Order{})
	out := pipeline.Map(s, func(ctx context.Context, smp pipeline.Sample[input]) (itemResult, error) {
		in := smp.Value
		if testHookSample != nil {
			testHookSample(in.Index)
		}
		if in.Err != nil {
			return itemResult{Err: in.Err}, nil
		}
		data, err := in.read()
		if err != nil {
			return itemResult{Err: err}, nil
		}
		res, err := fn(ctx, &in, data)
		if err != nil {
			return itemResult{Err: err, InBytes: int64(len(data))}, nil
		}
		res.InBytes = int64(len(data))
		return res, nil
	}, pipeline.MapOptions{Name: r.o.Modality, Workers: r.o.Workers})

	var budgetErr error
	reject := func(in *input, err error) {
		r.done.Add(1)
		rec.Errors = append(rec.Errors, ErrorEntry{Input: in.Index, Path: in.Name, Kind: classify(err), Reason: err.Error()})
		if e := r.reject(1); e != nil && budgetErr == nil {
			budgetErr = e
		}
	}
	it, err := pipeline.Start(ctx, out, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true, OnError: func(se *pipeline.SampleError) {
		// Only panics reach here: the map function returns no errors.
		if se.Index >= 0 && se.Index < len(part) {
			err := se.Err
			if se.Panic {
				err = panicErr{fmt.Sprint(se.Err)}
			}
			reject(&part[se.Index], err)
		}
	}}})
	if err != nil {
		return err
	}
	defer it.Close()
	for budgetErr == nil {
		smp, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, pipeline.ErrTooManyErrors) {
				return fmt.Errorf("%w: %v", ErrTooManyErrors, err)
			}
			return err
		}
		in := &part[smp.Index]
		res := smp.Value
		r.sum.InputBytes += res.InBytes
		r.sum.ProcessedNow++
		if res.Err != nil {
			reject(in, res.Err)
			continue
		}
		fields := res.Fields
		if in.Class != "" {
			fields = append(fields, Field{Name: "cls", Data: []byte(in.Class)})
		}
		if err := w.Add(sampleOut{Key: sampleKey(in.Index), Fields: fields}); err != nil {
			return err
		}
		rec.Shard.Samples++
		r.done.Add(1)
		rec.Shard.AudioSeconds += res.Seconds
		r.sum.AudioSeconds += res.Seconds
		r.emitted.Add(1)
	}
	rec.Shard.AudioSeconds = roundSec(rec.Shard.AudioSeconds)
	return budgetErr
}

// sampleKey is the WebDataset key of input i.
func sampleKey(i int) string { return fmt.Sprintf("%06d", i) }

// mediaProducer is the producer of the image and audio modalities.
type mediaProducer struct {
	ins     []input
	digest  string
	fn      itemFunc
	flds    []string
	metaV   *Meta
	prepFn  func(ctx context.Context, r *runner) error
	labeled bool
}

func (m *mediaProducer) inputs() (int, string) { return len(m.ins), m.digest }
func (m *mediaProducer) fields() []string {
	f := append([]string(nil), m.flds...)
	if m.labeled {
		f = append(f, "cls")
	}
	return f
}
func (m *mediaProducer) meta() *Meta { return m.metaV }
func (m *mediaProducer) close()      {}
func (m *mediaProducer) prepare(ctx context.Context, r *runner) error {
	if m.prepFn != nil {
		return m.prepFn(ctx, r)
	}
	return nil
}
func (m *mediaProducer) shard(ctx context.Context, r *runner, job shardJob, w *shardWriter, rec *shardRecord) error {
	return mediaShard(ctx, r, m.ins, job, m.fn, w, rec)
}

// newMediaProducer lists the inputs and records classes on r.
func newMediaProducer(ctx context.Context, o *Options, r *runner, fn itemFunc, fields []string, meta *Meta) (*mediaProducer, error) {
	ins, classes, err := listInputs(ctx, o)
	if err != nil {
		return nil, err
	}
	r.classes = classes
	labeled := false
	for _, in := range ins {
		if in.Class != "" {
			labeled = true
			break
		}
	}
	return &mediaProducer{ins: ins, digest: inputsDigest(ins), fn: fn, flds: fields, metaV: meta, labeled: labeled}, nil
}
