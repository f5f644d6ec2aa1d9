package augment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/augment/internal/turbo"
)

// DefaultMaxPixels is the largest image (width x height) Decode accepts
// unless DecodeOptions.MaxPixels says otherwise: 64 megapixels, about
// 192 MiB decoded.
const DefaultMaxPixels = 64 << 20

// Errors returned (wrapped in a *DecodeError) by Decode.
var (
	// ErrTooLarge: the header declares more pixels than allowed; nothing
	// was allocated for the pixels.
	ErrTooLarge = errors.New("image too large")
	// ErrFormat: not a JPEG or PNG, or a corrupt or truncated file.
	ErrFormat = errors.New("invalid or unsupported image")
)

// DecodeError says which file failed to decode and why. Err wraps
// ErrTooLarge or ErrFormat (and the decoder's own error).
type DecodeError struct {
	Name string
	Err  error
}

func (e *DecodeError) Error() string { return "augment: " + e.Name + ": " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// DecodeOptions configures Decode.
type DecodeOptions struct {
	// MaxPixels bounds width*height read from the header before any pixel
	// is decoded; 0 means DefaultMaxPixels.
	MaxPixels int
	// Channels of the result: 3 converts gray to RGB by replicating (what
	// torchvision's folder loader does with convert("RGB")), 1 converts
	// to gray with PIL's weights, 0 keeps gray images gray and makes every
	// other image RGB.
	Channels int
	// IgnoreOrientation skips the EXIF orientation (JPEG APP1) transform.
	IgnoreOrientation bool
}

// DecodeFile reads and decodes the JPEG or PNG at path. See Decode.
func DecodeFile(path string, opt DecodeOptions) (*Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("augment: %w", err)
	}
	return Decode(filepath.Base(path), data, opt)
}

// Decode decodes a JPEG or PNG held in data; name is used in errors only.
// The header is read first and images larger than opt.MaxPixels are
// rejected with ErrTooLarge before their pixels are allocated. A panic
// inside the standard decoders is turned into an ErrFormat error. EXIF
// orientation (tags 2-8) is applied, so the result is upright.
func Decode(name string, data []byte, opt DecodeOptions) (*Image, error) {
	img := &Image{}
	if err := DecodeInto(img, name, data, opt); err != nil {
		return nil, err
	}
	return img, nil
}

// DecodeInto is Decode writing into dst, whose pixel buffer is reused when
// large enough (with libjpeg-turbo a JPEG is decoded straight into it; a
// worker decoding many files then allocates only the few small objects of
// the header check per file). On error dst is unspecified.
func DecodeInto(dst *Image, name string, data []byte, opt DecodeOptions) error {
	return decodeInto(dst, name, data, opt, jpegLib)
}

// decodeInto is DecodeInto decoding JPEGs with lib, or with image/jpeg
// when lib is nil.
func decodeInto(dst *Image, name string, data []byte, opt DecodeOptions, lib *turbo.Lib) (err error) {
	if opt.Channels != 0 && opt.Channels != 1 && opt.Channels != 3 {
		return fmt.Errorf("augment: %s: DecodeOptions.Channels must be 0, 1 or 3, got %d", name, opt.Channels)
	}
	maxPix := opt.MaxPixels
	if maxPix <= 0 {
		maxPix = DefaultMaxPixels
	}
	if len(data) == 0 {
		return &DecodeError{name, fmt.Errorf("%w: empty file", ErrFormat)}
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return &DecodeError{name, fmt.Errorf("%w: %v", ErrFormat, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return &DecodeError{name, fmt.Errorf("%w: %dx%d image", ErrFormat, cfg.Width, cfg.Height)}
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPix) {
		return &DecodeError{name, fmt.Errorf("%w: header declares %dx%d pixels (limit %d)", ErrTooLarge, cfg.Width, cfg.Height, maxPix)}
	}
	defer func() {
		if r := recover(); r != nil {
			err = &DecodeError{name, fmt.Errorf("%w: decoder panic: %v", ErrFormat, r)}
		}
	}()
	var src image.Image
	switch format {
	case "jpeg":
		if decodeJPEGFast(lib, dst, data, opt.Channels, maxPix) {
			return orientJPEG(dst, data, opt)
		}
		src, err = jpeg.Decode(bytes.NewReader(data))
	case "png":
		src, err = png.Decode(bytes.NewReader(data))
	default:
		err = fmt.Errorf("format %q not supported (JPEG and PNG are)", format)
	}
	if err != nil {
		return &DecodeError{name, fmt.Errorf("%w: %v", ErrFormat, err)}
	}
	if ycc, ok := src.(*image.YCbCr); ok && jpegYCbCrToRGB(dst, ycc) {
		if opt.Channels == 1 {
			grayInPlace(dst)
		}
	} else {
		fromImageInto(dst, src, opt.Channels)
	}
	if format == "jpeg" {
		return orientJPEG(dst, data, opt)
	}
	return nil
}

func orientJPEG(img *Image, data []byte, opt DecodeOptions) error {
	if opt.IgnoreOrientation {
		return nil
	}
	if o := exifOrientation(data); o > 1 {
		out := &Image{}
		Orient(out, img, o)
		*img = *out
	}
	return nil
}

// exifOrientation returns the EXIF orientation tag (1-8) of a JPEG, or 0
// when there is none or it cannot be read. It only scans the markers
// before the first scan.
func exifOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 0
	}
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xFF {
			return 0
		}
		marker := data[p+1]
		if marker == 0xFF { // fill byte
			p++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 0
		}
		n := int(binary.BigEndian.Uint16(data[p+2:]))
		if n < 2 || p+2+n > len(data) {
			return 0
		}
		seg := data[p+4 : p+2+n]
		if marker == 0xE1 && len(seg) >= 14 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		p += 2 + n
	}
	return 0
}

func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	ifd := int(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[ifd:]))
	for i := 0; i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 { // SHORT
			o := int(bo.Uint16(t[e+8:]))
			if o >= 1 && o <= 8 {
				return o
			}
			return 0
		}
	}
	return 0
}

// Orient writes into dst the image src transformed so that an image stored
// with EXIF orientation o (1-8) is displayed upright. Orientations 5-8
// swap width and height. Out-of-range values copy src.
func Orient(dst, src *Image, o int) {
	w, h, c := src.W, src.H, src.C
	if o < 2 || o > 8 {
		dst.CopyFrom(src)
		return
	}
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst.Reset(dw, dh, c)
	// For each destination pixel (dx, dy) find the source pixel.
	for dy := 0; dy < dh; dy++ {
		for dx := 0; dx < dw; dx++ {
			var sx, sy int
			switch o {
			case 2: // mirrored horizontally
				sx, sy = w-1-dx, dy
			case 3: // rotated 180
				sx, sy = w-1-dx, h-1-dy
			case 4: // mirrored vertically
				sx, sy = dx, h-1-dy
			case 5: // transpose
				sx, sy = dy, dx
			case 6: // stored rotated 90 CCW: rotate 90 CW to display
				sx, sy = dy, h-1-dx
			case 7: // transverse
				sx, sy = w-1-dy, h-1-dx
			case 8: // stored rotated 90 CW: rotate 90 CCW to display
				sx, sy = w-1-dy, dx
			}
			copy(dst.Pix[(dy*dw+dx)*c:(dy*dw+dx+1)*c], src.Pix[(sy*w+sx)*c:])
		}
	}
}
