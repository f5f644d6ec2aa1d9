package augment

import (
	"os"
	"path/filepath"
	"testing"
)

// benchImages loads the benchmark JPEGs (benchmarks/augment/make_images.py,
// default /tmp/sslpipe-augment-images, or $SSLPIPE_AUGMENT_IMAGES) as raw
// file bytes; it skips when they are absent.
func benchImages(b *testing.B) [][]byte {
	dir := os.Getenv("SSLPIPE_AUGMENT_IMAGES")
	if dir == "" {
		dir = "/tmp/sslpipe-augment-images"
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if len(files) == 0 {
		b.Skip("no benchmark images; run /usr/bin/python3 benchmarks/augment/make_images.py")
	}
	var out [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// benchRecipe measures the whole per-image work of a worker: decode once,
// all views, normalize each view into a float32 CHW buffer.
func benchRecipe(b *testing.B, rec Recipe) {
	imgs := benchImages(b)
	var s Scratch
	var views []*Image
	var buf []float32
	src := &Image{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := DecodeInto(src, "bench.jpg", imgs[i%len(imgs)], DecodeOptions{Channels: 3}); err != nil {
			b.Fatal(err)
		}
		views = rec.Apply(views, src, Key{Seed: 1, Index: uint64(i)}, &s)
		for v, m := range views {
			n := m.C * m.W * m.H
			if cap(buf) < n {
				buf = make([]float32, n)
			}
			rec.ViewSpec(v).Normalize.ToCHW(buf[:n], m)
		}
	}
	b.ReportMetric(float64(b.N*rec.NumViews())/b.Elapsed().Seconds(), "views/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkBYOL224(b *testing.B)      { benchRecipe(b, BYOL(224, true)) }
func BenchmarkBYOL32NoBlur(b *testing.B) { benchRecipe(b, BYOL(32, false)) }
func BenchmarkDINO(b *testing.B)         { benchRecipe(b, DINO(224, 96, 8)) }

func BenchmarkDecodeJPEG(b *testing.B) {
	imgs := benchImages(b)
	dst := &Image{}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := DecodeInto(dst, "bench.jpg", imgs[i%len(imgs)], DecodeOptions{Channels: 3}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(0, JPEGDecoder)
}

func benchOp(b *testing.B, f func(m *Image, s *Scratch)) {
	src := &Image{}
	Resize(src, testPhoto(b), 224, 224, Bicubic, nil)
	m := src.Clone()
	var s Scratch
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(m.Pix, src.Pix)
		f(m, &s)
	}
}

func BenchmarkResizedCrop224(b *testing.B) {
	imgs := benchImages(b)
	src, _ := Decode("a.jpg", imgs[0], DecodeOptions{Channels: 3})
	dst := &Image{}
	var s Scratch
	r := newRand(1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		box, _ := RandomResizedCropParams(r, src.W, src.H, [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3})
		ResizedCrop(dst, src, box, 224, 224, Bicubic, &s)
	}
}

func BenchmarkHue224(b *testing.B) { benchOp(b, func(m *Image, s *Scratch) { AdjustHue(m, 0.05) }) }
func BenchmarkSaturation224(b *testing.B) {
	benchOp(b, func(m *Image, s *Scratch) { AdjustSaturation(m, 0.7) })
}
func BenchmarkContrast224(b *testing.B) {
	benchOp(b, func(m *Image, s *Scratch) { AdjustContrast(m, 0.7) })
}
func BenchmarkBlur23Sigma1(b *testing.B) {
	benchOp(b, func(m *Image, s *Scratch) { GaussianBlur(m, 23, 1.05, s) })
}
func BenchmarkBlur23Sigma2(b *testing.B) {
	benchOp(b, func(m *Image, s *Scratch) { GaussianBlur(m, 23, 2.0, s) })
}
func BenchmarkNormalize224(b *testing.B) {
	buf := make([]float32, 3*224*224)
	benchOp(b, func(m *Image, s *Scratch) { ImageNet.ToCHW(buf, m) })
}

func BenchmarkBrightness224(b *testing.B) {
	benchOp(b, func(m *Image, s *Scratch) { AdjustBrightness(m, 1.2) })
}
func BenchmarkSolarize224(b *testing.B)  { benchOp(b, func(m *Image, s *Scratch) { Solarize(m, 128) }) }
func BenchmarkGrayscale224(b *testing.B) { benchOp(b, func(m *Image, s *Scratch) { Grayscale(m) }) }
func BenchmarkCopy224(b *testing.B)      { benchOp(b, func(m *Image, s *Scratch) {}) }
