package preprocess

import (
	"context"
	"fmt"
	"math"
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

// BenchmarkAudio reports audio seconds processed per second (decode,
// resample 22.05 -> 16 kHz, int16 .npy, optional MFCC + deltas) with one
// worker, on synthetic 10 s chirps.
func BenchmarkAudio(b *testing.B) {
	dir := b.TempDir()
	const files, secs = 8, 10
	for i := 0; i < files; i++ {
		x := make([]float64, 22050*secs)
		for j := range x {
			tt := float64(j) / 22050
			x[j] = 0.5 * math.Sin(2*math.Pi*(200+50*float64(i))*tt*(1+tt))
		}
		writeFile(b, filepath.Join(dir, fmt.Sprintf("u%d.wav", i)), wavPCM16(22050, 1, x))
	}
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"wave", Options{}},
		{"mfcc-deltas", Options{Features: "mfcc", Deltas: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				o := c.o
				o.Modality, o.In, o.Out, o.ShardSize, o.MaxErrors, o.Workers = Audio, dir, b.TempDir(), 4, -1, 1
				if _, err := Run(context.Background(), o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(files*secs*b.N)/b.Elapsed().Seconds(), "audio-s/s")
		})
	}
}

// BenchmarkText reports MB of text and tokens per second (listing pass,
// tokenize with a given WordPiece tokenizer, pack 128, write) with one
// worker, on the text package's fortunes tokenizer and generated lines.
func BenchmarkText(b *testing.B) {
	dir, _ := textCorpus(b, 20000)
	tok, err := filepath.Abs("../text/testdata/wordpiece-fortunes.json")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(tok); err != nil {
		b.Skip("text testdata tokenizer missing")
	}
	var bytesIn, tokens int64
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sum, err := Run(context.Background(), Options{Modality: Text, In: dir, Out: b.TempDir(), Tokenizer: tok, SeqLen: 128, ShardSize: 5000, MaxErrors: -1, Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		bytesIn += sum.TextBytes
		tokens += sum.Tokens
	}
	b.ReportMetric(float64(bytesIn)/1e6/b.Elapsed().Seconds(), "MB/s")
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}
