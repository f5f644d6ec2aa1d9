package augment

import (
	"bytes"
	"errors"
	"os"
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
