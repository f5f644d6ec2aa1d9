package augment

import "math/rand/v2"

// RotationClasses is the number of labels of rotation prediction (Gidaris
// et al., RotNet): label k means a rotation by k*90 degrees
// counter-clockwise, k in 0..3.
const RotationClasses = 4

// Rotate90 writes src rotated counter-clockwise by k quarter turns into
// dst (k is taken modulo 4, so -1 turns clockwise). It is an exact
// permutation of the pixel grid, for any size (odd and non-square too):
// the same array as numpy's np.rot90(img, k) on an H x W x C array, and
// PIL's img.transpose(Image.ROTATE_90) for k = 1. A k of 1 or 3 swaps the
// width and height. dst may be src; otherwise the two must not share
// pixel memory.
func Rotate90(dst, src *Image, k int) {
	k &= 3
	if dst == src {
		src = src.Clone()
	}
	w, h, c := src.W, src.H, src.C
	switch k {
	case 0:
		dst.CopyFrom(src)
	case 2:
		dst.Reset(w, h, c)
		n := w * h
		for i := 0; i < n; i++ {
			copy(dst.Pix[(n-1-i)*c:(n-i)*c], src.Pix[i*c:(i+1)*c])
		}
	case 1:
		// np.rot90: out[i][j] = in[j][w-1-i]; out is w rows of h pixels.
		dst.Reset(h, w, c)
		for i := 0; i < w; i++ {
			row := dst.Pix[i*h*c : (i+1)*h*c]
			x := w - 1 - i
			for j := 0; j < h; j++ {
				copy(row[j*c:(j+1)*c], src.Pix[(j*w+x)*c:(j*w+x+1)*c])
			}
		}
	case 3:
		// out[i][j] = in[h-1-j][i].
		dst.Reset(h, w, c)
		for i := 0; i < w; i++ {
			row := dst.Pix[i*h*c : (i+1)*h*c]
			for j := 0; j < h; j++ {
				y := h - 1 - j
				copy(row[j*c:(j+1)*c], src.Pix[(y*w+i)*c:(y*w+i+1)*c])
			}
		}
	}
}

// RandomRotation draws a label uniformly from 0..RotationClasses-1 with
// one r.IntN call, writes src rotated by label quarter turns into dst and
// returns the label.
func RandomRotation(dst, src *Image, r *rand.Rand) int {
	k := r.IntN(RotationClasses)
	Rotate90(dst, src, k)
	return k
}

// RotationViews writes the four rotations of src into dst (reused when it
// holds four images) and returns them: view k is src rotated by k quarter
// turns and has label k. RotNet trains on all four rotations of every
// image in the same batch; nothing here is random.
func RotationViews(dst []*Image, src *Image) []*Image {
	for len(dst) < RotationClasses {
		dst = append(dst, &Image{})
	}
	dst = dst[:RotationClasses]
	for k := range dst {
		if dst[k] == nil {
			dst[k] = &Image{}
		}
		Rotate90(dst[k], src, k)
	}
	return dst
}
