package augment

import (
	"fmt"
	"image"
	"image/color"
)

// Image is an 8-bit image with 1 (gray) or 3 (RGB) interleaved channels.
// Row y starts at Pix[y*W*C]; there is no padding between rows.
type Image struct {
	W, H, C int
	Pix     []uint8
}

// NewImage returns a zeroed w x h image with c channels.
func NewImage(w, h, c int) *Image {
	m := &Image{}
	m.Reset(w, h, c)
	clear(m.Pix)
	return m
}

// Reset sets the size of m, reusing Pix when its capacity allows. The pixel
// contents after Reset are unspecified.
func (m *Image) Reset(w, h, c int) {
	if w < 0 || h < 0 || (c != 1 && c != 3) {
		panic(fmt.Sprintf("augment: invalid image shape %dx%dx%d", w, h, c))
	}
	n := w * h * c
	if cap(m.Pix) < n {
		m.Pix = make([]uint8, n)
	}
	m.W, m.H, m.C, m.Pix = w, h, c, m.Pix[:n]
}

// Clone returns a deep copy of m.
func (m *Image) Clone() *Image {
	return &Image{W: m.W, H: m.H, C: m.C, Pix: append([]uint8(nil), m.Pix...)}
}

// CopyFrom makes m a copy of src, reusing m's buffer.
func (m *Image) CopyFrom(src *Image) {
	m.Reset(src.W, src.H, src.C)
	copy(m.Pix, src.Pix)
}

// Stride is the number of bytes per row.
func (m *Image) Stride() int { return m.W * m.C }

// ToImage converts m to an *image.RGBA (C == 3) or *image.Gray (C == 1).
func (m *Image) ToImage() image.Image {
	if m.C == 1 {
		g := image.NewGray(image.Rect(0, 0, m.W, m.H))
		copy(g.Pix, m.Pix)
		return g
	}
	o := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		o.Pix[j], o.Pix[j+1], o.Pix[j+2], o.Pix[j+3] = m.Pix[i], m.Pix[i+1], m.Pix[i+2], 255
	}
	return o
}

// FromImage converts any image.Image (any origin, any color model) to an
// Image with the given number of channels (1 or 3); channels 0 keeps gray
// images gray and makes everything else RGB. Alpha is dropped without
// compositing, as PIL's convert("RGB") does; 16-bit samples keep their
// high byte. Gray to RGB replicates; RGB to gray uses PIL's "L" weights.
func FromImage(src image.Image, channels int) *Image {
	dst := &Image{}
	fromImageInto(dst, src, channels)
	return dst
}

// fromImageInto is FromImage writing into out, reusing its buffer when the
// image keeps its native channel count.
func fromImageInto(out *Image, src image.Image, channels int) {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	native := 3
	switch src.(type) {
	case *image.Gray, *image.Gray16:
		native = 1
	}
	if channels == 0 {
		channels = native
	}
	dst := out // the image in its native channels
	if channels != native {
		dst = &Image{}
	}
	dst.Reset(w, h, native)
	switch s := src.(type) {
	case *image.YCbCr:
		ycbcrToRGB(dst, s)
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*w:(y+1)*w], s.Pix[(y)*s.Stride:])
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			out := dst.Pix[y*3*w : (y+1)*3*w]
			for x := 0; x < w; x++ {
				out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		// RGBA is premultiplied; un-premultiply like color.NRGBAModel.
		if opaque(s) {
			for y := 0; y < h; y++ {
				row := s.Pix[y*s.Stride : y*s.Stride+4*w]
				out := dst.Pix[y*3*w : (y+1)*3*w]
				for x := 0; x < w; x++ {
					out[3*x], out[3*x+1], out[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
				}
			}
		} else {
			genericToImage(dst, src)
		}
	default:
		genericToImage(dst, src)
	}
	switch {
	case channels == native: // dst is out
	case channels == 3:
		GrayToRGB(out, dst)
	default:
		ToGray(out, dst)
	}
}

func opaque(s *image.RGBA) bool {
	for i := 3; i < len(s.Pix); i += 4 {
		if s.Pix[i] != 255 {
			return false
		}
	}
	return true
}

func genericToImage(dst *Image, src image.Image) {
	b := src.Bounds()
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if dst.C == 1 {
				g := color.Gray16Model.Convert(src.At(x, y)).(color.Gray16)
				dst.Pix[i] = uint8(g.Y >> 8)
				i++
				continue
			}
			c := color.NRGBA64Model.Convert(src.At(x, y)).(color.NRGBA64)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			i += 3
		}
	}
}

// ycbcrToRGB converts with the same integer arithmetic as color.YCbCrToRGB
// (JFIF full-range BT.601), for every chroma subsampling ratio.
func ycbcrToRGB(dst *Image, s *image.YCbCr) {
	b := s.Rect
	w, h := b.Dx(), b.Dy()
	hs, vs := 0, 0
	switch s.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	}
	x0c := b.Min.X >> hs
	for y := 0; y < h; y++ {
		sy := b.Min.Y + y
		yrow := s.Y[(sy-b.Min.Y)*s.YStride : (sy-b.Min.Y)*s.YStride+w]
		crow := ((sy >> vs) - (b.Min.Y >> vs)) * s.CStride
		out := dst.Pix[y*3*w : (y+1)*3*w]
		if hs == 1 && b.Min.X&1 == 0 {
			// 4:2:0 and 4:2:2 (what cameras and PIL write): one chroma
			// sample per pixel pair, its terms computed once.
			cw := (w + 1) / 2
			cb, cr := s.Cb[crow:crow+cw], s.Cr[crow:crow+cw]
			for cx := range cb {
				cb1 := int32(cb[cx]) - 128
				cr1 := int32(cr[cx]) - 128
				rc, gc, bc := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
				x := 2 * cx
				yy1 := int32(yrow[x]) * 0x10101
				o := out[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2] = clampShift16(yy1+rc), clampShift16(yy1+gc), clampShift16(yy1+bc)
				if x+1 < w {
					yy1 = int32(yrow[x+1]) * 0x10101
					o = out[3*x+3 : 3*x+6 : 3*x+6]
					o[0], o[1], o[2] = clampShift16(yy1+rc), clampShift16(yy1+gc), clampShift16(yy1+bc)
				}
			}
			continue
		}
		for x := 0; x < w; x++ {
			ci := crow + ((b.Min.X + x) >> hs) - x0c
			yy1 := int32(yrow[x]) * 0x10101
			cb1 := int32(s.Cb[ci]) - 128
			cr1 := int32(s.Cr[ci]) - 128
			r := yy1 + 91881*cr1
			g := yy1 - 22554*cb1 - 46802*cr1
			bb := yy1 + 116130*cb1
			out[3*x] = clampShift16(r)
			out[3*x+1] = clampShift16(g)
			out[3*x+2] = clampShift16(bb)
		}
	}
}

func clampShift16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}
