// Package turbo decodes JPEGs with libjpeg-turbo's TurboJPEG API, the
// library Pillow decodes with, loaded at run time: Open dlopens
// libturbojpeg.so.0 through purego, so neither cgo nor the library is
// needed to build, and a binary starts where the library is absent (Open
// then fails and callers fall back to image/jpeg).
//
// Loading is supported on linux/amd64 and linux/arm64; elsewhere, and in
// builds with the augment_noturbo tag (which also keeps purego out of the
// binary, leaving a CGO_ENABLED=0 build fully static), Open always fails.
// The library must be libjpeg-turbo 2.0 or later (TJFLAG_STOPONWARNING);
// with 2.1 or later the number of progressive scans is also bounded
// (TJFLAG_LIMITSCANS).
package turbo

import (
	"errors"
	"sync"
)

// Name is the file name Load asks the dynamic loader for (the SONAME of
// libjpeg-turbo's TurboJPEG library in its 2.x and 3.x releases).
const Name = "libturbojpeg.so.0"

// ErrNotBuilt is returned by Open in builds that cannot load the library.
var ErrNotBuilt = errors.New("turbo: run-time loading of libturbojpeg not supported in this build")

// Load opens Name once per process and returns the same result to every
// caller.
var Load = sync.OnceValues(func() (*Lib, error) { return Open(Name) })

// TurboJPEG constants (turbojpeg.h, stable since 2.0).
const (
	pfRGB             = 0
	pfGray            = 6
	csGray            = 2
	csCMYK            = 3
	csYCCK            = 4
	flagStopOnWarning = 8192
	flagLimitScans    = 32768
)

// Lib is a loaded TurboJPEG library. Its methods are safe for concurrent
// use: each call takes a decompressor from a bounded free list (a
// sync.Pool would drop handles at GC without freeing their C memory; here
// a handle that does not fit back is destroyed).
type Lib struct {
	path string
	// C function pointers.
	initDecompress, decompressHeader3, decompress2, destroy uintptr
	decompressToYUVPlanes                                   uintptr // 0 if absent
	handles                                                 chan *handle
}

// handle is one tjhandle with the int out-parameters of
// tjDecompressHeader3, kept with it so that a call allocates nothing.
type handle struct {
	h   uintptr
	out [4]int32 // width, height, subsampling, colorspace
}

// Path returns the name Lib was opened with.
func (l *Lib) Path() string { return l.path }

func (l *Lib) get() *handle {
	select {
	case h := <-l.handles:
		return h
	default:
		h := l.newHandle()
		if h == 0 {
			return nil
		}
		return &handle{h: h}
	}
}

func (l *Lib) put(h *handle) {
	select {
	case l.handles <- h:
	default:
		l.destroyHandle(h.h)
	}
}

// Header returns the size and whether the JPEG is gray; ok is false when
// TurboJPEG cannot read it or it is CMYK/YCCK (left to image/jpeg).
func (l *Lib) Header(data []byte) (w, h int, gray, ok bool) {
	if l == nil || len(data) == 0 {
		return 0, 0, false, false
	}
	hd := l.get()
	if hd == nil {
		return 0, 0, false, false
	}
	defer l.put(hd)
	if !l.header(hd, data) {
		return 0, 0, false, false
	}
	cs := hd.out[3]
	if cs == csCMYK || cs == csYCCK {
		return 0, 0, false, false
	}
	return int(hd.out[0]), int(hd.out[1]), cs == csGray, true
}

// Decode decodes data into dst, which must hold w*h*channels bytes
// (channels 1: gray, 3: RGB), with the accurate integer DCT and fancy
// upsampling (Pillow's defaults). It returns false on any error or
// warning, including truncated data, and on progressive files with an
// unreasonable number of scans (TJFLAG_LIMITSCANS: a known way to make a
// small file take minutes to decode).
func (l *Lib) Decode(dst []byte, data []byte, w, h, channels int) bool {
	if l == nil || len(data) == 0 || w <= 0 || h <= 0 || (channels != 1 && channels != 3) || len(dst) < w*h*channels {
		return false
	}
	hd := l.get()
	if hd == nil {
		return false
	}
	defer l.put(hd)
	pf := pfRGB
	if channels == 1 {
		pf = pfGray
	}
	return l.decode(hd, dst, data, w, h, pf, flagStopOnWarning|flagLimitScans)
}

// Subsampling of a JPEG's chroma planes, as TurboJPEG numbers them.
const (
	Sub444 = 0
	Sub422 = 1
	Sub420 = 2
	Sub440 = 4
)

// DecodePlanes decodes a YCbCr JPEG without chroma upsampling or color
// conversion (tjDecompressToYUVPlanes): the Y, Cb and Cr planes as
// libjpeg's IDCT leaves them. The Y plane has yStride x (h rounded up to
// the vertical factor) bytes, yStride being w rounded up to the
// horizontal factor; the chroma planes are cStride = yStride/hf wide and
// that height over vf, where (hf, vf) is (1, 1) for Sub444, (2, 1) for
// Sub422, (2, 2) for Sub420 and (1, 2) for Sub440. Only those are read;
// ok is false for other subsamplings, for gray or CMYK files and on any
// warning. It exists so that tests can feed libjpeg's own planes to a Go
// conversion and compare the result with Decode's.
func (l *Lib) DecodePlanes(data []byte) (w, h, sub, yStride, cStride int, planes [3][]byte, ok bool) {
	if l == nil || l.decompressToYUVPlanes == 0 || len(data) == 0 {
		return
	}
	hd := l.get()
	if hd == nil {
		return
	}
	defer l.put(hd)
	if !l.header(hd, data) || hd.out[3] != 1 { // TJCS_YCbCr
		return
	}
	w, h, sub = int(hd.out[0]), int(hd.out[1]), int(hd.out[2])
	hf, vf := 1, 1
	switch sub {
	case Sub444:
	case Sub422:
		hf = 2
	case Sub420:
		hf, vf = 2, 2
	case Sub440:
		vf = 2
	default:
		return 0, 0, 0, 0, 0, planes, false
	}
	yStride, ph := (w+hf-1)/hf*hf, (h+vf-1)/vf*vf // tjPlaneWidth, tjPlaneHeight
	cStride = yStride / hf
	planes = [3][]byte{make([]byte, yStride*ph), make([]byte, cStride*ph/vf), make([]byte, cStride*ph/vf)}
	if !l.decodePlanes(hd, &planes, data, w, h, flagStopOnWarning|flagLimitScans) {
		return 0, 0, 0, 0, 0, [3][]byte{}, false
	}
	return w, h, sub, yStride, cStride, planes, true
}
