package data2vec

import "testing"

// BenchmarkTextStep times one full CPU training step (student forward and
// backward, teacher forward, AdamW, EMA) of the text-cpu model at batch
// 16 x 32 tokens, vocabulary 4,000, one thread; reports tokens/s.
func BenchmarkTextStep(b *testing.B) {
	c, err := BenchPreset("text-cpu", 4000)
	if err != nil {
		b.Fatal(err)
	}
	c.Device, c.Threads = "cpu", 1
	b.ReportAllocs()
	res, err := BenchStep(c, 2, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.TokensPerSec, "tokens/s")
	b.ReportMetric(res.MSPerStep, "ms/step")
}
