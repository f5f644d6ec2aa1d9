//go:build cgo && !augment_noturbo

// Package turbo decodes JPEGs with libjpeg-turbo's TurboJPEG API (the
// library Pillow uses) through cgo. It is separate from augment because a
// package with cgo cannot also hold Go assembly.
package turbo

/*
#cgo LDFLAGS: -lturbojpeg
#include <turbojpeg.h>
*/
import "C"

import "unsafe"

// Available reports whether this build decodes with libjpeg-turbo.
const Available = true

// handles is a bounded free list of decompressors. A sync.Pool would
// drop handles at GC without freeing their C memory; here a handle that
// does not fit back is destroyed.
var handles = make(chan C.tjhandle, 64)

func get() C.tjhandle {
	select {
	case h := <-handles:
		return h
	default:
		return C.tjInitDecompress()
	}
}

func put(h C.tjhandle) {
	select {
	case handles <- h:
	default:
		C.tjDestroy(h)
	}
}

// Header returns the size and whether the JPEG is gray; ok is false when
// TurboJPEG cannot read it or it is CMYK/YCCK (left to image/jpeg).
func Header(data []byte) (w, h int, gray, ok bool) {
	if len(data) == 0 {
		return 0, 0, false, false
	}
	hd := get()
	if hd == nil {
		return 0, 0, false, false
	}
	defer put(hd)
	var cw, ch, sub, cs C.int
	if C.tjDecompressHeader3(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &cw, &ch, &sub, &cs) != 0 {
		return 0, 0, false, false
	}
	if cs == C.TJCS_CMYK || cs == C.TJCS_YCCK {
		return 0, 0, false, false
	}
	return int(cw), int(ch), cs == C.TJCS_GRAY, true
}

// Decode decodes data into dst, which must hold w*h*channels bytes
// (channels 1: gray, 3: RGB), with the accurate integer DCT and fancy
// upsampling (Pillow's defaults). It returns false on any error or
// warning, including truncated data, and on progressive files with an
// unreasonable number of scans (TJFLAG_LIMITSCANS: a known way to make a
// small file take minutes to decode).
func Decode(dst []byte, data []byte, w, h, channels int) bool {
	if len(data) == 0 || w <= 0 || h <= 0 || len(dst) < w*h*channels {
		return false
	}
	hd := get()
	if hd == nil {
		return false
	}
	defer put(hd)
	pf := C.int(C.TJPF_RGB)
	if channels == 1 {
		pf = C.TJPF_GRAY
	}
	return C.tjDecompress2(hd, (*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), 0, C.int(h), pf, C.TJFLAG_STOPONWARNING|C.TJFLAG_LIMITSCANS) == 0
}
