package hubert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train/data"
)

// toneWithIDs is a sequence of pure tones (300 to 600 ms each, one of k
// pitches) and, for every CNN frame of mc (frame i covers samples [320i,
// 320i+400)), the id of the tone at the frame's centre.
func toneWithIDs(rng *rand.Rand, samples, k int, mc ModelConfig) ([]float32, []int32) {
	w := make([]float32, samples)
	owner := make([]int32, samples)
	for pos := 0; pos < samples; {
		id := rng.IntN(k)
		n := (30 + rng.IntN(30)) * 160
		f := 200 * math.Pow(1.4, float64(id))
		for i := 0; i < n && pos+i < samples; i++ {
			w[pos+i] = float32(0.3 * math.Sin(2*math.Pi*f*float64(pos+i)/SampleRate))
			owner[pos+i] = int32(id)
		}
		pos += n
	}
	stride, rf := mc.CNN.Stack().Stride(), mc.CNN.ReceptiveField()
	labs := make([]int32, mc.CNN.Frames(samples))
	for i := range labs {
		labs[i] = owner[i*stride+rf/2]
	}
	return w, labs
}

func npyBytes(t testing.TB, a *npy.Array) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := npy.Write(&b, a); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// toneShards writes n tone utterances of samples each, with their exact
// tone-id labels (k classes, one per CNN frame) as km.npy members, in
// shards of per samples under dir, and returns the shards' glob. edit,
// when set, may change sample i's members (nil labels: no km.npy; a nil
// wave: an unreadable wav.npy).
func toneShards(t testing.TB, dir string, n, per, k, samples int, seed uint64, edit func(i int, w []float32, l []int32) ([]float32, []int32)) string {
	t.Helper()
	mc := baseModel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	var sw *preprocess.ShardWriter
	for i := 0; i < n; i++ {
		if i%per == 0 {
			if sw != nil {
				if _, _, err := sw.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			if sw, err = preprocess.NewShardWriter(filepath.Join(dir, preprocess.ShardName(i/per))); err != nil {
				t.Fatal(err)
			}
		}
		w, l := toneWithIDs(rng, samples, k, mc)
		if edit != nil {
			w, l = edit(i, w, l)
		}
		fields := []preprocess.Field{{Name: "wav.npy", Data: []byte("not an npy array")}}
		if w != nil {
			fields[0].Data = npyBytes(t, &npy.Array{DType: npy.Float32, Shape: []int{len(w)}, F32: w})
		}
		if l != nil {
			fields = append(fields, preprocess.Field{Name: "km.npy", Data: npyBytes(t, &npy.Array{DType: npy.Int32, Shape: []int{len(l)}, I32: l})})
		}
		if err := sw.Add(fmt.Sprintf("%06d", i), fields...); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := sw.Commit(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "shard-*.tar")
}

func TestCollateMasking(t *testing.T) {
	mc := baseModel()
	mc.CNN.Channels = []int64{8, 8, 8, 8, 8, 8, 8}
	rng := rand.New(rand.NewPCG(1, 1))
	var utts []Utterance
	for i := 0; i < 8; i++ {
		n := 16000 * (2 + i%3)
		w := make([]float32, n)
		for j := range w {
			w[j] = float32(rng.NormFloat64())
		}
		u, err := Check(data.Example{Key: fmt.Sprint(i), Wave: w, Rate: SampleRate, Labels: make([]int32, mc.CNN.Frames(n))}, mc)
		if err != nil {
			t.Fatal(err)
		}
		utts = append(utts, u)
	}
	streams := func(step uint64, n int) []*rand.Rand {
		r := make([]*rand.Rand, n)
		for i := range r {
			r[i] = pipeline.SampleRand(3, 0, step<<8|uint64(i), viewCrop)
		}
		return r
	}
	var fracSum float64
	draws := 0
	for step := uint64(0); step < 200; step++ {
		b, err := Collate(utts, streams(step, len(utts)), 48000, mc)
		if err != nil {
			t.Fatal(err)
		}
		T := mc.CNN.Frames(b.L)
		// The shortest utterance (2 s) has 99 labelled frames: 320·98 + 400 samples.
		if b.L != 31760 || T != 99 || len(b.Labels) != 8*T || len(b.Wave) != 8*b.L {
			t.Fatalf("crop %d samples (%d frames), want the shortest utterance's 31760 (99)", b.L, T)
		}
		count := -1
		for r := 0; r < b.B; r++ {
			n := 0
			for _, m := range b.Mask[r*T : (r+1)*T] {
				if m {
					n++
				}
			}
			if count >= 0 && n != count {
				t.Fatalf("step %d: row %d has %d masked frames, row 0 %d: require_same_masks", step, r, n, count)
			}
			count = n
			// int(0.8*99/10 + U) = 7 or 8 spans of 10, overlapping: at most 80 frames.
			if n > 80 || n < 10 {
				t.Fatalf("step %d: %d masked frames of %d", step, n, T)
			}
			fracSum += float64(n) / float64(T)
			draws++
		}
	}
	// Fairseq's expectation for these settings: 7.9 spans of 10 placed
	// uniformly without replacement on 89 starts cover ~57% of 99 frames
	// before thinning to the batch minimum.
	frac := fracSum / float64(draws)
	t.Logf("mean masked fraction %.3f", frac)
	if frac < 0.40 || frac > 0.62 {
		t.Errorf("mean masked fraction %.3f outside [0.40, 0.62]", frac)
	}
	// Without thinning (a batch of one) every masked run is >= 10 frames,
	// and the crop follows the labels: the offset is frame-aligned.
	for step := uint64(0); step < 100; step++ {
		u := utts[2]
		for i := range u.Labels {
			u.Labels[i] = int32(i % 1000)
		}
		b, err := Collate([]Utterance{u}, streams(step, 1), 16000, mc)
		if err != nil {
			t.Fatal(err)
		}
		j := int(b.Labels[0])
		if !reflect.DeepEqual(b.Wave[:10], u.Wave[j*320:j*320+10]) {
			t.Fatalf("step %d: crop does not start at frame %d's samples", step, j)
		}
		run := 0
		for i, m := range append(b.Mask, false) {
			if m {
				run++
				continue
			}
			if run > 0 && run < 10 {
				t.Fatalf("step %d: masked run of %d frames ending at %d, want >= 10", step, run, i)
			}
			run = 0
		}
	}
}

// TestCheck: each bad example is an ErrData naming the sample; labels
// within the tolerance are trimmed to the frames.
func TestCheck(t *testing.T) {
	mc := baseModel()
	mc.NumClasses = 8
	const n = 16000 // 49 frames
	labels := func(m int) []int32 { return make([]int32, m) }
	wave := make([]float32, n)
	cases := []struct {
		name    string
		ex      data.Example
		want    string // "" ok
		frames  int
		samples int
	}{
		{"exact", data.Example{Wave: wave, Rate: SampleRate, Labels: labels(49)}, "", 49, 320*48 + 400},
		{"5 extra labels", data.Example{Wave: wave, Rate: SampleRate, Labels: labels(54)}, "", 49, 320*48 + 400},
		{"5 labels short", data.Example{Wave: wave, Rate: SampleRate, Labels: labels(44)}, "", 44, 320*43 + 400},
		{"6 extra labels", data.Example{Wave: wave, Rate: SampleRate, Labels: labels(55)}, "55 labels at 50 Hz", 0, 0},
		{"6 labels short", data.Example{Wave: wave, Rate: SampleRate, Labels: labels(43)}, "make 49 CNN frames (tolerance 5 frames", 0, 0},
		{"100 Hz labels", data.Example{Wave: wave, Rate: SampleRate, Labels: labels(98)}, "98 labels", 0, 0},
		{"no km", data.Example{Wave: wave, Rate: SampleRate}, "no frame labels", 0, 0},
		{"label = k", data.Example{Wave: wave, Rate: SampleRate, Labels: append(append(labels(30), 8), labels(18)...)}, "label 8 at frame 30 is outside the dictionary [0, 8)", 0, 0},
		{"negative label", data.Example{Wave: wave, Rate: SampleRate, Labels: append(labels(48), -1)}, "label -1 at frame 48", 0, 0},
		{"8 kHz", data.Example{Wave: wave, Rate: 8000, Labels: labels(49)}, "8000 Hz", 0, 0},
		{"shorter than the receptive field", data.Example{Wave: wave[:399], Rate: SampleRate, Labels: labels(0)}, "399 samples", 0, 0},
	}
	for i, c := range cases {
		c.ex.Key = fmt.Sprintf("utt-%d", i)
		u, err := Check(c.ex, mc)
		if c.want == "" {
			if err != nil || len(u.Labels) != c.frames || len(u.Wave) != c.samples || mc.CNN.Frames(len(u.Wave)) != c.frames {
				t.Errorf("%s: %d labels, %d samples, %v; want %d frames of %d samples", c.name, len(u.Labels), len(u.Wave), err, c.frames, c.samples)
			}
			continue
		}
		if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.ex.Key) {
			t.Errorf("%s: %v; want ErrData naming %s and %q", c.name, err, c.ex.Key, c.want)
		}
	}
}

// TestBatchesIndependentOfWorkers: the batches (crops, masks) are a
// function of the samples, not of the worker count or of where the
// stream was resumed.
func TestBatchesIndependentOfWorkers(t *testing.T) {
	dir := t.TempDir()
	mc := baseModel()
	mc.NumClasses = 8
	ds, err := data.Open(toneShards(t, dir, 12, 5, 8, 16000, 1, func(i int, w []float32, l []int32) ([]float32, []int32) {
		return w[:8000+600*i], l[:mc.CNN.Frames(8000+600*i)] // lengths differ: crops depend on the batch
	}), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	run := func(workers int, resume *pipeline.State, n int) (out []*Batch, st pipeline.State) {
		s := batches(ds.Stream(pipeline.Order{Seed: 9, Shuffle: true, Epochs: -1}), mc, 9000, 3, workers)
		it, err := pipeline.Start(context.Background(), s, pipeline.RunOptions{Resume: resume})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		for range n {
			b, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b.Value.(*Batch))
			st = it.State()
		}
		return out, st
	}
	one, _ := run(1, nil, 10)
	three, _ := run(3, nil, 10)
	head, st := run(2, nil, 6)
	tail, _ := run(3, &st, 4)
	if !reflect.DeepEqual(one, three) || !reflect.DeepEqual(one, append(head, tail...)) {
		t.Fatal("batches differ between worker counts or after a resume")
	}
	distinct := map[int]bool{}
	for _, b := range one {
		distinct[b.L] = true
		if b.B != 3 || len(b.Mask) != 3*mc.CNN.Frames(b.L) {
			t.Fatalf("batch %d x %d with %d mask entries", b.B, b.L, len(b.Mask))
		}
	}
	if len(distinct) < 3 {
		t.Errorf("crop lengths %v: want batches cropped to their own shortest utterance", distinct)
	}
}
