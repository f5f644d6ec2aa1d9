package plot

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func same(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	return uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B
}

func count(img image.Image, r image.Rectangle, want color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if same(img.At(x, y), want) {
				n++
			}
		}
	}
	return n
}

func TestRenderLinesAxesLegend(t *testing.T) {
	steps := []float64{0, 100, 200, 300, 400, 500}
	c := &Chart{
		Title: "kNN top-1", XLabel: "step", YLabel: "accuracy", Width: 500, Height: 300,
		YMin: 0, YMax: 1,
		Series: []Series{
			{Name: "trained", X: steps, Y: []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}},
			{Name: "random init", X: steps, Y: []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}},
		},
	}
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 500 || b.Dy() != 300 {
		t.Fatalf("size %v", b)
	}
	f, _ := c.layout()
	// The flat series is drawn along its row, left of the legend.
	for _, x := range []float64{20, 100, 150} {
		X, Y := f.px(x, 0.5)
		if !same(img.At(int(math.Round(X)), int(math.Round(Y))), Palette[0]) {
			t.Errorf("no series-0 pixel at data (%v, 0.5) = pixel (%.0f, %.0f)", x, X, Y)
		}
	}
	// The rising series passes through (250, 0.35).
	X, Y := f.px(250, 0.35)
	found := false
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			found = found || same(img.At(int(math.Round(X))+dx, int(math.Round(Y))+dy), Palette[1])
		}
	}
	if !found {
		t.Errorf("no series-1 pixel near (250, 0.35)")
	}
	// Far from both lines there is only background or grid.
	X, Y = f.px(450, 0.1)
	if p := img.At(int(X), int(Y)); !same(p, Background) && !same(p, GridColor) {
		t.Errorf("unexpected ink at (450, 0.1): %v", p)
	}
	// Tick labels: ink below the x axis and left of the y axis.
	a := f.area
	if n := count(img, image.Rect(a.Min.X-10, a.Max.Y+6, a.Max.X+10, a.Max.Y+20), Ink); n < 30 {
		t.Errorf("x tick labels: %d ink pixels", n)
	}
	if n := count(img, image.Rect(0, a.Min.Y-5, a.Min.X-6, a.Max.Y+5), Ink); n < 30 {
		t.Errorf("y tick labels: %d ink pixels", n)
	}
	// Legend in the top-right corner: both swatches and its text.
	leg := image.Rect(a.Max.X-150, a.Min.Y, a.Max.X, a.Min.Y+45)
	if count(img, leg, Palette[0]) < 20 || count(img, leg, Palette[1]) < 20 || count(img, leg, Ink) < 60 {
		t.Errorf("legend: %d, %d swatch pixels, %d ink", count(img, leg, Palette[0]), count(img, leg, Palette[1]), count(img, leg, Ink))
	}
	// Title at the top.
	if count(img, image.Rect(0, 0, 500, a.Min.Y-2), Ink) < 30 {
		t.Error("no title")
	}
	// Deterministic output.
	var again bytes.Buffer
	c.Encode(&again)
	png.Encode(&buf, img)
	var first bytes.Buffer
	c.Encode(&first)
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Error("two renders differ")
	}
}

func TestGapsAndLog(t *testing.T) {
	c := &Chart{Series: []Series{{X: []float64{0, 1, 2, 3, 4}, Y: []float64{1, 1, math.NaN(), 1, 1}}}, YMin: 0, YMax: 2}
	img, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := c.layout()
	for _, x := range []float64{0.5, 3.5} {
		X, Y := f.px(x, 1)
		if !same(img.At(int(math.Round(X)), int(math.Round(Y))), Palette[0]) {
			t.Errorf("segment missing at x=%v", x)
		}
	}
	for _, x := range []float64{1.5, 2, 2.5} {
		X, Y := f.px(x, 1)
		if same(img.At(int(math.Round(X)), int(math.Round(Y))), Palette[0]) {
			t.Errorf("NaN point did not break the line at x=%v", x)
		}
	}
	lg := &Chart{LogY: true, Series: []Series{{Name: "loss", X: []float64{1, 2, 3, 4}, Y: []float64{10, 1, 0, 0.1}}}}
	if _, err := lg.Render(); err != nil {
		t.Fatal(err)
	}
	fl, _ := lg.layout()
	if math.Abs(fl.y0-(-1.1)) > 1e-9 || math.Abs(fl.y1-1.1) > 1e-9 {
		t.Errorf("log range %v %v (zero must be skipped)", fl.y0, fl.y1)
	}
}

func TestErrors(t *testing.T) {
	if _, err := (&Chart{}).Render(); !errors.Is(err, ErrNoData) {
		t.Errorf("empty: %v", err)
	}
	if _, err := (&Chart{Series: []Series{{Y: []float64{math.NaN()}, X: []float64{1}}}}).Render(); !errors.Is(err, ErrNoData) {
		t.Errorf("all NaN: %v", err)
	}
	if _, err := (&Chart{Series: []Series{{Name: "bad", X: []float64{1}, Y: []float64{1, 2}}}}).Render(); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("length mismatch: %v", err)
	}
	if _, err := (&Chart{Width: 50, Height: 50, Series: []Series{{X: []float64{1}, Y: []float64{1}}}}).Render(); err == nil {
		t.Error("tiny chart accepted")
	}
	// A single point renders (degenerate ranges are widened).
	if _, err := (&Chart{Series: []Series{{X: []float64{5}, Y: []float64{3}}}}).Render(); err != nil {
		t.Errorf("single point: %v", err)
	}
}

func TestTicks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		n      int
		want   []float64
	}{
		{0, 1, 5, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}},
		{0, 1000, 6, []float64{0, 200, 400, 600, 800, 1000}},
		{-0.13, 0.27, 4, []float64{-0.1, 0, 0.1, 0.2}},
	}
	for _, c := range cases {
		got := ticks(c.lo, c.hi, c.n)
		if len(got) != len(c.want) {
			t.Errorf("ticks(%v,%v) = %v", c.lo, c.hi, got)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-9 {
				t.Errorf("ticks(%v,%v) = %v", c.lo, c.hi, got)
			}
		}
	}
	for v, want := range map[float64]string{0: "0", 0.25: "0.25", 1500: "1500", 25000: "25k", 3e6: "3M", 0.0001: "1.0e-04", -2: "-2"} {
		if got := formatTick(v); got != want {
			t.Errorf("formatTick(%v) = %q, want %q", v, got, want)
		}
	}
}

// A range at the values' rounding level (DINO's teacher temperature 0.04,
// held constant but computed with float error) once made ticks add a step
// smaller than 0.04's rounding unit forever, allocating until the kernel
// killed the training process. Ticks are now few and inside the range,
// and such a series is drawn as a constant.
func TestTicksBelowRounding(t *testing.T) {
	lo, hi := 0.039999999999999994, 0.040000000000000001
	got := ticks(lo, hi, 5)
	if len(got) == 0 || len(got) > 24 {
		t.Fatalf("ticks(%v, %v) gave %d values", lo, hi, len(got))
	}
	for _, v := range got {
		if v < lo-1e-12 || v > hi+1e-12 {
			t.Errorf("tick %v outside [%v, %v]", v, lo, hi)
		}
	}
	c := &Chart{Width: 320, Height: 200, Series: []Series{{Name: "teacher_temp", X: []float64{1, 2, 3}, Y: []float64{lo, hi, lo}}}}
	f, err := c.layout()
	if err != nil {
		t.Fatal(err)
	}
	if f.y1-f.y0 < 0.1 {
		t.Errorf("y range [%v, %v]: want the constant series' padding", f.y0, f.y1)
	}
	if _, err := c.Render(); err != nil {
		t.Fatal(err)
	}
}

func TestReadJSONLAndWritePNG(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	os.WriteFile(path, []byte(`{"step": 1, "loss": 3.5}
{"step": 2, "loss": 3.0, "knn_top1": 0.4}

{"step": 3, "loss": null}
{"step": 4, "loss": "NaN", "knn_top1": 0.5}
`), 0o644)
	s, err := ReadJSONL(path, "step", "loss", "knn_top1", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s[0].X, []float64{1, 2, 4}) || s[0].Y[1] != 3 || !math.IsNaN(s[0].Y[2]) {
		t.Errorf("loss %+v", s[0])
	}
	if !slices.Equal(s[1].X, []float64{2, 4}) || !slices.Equal(s[1].Y, []float64{0.4, 0.5}) || s[1].Name != "knn_top1" {
		t.Errorf("knn %+v", s[1])
	}
	if len(s[2].X) != 0 {
		t.Errorf("absent %+v", s[2])
	}
	out := filepath.Join(dir, "plots", "loss.png")
	if err := (&Chart{Title: "loss", Series: s[:1]}).WritePNG(out); err != nil {
		t.Fatal(err)
	}
	fh, _ := os.Open(out)
	defer fh.Close()
	if cfg, err := png.DecodeConfig(fh); err != nil || cfg.Width != 640 || cfg.Height != 400 {
		t.Errorf("written PNG: %v %+v", err, cfg)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v: %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("temp files left: %d entries", len(ents))
	}
	os.WriteFile(path, []byte("{\"step\": 1}\n{oops\n"), 0o644)
	if _, err := ReadJSONL(path, "step", "loss"); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:2") {
		t.Errorf("bad line: %v", err)
	}
}

func BenchmarkRender(b *testing.B) {
	x := make([]float64, 10000)
	y := make([]float64, 10000)
	for i := range x {
		x[i], y[i] = float64(i), math.Exp(-float64(i)/3000)+0.01*math.Sin(float64(i))
	}
	c := &Chart{Title: "loss", Series: []Series{{Name: "loss", X: x, Y: y}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Render(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte("{\"step\": 1, \"loss\": 3.5}\n{\"step\": 2, \"loss\": \"NaN\", \"knn_top1\": 0.4}\n"))
	f.Add([]byte("\n\n{\"step\": null}\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(t.TempDir(), "m.jsonl")
		os.WriteFile(path, in, 0o644)
		s, err := ReadJSONL(path, "step", "loss", "knn_top1")
		if err != nil {
			if !strings.Contains(err.Error(), "m.jsonl") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		c := &Chart{Series: s}
		if _, err := c.Render(); err != nil && !errors.Is(err, ErrNoData) {
			t.Fatalf("render: %v", err)
		}
	})
}
