package augment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"path/filepath"
	"sync"
	"testing"
)

func testPhoto(t testing.TB) *Image {
	return loadPNG(t, filepath.Join("testdata", "src_rgb.png"))
}

func TestResizeConstantImage(t *testing.T) {
	for _, f := range []Interp{Bilinear, Bicubic} {
		for _, v := range []uint8{0, 1, 127, 254, 255} {
			src := NewImage(37, 23, 3)
			for i := range src.Pix {
				src.Pix[i] = v
			}
			for _, sz := range [][2]int{{10, 7}, {100, 91}, {37, 5}, {3, 23}} {
				dst := &Image{}
				Resize(dst, src, sz[0], sz[1], f, nil)
				for _, p := range dst.Pix {
					if p != v {
						t.Fatalf("%v constant %d resized to %v gives %d", f, v, sz, p)
					}
				}
			}
		}
	}
}

func TestFlipProperties(t *testing.T) {
	src := testPhoto(t)
	m := src.Clone()
	HFlip(m)
	HFlip(m)
	if !bytes.Equal(m.Pix, src.Pix) {
		t.Fatal("flip twice is not the identity")
	}
	// Blur with reflect padding commutes with the flip exactly.
	a, b := src.Clone(), src.Clone()
	GaussianBlur(a, 9, 1.7, nil)
	HFlip(a)
	HFlip(b)
	GaussianBlur(b, 9, 1.7, nil)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("blur does not commute with flip")
	}
}

func TestBlurTinyImages(t *testing.T) {
	// Kernels wider than the image reflect repeatedly; a constant image stays constant.
	for _, sz := range [][2]int{{1, 1}, {2, 3}, {5, 1}} {
		m := NewImage(sz[0], sz[1], 3)
		for i := range m.Pix {
			m.Pix[i] = 200
		}
		GaussianBlur(m, 23, 2, nil)
		for _, p := range m.Pix {
			if p != 200 {
				t.Fatalf("%v: %d", sz, p)
			}
		}
	}
}

func TestRecipeDeterministicAcrossGoroutines(t *testing.T) {
	src := testPhoto(t)
	for _, name := range RecipeNames() {
		rec, err := NamedRecipe(name, 32)
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Validate(); err != nil {
			t.Fatal(err)
		}
		const n = 12
		want := make([][]*Image, n)
		for i := range n {
			want[i] = rec.Apply(nil, src, Key{Seed: 5, Epoch: 2, Index: uint64(i)}, nil)
		}
		got := make([][]*Image, n)
		var wg sync.WaitGroup
		for i := n - 1; i >= 0; i-- {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = rec.Apply(nil, src, Key{Seed: 5, Epoch: 2, Index: uint64(i)}, nil)
			}()
		}
		wg.Wait()
		for i := range n {
			for v := range want[i] {
				if !bytes.Equal(got[i][v].Pix, want[i][v].Pix) {
					t.Fatalf("%s sample %d view %d differs between runs", name, i, v)
				}
			}
		}
		if n := rec.NumViews(); n > 1 && bytes.Equal(want[0][0].Pix, want[0][1].Pix) {
			t.Errorf("%s: views 0 and 1 identical", name)
		}
		if bytes.Equal(want[0][0].Pix, want[1][0].Pix) {
			t.Errorf("%s: samples 0 and 1 identical", name)
		}
	}
}

func TestRecipeReusesBuffers(t *testing.T) {
	src := testPhoto(t)
	rec := BYOL(32, true)
	var s Scratch
	views := rec.Apply(nil, src, Key{Index: 1}, &s)
	allocs := testing.AllocsPerRun(20, func() {
		views = rec.Apply(views, src, Key{Index: 2}, &s)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per Apply with reused buffers", allocs)
	}
}

func TestGrayInputs(t *testing.T) {
	g := NewImage(28, 28, 1)
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	for _, ch := range []int{1, 3} {
		rec := BYOL(32, false)
		rec.Channels = ch
		views := rec.Apply(nil, g, Key{Index: 4}, nil)
		for _, v := range views {
			if v.C != ch || v.W != 32 || v.H != 32 {
				t.Fatalf("channels %d: view %dx%dx%d", ch, v.W, v.H, v.C)
			}
		}
		views2 := [][]*Image{views, rec.Apply(nil, g, Key{Index: 5}, nil)}
		buf, shape, err := rec.Batch(nil, views2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if shape != [4]int{2, ch, 32, 32} || len(buf) != 2*ch*32*32 {
			t.Fatalf("batch shape %v len %d", shape, len(buf))
		}
		if ch == 3 {
			// Replicated gray stays gray through jitter: the three planes match.
			p := 32 * 32
			for i := range p {
				if buf[i] == buf[p+i] && buf[p+i] == buf[2*p+i] {
					continue
				}
				// Planes differ only by the per-channel normalization.
				r := buf[i]*0.229 + 0.485
				gg := buf[p+i]*0.224 + 0.456
				if math.Abs(float64(r-gg)) > 1e-5 {
					t.Fatalf("gray pixel %d: r %v g %v", i, r, gg)
				}
			}
		}
	}
}

func TestToNCHWLayout(t *testing.T) {
	a := NewImage(3, 2, 3)
	for i := range a.Pix {
		a.Pix[i] = uint8(i)
	}
	b := a.Clone()
	HFlip(b)
	out, shape, err := Normalize{}.ToNCHW(nil, []*Image{a, b})
	if err != nil || shape != [4]int{2, 3, 2, 3} {
		t.Fatal(shape, err)
	}
	// out[n][c][y][x] = pix(y, x, c)/255
	for n, m := range []*Image{a, b} {
		for c := range 3 {
			for y := range 2 {
				for x := range 3 {
					got := out[((n*3+c)*2+y)*3+x]
					if want := float32(m.Pix[(y*3+x)*3+c]) / 255; got != want {
						t.Fatalf("n%d c%d y%d x%d: %v want %v", n, c, y, x, got, want)
					}
				}
			}
		}
	}
	if _, _, err := ImageNet.ToNCHW(nil, []*Image{a, NewImage(2, 2, 3)}); err == nil {
		t.Fatal("mixed sizes accepted")
	}
}

func pngBytes(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeBadInputs(t *testing.T) {
	good := pngBytes(t, image.NewGray(image.Rect(0, 0, 5, 4)))
	jpg := readTestdata(t, "plain_420.jpg")
	huge := append([]byte(nil), good...)
	// IHDR width and height at bytes 16..24: claim 100000 x 100000, and fix the chunk CRC.
	copy(huge[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty.png", nil, ErrFormat},
		{"text.jpg", []byte("hello, not an image"), ErrFormat},
		{"truncated.jpg", jpg[:len(jpg)/2], ErrFormat},
		{"header-only.jpg", jpg[:200], ErrFormat},
		{"truncated.png", good[:len(good)-20], ErrFormat},
		{"huge.png", huge, ErrTooLarge},
	} {
		m, err := Decode(tc.name, tc.data, DecodeOptions{})
		if m != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, m, err, tc.want)
			continue
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Name != tc.name {
			t.Errorf("%s: error %v does not name the file", tc.name, err)
		}
	}
	if _, err := Decode("small.png", good, DecodeOptions{MaxPixels: 19}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxPixels 19 accepted a 20-pixel image: %v", err)
	}
}

func TestOneByOneAndModes(t *testing.T) {
	one := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	one.Set(0, 0, color.NRGBA{10, 200, 30, 255})
	m, err := Decode("one.png", pngBytes(t, one), DecodeOptions{})
	if err != nil || m.W != 1 || m.C != 3 || m.Pix[1] != 200 {
		t.Fatalf("1x1: %v %v", m, err)
	}
	for _, name := range RecipeNames() {
		rec, _ := NamedRecipe(name, 24)
		for i, v := range rec.Apply(nil, m, Key{}, nil) {
			if sz := rec.ViewSpec(i).Size; v.W != sz || v.H != sz {
				t.Fatalf("%s on 1x1: %dx%d", name, v.W, v.H)
			}
		}
	}
	g16 := image.NewGray16(image.Rect(3, 5, 7, 8)) // non-zero origin
	g16.SetGray16(4, 6, color.Gray16{Y: 0xABCD})
	m, err = Decode("g16.png", pngBytes(t, g16), DecodeOptions{})
	if err != nil || m.C != 1 || m.W != 4 || m.H != 3 || m.Pix[1*4+1] != 0xAB {
		t.Fatalf("gray16: %+v %v", m, err)
	}
	m, _ = Decode("g16.png", pngBytes(t, g16), DecodeOptions{Channels: 3})
	if m.C != 3 || m.Pix[(1*4+1)*3+2] != 0xAB {
		t.Fatalf("gray16 as RGB: %+v", m)
	}
}

func TestFromImageOrigin(t *testing.T) {
	src := image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = uint8(i)
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = uint8(3*i), uint8(255-5*i)
	}
	sub := src.SubImage(image.Rect(3, 5, 14, 12)).(*image.YCbCr)
	m := FromImage(sub, 0)
	for y := 0; y < 7; y++ {
		for x := 0; x < 11; x++ {
			r, g, b, _ := sub.At(3+x, 5+y).RGBA()
			p := m.Pix[(y*11+x)*3:]
			if p[0] != uint8(r>>8) || p[1] != uint8(g>>8) || p[2] != uint8(b>>8) {
				t.Fatalf("(%d,%d): %v vs %d %d %d", x, y, p[:3], r>>8, g>>8, b>>8)
			}
		}
	}
}

func TestAddSymMatchesGeneric(t *testing.T) {
	r := newRand(13)
	for _, n := range []int{0, 1, 3, 7, 8, 9, 16, 31, 672} {
		a, b, o1 := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], o1[i] = float32(r.Float64()*255), float32(r.Float64()*255), float32(r.Float64()*100)
		}
		o2 := append([]float32(nil), o1...)
		addSym(o1, a, b, 0.1234567)
		addSymGeneric(o2, a, b, 0.1234567)
		for i := range o1 {
			if math.Float32bits(o1[i]) != math.Float32bits(o2[i]) {
				t.Fatalf("n %d i %d: %v vs %v", n, i, o1[i], o2[i])
			}
		}
	}
}

// TestResampleSIMDMatchesPortable compares the SIMD row kernels with the
// portable loops on random crops (including the image's last row and
// column, upscales, 1-pixel outputs, gray images).
func TestResampleSIMDMatchesPortable(t *testing.T) {
	r := newRand(14)
	n := 400
	if testing.Short() {
		n = 60
	}
	defer func() { fastResample = true }()
	for it := 0; it < n; it++ {
		w, h, c := 1+r.IntN(120), 1+r.IntN(90), 3
		if it%7 == 0 {
			c = 1
		}
		src := NewImage(w, h, c)
		for i := range src.Pix {
			src.Pix[i] = uint8(r.IntN(256))
		}
		x0, y0 := r.IntN(w), r.IntN(h)
		if it%3 == 0 { // touch the bottom-right corner
			x0, y0 = w-1-r.IntN(min(w, 5)), h-1-r.IntN(min(h, 5))
		}
		box := image.Rect(x0, y0, x0+1+r.IntN(w-x0), y0+1+r.IntN(h-y0))
		ow, oh := 1+r.IntN(70), 1+r.IntN(70)
		f := Interp(r.IntN(2))
		a, b := &Image{}, &Image{}
		fastResample = true
		ResizedCrop(a, src, box, ow, oh, f, nil)
		fastResample = false
		ResizedCrop(b, src, box, ow, oh, f, nil)
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("%dx%dx%d box %v -> %dx%d %v: SIMD and portable differ", w, h, c, box, ow, oh, f)
		}
	}
}

func TestBlurRowKernelsMatchGeneric(t *testing.T) {
	r := newRand(15)
	for _, n := range []int{0, 1, 4, 15, 16, 17, 33, 672} {
		a := make([]float32, n)
		in := make([]uint8, n)
		for i := range a {
			a[i] = float32(r.Float64()*300 - 20)
			if i%5 == 0 {
				a[i] = float32(r.IntN(256)) + 0.5 // exact ties round to even
			}
			in[i] = uint8(r.IntN(256))
		}
		o1, o2 := make([]uint8, n), make([]uint8, n)
		roundRow(o1, a)
		roundRowGeneric(o2, a)
		if !bytes.Equal(o1, o2) {
			t.Fatalf("roundRow n %d: %v vs %v", n, o1, o2)
		}
		s1, s2 := make([]float32, n), make([]float32, n)
		scale(s1, a, 0.37)
		scaleGeneric(s2, a, 0.37)
		f := make([]float32, n)
		toFloat(f, in)
		for i := range s1 {
			if s1[i] != s2[i] || f[i] != float32(in[i]) {
				t.Fatalf("scale/toFloat n %d i %d", n, i)
			}
		}
	}
}

func TestYCbCrConversionAllRatios(t *testing.T) {
	r := newRand(16)
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		for _, rect := range []image.Rectangle{image.Rect(0, 0, 17, 9), image.Rect(0, 0, 16, 8), image.Rect(3, 1, 14, 8), image.Rect(2, 2, 9, 9)} {
			full := image.NewYCbCr(image.Rect(0, 0, 20, 12), ratio)
			for i := range full.Y {
				full.Y[i] = uint8(r.IntN(256))
			}
			for i := range full.Cb {
				full.Cb[i], full.Cr[i] = uint8(r.IntN(256)), uint8(r.IntN(256))
			}
			sub := full.SubImage(rect).(*image.YCbCr)
			m := FromImage(sub, 3)
			for y := 0; y < rect.Dy(); y++ {
				for x := 0; x < rect.Dx(); x++ {
					c := sub.YCbCrAt(rect.Min.X+x, rect.Min.Y+y)
					rr, gg, bb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
					p := m.Pix[(y*rect.Dx()+x)*3:]
					if p[0] != rr || p[1] != gg || p[2] != bb {
						t.Fatalf("%v %v (%d,%d): %v, want %d %d %d", ratio, rect, x, y, p[:3], rr, gg, bb)
					}
				}
			}
		}
	}
}
