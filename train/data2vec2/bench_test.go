package data2vec2

import (
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// BenchmarkStep times one training step (teacher pass, student on the
// masked clones, decoder, backward, AdamW, EMA) of each modality's CPU
// preset on random inputs of the preset's batch, and reports samples/s
// (teacher samples; the student sees CloneBatch copies of each). Time it
// on an idle machine only:
//
//	go test ./train/data2vec2/ -run '^$' -bench Step -benchtime 20x
func BenchmarkStep(b *testing.B) {
	for _, mod := range Modalities {
		b.Run(mod, func(b *testing.B) {
			// Each sub-benchmark runs on its own goroutine: pin it (the
			// no-grad flag and libtorch's errors are per OS thread).
			defer op.LockThread()()
			c := presetFor(b, mod, mod+"-cpu")
			train.SetNumThreads(c.Threads)
			m, err := NewModel(mod, *model(&c), 1, gotch.CPU)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Free()
			o, err := NewOptimizer(m, c.Optim)
			if err != nil {
				b.Fatal(err)
			}
			defer o.Free()
			batch := toyBatch(b, m, c.Data.Batch, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := o.Step(batch, c.LRAt(int64(i)), nil); err != nil {
					b.Fatal(err)
				}
				if err := m.UpdateTeacher(settings(&c).EMA.At(int64(i), c.Schedule.Steps)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.Data.Batch)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
