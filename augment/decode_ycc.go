package augment

import "image"

// libjpeg's YCbCr -> RGB tables (jdcolor.c build_ycc_rgb_table: 16-bit
// fixed point, FIX(x) = x*65536 rounded), the conversion every
// libjpeg-turbo decode, and so PIL's, ends with.
var yccTab = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	for i := range 256 {
		x := int32(i - 128)
		t.crR[i] = (91881*x + 1<<15) >> 16
		t.cbB[i] = (116130*x + 1<<15) >> 16
		t.crG[i] = -46802 * x
		t.cbG[i] = -22554*x + 1<<15
	}
	return t
}()

func clamp255(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	return uint8(^(v >> 31))
}

// yccRow converts one row of full-resolution Y, Cb, Cr to RGB as libjpeg
// does (ycc_rgb_convert).
func yccRow(out, y, cb, cr []uint8) {
	out = out[:3*len(y)]
	cb, cr = cb[:len(y)], cr[:len(y)]
	for i, yv := range y {
		yy := int32(yv)
		o := out[3*i : 3*i+3 : 3*i+3]
		o[0] = clamp255(yy + yccTab.crR[cr[i]])
		o[1] = clamp255(yy + (yccTab.cbG[cb[i]]+yccTab.crG[cr[i]])>>16)
		o[2] = clamp255(yy + yccTab.cbB[cb[i]])
	}
}

// jpegYCbCrToRGB converts an image/jpeg result to RGB the way libjpeg
// (with its defaults, as PIL decodes) turns the same decoded planes into
// pixels: "fancy" (triangle-filter) chroma upsampling for 4:2:0, 4:2:2
// and 4:4:0 (jdsample.c h2v2_fancy_upsample, h2v1_fancy_upsample,
// h1v2_fancy_upsample, with their rounding biases and edge rules) and
// jdcolor.c's fixed-point conversion. What is left between this and PIL
// is image/jpeg's IDCT rounding. It returns false, converting nothing,
// for other subsampling ratios and for images not at the origin (not as
// image/jpeg returns them).
func jpegYCbCrToRGB(dst *Image, s *image.YCbCr) bool {
	if s.Rect.Min != (image.Point{}) {
		return false
	}
	w, h := s.Rect.Dx(), s.Rect.Dy()
	var hs, vs int
	switch s.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	default:
		return false
	}
	cw, ch := (w+hs)>>hs, (h+vs)>>vs // the downsampled sizes, rounded up
	if len(s.Y) < (h-1)*s.YStride+w || len(s.Cb) < (ch-1)*s.CStride+cw || len(s.Cr) < (ch-1)*s.CStride+cw {
		return false
	}
	// libjpeg smooths horizontally only when a chroma row has more than
	// two samples; below that it replicates (h2v1_upsample, h2v2_upsample)
	// and, for 4:2:0, does not smooth vertically either.
	fancyH := hs == 1 && cw > 2
	fancyV := vs == 1 && (hs == 0 || fancyH)
	dst.Reset(w, h, 3)
	// Upsampled chroma rows and, for 2-D smoothing, the vertical sums.
	cb, cr := make([]uint8, 2*cw), make([]uint8, 2*cw)
	vb, vr := make([]int32, cw), make([]int32, cw)
	for y := range h {
		cy := y >> vs
		rowB := s.Cb[cy*s.CStride : cy*s.CStride+cw]
		rowR := s.Cr[cy*s.CStride : cy*s.CStride+cw]
		switch {
		case fancyV && fancyH: // 4:2:0: 3/4 nearer row + 1/4 the other, then columns
			ny := cy - 1 // the row above for even output rows ...
			if y&1 == 1 {
				ny = cy + 1 // ... below for odd ones
			}
			ny = min(max(ny, 0), ch-1) // edge rows are replicated
			nb := s.Cb[ny*s.CStride : ny*s.CStride+cw]
			nr := s.Cr[ny*s.CStride : ny*s.CStride+cw]
			for i := range cw {
				vb[i] = 3*int32(rowB[i]) + int32(nb[i])
				vr[i] = 3*int32(rowR[i]) + int32(nr[i])
			}
			h2v2Row(cb, vb)
			h2v2Row(cr, vr)
		case fancyV: // 4:4:0
			bias := int32(1)
			ny := cy - 1
			if y&1 == 1 {
				bias, ny = 2, cy+1
			}
			ny = min(max(ny, 0), ch-1)
			nb := s.Cb[ny*s.CStride : ny*s.CStride+cw]
			nr := s.Cr[ny*s.CStride : ny*s.CStride+cw]
			for i := range cw {
				cb[i] = uint8((3*int32(rowB[i]) + int32(nb[i]) + bias) >> 2)
				cr[i] = uint8((3*int32(rowR[i]) + int32(nr[i]) + bias) >> 2)
			}
		case fancyH: // 4:2:2
			h2v1Row(cb, rowB)
			h2v1Row(cr, rowR)
		case hs == 1: // 2 or fewer chroma columns: replicate
			for i := range cw {
				cb[2*i], cb[2*i+1] = rowB[i], rowB[i]
				cr[2*i], cr[2*i+1] = rowR[i], rowR[i]
			}
		default: // 4:4:4
			copy(cb, rowB)
			copy(cr, rowR)
		}
		yccRow(dst.Pix[3*w*y:3*w*(y+1)], s.Y[y*s.YStride:y*s.YStride+w], cb, cr)
	}
	return true
}

// h2v2Row is h2v2_fancy_upsample's horizontal step over the column sums
// c (3*nearer row + farther row): out[2i] = (3c[i] + c[i-1] + 8) >> 4,
// out[2i+1] = (3c[i] + c[i+1] + 7) >> 4, with 4c at the two ends.
// len(c) > 2.
func h2v2Row(out []uint8, c []int32) {
	n := len(c)
	out = out[:2*n]
	out[0] = uint8((4*c[0] + 8) >> 4)
	out[1] = uint8((3*c[0] + c[1] + 7) >> 4)
	for i := 1; i < n-1; i++ {
		out[2*i] = uint8((3*c[i] + c[i-1] + 8) >> 4)
		out[2*i+1] = uint8((3*c[i] + c[i+1] + 7) >> 4)
	}
	out[2*n-2] = uint8((3*c[n-1] + c[n-2] + 8) >> 4)
	out[2*n-1] = uint8((4*c[n-1] + 7) >> 4)
}

// h2v1Row is h2v1_fancy_upsample: out[2i] = (3in[i] + in[i-1] + 1) >> 2,
// out[2i+1] = (3in[i] + in[i+1] + 2) >> 2, the end samples copied.
// len(in) > 2.
func h2v1Row(out, in []uint8) {
	n := len(in)
	out = out[:2*n]
	out[0] = in[0]
	out[1] = uint8((3*int32(in[0]) + int32(in[1]) + 2) >> 2)
	for i := 1; i < n-1; i++ {
		v := 3 * int32(in[i])
		out[2*i] = uint8((v + int32(in[i-1]) + 1) >> 2)
		out[2*i+1] = uint8((v + int32(in[i+1]) + 2) >> 2)
	}
	out[2*n-2] = uint8((3*int32(in[n-1]) + int32(in[n-2]) + 1) >> 2)
	out[2*n-1] = in[n-1]
}
