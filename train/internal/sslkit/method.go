package sslkit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// What the image methods' registrations (train.Register) share: the
// parameter sets of their networks, the batch views on the device, the
// image encoder that eval, embed and the online monitor use, and the
// adapters from train.StepInfo's collectives to the models' hooks.

// NewParams is the parameter set of an image method's network on dev,
// initialized from seed on nn.ConvStream (BYOL's stream): networks built
// backbone first from the same seed start with the same backbone, so a
// run's random-init baseline is the backbone it started from, and the
// same architecture gets the same random-init baseline in every image
// method.
func NewParams(seed uint64, dev gotch.Device) *nn.Params {
	return nn.NewParamsStream(seed, nn.ConvStream, dev)
}

// BackbonePrefix names the backbone's tensors inside a network's
// parameter set.
const BackbonePrefix = "backbone."

// NewNet builds a one-parameter-set network on dev with a run's initial
// weights, as every image method does: NewParams(seed), the backbone of
// arch under BackbonePrefix first (so the random-init baseline is the
// backbone a run starts from), then the rest with heads, on a locked OS
// thread. heads may raise libtorch errors (op.Catch); on any error the
// parameter set is freed.
func NewNet[N any](seed uint64, dev gotch.Device, arch nn.Arch, heads func(p *nn.Params, bb nn.Backbone) (N, error)) (n N, err error) {
	defer op.LockThread()()
	p := NewParams(seed, dev)
	defer func() {
		if err != nil {
			p.Free()
		}
	}()
	defer op.Catch(&err)
	bb, err := nn.NewBackbone(p, BackbonePrefix, arch)
	if err != nil {
		return n, err
	}
	return heads(p, bb)
}

// IsBackbone selects a network's backbone tensors.
func IsBackbone(q *nn.Param) bool { return strings.HasPrefix(q.Name, BackbonePrefix) }

// Input is what an image encoder takes: Channels x Size x Size images
// (converted and resized bilinearly when the data differ), normalized.
// For the view methods it is a recipe's first view (InputOf); the
// pretext methods (rotation, jigsaw, inpainting) name it as the input
// block of their settings, hence the tags.
type Input struct {
	Size      int               `yaml:"size" json:"size"`
	Channels  int               `yaml:"channels" json:"channels"`
	Normalize augment.Normalize `yaml:"normalize" json:"normalize"`
}

// InputOf is the input of an encoder with arch trained on recipe's views
// (the first view: the global crop for multi-crop recipes).
func InputOf(a nn.Arch, r augment.Recipe) Input {
	in := Input{Channels: a.InChannels}
	if len(r.Views) > 0 {
		in.Size, in.Normalize = r.Views[0].Size, r.Views[0].Normalize
	}
	return in
}

// Convert returns img as the input's channels and size (gray/RGB
// conversion, then a bilinear resize), img itself when it already is;
// it does not normalize.
func (in Input) Convert(img *augment.Image) *augment.Image {
	c := img
	if c.C != in.Channels {
		d := &augment.Image{}
		if in.Channels == 3 {
			augment.GrayToRGB(d, c)
		} else {
			augment.ToGray(d, c)
		}
		c = d
	}
	if c.W != in.Size || c.H != in.Size {
		d := &augment.Image{}
		augment.Resize(d, c, in.Size, in.Size, augment.Bilinear, nil)
		c = d
	}
	return c
}

// DeviceViews copies every view of b (float32 NCHW) to dev, as tensors
// the caller frees (FreeAll).
func DeviceViews(b *train.Views, dev gotch.Device) (vs []op.Tensor, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	defer func() {
		if err != nil {
			FreeAll(vs)
			vs = nil
		}
	}()
	for i, x := range b.Views {
		sh := b.Shape[i]
		c, err := op.FromFloat32(x, gotch.CPU, int64(sh[0]), int64(sh[1]), int64(sh[2]), int64(sh[3]))
		if err != nil {
			return vs, err
		}
		if dev != gotch.CPU {
			var tp op.Tape
			d := tp.Keep(tp.To(c, dev))
			tp.Drop()
			op.Free(c)
			c = d
		}
		vs = append(vs, c)
	}
	return vs, nil
}

// FreeAll frees tensors.
func FreeAll(ts []op.Tensor) {
	for _, t := range ts {
		op.Free(t)
	}
}

// Gather adapts train.StepInfo.AllGather to the models' gather hooks
// (SimCLR's negatives, MoCo v3's keys): every rank's rows in rank order
// and this rank's index; nil in one process. Errors are raised for
// op.Catch.
func Gather(all func(*op.Tape, op.Tensor) (op.Tensor, error), rank int) func(*op.Tape, op.Tensor) (op.Tensor, int) {
	if all == nil {
		return nil
	}
	return func(tp *op.Tape, x op.Tensor) (op.Tensor, int) {
		y, err := all(tp, x)
		if err != nil {
			op.Fail(err)
		}
		return y, rank
	}
}

// MeanAcrossRanks adapts train.StepInfo.AllReduceMean to DINO's center
// hook: x replaced in place by its mean over the ranks; nil in one
// process.
func MeanAcrossRanks(mean func([]op.Tensor) error) func(*op.Tape, op.Tensor) op.Tensor {
	if mean == nil {
		return nil
	}
	return func(_ *op.Tape, x op.Tensor) op.Tensor {
		if err := mean([]op.Tensor{x}); err != nil {
			op.Fail(err)
		}
		return x
	}
}

// Encoder is an image backbone as a train.Embedder: images converted to
// In (channels, size, normalization), or by MakeInput, and the
// backbone's features in evaluation mode.
type Encoder struct {
	Backbone nn.Backbone
	In       Input
	// MakeInput, when set, replaces In: the backbone's input (float32
	// NCHW and its shape) made from the examples, for a network that sees
	// something other than the normalized image (colorization's
	// lightness).
	MakeInput func([]data.Example) ([]float32, [4]int, error)
	Dev       gotch.Device
	Batch     int // examples per forward pass (0: 256)
	// Params, when set, is the encoder's own parameter set, freed by
	// Close; nil for an encoder that borrows a trainer's weights.
	Params *nn.Params
	// Method prefixes errors.
	Method string
	closed bool
}

// Dim is the feature size.
func (e *Encoder) Dim() int { return int(e.Backbone.Dim()) }

// Close frees an owned parameter set.
func (e *Encoder) Close() error {
	if !e.closed && e.Params != nil {
		defer op.LockThread()()
		e.Params.Free()
	}
	e.closed = true
	return nil
}

// Embed returns the features of the examples' images.
func (e *Encoder) Embed(ex []data.Example) ([][]float32, error) {
	if e.closed {
		return nil, fmt.Errorf("%s: encoder is closed", e.Method)
	}
	input := e.MakeInput
	if input == nil {
		input = e.imageInput
	}
	x, shape, err := input(ex)
	if err != nil {
		return nil, err
	}
	return nn.EmbedNCHW(e.Backbone, e.Dev, x, shape, e.Batch)
}

// imageInput is the examples' images converted to In, normalized.
func (e *Encoder) imageInput(ex []data.Example) ([]float32, [4]int, error) {
	imgs := make([]*augment.Image, len(ex))
	for i := range ex {
		imgs[i] = ex[i].Image
	}
	return train.ImageInput(imgs, e.In.Channels, e.In.Size, e.In.Normalize)
}

// EncoderSpec is what OpenEncoder needs of a method: its name (the
// errors' prefix), the backbone's architecture, its input (Encoder.In,
// Encoder.MakeInput) and the checkpoint prefixes of its networks.
type EncoderSpec struct {
	Method    string
	Arch      nn.Arch
	In        Input
	MakeInput func([]data.Example) ([]float32, [4]int, error)
	// Networks maps the names eval's --network accepts to the networks'
	// prefixes in a checkpoint ("model.", "teacher.", NetPrefix);
	// Default is the name an empty --network selects.
	Networks map[string]string
	Default  string
}

// OpenEncoder is a method's train.Method.Encoder: s.Arch's backbone built
// with the run's seeded initial weights (NewParams, then the backbone
// under BackbonePrefix, as the trainers build it first in their
// networks) and, unless o.Random, its tensors loaded from the run's
// newest checkpoint under the prefix of network o.Network.
func OpenEncoder(run *train.RunInfo, o train.EncoderOptions, s EncoderSpec) (_ train.Embedder, err error) {
	defer op.LockThread()()
	name := o.Network
	if name == "" {
		name = s.Default
	}
	prefix, ok := s.Networks[name]
	if !ok {
		var names []string
		for n := range s.Networks {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%s: network %q: want %s", s.Method, o.Network, strings.Join(names, " or "))
	}
	devName := o.Device
	if devName == "" {
		devName = "cpu"
	}
	dev, err := train.ParseDevice(devName)
	if err != nil {
		return nil, err
	}
	p := NewParams(run.Config.Seed, dev)
	defer func() {
		if err != nil {
			p.Free()
		}
	}()
	defer op.Catch(&err)
	arch := s.Arch
	arch.DropPath = 0
	bb, err := nn.NewBackbone(p, BackbonePrefix, arch)
	if err != nil {
		return nil, err
	}
	e := &Encoder{Backbone: bb, In: s.In, MakeInput: s.MakeInput, Dev: dev, Batch: o.Batch, Params: p, Method: s.Method}
	if o.Random {
		return e, nil
	}
	path, err := train.LatestCheckpoint(run.Dir)
	if err != nil {
		return nil, err
	}
	ts, _, err := train.ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if err := p.LoadOnly(path, ts, prefix, IsBackbone); err != nil {
		return nil, err
	}
	return e, nil
}

// ValidateViews checks what the view methods share: a batch that
// BatchNorm can use, a valid recipe with views views (at least that many
// when more is true) whose channels match arch.
func ValidateViews(method string, c *train.Config, arch nn.Arch, r augment.Recipe, views int, more bool) error {
	if c.Data.Batch < 2 {
		return fmt.Errorf("%s: data.batch %d: BatchNorm and the loss need at least 2", method, c.Data.Batch)
	}
	if n := r.NumViews(); n < views || !more && n != views {
		want := fmt.Sprint(views)
		if more {
			want = "at least " + want
		}
		return fmt.Errorf("%s: needs a recipe of %s views, %q has %d", method, want, r.Name, n)
	}
	if ch := r.Channels; ch != 0 && ch != arch.InChannels {
		return fmt.Errorf("%s: recipe makes %d-channel views but model.arch.in_channels is %d", method, ch, arch.InChannels)
	}
	if r.Mask != nil {
		return fmt.Errorf("%s: recipe %q has a mask; view methods take none", method, r.Name)
	}
	return r.Validate()
}

// Check reports an input that a backbone of arch cannot take: a size
// outside [8, 4096], other than 1 or 3 channels, or channels other than
// the arch's in_channels; method prefixes the errors. The normalization
// is Normalize.Validate's to check.
func (in Input) Check(method string, arch nn.Arch) error {
	if in.Size < 8 || in.Size > 4096 || (in.Channels != 1 && in.Channels != 3) {
		return fmt.Errorf("%s: input size %d must be in [8, 4096] and channels %d 1 or 3", method, in.Size, in.Channels)
	}
	if arch.InChannels != in.Channels {
		return fmt.Errorf("%s: input has %d channels but model.arch.in_channels is %d", method, in.Channels, arch.InChannels)
	}
	return nil
}
