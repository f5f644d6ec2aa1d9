// Package datatest makes tiny datasets for tests: raw folders of images,
// WAVs and text, and the same turned into `sslpipe preprocess` shards by
// preprocess.Run, so that every method can be trained end to end on the
// product's data path in a few seconds.
package datatest

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/speechdata"
)

// ImageFolder writes n gray 28x28 PNGs of shapes in classes sub-folders
// (class c: a bar at an angle, plus noise) under dir/raw and returns it.
func ImageFolder(t testing.TB, dir string, n, classes int) string {
	t.Helper()
	root := filepath.Join(dir, "raw-images")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		c := i % classes
		sub := filepath.Join(root, fmt.Sprintf("class%d", c))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		img := image.NewGray(image.Rect(0, 0, 28, 28))
		ang := math.Pi * float64(c) / float64(classes)
		for y := 0; y < 28; y++ {
			for x := 0; x < 28; x++ {
				dx, dy := float64(x)-13.5, float64(y)-13.5
				d := math.Abs(-math.Sin(ang)*dx + math.Cos(ang)*dy)
				v := 30 + 20*rng.Float64()
				if d < 3 && dx*dx+dy*dy < 120 {
					v = 200 + 40*rng.Float64()
				}
				img.SetGray(x, y, color.Gray{uint8(v)})
			}
		}
		f, err := os.Create(filepath.Join(sub, fmt.Sprintf("%04d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return root
}

// Preprocess runs `sslpipe preprocess` (preprocess.Run) on in into
// dir/name with the given options' modality-specific fields and returns
// the output folder.
func Preprocess(t testing.TB, in, out string, o preprocess.Options) string {
	t.Helper()
	o.In, o.Out = in, out
	o.MaxErrors = -1
	if o.Workers == 0 {
		o.Workers = 2
	}
	if _, err := preprocess.Run(context.Background(), o); err != nil {
		t.Fatalf("preprocess %s: %v", in, err)
	}
	return out
}

// ImageShards is ImageFolder preprocessed to PNG shards with labels.
func ImageShards(t testing.TB, dir string, n, classes int) string {
	t.Helper()
	raw := ImageFolder(t, dir, n, classes)
	return Preprocess(t, raw, filepath.Join(dir, "images"), preprocess.Options{Modality: preprocess.Image, Format: "png", LabelsFromDirs: true, ShardSize: max(n/3, 1)})
}

// AudioFolder writes n 16 kHz WAVs of tone sequences (each tone 0.2-0.4
// s, one of 8 pitches) of seconds each, in class folders by their first
// tone, under dir/raw-audio.
func AudioFolder(t testing.TB, dir string, n int, seconds float64) string {
	t.Helper()
	root := filepath.Join(dir, "raw-audio")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < n; i++ {
		samples := int(seconds * 16000)
		w := make([]float32, samples)
		first := -1
		for pos := 0; pos < samples; {
			id := rng.IntN(8)
			if first < 0 {
				first = id % 2
			}
			l := (20 + rng.IntN(20)) * 160
			f := 200 * math.Pow(1.4, float64(id))
			for j := 0; j < l && pos+j < samples; j++ {
				w[pos+j] = float32(0.3*math.Sin(2*math.Pi*f*float64(pos+j)/16000) + 0.01*rng.NormFloat64())
			}
			pos += l
		}
		sub := filepath.Join(root, fmt.Sprintf("class%d", first))
		os.MkdirAll(sub, 0o755)
		if err := speechdata.WriteWAV16(filepath.Join(sub, fmt.Sprintf("%04d.wav", i)), w, 16000); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// AudioShards is AudioFolder preprocessed with MFCC + deltas and k-means
// labels (k clusters) at 50 Hz, with class labels.
func AudioShards(t testing.TB, dir string, n int, seconds float64, k int) string {
	t.Helper()
	raw := AudioFolder(t, dir, n, seconds)
	return Preprocess(t, raw, filepath.Join(dir, "audio"), preprocess.Options{Modality: preprocess.Audio, Features: "mfcc", Deltas: true,
		KMeans: k, KMeansFraction: 1, LabelsFromDirs: true, ShardSize: max(n/2, 1), Seed: 1})
}

// TextFolder writes a text corpus of n lines (sentences over a small
// vocabulary, two topics) to dir/raw-text/corpus.txt and returns the
// folder.
func TextFolder(t testing.TB, dir string, n int) string {
	t.Helper()
	root := filepath.Join(dir, "raw-text")
	os.MkdirAll(root, 0o755)
	words := [][]string{
		{"the", "cat", "sat", "on", "a", "mat", "and", "purred", "softly", "near", "warm", "fire"},
		{"stocks", "rose", "as", "markets", "rallied", "on", "strong", "earnings", "and", "low", "rates", "today"},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	for i := 0; i < n; i++ {
		ws := words[i%2]
		k := 8 + rng.IntN(12)
		for j := 0; j < k; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(ws[rng.IntN(len(ws))])
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(root, "corpus.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// TextShards is TextFolder preprocessed with a WordPiece tokenizer trained
// on it (vocab tokens) into sequences of seqLen tokens.
func TextShards(t testing.TB, dir string, n, vocab, seqLen int) string {
	t.Helper()
	raw := TextFolder(t, dir, n)
	return Preprocess(t, raw, filepath.Join(dir, "text"), preprocess.Options{Modality: preprocess.Text, TrainTokenizer: "wordpiece", Vocab: vocab, SeqLen: seqLen})
}
