package augment

import (
	"fmt"
	"image"
	"math/rand/v2"
)

// Downscale writes src shrunk by an integer factor into dst with Pillow's
// antialiased bicubic filter (a = -0.5, support scaled by the factor,
// 22-bit fixed point): byte for byte what Pillow 9.4 gives for
// img.resize((img.width // factor, img.height // factor), Image.BICUBIC).
// Each side is at least 1 pixel. s may be nil.
func Downscale(dst, src *Image, factor int, s *Scratch) error {
	if factor < 1 {
		return fmt.Errorf("augment: downscale factor %d must be at least 1", factor)
	}
	if src.W == 0 || src.H == 0 {
		return fmt.Errorf("augment: downscale of an empty %dx%d image", src.W, src.H)
	}
	Resize(dst, src, max(src.W/factor, 1), max(src.H/factor, 1), Bicubic, s)
	return nil
}

// SuperRes makes super-resolution pairs: a high-resolution target and
// its bicubic down-sampling by Factor as the input (low-res in, high-res
// out).
type SuperRes struct {
	// Factor is the down-sampling factor (2, 3, 4 are usual).
	Factor int `yaml:"factor" json:"factor"`
	// Patch is the side of the square high-resolution target cut at a
	// random position (SRCNN and EDSR train on patches); 0 takes the
	// largest centred box whose sides are multiples of Factor, drawing
	// nothing. Patch must be a multiple of Factor.
	Patch int `yaml:"patch" json:"patch"`
	// Upsample also resizes the low-resolution image back to the target's
	// size with the same bicubic filter (SRCNN's input) into
	// SuperResPair.Upsampled.
	Upsample bool `yaml:"upsample" json:"upsample"`
}

// SuperResPair is one super-resolution sample.
type SuperResPair struct {
	Low       Image           // input: Target down-sampled by Factor
	Target    Image           // high-resolution target
	Upsampled Image           // Low resized back to Target's size (only with Upsample)
	Box       image.Rectangle // where Target was cut from the source
}

// Validate checks the factor and patch size.
func (sr SuperRes) Validate() error {
	if sr.Factor < 1 || sr.Factor > 64 {
		return fmt.Errorf("augment: super-resolution factor %d outside [1, 64]", sr.Factor)
	}
	if sr.Patch < 0 || sr.Patch%sr.Factor != 0 {
		return fmt.Errorf("augment: super-resolution patch %d must be a non-negative multiple of the factor %d", sr.Patch, sr.Factor)
	}
	return nil
}

// Generate fills dst from src. With Patch > 0 the patch's top-left corner
// is drawn from r (x then y, one IntN each); r is not used otherwise and
// may then be nil. It fails when src is smaller than the patch or than the
// factor. s may be nil.
func (sr SuperRes) Generate(dst *SuperResPair, src *Image, r *rand.Rand, s *Scratch) error {
	if err := sr.Validate(); err != nil {
		return err
	}
	var box image.Rectangle
	if sr.Patch > 0 {
		if src.W < sr.Patch || src.H < sr.Patch {
			return fmt.Errorf("augment: super-resolution patch %d larger than the %dx%d image", sr.Patch, src.W, src.H)
		}
		x := r.IntN(src.W - sr.Patch + 1)
		y := r.IntN(src.H - sr.Patch + 1)
		box = image.Rect(x, y, x+sr.Patch, y+sr.Patch)
	} else {
		w, h := src.W-src.W%sr.Factor, src.H-src.H%sr.Factor
		if w == 0 || h == 0 {
			return fmt.Errorf("augment: %dx%d image smaller than the super-resolution factor %d", src.W, src.H, sr.Factor)
		}
		box = CenterCropBox(src.W, src.H, w, h)
	}
	dst.Box = box
	Crop(&dst.Target, src, box)
	if err := Downscale(&dst.Low, &dst.Target, sr.Factor, s); err != nil {
		return err
	}
	if sr.Upsample {
		Resize(&dst.Upsampled, &dst.Low, dst.Target.W, dst.Target.H, Bicubic, s)
	} else {
		dst.Upsampled.Reset(0, 0, dst.Target.C)
	}
	return nil
}
