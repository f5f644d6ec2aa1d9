package augment

import "github.com/sslpipe/sslpipe/augment/internal/turbo"

// JPEGDecoder names the JPEG decoder Decode uses: "libjpeg-turbo" in cgo
// builds (the library Pillow uses, so decoded pixels equal PIL's) and
// "image/jpeg" with CGO_ENABLED=0 or the augment_noturbo build tag.
var JPEGDecoder = map[bool]string{true: "libjpeg-turbo", false: "image/jpeg"}[turbo.Available]

// decodeJPEGFast decodes with libjpeg-turbo into dst. handled is false
// when image/jpeg should decide instead: pure-Go builds, CMYK/YCCK files,
// and any libjpeg warning (truncated or slightly corrupt data), which
// image/jpeg then accepts or rejects.
func decodeJPEGFast(dst *Image, data []byte, channels, maxPixels int) (handled bool, err error) {
	if !turbo.Available {
		return false, nil
	}
	w, h, gray, ok := turbo.Header(data)
	if !ok || w <= 0 || h <= 0 || int64(w)*int64(h) > int64(maxPixels) {
		// Also when libjpeg reads another size than image/jpeg's header
		// check did: image/jpeg decides.
		return false, nil
	}
	c := 3
	if channels == 1 || (channels == 0 && gray) {
		c = 1
	}
	dst.Reset(w, h, c)
	if !turbo.Decode(dst.Pix, data, w, h, c) {
		return false, nil
	}
	return true, nil
}
