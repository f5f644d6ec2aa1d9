package augment

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Inpainting kinds.
const (
	// InpaintCenter masks the central square (Pathak et al.'s context
	// encoder: half the image side, 64 of 128).
	InpaintCenter = "center"
	// InpaintRandom masks random rectangles until a fraction of the image
	// is covered (the context encoder's random-block variant).
	InpaintRandom = "random"
)

// PathakFill is the colour the context encoder writes into the masked
// region of its input: the ImageNet mean pixel (117, 104, 123) of its
// code (2*117/255 - 1 and so on in [-1, 1]).
var PathakFill = [3]uint8{117, 104, 123}

// Inpaint describes the masks of context inpainting (Pathak et al.,
// "Context Encoders: Feature Learning by Inpainting", 2016). The network
// sees the image with the masked pixels replaced by Fill and predicts the
// masked pixels.
type Inpaint struct {
	Kind string `yaml:"kind" json:"kind"` // InpaintCenter or InpaintRandom
	// Center: the masked square's side as a fraction of the shorter side
	// (0 means 0.5) and Overlap, pixels of the square's border left
	// visible in the input though still part of the target (the context
	// encoder's overlapPred, 4 at 128 px, whose loss weights that ring 10x).
	Fraction float64 `yaml:"fraction" json:"fraction"`
	Overlap  int     `yaml:"overlap" json:"overlap"`
	// Random: rectangles whose width and height are uniform fractions of
	// the image's in [MinSide, MaxSide] (0 means 0.1 and 0.4) are added at
	// uniform positions until Coverage of the pixels (0 means 0.25, the
	// paper's "up to 1/4") is masked or MaxRects (0 means 32) are drawn.
	Coverage float64 `yaml:"coverage" json:"coverage"`
	MinSide  float64 `yaml:"min_side" json:"min_side"`
	MaxSide  float64 `yaml:"max_side" json:"max_side"`
	MaxRects int     `yaml:"max_rects" json:"max_rects"`
	// Fill is the masked pixels' value in the input; empty means PathakFill
	// (its first value for gray images).
	Fill []uint8 `yaml:"fill" json:"fill"`
}

// Inpainting is one inpainting sample.
type Inpainting struct {
	Input Image // the source with the masked pixels set to Fill
	// Mask marks the pixels the loss covers, 255 = masked (1 channel, the
	// source's size). For the center kind it is the whole square, overlap
	// ring included, while Input hides only the square's interior.
	Mask Image
	// Target: for the center kind, the square's pixels (Box's size); for
	// the random kind, the whole source (score it where Mask is set).
	Target Image
	Box    image.Rectangle   // center: the square; random: the masked pixels' bounds
	Rects  []image.Rectangle // random: the rectangles drawn
}

func (p Inpaint) withDefaults() Inpaint {
	if p.Fraction == 0 {
		p.Fraction = 0.5
	}
	if p.Coverage == 0 {
		p.Coverage = 0.25
	}
	if p.MinSide == 0 {
		p.MinSide = 0.1
	}
	if p.MaxSide == 0 {
		p.MaxSide = 0.4
	}
	if p.MaxRects == 0 {
		p.MaxRects = 32
	}
	if len(p.Fill) == 0 {
		p.Fill = PathakFill[:]
	}
	return p
}

// Validate checks the parameters.
func (p Inpaint) Validate() error {
	d := p.withDefaults()
	switch d.Kind {
	case InpaintCenter:
		if !(d.Fraction > 0 && d.Fraction <= 1) || d.Overlap < 0 {
			return fmt.Errorf("augment: inpaint fraction %v outside (0, 1] or overlap %d negative", d.Fraction, d.Overlap)
		}
	case InpaintRandom:
		if !(d.Coverage > 0 && d.Coverage <= 1) || !(d.MinSide > 0 && d.MinSide <= d.MaxSide && d.MaxSide <= 1) || d.MaxRects < 1 || d.MaxRects > 4096 {
			return fmt.Errorf("augment: inpaint coverage %v, sides [%v, %v] or max_rects %d out of range", d.Coverage, d.MinSide, d.MaxSide, d.MaxRects)
		}
	default:
		return fmt.Errorf("augment: inpaint kind %q (%s, %s)", d.Kind, InpaintCenter, InpaintRandom)
	}
	if len(d.Fill) != 1 && len(d.Fill) != 3 {
		return fmt.Errorf("augment: inpaint fill needs 1 or 3 values, got %d", len(d.Fill))
	}
	return nil
}

// Generate fills dst from src. The center kind draws nothing (r may be
// nil). The random kind draws, per rectangle, its width, height, left and
// top from r (r.IntN each) until the coverage or the rectangle limit is
// reached.
func (p Inpaint) Generate(dst *Inpainting, src *Image, r *rand.Rand) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if src.W == 0 || src.H == 0 {
		return fmt.Errorf("augment: inpainting an empty %dx%d image", src.W, src.H)
	}
	p = p.withDefaults()
	w, h := src.W, src.H
	dst.Mask.Reset(w, h, 1)
	clear(dst.Mask.Pix)
	dst.Input.CopyFrom(src)
	dst.Rects = dst.Rects[:0]
	fill := func(box image.Rectangle) {
		for y := box.Min.Y; y < box.Max.Y; y++ {
			for x := box.Min.X; x < box.Max.X; x++ {
				px := dst.Input.Pix[(y*w+x)*src.C:]
				for c := range src.C {
					px[c] = p.Fill[min(c, len(p.Fill)-1)]
				}
			}
		}
	}
	mark := func(box image.Rectangle) {
		for y := box.Min.Y; y < box.Max.Y; y++ {
			row := dst.Mask.Pix[y*w+box.Min.X : y*w+box.Max.X]
			for i := range row {
				row[i] = 255
			}
		}
	}
	if p.Kind == InpaintCenter {
		side := max(int(math.Round(p.Fraction*float64(min(w, h)))), 1)
		box := CenterCropBox(w, h, side, side)
		dst.Box = box
		mark(box)
		fill(box.Inset(min(p.Overlap, (side-1)/2)))
		Crop(&dst.Target, src, box)
		return nil
	}
	covered, want := 0, int(math.Ceil(p.Coverage*float64(w*h)))
	dst.Box = image.Rectangle{}
	for range p.MaxRects {
		if covered >= want {
			break
		}
		rw := sideIn(r, w, p.MinSide, p.MaxSide)
		rh := sideIn(r, h, p.MinSide, p.MaxSide)
		x, y := r.IntN(w-rw+1), r.IntN(h-rh+1)
		box := image.Rect(x, y, x+rw, y+rh)
		dst.Rects = append(dst.Rects, box)
		dst.Box = dst.Box.Union(box)
		for yy := box.Min.Y; yy < box.Max.Y; yy++ {
			for _, v := range dst.Mask.Pix[yy*w+box.Min.X : yy*w+box.Max.X] {
				if v == 0 {
					covered++
				}
			}
		}
		mark(box)
		fill(box)
	}
	dst.Target.CopyFrom(src)
	return nil
}

// sideIn draws a side length uniform over the integers in
// [ceil(lo*n), floor(hi*n)], at least 1 and at most n.
func sideIn(r *rand.Rand, n int, lo, hi float64) int {
	a := min(max(int(math.Ceil(lo*float64(n))), 1), n)
	b := min(max(int(math.Floor(hi*float64(n))), a), n)
	return a + r.IntN(b-a+1)
}
