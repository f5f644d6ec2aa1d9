package data2vec

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

// firstBatches streams the first n batches of the smoke preset of
// modality on spec with the given data workers.
func firstBatches(t *testing.T, modality, spec string, workers, n int) []*Batch {
	t.Helper()
	c, err := train.PresetConfig("data2vec", "smoke-"+modality)
	if err != nil {
		t.Fatal(err)
	}
	c.Data.Spec = spec
	ds, err := data.Open(spec, data.Options{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if err := train.ResolveConfig(&c, ds); err != nil {
		t.Fatal(err)
	}
	b, err := newBatcher(modality, *model(&c), *settings(&c), ds.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	st := b.batches(ds.Stream(pipeline.Order{Seed: 7, Shuffle: true, Epochs: -1}), 4, workers)
	var out []*Batch
	for s, err := range pipeline.All(context.Background(), st, pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Value.(*Batch))
		if len(out) == n {
			break
		}
	}
	return out
}

// TestBatchesIndependentOfWorkers: the batches (inputs, crops and masks)
// are the same with 1 and 3 data workers, and images and audio read from
// their raw folders give the same batches as their preprocessed shards.
func TestBatchesIndependentOfWorkers(t *testing.T) {
	for _, modality := range []string{data.Image, data.Text, data.Audio} {
		spec := shards(t, modality)
		a := firstBatches(t, modality, spec, 1, 5)
		b := firstBatches(t, modality, spec, 3, 5)
		if len(a) != 5 || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: batches differ between 1 and 3 workers", modality)
		}
		masked := 0
		for _, v := range a[0].Mask {
			if v {
				masked++
			}
		}
		if masked == 0 || masked == len(a[0].Mask) {
			t.Errorf("%s: %d of %d positions masked", modality, masked, len(a[0].Mask))
		}
		if modality == data.Text {
			continue
		}
		raw := shardRoot + "/" + modality + "/raw-" + map[string]string{data.Image: "images", data.Audio: "audio"}[modality]
		if r := firstBatches(t, modality, raw, 2, 5); !reflect.DeepEqual(a, r) {
			t.Errorf("%s: the raw folder's batches differ from its shards'", modality)
		}
	}
}

// TestTextBatchCrop: sequences longer than the batch's shortest (or than
// SeqLen) are cut to a window at a random offset; ids stay in order.
func TestTextBatchCrop(t *testing.T) {
	mk, err := newMasker(100, 4, []int32{0, 1, 2, 3, 4}, MaskConfig{Kind: "span", Prob: 0.35, Length: 4})
	if err != nil {
		t.Fatal(err)
	}
	b := &batcher{modality: data.Text, m: ModelConfig{SeqLen: 12, Mask: MaskConfig{Kind: "span", Prob: 0.35, Length: 4}}, masker: mk}
	seq := func(n, start int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(start + i)
		}
		return s
	}
	items := []pipeline.Sample[[]int32]{
		{Value: seq(40, 5), Index: 0, Seed: 1},
		{Value: seq(9, 50), Index: 1, Seed: 1},
		{Value: seq(12, 60), Index: 2, Seed: 1},
	}
	out, err := b.textBatch(items)
	if err != nil {
		t.Fatal(err)
	}
	if out.B != 3 || out.T != 9 || len(out.IDs) != 27 || len(out.Input) != 27 || len(out.Mask) != 27 {
		t.Fatalf("batch %d x %d with %d ids", out.B, out.T, len(out.IDs))
	}
	for i := 0; i < 3; i++ {
		row := out.IDs[i*9 : (i+1)*9]
		for j := 1; j < 9; j++ {
			if row[j] != row[j-1]+1 {
				t.Fatalf("row %d is not a window: %v", i, row)
			}
		}
	}
	if out.IDs[9] != 50 {
		t.Errorf("the shortest sequence was cut: %v", out.IDs[9:18])
	}
	again, _ := b.textBatch(items)
	if !reflect.DeepEqual(out, again) {
		t.Error("the same samples gave another batch")
	}
}

// TestMaskStatistics checks the masked fraction of each modality's
// masking over many draws.
func TestMaskStatistics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// text: a synthetic tokenizer-free masker (ids 0-4 special, 4 = [MASK]).
	for _, c := range []struct {
		mask   MaskConfig
		lo, hi float64
	}{
		// span 0.35 x 4 with overlapping spans: a little under 0.35
		{MaskConfig{Kind: "span", Prob: 0.35, Length: 4}, 0.28, 0.35},
		{MaskConfig{Kind: "bert", Prob: 0.15}, 0.14, 0.16},
	} {
		mk, err := newMasker(100, 4, []int32{0, 1, 2, 3, 4}, c.mask)
		if err != nil {
			t.Fatal(err)
		}
		var masked, total, asMask int
		ids := make([]int32, 128)
		for i := range ids {
			ids[i] = int32(5 + i%90)
		}
		for range 2000 {
			in, m := maskTokens(mk, c.mask.Kind, ids, r)
			for i, v := range m {
				total++
				if v {
					masked++
					if in[i] == 4 {
						asMask++
					}
				} else if in[i] != int64(ids[i]) {
					t.Fatalf("unmasked position %d changed", i)
				}
			}
		}
		f, fm := float64(masked)/float64(total), float64(asMask)/float64(masked)
		t.Logf("text %s: masked fraction %.4f, of which [MASK] %.3f", c.mask.Kind, f, fm)
		if f < c.lo || f > c.hi || fm < 0.78 || fm > 0.82 {
			t.Errorf("text %s: masked %.4f (want [%v, %v]), [MASK] share %.3f (want 0.8)", c.mask.Kind, f, c.lo, c.hi, fm)
		}
	}
	// image: block-wise masks on the 7x7 (CPU preset) and 14x14 (base) grids.
	for _, g := range []struct{ size, patch, minP int }{{28, 4, 4}, {224, 16, 16}} {
		cfg := ModelConfig{ImageSize: g.size, Patch: g.patch, Channels: 1, Mask: MaskConfig{Kind: "block", Prob: 0.6, MinPatches: g.minP}}
		n := g.size / g.patch
		var masked, total int
		for range 2000 {
			m := cfg.maskSpec().Generate(r)
			masked += m.Count()
			total += n * n
		}
		f := float64(masked) / float64(total)
		t.Logf("image %dx%d grid: masked fraction %.4f", n, n, f)
		if f < 0.5 || f > 0.62 {
			t.Errorf("image %dx%d: masked fraction %.4f, want ~0.6", n, n, f)
		}
	}
	// audio: span masks 0.65 x 10 on 5 s (249 frames) and 1 s (49 frames),
	// every row of a batch the same count.
	base, _ := train.PresetConfig("data2vec", "audio-base")
	b := &batcher{modality: data.Audio, m: *model(&base)}
	b.m.MaxSamples = 80000
	for _, c := range []struct{ L, n int }{{80000, 150}, {16000, 500}} {
		L := c.L
		waves := make([][]float32, 4)
		for i := range waves {
			waves[i] = make([]float32, L+i*100)
		}
		var masked, total int
		for k := range c.n {
			var items []pipeline.Sample[[]float32]
			for i, w := range waves {
				items = append(items, pipeline.Sample[[]float32]{Value: w, Index: 4*k + i, Seed: 3})
			}
			out, err := b.audioBatch(items)
			if err != nil {
				t.Fatal(err)
			}
			if out.L != L || out.T != b.m.CNN.Frames(L) {
				t.Fatalf("batch cut to %d samples, %d frames; want %d", out.L, out.T, L)
			}
			row := -1
			for i := 0; i < out.B; i++ {
				n := 0
				for _, v := range out.Mask[i*out.T : (i+1)*out.T] {
					if v {
						n++
					}
				}
				if row >= 0 && n != row {
					t.Fatalf("rows masked %d and %d frames (require_same_masks)", row, n)
				}
				row = n
				masked += n
			}
			total += out.B * out.T
		}
		f := float64(masked) / float64(total)
		t.Logf("audio %d frames: masked fraction %.4f", b.m.CNN.Frames(L), f)
		if f < 0.4 || f > 0.65 {
			t.Errorf("audio %d samples: masked fraction %.4f", L, f)
		}
	}
}

// textModel is a random smoke-text model with a vocabulary of 60 and
// 8-token windows.
func textModel(t *testing.T) (*Model, train.Config) {
	t.Helper()
	c, err := train.PresetConfig("data2vec", "smoke-text")
	if err != nil {
		t.Fatal(err)
	}
	mc := model(&c)
	mc.Vocab, mc.SeqLen = 60, 8
	m, err := NewModel(data.Text, *mc, 3, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

// TestEncoderWindows: a text longer than SeqLen is pooled over all its
// tokens: the token-count weighted mean of its windows' means, each window
// encoded on its own; batching texts together changes nothing; the
// layers map as documented.
func TestEncoderWindows(t *testing.T) {
	defer op.LockThread()()
	m, c := textModel(t)
	defer m.Free()
	long := data.Example{Key: "long"}
	for i := range 27 { // windows of 8, 8, 8 and 3 tokens
		long.Tokens = append(long.Tokens, int32(5+(7*i)%50))
	}
	short := data.Example{Key: "short", Tokens: []int32{2, 9, 11, 3}}
	for _, layer := range []int{0, -1, 1, 2} {
		e, err := newEncoder(m, &c, train.EncoderOptions{Layer: layer}, true)
		if err != nil {
			t.Fatal(err)
		}
		both, err := e.Embed([]data.Example{long, short})
		if err != nil {
			t.Fatal(err)
		}
		alone, err := e.Embed([]data.Example{long})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, e.Dim())
		for s := 0; s < len(long.Tokens); s += 8 {
			w := long.Tokens[s:min(s+8, len(long.Tokens))]
			b := &Batch{B: 1, T: len(w)}
			for _, id := range w {
				b.IDs = append(b.IDs, int64(id))
			}
			f, err := e.pooled(b)
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range f[0] {
				want[j] += float64(v) * float64(len(w)) / float64(len(long.Tokens))
			}
		}
		for j := range want {
			if d := math.Abs(want[j] - float64(both[0][j])); d > 1e-5 {
				t.Fatalf("layer %d dim %d: whole-text feature %v, windows' weighted mean %v", layer, j, both[0][j], want[j])
			}
			if d := math.Abs(float64(alone[0][j] - both[0][j])); d > 1e-6 {
				t.Fatalf("layer %d: batching changed the feature by %v", layer, d)
			}
		}
	}
	for _, c2 := range []struct {
		o     train.EncoderOptions
		layer int
		ok    bool
	}{
		{train.EncoderOptions{}, -1, true},               // text default: the embeddings
		{train.EncoderOptions{Layer: 2}, 0, true},        // the last block: the encoder output
		{train.EncoderOptions{Layer: 1}, 1, true},        // block 1
		{train.EncoderOptions{Layer: 3}, 0, false},       // no block 3
		{train.EncoderOptions{Layer: -2}, 0, false},      // nothing before the embeddings
		{train.EncoderOptions{Network: "ema"}, 0, false}, // student or teacher
		{train.EncoderOptions{Network: "teacher"}, -1, true},
	} {
		e, err := newEncoder(m, &c, c2.o, true)
		if (err == nil) != c2.ok || err == nil && e.layer != c2.layer {
			t.Errorf("%+v: err %v, layer %v; want ok %v layer %d", c2.o, err, e, c2.ok, c2.layer)
		}
	}
	if _, err := (&encoder{m: m, batch: 4}).Embed([]data.Example{{Key: "x", Tokens: []int32{5, 60}}}); err == nil {
		t.Error("a token id outside the vocabulary was embedded")
	}
}
