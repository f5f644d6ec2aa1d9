package train

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/train/op"
)

// InputSpec is what an Encoder expects: Channels x Size x Size images
// normalized with Normalize (x = (v/255 - mean)/std).
type InputSpec struct {
	Channels  int
	Size      int
	Normalize augment.Normalize
}

func inputSpec(c *Config) InputSpec {
	in := InputSpec{Channels: c.Arch.InChannels}
	if len(c.Data.Augment.Views) > 0 {
		in.Size = c.Data.Augment.Views[0].Size
		in.Normalize = c.Data.Augment.Views[0].Normalize
	}
	return in
}

// EncoderOptions selects the network and device of an Encoder.
type EncoderOptions struct {
	// Network is "teacher" (the EMA target; default) or "student" (the
	// online network).
	Network string
	// Device as in Config.Device; default "cpu".
	Device string
	// Checkpoint is a checkpoint file; default the run's newest.
	Checkpoint string
	// Batch is the number of images per forward pass (default 256).
	Batch int
}

// Encoder maps images to backbone embeddings (evaluation mode: BatchNorm
// uses running statistics). Calls are serialized by a mutex; each call
// locks its goroutine to an OS thread while it runs.
type Encoder struct {
	n        *net
	in       InputSpec
	dev      gotch.Device
	batch    int
	mu       sync.Mutex
	borrowed bool // shares a trainer's network; Close does nothing
	Config   Config
}

func encoderConfig(runDir string, o *EncoderOptions) (Config, gotch.Device, error) {
	cfg, err := LoadConfig(filepath.Join(runDir, "config.yaml"))
	if err != nil {
		return cfg, gotch.CPU, err
	}
	if o.Device == "" {
		o.Device = "cpu"
	}
	if o.Network == "" {
		o.Network = "teacher"
	}
	if o.Network != "teacher" && o.Network != "student" {
		return cfg, gotch.CPU, fmt.Errorf("train: encoder network %q: want teacher or student", o.Network)
	}
	dev, err := ParseDevice(o.Device)
	return cfg, dev, err
}

// OpenEncoder loads the backbone of a run folder's checkpoint.
func OpenEncoder(runDir string, o EncoderOptions) (*Encoder, error) {
	defer op.LockThread()()
	cfg, dev, err := encoderConfig(runDir, &o)
	if err != nil {
		return nil, err
	}
	path := o.Checkpoint
	if path == "" {
		if path, err = LatestCheckpoint(runDir); err != nil {
			return nil, err
		}
	}
	tensors, st, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if err := st.checkCompatible(path, &cfg); err != nil {
		return nil, err
	}
	n, err := newNet(cfg.Arch, cfg.Heads, false, cfg.Seed, dev)
	if err != nil {
		return nil, err
	}
	prefix := "target."
	if o.Network == "student" {
		prefix = "online."
	}
	if err := loadInto(path, n.mod, prefix, tensors, func(v *Var) bool { return strings.HasPrefix(v.Name, "backbone.") }); err != nil {
		n.mod.Free()
		return nil, err
	}
	return &Encoder{n: n, in: inputSpec(&cfg), dev: dev, batch: max(o.Batch, 1), Config: cfg}, nil
}

// RandomEncoder builds the run's architecture with its initial (random,
// seeded by the config's seed) weights: the random-init baseline, equal
// to the run's weights at step 0.
func RandomEncoder(runDir string, o EncoderOptions) (*Encoder, error) {
	defer op.LockThread()()
	cfg, dev, err := encoderConfig(runDir, &o)
	if err != nil {
		return nil, err
	}
	return NewEncoder(cfg, dev, o.Batch)
}

// NewEncoder builds cfg's backbone with its seeded initial weights.
func NewEncoder(cfg Config, dev gotch.Device, batch int) (*Encoder, error) {
	defer op.LockThread()()
	n, err := newNet(cfg.Arch, cfg.Heads, false, cfg.Seed, dev)
	if err != nil {
		return nil, err
	}
	return &Encoder{n: n, in: inputSpec(&cfg), dev: dev, batch: max(batch, 1), Config: cfg}, nil
}

// Input describes the images the encoder expects.
func (e *Encoder) Input() InputSpec { return e.in }

// Dim is the embedding size.
func (e *Encoder) Dim() int { return int(e.n.bb.dim()) }

// Close frees the encoder's tensors.
func (e *Encoder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.borrowed && e.n != nil {
		e.n.mod.Free()
		e.n = nil
	}
	return nil
}

// Embed maps x (float32 NCHW with the given shape, normalized as Input
// says) to shape[0] x Dim() embeddings, row-major.
func (e *Encoder) Embed(x []float32, shape [4]int) (out []float32, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer op.LockThread()()
	if e.n == nil {
		return nil, fmt.Errorf("train: encoder is closed")
	}
	if shape[1] != e.in.Channels {
		return nil, fmt.Errorf("train: encoder wants %d channels, got %d", e.in.Channels, shape[1])
	}
	per := shape[1] * shape[2] * shape[3]
	if len(x) != shape[0]*per {
		return nil, fmt.Errorf("train: %d values for shape %v", len(x), shape)
	}
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	bs := e.batch
	if bs <= 1 {
		bs = 256
	}
	out = make([]float32, 0, shape[0]*e.Dim())
	for i := 0; i < shape[0]; i += bs {
		n := min(bs, shape[0]-i)
		var tp tape
		c, err := fromFloat32CPU(x[i*per:(i+n)*per], int64(n), int64(shape[1]), int64(shape[2]), int64(shape[3]))
		if err != nil {
			return nil, err
		}
		tp.Own(c)
		if e.dev != gotch.CPU {
			c = tp.To(c, e.dev)
		}
		f := e.n.bb.forward(&tp, c, false)
		out = append(out, op.ToFloat32(f)...)
		tp.Drop()
	}
	return out, nil
}

// EmbedImages converts 8-bit images to the encoder's channels and size
// (bilinear resize when the size differs), normalizes them and embeds
// them.
func (e *Encoder) EmbedImages(imgs []*augment.Image) ([]float32, error) {
	var s augment.Scratch
	conv := make([]*augment.Image, len(imgs))
	for i, m := range imgs {
		c := m
		if c.C != e.in.Channels {
			d := &augment.Image{}
			if e.in.Channels == 3 {
				augment.GrayToRGB(d, c)
			} else {
				augment.ToGray(d, c)
			}
			c = d
		}
		if c.W != e.in.Size || c.H != e.in.Size {
			d := &augment.Image{}
			augment.Resize(d, c, e.in.Size, e.in.Size, augment.Bilinear, &s)
			c = d
		}
		conv[i] = c
	}
	x, shape, err := e.in.Normalize.ToNCHW(nil, conv)
	if err != nil {
		return nil, err
	}
	return e.Embed(x, shape)
}

// knnSet is a labelled image subset held for the monitor.
type knnSet struct {
	imgs   []*augment.Image
	labels []int
}

func loadKNNSet(spec string, n int) (*knnSet, error) {
	set, err := datasets.Open(spec)
	if err != nil {
		return nil, fmt.Errorf("train: monitor: %w", err)
	}
	if n <= 0 || n > set.Len() {
		n = set.Len()
	}
	// An evenly strided subset keeps the class balance of the set.
	stride := set.Len() / n
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * stride
	}
	set = set.Subset(idx)
	g := set.Images
	if g == nil {
		if g, err = datasets.LoadImages(set, 64, 3, 0); err != nil {
			return nil, fmt.Errorf("train: monitor: %w", err)
		}
	}
	ks := &knnSet{labels: set.Labels, imgs: make([]*augment.Image, g.N)}
	for i := range ks.imgs {
		m := augment.NewImage(g.W, g.H, g.C)
		copy(m.Pix, g.Image(i))
		ks.imgs[i] = m
	}
	return ks, nil
}

// KNNAccuracy embeds train and test images with e and returns the weighted
// kNN top-1 accuracy (k, t) of the test images.
func KNNAccuracy(e *Encoder, train, test []*augment.Image, trainLabels, testLabels []int, k int, t float64) (float64, error) {
	ftr, err := e.EmbedImages(train)
	if err != nil {
		return 0, err
	}
	fte, err := e.EmbedImages(test)
	if err != nil {
		return 0, err
	}
	d := e.Dim()
	pred, err := eval.KNN(&eval.Matrix{Rows: len(train), Cols: d, Data: ftr}, trainLabels,
		&eval.Matrix{Rows: len(test), Cols: d, Data: fte}, eval.KNNOptions{Settings: []eval.KNNSetting{{K: k, T: t}}})
	if err != nil {
		return 0, err
	}
	return eval.Accuracy(pred[0], testLabels), nil
}

// monitorHook logs the teacher backbone's kNN top-1 on held-out labelled
// subsets every cfg.Monitor.Every steps.
func monitorHook(cfg *Config) Hook {
	m := cfg.Monitor
	var tr, te *knnSet
	return Hook{Name: "knn-monitor", Every: m.Every, Fn: func(_ context.Context, s *Status) error {
		if s.Metrics == nil {
			return nil // runs on logged steps only (Validate checks the periods)
		}
		if tr == nil {
			var err error
			if tr, err = loadKNNSet(m.Train, m.NTrain); err != nil {
				return err
			}
			if te, err = loadKNNSet(m.Test, m.NTest); err != nil {
				return err
			}
		}
		acc, err := KNNAccuracy(s.Encoder("teacher"), tr.imgs, te.imgs, tr.labels, te.labels, m.K, m.T)
		if err != nil {
			return err
		}
		s.Metrics.KNNTop1 = &acc
		return nil
	}}
}
