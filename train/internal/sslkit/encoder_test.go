package sslkit

import (
	"errors"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// testImage is a w x h image with c channels of distinct pixel values.
func testImage(w, h, c, seed int) *augment.Image {
	m := augment.NewImage(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8((i*37 + seed*101 + (i/5)*13) % 256)
	}
	return m
}

// Convert changes channels then size, leaves its source alone and returns
// an image that already fits as it is.
func TestInputConvert(t *testing.T) {
	fit := testImage(6, 6, 1, 1)
	if got := (Input{Size: 6, Channels: 1}).Convert(fit); got != fit {
		t.Error("an image of the input's size and channels was copied")
	}
	gray := testImage(5, 7, 1, 2)
	before := slices.Clone(gray.Pix)
	rgb := Input{Size: 5, Channels: 3}.Convert(gray)
	if rgb.W != 5 || rgb.H != 5 || rgb.C != 3 || !slices.Equal(gray.Pix, before) {
		t.Fatalf("gray 5x7 to RGB 5: got %dx%dx%d, source changed %v", rgb.W, rgb.H, rgb.C, !slices.Equal(gray.Pix, before))
	}
	for i := 0; i < rgb.W*rgb.H; i++ {
		if p := rgb.Pix[3*i : 3*i+3]; p[0] != p[1] || p[1] != p[2] {
			t.Fatalf("pixel %d of a gray image made RGB: %v", i, p)
		}
	}
	// RGB to gray: the gray conversion at the source's size, then resized.
	src := testImage(9, 4, 3, 3)
	want, g := &augment.Image{}, &augment.Image{}
	augment.ToGray(g, src)
	augment.Resize(want, g, 6, 6, augment.Bilinear, nil)
	got := Input{Size: 6, Channels: 1}.Convert(src)
	if got.W != 6 || got.H != 6 || got.C != 1 || !slices.Equal(got.Pix, want.Pix) {
		t.Errorf("RGB 9x4 to gray 6: got %dx%dx%d", got.W, got.H, got.C)
	}
}

// An encoder with MakeInput embeds what MakeInput makes, not In's
// conversion, and passes its error on; a closed encoder refuses to embed.
func TestEncoderMakeInput(t *testing.T) {
	defer op.LockThread()()
	p := NewParams(7, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, BackbonePrefix, nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{4, 8}})
	if err != nil {
		t.Fatal(err)
	}
	ex := []data.Example{{Key: "a", Image: testImage(8, 8, 1, 1)}, {Key: "b", Image: testImage(11, 9, 3, 2)}}
	in := Input{Size: 8, Channels: 1, Normalize: augment.Normalize{Mean: []float64{0.5}, Std: []float64{0.25}}}
	other := Input{Size: 8, Channels: 1, Normalize: augment.Normalize{Mean: []float64{0.1}, Std: []float64{0.5}}}
	embed := func(e *Encoder) [][]float32 {
		t.Helper()
		v, err := e.Embed(ex)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(ex) || len(v[0]) != e.Dim() {
			t.Fatalf("%d vectors of %d, want %d of %d", len(v), len(v[0]), len(ex), e.Dim())
		}
		return v
	}
	want := embed(&Encoder{Backbone: bb, In: in, Dev: gotch.CPU, Method: "test"})
	calls := 0
	made := &Encoder{Backbone: bb, In: other, Dev: gotch.CPU, Method: "test", MakeInput: func(ex []data.Example) ([]float32, [4]int, error) {
		calls++
		imgs := []*augment.Image{ex[0].Image, ex[1].Image}
		return train.ImageInput(imgs, in.Channels, in.Size, in.Normalize)
	}}
	got := embed(made)
	if calls != 1 {
		t.Errorf("MakeInput called %d times, want 1", calls)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Error("the embeddings of MakeInput's input differ from those of the same input made by In")
	}
	if slices.EqualFunc(embed(&Encoder{Backbone: bb, In: other, Dev: gotch.CPU}), want, slices.Equal) {
		t.Fatal("the two normalizations embed alike: the test cannot tell In from MakeInput")
	}
	bad := errors.New("no lightness")
	made.MakeInput = func([]data.Example) ([]float32, [4]int, error) { return nil, [4]int{}, bad }
	if _, err := made.Embed(ex); !errors.Is(err, bad) {
		t.Errorf("MakeInput's error: got %v", err)
	}
	made.Close()
	if _, err := made.Embed(ex); err == nil {
		t.Error("a closed encoder embedded")
	}
}
