package preprocess

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchImages writes n photo-like 500x375 JPEGs once per benchmark.
func benchImages(b *testing.B, n int) (string, int64) {
	dir := b.TempDir()
	r := newRand(9)
	var total int64
	for i := 0; i < n; i++ {
		data := encodeImage(b, genImage(r, 500, 375, false), false)
		total += int64(len(data))
		writeFile(b, filepath.Join(dir, fmt.Sprintf("c%d/i%03d.jpg", i%3, i)), data)
	}
	return dir, total
}

// BenchmarkImage reports images/s for decode + validate + (resize) +
// encode + shard write, with Workers 1 (per core) and GOMAXPROCS.
func BenchmarkImage(b *testing.B) {
	dir, _ := benchImages(b, 32)
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"jpeg-keep-size", Options{Format: "jpeg"}},
		{"jpeg-max-side-256", Options{MaxSide: 256}},
		{"png-max-side-256", Options{MaxSide: 256, Format: "png"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				o := c.o
				o.Modality, o.In, o.Out, o.ShardSize, o.MaxErrors, o.Workers = Image, dir, b.TempDir(), 16, -1, 1
				if _, err := Run(context.Background(), o); err != nil {
					b.Fatal(err)
				}
				os.RemoveAll(o.Out)
			}
			b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
