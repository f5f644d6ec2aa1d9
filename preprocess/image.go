package preprocess

import (
	"bytes"
	"context"
	"image/jpeg"
	"image/png"
	"sync"

	"github.com/sslpipe/sslpipe/augment"
)

// newImageProducer makes the image modality: decode (JPEG or PNG, header
// validated against MaxPixels before any pixel is allocated, EXIF
// orientation applied), optionally shrink so that the shorter side is
// MaxSide (never enlarged; Pillow-exact antialiased resampling), and encode
// as JPEG at Quality or as lossless PNG. Gray images stay gray.
func newImageProducer(ctx context.Context, o *Options, r *runner) (*mediaProducer, error) {
	interp, err := augment.ParseInterp(o.Interp)
	if err != nil {
		return nil, optErr("%v", err)
	}
	field := "jpg"
	if o.Format == "png" {
		field = "png"
	}
	scratch := sync.Pool{New: func() any { return new(augment.Scratch) }}
	dec := augment.DecodeOptions{MaxPixels: o.MaxPixels}
	fn := func(ctx context.Context, in *input, data []byte) (itemResult, error) {
		img, err := augment.Decode(in.Name, data, dec)
		if err != nil {
			return itemResult{}, err
		}
		if o.MaxSide > 0 && min(img.W, img.H) > o.MaxSide {
			w, h := augment.ShorterSide(img.W, img.H, o.MaxSide)
			s := scratch.Get().(*augment.Scratch)
			dst := &augment.Image{}
			augment.Resize(dst, img, w, h, interp, s)
			scratch.Put(s)
			img = dst
		}
		var buf bytes.Buffer
		if o.Format == "png" {
			enc := png.Encoder{CompressionLevel: png.DefaultCompression}
			err = enc.Encode(&buf, img.ToImage())
		} else {
			err = jpeg.Encode(&buf, img.ToImage(), &jpeg.Options{Quality: o.Quality})
		}
		if err != nil {
			return itemResult{}, err
		}
		return itemResult{Fields: []Field{{Name: field, Data: buf.Bytes()}}}, nil
	}
	return newMediaProducer(ctx, o, r, fn, []string{field}, &Meta{ImageFormat: o.Format})
}
