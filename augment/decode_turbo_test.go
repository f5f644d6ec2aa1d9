package augment

import (
	"bytes"
	"errors"
	"image"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/augment/internal/turbo"
)

// TestJPEGDecoderChoice checks the start-up choice: libjpeg-turbo exactly
// when libturbojpeg.so.0 loads here and SSLPIPE_JPEG_DECODER does not say
// image/jpeg. CI installs the library (tools/install-deps.sh), so there
// the turbo branch runs; on a machine without it the fallback does.
func TestJPEGDecoderChoice(t *testing.T) {
	lib, err := turbo.Load()
	env := os.Getenv(DecoderEnv)
	switch {
	case env == "image/jpeg":
		if jpegLib != nil || JPEGDecoder != "image/jpeg" {
			t.Fatalf("%s=image/jpeg but JPEGDecoder %q", DecoderEnv, JPEGDecoder)
		}
	case err == nil:
		if jpegLib != lib || JPEGDecoder != "libjpeg-turbo" {
			t.Fatalf("%s loads but JPEGDecoder %q", turbo.Name, JPEGDecoder)
		}
	default:
		t.Logf("%s not loaded: %v", turbo.Name, err)
		if jpegLib != nil || JPEGDecoder != "image/jpeg" {
			t.Fatalf("no library but JPEGDecoder %q", JPEGDecoder)
		}
	}

	fake := &turbo.Lib{}
	ok := func() (*turbo.Lib, error) { return fake, nil }
	fail := func() (*turbo.Lib, error) { return nil, errors.New("absent") }
	for _, c := range []struct {
		env  string
		load func() (*turbo.Lib, error)
		want *turbo.Lib
	}{
		{"", ok, fake}, {"libjpeg-turbo", ok, fake}, {"image/jpeg", ok, nil},
		{"", fail, nil}, {"libjpeg-turbo", fail, nil}, {"image/jpeg", fail, nil},
	} {
		if got := chooseJPEGLib(c.env, c.load); got != c.want {
			t.Errorf("env %q: got %p, want %p", c.env, got, c.want)
		}
	}
}

// TestDecodeIntoUsesTurbo checks that DecodeInto takes the libjpeg-turbo
// path when the library is loaded (its pixels differ from image/jpeg's on
// this 4:2:0 file), and that both paths agree on the shape.
func TestDecodeIntoUsesTurbo(t *testing.T) {
	data := readTestdata(t, "plain_420.jpg")
	goImg, def := &Image{}, &Image{}
	if err := decodeInto(goImg, "plain_420.jpg", data, DecodeOptions{Channels: 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := DecodeInto(def, "plain_420.jpg", data, DecodeOptions{Channels: 3}); err != nil {
		t.Fatal(err)
	}
	if def.W != goImg.W || def.H != goImg.H || def.C != goImg.C {
		t.Fatalf("shapes %dx%dx%d and %dx%dx%d", def.W, def.H, def.C, goImg.W, goImg.H, goImg.C)
	}
	if jpegLib == nil {
		if !bytes.Equal(def.Pix, goImg.Pix) {
			t.Fatal("without libjpeg-turbo DecodeInto differs from image/jpeg")
		}
		t.Skip("libjpeg-turbo not loaded")
	}
	tj := &Image{}
	if err := decodeInto(tj, "plain_420.jpg", data, DecodeOptions{Channels: 3}, jpegLib); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(def.Pix, tj.Pix) || bytes.Equal(def.Pix, goImg.Pix) {
		t.Fatal("DecodeInto did not decode with libjpeg-turbo")
	}
	// A truncated file makes libjpeg warn: image/jpeg decides (and
	// rejects it), as with no library.
	if err := DecodeInto(def, "cut.jpg", data[:len(data)*2/3], DecodeOptions{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("truncated JPEG: %v", err)
	}
}

// TestDecodeIntoReusesPixels: decoding into an Image whose buffer is
// large enough keeps that buffer, on both paths.
func TestDecodeIntoReusesPixels(t *testing.T) {
	data := readTestdata(t, "plain_420.jpg")
	for _, lib := range []*turbo.Lib{nil, jpegLib} {
		dst := &Image{Pix: make([]uint8, 0, 1<<16)}
		p := &dst.Pix[:1][0]
		for i := 0; i < 3; i++ {
			if err := decodeInto(dst, "a.jpg", data, DecodeOptions{Channels: 3}, lib); err != nil {
				t.Fatal(err)
			}
			if &dst.Pix[0] != p {
				t.Fatalf("lib %v: pixel buffer reallocated", lib != nil)
			}
		}
	}
}

// TestJPEGYCbCrToRGBMatchesLibjpeg feeds libjpeg's own Y, Cb, Cr planes
// (before upsampling) to jpegYCbCrToRGB, the conversion of the image/jpeg
// path: the result must equal libjpeg's RGB decode bit for bit, for every
// subsampling the fixtures have (4:4:4, 4:2:2, 4:2:0, 4:4:0; odd sizes;
// chroma rows of two samples) and for the benchmark photos when present.
// What is left between the image/jpeg path and PIL is then the IDCT alone.
func TestJPEGYCbCrToRGBMatchesLibjpeg(t *testing.T) {
	if jpegLib == nil {
		t.Skip("libjpeg-turbo not loaded")
	}
	files, _ := filepath.Glob("testdata/*.jpg")
	photos, _ := filepath.Glob("/tmp/sslpipe-augment-images/*.jpg")
	files = append(files, photos...)
	seen := map[int]int{}
	ratio := map[int]image.YCbCrSubsampleRatio{
		turbo.Sub444: image.YCbCrSubsampleRatio444, turbo.Sub422: image.YCbCrSubsampleRatio422,
		turbo.Sub420: image.YCbCrSubsampleRatio420, turbo.Sub440: image.YCbCrSubsampleRatio440,
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, h, sub, ys, cs, planes, ok := jpegLib.DecodePlanes(data)
		if !ok {
			continue // gray, CMYK
		}
		seen[sub]++
		ycc := &image.YCbCr{Y: planes[0], Cb: planes[1], Cr: planes[2], YStride: ys, CStride: cs,
			SubsampleRatio: ratio[sub], Rect: image.Rect(0, 0, w, h)}
		got := &Image{}
		if !jpegYCbCrToRGB(got, ycc) {
			t.Fatalf("%s: not converted", f)
		}
		want := make([]byte, w*h*3)
		if !jpegLib.Decode(want, data, w, h, 3) {
			t.Fatalf("%s: libjpeg decode failed", f)
		}
		if !bytes.Equal(got.Pix, want) {
			n := 0
			for i := range want {
				if got.Pix[i] != want[i] {
					if n == 0 {
						t.Errorf("%s (%dx%d, subsampling %d): first difference at x %d y %d channel %d: %d, libjpeg %d",
							f, w, h, sub, i/3%w, i/3/w, i%3, got.Pix[i], want[i])
					}
					n++
				}
			}
			t.Errorf("%s: %d of %d samples differ", f, n, len(want))
		}
	}
	for _, s := range []int{turbo.Sub444, turbo.Sub422, turbo.Sub420, turbo.Sub440} {
		if seen[s] == 0 {
			t.Errorf("no fixture with subsampling %d", s)
		}
	}
}
