package augment

import (
	"fmt"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/pipeline"
)

// View is one kind of view of a recipe: torchvision's
//
//	RandomResizedCrop(Size, Scale, Ratio, Interp) -> RandomHorizontalFlip(FlipP)
//	-> RandomApply(ColorJitter(Jitter), JitterP) -> RandomGrayscale(GrayP)
//	-> RandomApply(GaussianBlur(BlurKernel, BlurSigma), BlurP)
//	-> RandomSolarize(SolarizeThreshold, SolarizeP) -> ToTensor -> Normalize
//
// Count views of this kind are produced per image (DINO's local crops).
// All fields are plain data so a recipe can live in a config file.
type View struct {
	Name      string     `yaml:"name" json:"name"`
	Count     int        `yaml:"count" json:"count"` // 0 means 1
	Size      int        `yaml:"size" json:"size"`
	Scale     [2]float64 `yaml:"scale" json:"scale"`
	Ratio     [2]float64 `yaml:"ratio" json:"ratio"`
	Interp    Interp     `yaml:"interp" json:"interp"`
	FlipP     float64    `yaml:"flip_p" json:"flip_p"`
	JitterP   float64    `yaml:"jitter_p" json:"jitter_p"`
	Jitter    Jitter     `yaml:"jitter" json:"jitter"`
	GrayP     float64    `yaml:"gray_p" json:"gray_p"`
	BlurP     float64    `yaml:"blur_p" json:"blur_p"`
	BlurSigma [2]float64 `yaml:"blur_sigma" json:"blur_sigma"`
	// BlurKernel is the kernel size; 0 means BlurKernelSize(Size).
	BlurKernel int     `yaml:"blur_kernel" json:"blur_kernel"`
	SolarizeP  float64 `yaml:"solarize_p" json:"solarize_p"`
	// SolarizeThreshold; 0 means 128.
	SolarizeThreshold int       `yaml:"solarize_threshold" json:"solarize_threshold"`
	Normalize         Normalize `yaml:"normalize" json:"normalize"`
}

// Recipe is a list of view kinds plus an optional patch mask.
type Recipe struct {
	Name string `yaml:"name" json:"name"`
	// Channels of every view: 3 (gray inputs are replicated), 1 (color
	// inputs are converted with PIL's weights), or 0 (as decoded).
	Channels int       `yaml:"channels" json:"channels"`
	Views    []View    `yaml:"views" json:"views"`
	Mask     *MaskSpec `yaml:"mask,omitempty" json:"mask,omitempty"`
}

// Key identifies one sample of one epoch; with the view number it selects
// the random stream (pipeline.SampleSeed), so views do not depend on which
// worker makes them or in which order.
type Key struct{ Seed, Epoch, Index uint64 }

// NumViews is the total number of views per image.
func (r *Recipe) NumViews() int {
	n := 0
	for _, v := range r.Views {
		n += max(v.Count, 1)
	}
	return n
}

// ViewSpec returns the View kind of view number i (0-based, in order).
func (r *Recipe) ViewSpec(i int) *View {
	for k := range r.Views {
		c := max(r.Views[k].Count, 1)
		if i < c {
			return &r.Views[k]
		}
		i -= c
	}
	return nil
}

// Validate checks every range the way torchvision's constructors do.
func (r *Recipe) Validate() error {
	if len(r.Views) == 0 && r.Mask == nil {
		return fmt.Errorf("augment: recipe %q has no views", r.Name)
	}
	if r.Channels != 0 && r.Channels != 1 && r.Channels != 3 {
		return fmt.Errorf("augment: recipe %q: channels must be 0, 1 or 3", r.Name)
	}
	for i, v := range r.Views {
		e := func(format string, a ...any) error {
			return fmt.Errorf("augment: recipe %q view %d (%s): %s", r.Name, i, v.Name, fmt.Sprintf(format, a...))
		}
		if v.Size <= 0 || v.Size > 8192 || v.Count < 0 || v.Count > 64 {
			return e("size %d or count %d out of range", v.Size, v.Count)
		}
		if !(v.Scale[0] > 0 && v.Scale[0] <= v.Scale[1]) || !(v.Ratio[0] > 0 && v.Ratio[0] <= v.Ratio[1]) {
			return e("scale %v and ratio %v must be increasing and positive", v.Scale, v.Ratio)
		}
		for _, p := range []float64{v.FlipP, v.JitterP, v.GrayP, v.BlurP, v.SolarizeP} {
			if !(p >= 0 && p <= 1) {
				return e("probability %v outside [0, 1]", p)
			}
		}
		if err := v.Jitter.Validate(); err != nil {
			return e("%v", err)
		}
		if v.BlurP > 0 {
			if !(v.BlurSigma[0] > 0 && v.BlurSigma[0] <= v.BlurSigma[1]) {
				return e("blur sigma %v must be increasing and positive", v.BlurSigma)
			}
			if v.BlurKernel < 0 || (v.BlurKernel > 0 && v.BlurKernel%2 == 0) {
				return e("blur kernel %d must be odd", v.BlurKernel)
			}
		}
		if v.SolarizeThreshold < 0 || v.SolarizeThreshold > 256 {
			return e("solarize threshold %d outside [0, 256]", v.SolarizeThreshold)
		}
		if err := v.Normalize.Validate(); err != nil {
			return e("%v", err)
		}
	}
	if r.Mask != nil {
		return r.Mask.Validate()
	}
	return nil
}

// Decisions records what one view drew; Apply reports it for tests and
// previews.
type Decisions struct {
	Box                          [4]int // x0, y0, x1, y1 of the crop
	Fallback, Flip, Jitter, Gray bool
	JitterParams                 JitterParams
	Blur                         bool
	Sigma                        float64
	Solarize                     bool
}

// ApplyView makes one view of src into dst with the random stream r and
// returns what was drawn. src must have the channel count wanted.
func (v *View) ApplyView(dst, src *Image, r *rand.Rand, s *Scratch) Decisions {
	var d Decisions
	box, fb := RandomResizedCropParams(r, src.W, src.H, v.Scale, v.Ratio)
	d.Box, d.Fallback = [4]int{box.Min.X, box.Min.Y, box.Max.X, box.Max.Y}, fb
	ResizedCrop(dst, src, box, v.Size, v.Size, v.Interp, s)
	if r.Float64() < v.FlipP {
		d.Flip = true
		HFlip(dst)
	}
	if r.Float64() < v.JitterP {
		d.Jitter = true
		d.JitterParams = v.Jitter.Params(r)
		d.JitterParams.Apply(dst)
	}
	if r.Float64() < v.GrayP {
		d.Gray = true
		Grayscale(dst)
	}
	if r.Float64() < v.BlurP {
		d.Blur = true
		d.Sigma = uniform(r, v.BlurSigma[0], v.BlurSigma[1])
		k := v.BlurKernel
		if k == 0 {
			k = BlurKernelSize(v.Size)
		}
		GaussianBlur(dst, k, d.Sigma, s)
	}
	if r.Float64() < v.SolarizeP {
		d.Solarize = true
		t := v.SolarizeThreshold
		if t == 0 {
			t = 128
		}
		Solarize(dst, t)
	}
	return d
}

// Apply makes all views of src (decoded once) for the sample key. View i
// uses the stream pipeline.SampleSeed(key.Seed, key.Epoch, key.Index, i),
// so the result is the same whatever goroutine runs it. dst is reused
// (pass the previous result back to avoid allocation); the returned images
// are owned by the caller until passed back. s may be nil.
func (r *Recipe) Apply(dst []*Image, src *Image, key Key, s *Scratch) []*Image {
	dst, _ = r.apply(dst, nil, src, key, s)
	return dst
}

// ApplyDecisions is Apply that also reports each view's draws.
func (r *Recipe) ApplyDecisions(dst []*Image, dec []Decisions, src *Image, key Key, s *Scratch) ([]*Image, []Decisions) {
	if dec == nil {
		dec = []Decisions{}
	}
	return r.apply(dst, dec, src, key, s)
}

func (r *Recipe) apply(dst []*Image, dec []Decisions, src *Image, key Key, s *Scratch) ([]*Image, []Decisions) {
	if s == nil {
		s = new(Scratch)
	}
	if r.Channels != 0 && src.C != r.Channels {
		if r.Channels == 3 {
			GrayToRGB(&s.conv, src)
		} else {
			ToGray(&s.conv, src)
		}
		src = &s.conv
	}
	n := r.NumViews()
	for len(dst) < n {
		dst = append(dst, &Image{})
	}
	dst = dst[:n]
	if dec != nil {
		dec = dec[:0]
	}
	if s.rng == nil {
		s.rng = rand.New(&s.pcg)
	}
	rng := s.rng
	i := 0
	for k := range r.Views {
		v := &r.Views[k]
		for range max(v.Count, 1) {
			s.pcg.Seed(pipeline.SampleSeed(key.Seed, key.Epoch, key.Index, uint64(i)))
			if dst[i] == nil {
				dst[i] = &Image{}
			}
			d := v.ApplyView(dst[i], src, rng, s)
			if dec != nil {
				dec = append(dec, d)
			}
			i++
		}
	}
	return dst, dec
}

// MaskFor draws the recipe's patch mask for key from the stream after the
// views' (view number NumViews()). ok is false when the recipe has none.
func (r *Recipe) MaskFor(key Key) (m Mask, ok bool) {
	if r.Mask == nil {
		return Mask{}, false
	}
	rng := pipeline.SampleRand(key.Seed, key.Epoch, key.Index, uint64(r.NumViews()))
	return r.Mask.Generate(rng), true
}

// Batch packs view number v of every sample (views[sample][v]) into one
// contiguous NCHW float32 slice normalized with that view's Normalize.
// Views of one number share a size, so DINO's global and local crops are
// packed by separate calls.
func (r *Recipe) Batch(dst []float32, views [][]*Image, v int) ([]float32, [4]int, error) {
	spec := r.ViewSpec(v)
	if spec == nil {
		return dst, [4]int{}, fmt.Errorf("augment: recipe %q has no view %d", r.Name, v)
	}
	imgs := make([]*Image, len(views))
	for i, vs := range views {
		if v >= len(vs) {
			return dst, [4]int{}, fmt.Errorf("augment: sample %d has %d views, want view %d", i, len(vs), v)
		}
		imgs[i] = vs[v]
	}
	return spec.Normalize.ToNCHW(dst, imgs)
}
