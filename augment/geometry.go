package augment

import (
	"image"
	"math"
	"math/rand/v2"
)

// RandomResizedCropParams draws a crop box for a w x h image exactly as
// torchvision's RandomResizedCrop.get_params does: up to 10 attempts with
// area fraction ~ U(scale) and aspect ratio log-uniform in ratio,
// width = round(sqrt(area*ratio)), height = round(sqrt(area/ratio))
// (Python's round half to even), accepted when it fits, at a uniform
// top-left; otherwise a central crop with the aspect ratio clamped to the
// range. It also reports whether the fallback was taken.
func RandomResizedCropParams(r *rand.Rand, w, h int, scale, ratio [2]float64) (box image.Rectangle, fallback bool) {
	area := float64(w) * float64(h)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(r, scale[0], scale[1])
		ar := math.Exp(uniform(r, lr0, lr1))
		cw := int(math.RoundToEven(math.Sqrt(target * ar)))
		ch := int(math.RoundToEven(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top := r.IntN(h - ch + 1)
			left := r.IntN(w - cw + 1)
			return image.Rect(left, top, left+cw, top+ch), false
		}
	}
	inRatio := float64(w) / float64(h)
	lo, hi := math.Min(ratio[0], ratio[1]), math.Max(ratio[0], ratio[1])
	cw, ch := w, h
	switch {
	case inRatio < lo:
		ch = int(math.RoundToEven(float64(cw) / lo))
	case inRatio > hi:
		cw = int(math.RoundToEven(float64(ch) * hi))
	}
	top, left := (h-ch)/2, (w-cw)/2
	return image.Rect(left, top, left+cw, top+ch), true
}

// uniform returns U[a, b) like torch's uniform_.
func uniform(r *rand.Rand, a, b float64) float64 { return a + (b-a)*r.Float64() }

// CenterCropBox returns torchvision's F.center_crop box of a cw x ch crop
// in a w x h image (top = round((h - ch) / 2), half to even). Along an axis
// where the crop is larger than the image the box extends outside it, as
// torchvision's zero padding does.
func CenterCropBox(w, h, cw, ch int) image.Rectangle {
	return image.Rect(0, 0, cw, ch).Add(image.Pt(centerOffset(w, cw), centerOffset(h, ch)))
}

// centerOffset is torchvision's offset along one axis: a crop larger than
// the image is padded with (crop-size)//2 zeros before, the rest after.
func centerOffset(size, crop int) int {
	if crop > size {
		return -((crop - size) / 2)
	}
	return int(math.RoundToEven(float64(size-crop) / 2))
}

// CenterCrop writes the central cw x ch region of src into dst, padding
// with zeros where the crop is larger than the image.
func CenterCrop(dst, src *Image, cw, ch int) {
	box := CenterCropBox(src.W, src.H, cw, ch)
	Crop(dst, src, box)
}

// Crop writes the box of src into dst; parts outside src are zero.
func Crop(dst, src *Image, box image.Rectangle) {
	c := src.C
	dst.Reset(box.Dx(), box.Dy(), c)
	clear(dst.Pix)
	in := box.Intersect(image.Rect(0, 0, src.W, src.H))
	for y := in.Min.Y; y < in.Max.Y; y++ {
		d := ((y-box.Min.Y)*dst.W + (in.Min.X - box.Min.X)) * c
		s := (y*src.W + in.Min.X) * c
		copy(dst.Pix[d:d+in.Dx()*c], src.Pix[s:s+in.Dx()*c])
	}
}

// ShorterSide returns the output size of torchvision's Resize(size) with an
// int size: the shorter side becomes size, the longer int(size*long/short).
func ShorterSide(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// HFlip mirrors m left to right in place.
func HFlip(m *Image) {
	c, w := m.C, m.W
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*w*c : (y+1)*w*c]
		if c == 3 {
			for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
				a, b := row[3*i:3*i+3:3*i+3], row[3*j:3*j+3:3*j+3]
				a[0], b[0] = b[0], a[0]
				a[1], b[1] = b[1], a[1]
				a[2], b[2] = b[2], a[2]
			}
			continue
		}
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}
