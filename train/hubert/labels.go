package hubert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

// LabelOptions configure LayerLabels.
type LabelOptions struct {
	// Data is the audio dataset to label (a preprocess output folder or a
	// shard glob); Run the trained HuBERT run whose features are
	// clustered; Out the label set to write (must not exist).
	Data, Run, Out string
	// Layer is the transformer block whose output is clustered (1-based;
	// HuBERT base: 6).
	Layer int
	// K is the number of clusters (HuBERT's second iteration: 500).
	K int
	// Fraction of the utterances whose frames the k-means is fitted on
	// (each kept with this probability, keyed by the seed and its index,
	// like fairseq's learn_kmeans.py on a percentage of the data; 0 means
	// 1). At most MaxFrames frames are kept (reservoir sampled; 0: 2^20).
	Fraction  float64
	MaxFrames int
	Seed      uint64
	// Codebook, when set, is the kmeans.model of an earlier label set
	// made from the same run and layer, to assign with instead of fitting
	// one (the held-out set's labels in the training labels' dictionary);
	// K is then the codebook's.
	Codebook string
	// Device runs the model ("": cpu); Workers decode (0: GOMAXPROCS).
	Device  string
	Workers int
	// Progress receives a line per stage (nil: none).
	Progress io.Writer
}

// LabelsFile is the codebook a label set keeps beside its labels
// (audio.KMeans.Save format).
const LabelsFile = "kmeans.model"

// LayerLabels writes HuBERT's iteration-2 labels: mini-batch k-means
// (k-means++ init) fitted on the frames of transformer block o.Layer of
// the trained run o.Run over a fraction of the utterances of o.Data, then
// every utterance's frames assigned to their nearest centroid, written as
// a label set (data.LabelSet) in o.Out: labels.json, kmeans.model and one
// shard per data shard, of the same name, holding <key>.km.npy (int32 at
// 50 Hz) for each sample in the data's order, so that
// `sslpipe train --method hubert --data DATA --labels OUT` joins them by
// sample. The dataset is streamed twice (fit, then assign); only the
// sampled frames are held. A sample that cannot be read gets an empty
// label array (training skips it as a bad sample) and is counted. The
// folder appears under its name only when complete.
func LayerLabels(ctx context.Context, o LabelOptions) (*data.LabelSet, error) {
	defer op.LockThread()()
	start := time.Now()
	logf := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "hubert labels: "+format+"\n", a...)
		}
	}
	if o.Data == "" || o.Run == "" || o.Out == "" {
		return nil, fmt.Errorf("hubert: labels: the data, the run and the output folder are required")
	}
	if o.K < 2 && o.Codebook == "" {
		return nil, fmt.Errorf("hubert: labels: k %d must be >= 2", o.K)
	}
	if o.Fraction <= 0 || o.Fraction > 1 || math.IsNaN(o.Fraction) {
		o.Fraction = 1
	}
	if o.MaxFrames <= 0 {
		o.MaxFrames = 1 << 20
	}
	if _, err := os.Stat(o.Out); err == nil {
		return nil, fmt.Errorf("hubert: labels: %s exists; give a new folder", o.Out)
	}
	dev, err := train.ParseDevice(orCPU(o.Device))
	if err != nil {
		return nil, err
	}
	m, run, err := OpenRun(o.Run, dev)
	if err != nil {
		return nil, err
	}
	defer m.Free()
	if o.Layer < 1 || o.Layer > run.Model.Encoder.Layers {
		return nil, fmt.Errorf("hubert: labels: %s: layer %d outside [1, %d]", o.Run, o.Layer, run.Model.Encoder.Layers)
	}
	rate := run.Model.LabelRate()
	if rate != math.Trunc(rate) {
		return nil, fmt.Errorf("hubert: labels: %s: the CNN makes %g frames per second, not a whole number", o.Run, rate)
	}
	d, err := data.Open(o.Data, data.Options{Modality: data.Audio, Workers: o.Workers})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	abs, _ := filepath.Abs(o.Run)
	ftype := fmt.Sprintf("hubert:%s:layer%d", filepath.Base(abs), o.Layer)

	var km *audio.KMeans
	if o.Codebook != "" {
		if km, err = audio.LoadKMeans(o.Codebook); err != nil {
			return nil, err
		}
		if km.Meta.FeatureType != ftype || km.Centroids.Cols != int(run.Model.Encoder.Dim) {
			return nil, fmt.Errorf("hubert: labels: %s is a codebook for %q features of %d dims, not %q of %d", o.Codebook, km.Meta.FeatureType, km.Centroids.Cols, ftype, run.Model.Encoder.Dim)
		}
		o.K = km.Centroids.Rows
		logf("assigning with the codebook %s (k=%d)", o.Codebook, o.K)
	} else if km, err = fitLayerKMeans(ctx, m, d, o, ftype, rate, logf); err != nil {
		return nil, err
	}

	// Assign, into a temporary folder beside the output.
	parent := filepath.Dir(filepath.Clean(o.Out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("hubert: labels: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.Out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("hubert: labels: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := km.Save(filepath.Join(tmp, LabelsFile)); err != nil {
		return nil, err
	}
	w := &labelWriter{dir: tmp, seen: map[string]bool{}}
	defer w.abort()
	unreadable := 0
	policy := pipeline.ErrorPolicy{Skip: true, OnError: func(se *pipeline.SampleError) {
		if w.err == nil {
			unreadable++
			logf("sample %s (%s) unreadable, written with no labels: %v", se.Key, se.Origin, se.Err)
			w.add(se.Origin, se.Key, nil)
		}
	}}
	for s, err := range pipeline.All(ctx, d.Stream(pipeline.Order{Seed: o.Seed}), pipeline.RunOptions{Errors: policy}) {
		if err != nil {
			return nil, fmt.Errorf("hubert: labels: %w", err)
		}
		ex := s.Value
		var lab []int32
		if len(ex.Wave) >= run.Model.CNN.ReceptiveField() {
			f, err := LayerFrames(m, ex.Wave, o.Layer)
			if err != nil {
				return nil, err
			}
			if lab, err = km.Assign(f, nil); err != nil {
				return nil, err
			}
		}
		if w.add(ex.Origin, ex.Key, lab); w.err != nil {
			return nil, w.err
		}
	}
	if err := w.commit(); err != nil {
		return nil, err
	}
	if w.samples != d.Len() {
		return nil, fmt.Errorf("hubert: labels: wrote %d samples but %s has %d", w.samples, o.Data, d.Len())
	}
	ls := &data.LabelSet{K: o.K, LabelRate: int(rate), FeatureType: ftype, Data: o.Data, Samples: w.samples, Shards: w.shards}
	js, _ := json.MarshalIndent(ls, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "labels.json"), append(js, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("hubert: labels: %w", err)
	}
	if err := os.Rename(tmp, o.Out); err != nil {
		return nil, fmt.Errorf("hubert: labels: %w", err)
	}
	done = true
	logf("%s: %d samples in %d shards (%d unreadable), k=%d at %g Hz, %.1f s", o.Out, w.samples, len(w.shards), unreadable, o.K, rate, time.Since(start).Seconds())
	return ls, nil
}

// fitLayerKMeans fits the codebook on block o.Layer's frames of a
// fraction of d's utterances.
func fitLayerKMeans(ctx context.Context, m *Model, d *data.Dataset, o LabelOptions, ftype string, rate float64, logf func(string, ...any)) (*audio.KMeans, error) {
	var chosen []int
	for i := range d.Len() {
		if pipeline.SampleRand(o.Seed, 0, uint64(i), 1).Float64() < o.Fraction {
			chosen = append(chosen, i)
		}
	}
	logf("fitting k-means (k=%d) on block %d features of %d of %d utterances of %s", o.K, o.Layer, len(chosen), d.Len(), o.Data)
	sampler := audio.NewFrameSampler(pipeline.SampleRand(o.Seed, 0, 0, 2), 1, o.MaxFrames)
	skip := pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}}
	for s, err := range pipeline.All(ctx, d.Subset(chosen), skip) {
		if err != nil {
			return nil, fmt.Errorf("hubert: labels: %w", err)
		}
		if len(s.Value.Wave) < m.Cfg.CNN.ReceptiveField() {
			continue
		}
		f, err := LayerFrames(m, s.Value.Wave, o.Layer)
		if err != nil {
			return nil, err
		}
		if err := sampler.Add(f); err != nil {
			return nil, err
		}
	}
	frames := sampler.Frames()
	if frames.Rows < o.K {
		return nil, fmt.Errorf("hubert: labels: %d frames from %d utterances cannot fit %d clusters; raise --fraction", frames.Rows, len(chosen), o.K)
	}
	t0 := time.Now()
	km, err := audio.FitKMeans(pipeline.SampleRand(o.Seed, 0, 0, 3), frames, audio.KMeansConfig{K: o.K},
		audio.KMeansMeta{FeatureType: ftype, Dim: frames.Cols, K: o.K, LabelRate: rate, Fraction: o.Fraction, Seed: o.Seed, SourceHash: audio.SourceHash([]string{o.Data})})
	if err != nil {
		return nil, err
	}
	logf("k-means on %d frames x %d dims in %.1f s (inertia %.4g)", frames.Rows, frames.Cols, time.Since(t0).Seconds(), km.Meta.Inertia)
	return km, nil
}

// labelWriter writes the label shards in the data's order: a new shard
// each time the data's shard changes.
type labelWriter struct {
	dir     string
	cur     string
	sw      *preprocess.ShardWriter
	seen    map[string]bool
	shards  []string
	samples int
	err     error
}

func (w *labelWriter) add(shard, key string, labels []int32) {
	if w.err != nil {
		return
	}
	shard = filepath.Base(shard)
	if shard != w.cur || w.sw == nil {
		if w.err = w.commit(); w.err != nil {
			return
		}
		if shard == "" || shard == "." || w.seen[shard] {
			w.err = fmt.Errorf("hubert: labels: sample %s: its shard %q is not a new one in the data's order", key, shard)
			return
		}
		sw, err := preprocess.NewShardWriter(filepath.Join(w.dir, shard))
		if err != nil {
			w.err = err
			return
		}
		w.sw, w.cur, w.seen[shard] = sw, shard, true
		w.shards = append(w.shards, shard)
	}
	if labels == nil {
		labels = []int32{}
	}
	var b bytes.Buffer
	if err := npy.Write(&b, &npy.Array{DType: npy.Int32, Shape: []int{len(labels)}, I32: labels}); err != nil {
		w.err = err
		return
	}
	if err := w.sw.Add(key, preprocess.Field{Name: "km.npy", Data: b.Bytes()}); err != nil {
		w.err = err
		return
	}
	w.samples++
}

func (w *labelWriter) commit() error {
	if w.sw == nil {
		return nil
	}
	sw := w.sw
	w.sw = nil
	_, _, err := sw.Commit()
	return err
}

func (w *labelWriter) abort() {
	if w.sw != nil {
		w.sw.Abort()
		w.sw = nil
	}
}

// LayerFrames returns the frame features (T x D, one per CNN frame) of
// transformer block layer for one wave, without masking or dropout.
func LayerFrames(m *Model, wave []float32, layer int) (out audio.Matrix, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var tp op.Tape
	defer tp.Drop()
	x := m.Layer(&tp, wave, 1, len(wave), layer)
	s := op.Shape(x)
	return audio.Matrix{Rows: int(s[1]), Cols: int(s[2]), Data: op.ToFloat32(x)}, nil
}
