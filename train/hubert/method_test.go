package hubert

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// tinyConfig is the smoke preset training on spec into out, logging
// every step, one worker and one thread.
func tinyConfig(t testing.TB, out, spec string) train.Config {
	t.Helper()
	c, err := train.PresetConfig("hubert", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	c.Out, c.Data.Spec = out, spec
	c.Data.Workers, c.Threads = 1, 1
	c.Log.Every, c.Checkpoint.Every = 1, 0
	return c
}

// metricsLines reads RUN/metrics.jsonl.
func metricsLines(t testing.TB, run string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// sameWeights asserts that two safetensors files hold bitwise equal
// tensors (their metadata name different run folders).
func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	ta, tb := readST(t, a), readST(t, b)
	if len(ta) == 0 || len(ta) != len(tb) {
		t.Fatalf("%d tensors vs %d", len(ta), len(tb))
	}
	for k, x := range ta {
		if !slices.Equal(x.F32, tb[k].F32) {
			t.Errorf("tensor %s differs between the resumed and the uninterrupted run", k)
		}
	}
}

// TestResumeIsExact trains 8 steps in one run and 4 + 4 with a resume
// through train.Run on preprocessed shards with k-means labels: every
// logged loss, accuracy, gradient norm and validation figure, and the
// final weights, must be bitwise equal (crops and masks are keyed by the
// samples, layer drop by the step, dropout by the core's reseeding).
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	ds := datatest.AudioShards(t, dir, 8, 1, 8)
	cfg := func(run string) train.Config {
		c := tinyConfig(t, filepath.Join(dir, run), ds)
		c.Schedule.Steps, c.Checkpoint.Every = 8, 3
		m := model(&c)
		m.Encoder.Layers, m.Encoder.Dropout, m.Encoder.LayerDrop = 2, 0.1, 0.3
		s := settings(&c)
		s.Valid, s.ValEvery, s.ValidCount = ds, 2, 3
		return c
	}
	ctx := context.Background()
	if _, err := train.Run(ctx, cfg("full"), train.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := train.Run(ctx, cfg("split"), train.RunOptions{StopAfter: 4})
	if err != nil || !first.Interrupted || first.Steps != 4 {
		t.Fatalf("first half: err %v, result %+v", err, first)
	}
	second, err := train.Run(ctx, cfg("split"), train.RunOptions{Resume: true})
	if err != nil || second.Start != 4 || second.Steps != 8 {
		t.Fatalf("resume: err %v, result %+v", err, second)
	}
	full, split := metricsLines(t, filepath.Join(dir, "full")), metricsLines(t, filepath.Join(dir, "split"))
	if len(full) != 8 || len(split) != 8 {
		t.Fatalf("%d and %d metrics lines, want 8", len(full), len(split))
	}
	vals := 0
	for i := range full {
		for _, k := range []string{"loss", "loss_m", "acc_m", "acc_u", "feature_pen", "grad_norm", "val_acc_m", "val_loss_m", "audio_s_per_s"} {
			a, ok := full[i][k]
			b := split[i][k]
			if k == "audio_s_per_s" {
				if !ok || !(a > 0) {
					t.Errorf("step %d: no audio throughput", i+1)
				}
				continue
			}
			if k == "val_acc_m" && ok {
				vals++
			}
			if !ok && (k == "val_acc_m" || k == "val_loss_m") {
				continue
			}
			if math.IsNaN(a) || math.IsNaN(b) || a != b {
				t.Errorf("step %d: %s %v in one run, %v after the resume", i+1, k, a, b)
			}
		}
	}
	if vals != 4 {
		t.Errorf("%d validation lines, want 4 (every 2 steps)", vals)
	}
	sameWeights(t, filepath.Join(dir, "full", "model.safetensors"), filepath.Join(dir, "split", "model.safetensors"))

	// A resume with another learning rate is refused.
	c := cfg("split")
	c.Optim.LR *= 2
	if _, err := train.Run(ctx, c, train.RunOptions{Resume: true}); !errors.Is(err, train.ErrBadCheckpoint) {
		t.Errorf("resume with a changed config: %v, want ErrBadCheckpoint", err)
	}
}

// TestTrainTinyMaskedAccuracyRises pretrains a tiny HuBERT on tone
// sequences whose labels are the tone at each frame (k = 8) and checks
// that the masked-frame accuracy on held-out utterances rises well above
// its first value and chance; then the run's encoder embeds utterances.
func TestTrainTinyMaskedAccuracyRises(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 40 steps")
	}
	dir := t.TempDir()
	trainSet := toneShards(t, filepath.Join(dir, "train"), 48, 16, 8, 16000, 1, nil)
	validSet := toneShards(t, filepath.Join(dir, "valid"), 8, 8, 8, 16000, 2, nil)
	c := tinyConfig(t, filepath.Join(dir, "run"), trainSet)
	m := model(&c)
	*m = smallModel(32, 64, 2)
	m.UnmaskedWeight, m.FinalDim, m.NumClasses = 1, 32, 8
	c.Data.Batch, c.Schedule.Steps, c.Schedule.WarmupSteps = 4, 40, 8
	c.Log.Every = 10
	s := settings(&c)
	s.MaxSamples, s.Valid, s.ValEvery, s.ValidCount = 16000, validSet, 10, 0
	res, err := train.Run(context.Background(), c, train.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines := metricsLines(t, c.Out)
	var first, last float64
	for i, l := range lines {
		v, ok := l["val_acc_m"]
		if !ok {
			t.Fatalf("step %v: no validation accuracy", l["step"])
		}
		t.Logf("step %3v loss %.3f train acc_m %.3f valid acc_m %.3f acc_u %.3f pen %.4f", l["step"], l["loss"], l["acc_m"], v, l["val_acc_u"], l["feature_pen"])
		if i == 0 {
			first = v
		}
		last = v
	}
	if chance := 1.0 / 8; !(last > first+0.15 && last > 3*chance) {
		t.Errorf("held-out masked accuracy went from %.3f to %.3f (chance %.3f): not learning", first, last, chance)
	}
	for _, p := range []string{"plots/accuracy.png", "plots/loss.png", "config.yaml", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(c.Out, p)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	// model.safetensors holds the checkpoint's weights under torchaudio's names.
	ck, _, err := train.ReadCheckpoint(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	w := readST(t, filepath.Join(c.Out, "model.safetensors"))
	for name, x := range w {
		if !slices.Equal(x.F32, ck["model."+name].F32) {
			t.Errorf("model.safetensors %s differs from the checkpoint", name)
		}
	}

	// The encoder for eval and embed: the last block by default, another
	// on request, and the seeded initial weights with Random.
	meth, _ := train.Lookup("hubert")
	saved, err := train.LoadConfig(filepath.Join(c.Out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	run := &train.RunInfo{Dir: c.Out, Config: saved}
	vd, err := data.Open(validSet, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer vd.Close()
	exs, err := vd.Collect(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	embed := func(o train.EncoderOptions) [][]float32 {
		e, err := meth.Encoder(run, o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		v, err := e.Embed(exs)
		if err != nil || len(v) != 3 || len(v[0]) != 64 || e.Dim() != 64 {
			t.Fatalf("embed %+v: %d vectors, %v", o, len(v), err)
		}
		return v
	}
	trained, layer1, random := embed(train.EncoderOptions{}), embed(train.EncoderOptions{Layer: 1}), embed(train.EncoderOptions{Random: true})
	if slices.Equal(trained[0], layer1[0]) || slices.Equal(trained[0], random[0]) {
		t.Error("block 1, block 2 and the random init give the same embedding")
	}
	init, err := NewModel(*model(&saved), saved.Seed, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer init.Free()
	want, err := Embed(init, [][]float32{exs[0].Wave}, 2, 0)
	if err != nil || !slices.Equal(want[0], random[0]) {
		t.Errorf("the random-init encoder is not the run's seeded initial model (%v)", err)
	}
	if _, err := meth.Encoder(run, train.EncoderOptions{Layer: 3}); err == nil {
		t.Error("layer 3 of a 2-block model accepted")
	}
}

// TestBadLabelsAreSampleErrors: a sample whose labels do not fit its
// audio, one with a label outside the dictionary and one without km.npy
// are skipped, each named in RUN/errors.jsonl; with max_errors 0 the
// first one stops the run (exit 4 in the CLI), and past max_errors 2 the
// third does.
func TestBadLabelsAreSampleErrors(t *testing.T) {
	dir := t.TempDir()
	spec := toneShards(t, dir, 10, 5, 8, 8000, 3, func(i int, w []float32, l []int32) ([]float32, []int32) {
		switch i {
		case 2:
			return w, l[:len(l)-8]
		case 5:
			l[3] = 8
		case 7:
			return w, nil
		}
		return w, l
	})
	cfg := func(run string, maxErrors int) train.Config {
		c := tinyConfig(t, filepath.Join(dir, run), spec)
		c.Schedule.Steps = 5 // one epoch: every sample is read
		c.Data.MaxErrors = maxErrors
		model(&c).NumClasses = 8
		return c
	}
	res, err := train.Run(context.Background(), cfg("skip", -1), train.RunOptions{})
	if err != nil || res.BadSamples != 3 || res.Steps != 5 {
		t.Fatalf("run with bad samples: err %v, result %+v", err, res)
	}
	b, err := os.ReadFile(filepath.Join(dir, "skip", "errors.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"000002": "labels made for other audio", "000005": "label 8 at frame 3 is outside the dictionary [0, 8)", "000007": "no frame labels"}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Key, Shard, Error string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		got[e.Key] = e.Error
		if !strings.Contains(e.Error, e.Key) || !strings.HasPrefix(e.Shard, "shard-") {
			t.Errorf("errors.jsonl line %s: the error does not name the sample and shard", line)
		}
	}
	for k, w := range want {
		if !strings.Contains(got[k], w) {
			t.Errorf("errors.jsonl for %s: %q, want %q", k, got[k], w)
		}
	}
	for _, c := range []struct {
		n    int
		name string
	}{{0, "none"}, {2, "two"}} {
		_, err := train.Run(context.Background(), cfg(c.name, c.n), train.RunOptions{})
		if !errors.Is(err, train.ErrTooManyBadSamples) {
			t.Errorf("max_errors %d: %v, want ErrTooManyBadSamples", c.n, err)
		}
	}
}

// TestResolveLabels: the dataset must carry 50 Hz frame labels, and their
// k becomes model.num_classes (with a note) so the dictionaries cannot
// differ; a held-out set of another k is refused.
func TestResolveLabels(t *testing.T) {
	dir := t.TempDir()
	withKM := datatest.AudioShards(t, dir, 6, 1, 8)
	raw := filepath.Join(dir, "raw-audio")
	noKM := datatest.Preprocess(t, raw, filepath.Join(dir, "nokm"), preprocess.Options{Modality: preprocess.Audio})
	km100 := datatest.Preprocess(t, raw, filepath.Join(dir, "km100"), preprocess.Options{Modality: preprocess.Audio, Features: "mfcc", KMeans: 4, KMeansFraction: 1, LabelRate: 100})
	km4 := datatest.Preprocess(t, raw, filepath.Join(dir, "km4"), preprocess.Options{Modality: preprocess.Audio, Features: "mfcc", KMeans: 4, KMeansFraction: 1})
	resolveOn := func(spec string, edit func(*train.Config)) (train.Config, error) {
		c := tinyConfig(t, filepath.Join(dir, "run"), spec)
		if edit != nil {
			edit(&c)
		}
		d, err := train.OpenData(&c)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		return c, train.ResolveConfig(&c, d)
	}
	c, err := resolveOn(withKM, nil)
	if err != nil || model(&c).NumClasses != 8 || !strings.Contains(settings(&c).resolved, "num_classes set to 8") {
		t.Errorf("k from the dataset: num_classes %d, note %q, %v", model(&c).NumClasses, settings(&c).resolved, err)
	}
	if _, err := resolveOn(noKM, nil); !errors.Is(err, train.ErrConfig) || !strings.Contains(err.Error(), "--kmeans 100") {
		t.Errorf("data without labels: %v", err)
	}
	if _, err := resolveOn(km100, nil); !errors.Is(err, train.ErrConfig) || !strings.Contains(err.Error(), "100 Hz") {
		t.Errorf("100 Hz labels: %v", err)
	}
	// A held-out set labelled with another codebook (k = 4).
	c, err = resolveOn(withKM, func(c *train.Config) { settings(c).Valid = km4 })
	if err != nil {
		t.Fatal(err)
	}
	_, err = train.Run(context.Background(), c, train.RunOptions{})
	if !errors.Is(err, train.ErrConfig) || !strings.Contains(err.Error(), "k = 4") {
		t.Errorf("hubert.valid with other labels: %v", err)
	}
}
