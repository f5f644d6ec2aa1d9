package augment

import (
	"os"

	"github.com/sslpipe/sslpipe/augment/internal/turbo"
)

// DecoderEnv is the environment variable that can turn libjpeg-turbo off:
// SSLPIPE_JPEG_DECODER=image/jpeg makes Decode use Go's image/jpeg even
// where the library is installed. It is read once, when the package is
// initialized.
const DecoderEnv = "SSLPIPE_JPEG_DECODER"

// jpegLib is the libjpeg-turbo Decode uses for JPEGs; nil means
// image/jpeg.
var jpegLib = chooseJPEGLib(os.Getenv(DecoderEnv), turbo.Load)

// JPEGDecoder names the JPEG decoder Decode uses: "libjpeg-turbo" when
// libturbojpeg.so.0 (libjpeg-turbo 2.0 or later, the library Pillow uses,
// so decoded pixels equal PIL's) was found at start-up, in cgo and
// CGO_ENABLED=0 builds alike, and "image/jpeg" when it was not, when
// DecoderEnv says image/jpeg, or in builds with the augment_noturbo tag.
// The image/jpeg path upsamples chroma and converts to RGB exactly as
// libjpeg does, so it differs from PIL only by Go's IDCT rounding: mean
// |difference| 0.02-0.04 levels, at most 2-3, on the test photos. Even
// with libjpeg-turbo, CMYK/YCCK files and files that make libjpeg warn go
// to image/jpeg.
var JPEGDecoder = map[bool]string{true: "libjpeg-turbo", false: "image/jpeg"}[jpegLib != nil]

// chooseJPEGLib returns the library to decode with: none when env asks
// for image/jpeg, else what load gives (none when it fails). Any other
// value of env, empty included, means libjpeg-turbo where it loads.
func chooseJPEGLib(env string, load func() (*turbo.Lib, error)) *turbo.Lib {
	if env == "image/jpeg" {
		return nil
	}
	l, err := load()
	if err != nil {
		return nil
	}
	return l
}

// decodeJPEGFast decodes with libjpeg-turbo into dst. handled is false
// when image/jpeg should decide instead: no library, CMYK/YCCK files,
// and any libjpeg warning (truncated or slightly corrupt data), which
// image/jpeg then accepts or rejects.
func decodeJPEGFast(lib *turbo.Lib, dst *Image, data []byte, channels, maxPixels int) (handled bool) {
	if lib == nil {
		return false
	}
	w, h, gray, ok := lib.Header(data)
	if !ok || w <= 0 || h <= 0 || int64(w)*int64(h) > int64(maxPixels) {
		// Also when libjpeg reads another size than image/jpeg's header
		// check did: image/jpeg decides.
		return false
	}
	// A gray JPEG decodes to its one channel (what PIL opens it as); a
	// color one to RGB, then to gray with PIL's weights if asked (libjpeg's
	// own gray output would be the Y plane, not PIL's convert("L")).
	c := 3
	if gray && channels != 3 {
		c = 1
	}
	dst.Reset(w, h, c)
	if !lib.Decode(dst.Pix, data, w, h, c) {
		return false
	}
	if channels == 1 && c == 3 {
		grayInPlace(dst)
	}
	return true
}
