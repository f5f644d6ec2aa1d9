// Package plot draws minimal line charts as PNG images in pure Go: a
// title, axes with "nice" tick marks and labels (golang.org/x/image's
// basicfont), one polyline per series and a legend. It is meant for
// training curves (loss, learning rate, kNN accuracy against step), not
// for publication plots.
//
// Non-finite points (NaN, ±Inf) are skipped and break the line, so a
// skipped training step shows as a gap. Rendering is deterministic: the
// same chart gives the same bytes.
package plot

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line: points (X[i], Y[i]) joined in order.
type Series struct {
	Name  string
	X, Y  []float64
	Color color.Color // nil: the next colour of Palette
}

// Chart is a line chart. The zero value of every field but Series has a
// sensible default.
type Chart struct {
	Title, XLabel, YLabel string
	Width, Height         int // pixels; default 640 x 400
	Series                []Series
	// YMin and YMax fix the y range when YMin < YMax (e.g. 0 and 1 for
	// accuracy); otherwise the range is fitted to the data.
	YMin, YMax float64
	LogY       bool // logarithmic y axis; non-positive values are skipped
}

// Palette holds the default series colours (matplotlib's tab10 order).
var Palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// Background and ink colours.
var (
	Background = color.RGBA{255, 255, 255, 255}
	Ink        = color.RGBA{0, 0, 0, 255}
	GridColor  = color.RGBA{225, 225, 225, 255}
)

// ErrNoData is returned when no series has a finite point.
var ErrNoData = errors.New("plot: no finite data points")

// Margins of the plotting area in pixels.
const (
	marginLeft   = 70
	marginRight  = 20
	marginTop    = 30
	marginBottom = 45
)

var face = basicfont.Face7x13

// frame maps data coordinates to pixels.
type frame struct {
	area           image.Rectangle
	x0, x1, y0, y1 float64 // data range (y in log10 when logY)
	logY           bool
}

func (f *frame) px(x, y float64) (float64, float64) {
	if f.logY {
		y = math.Log10(y)
	}
	X := float64(f.area.Min.X) + (x-f.x0)/(f.x1-f.x0)*float64(f.area.Dx()-1)
	Y := float64(f.area.Max.Y-1) - (y-f.y0)/(f.y1-f.y0)*float64(f.area.Dy()-1)
	return X, Y
}

func (c *Chart) ok(x, y float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
		return false
	}
	return !c.LogY || y > 0
}

// layout computes the plotting frame.
func (c *Chart) layout() (*frame, error) {
	w, h := c.size()
	if w < marginLeft+marginRight+20 || h < marginTop+marginBottom+20 {
		return nil, fmt.Errorf("plot: %dx%d is too small", w, h)
	}
	f := &frame{area: image.Rect(marginLeft, marginTop, w-marginRight, h-marginBottom), logY: c.LogY}
	f.x0, f.x1, f.y0, f.y1 = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		for i, x := range s.X {
			y := s.Y[i]
			if !c.ok(x, y) {
				continue
			}
			if c.LogY {
				y = math.Log10(y)
			}
			f.x0, f.x1 = math.Min(f.x0, x), math.Max(f.x1, x)
			f.y0, f.y1 = math.Min(f.y0, y), math.Max(f.y1, y)
			n++
		}
	}
	if n == 0 {
		return nil, ErrNoData
	}
	if c.YMin < c.YMax {
		f.y0, f.y1 = c.YMin, c.YMax
		if c.LogY {
			if c.YMin <= 0 {
				return nil, fmt.Errorf("plot: log axis with YMin %v", c.YMin)
			}
			f.y0, f.y1 = math.Log10(c.YMin), math.Log10(c.YMax)
		}
	} else {
		pad := 0.05 * (f.y1 - f.y0)
		// A range at the values' rounding level (a constant computed
		// with float error, e.g. 0.04 +- 1e-17) is a constant series.
		if pad <= 1e-12*math.Max(math.Abs(f.y0), math.Abs(f.y1)) {
			pad = math.Max(0.5, math.Abs(f.y0)*0.1)
		}
		f.y0, f.y1 = f.y0-pad, f.y1+pad
	}
	if f.x0 == f.x1 {
		f.x0, f.x1 = f.x0-1, f.x1+1
	}
	return f, nil
}

func (c *Chart) size() (int, int) {
	w, h := c.Width, c.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 400
	}
	return w, h
}

// Render draws the chart.
func (c *Chart) Render() (*image.RGBA, error) {
	f, err := c.layout()
	if err != nil {
		return nil, err
	}
	w, h := c.size()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{Background}, image.Point{}, draw.Src)
	a := f.area

	// Grid and ticks.
	for _, t := range ticks(f.x0, f.x1, 6) {
		X, _ := f.px(t, pick(f.logY, math.Pow(10, f.y0), f.y0))
		xi := int(math.Round(X))
		vline(img, xi, a.Min.Y, a.Max.Y-1, GridColor)
		vline(img, xi, a.Max.Y, a.Max.Y+4, Ink)
		lbl := formatTick(t)
		text(img, xi-textWidth(lbl)/2, a.Max.Y+17, lbl, Ink)
	}
	for _, t := range ticks(f.y0, f.y1, 5) {
		yv := t
		if f.logY {
			if t != math.Round(t) {
				continue
			}
			yv = math.Pow(10, t)
		}
		_, Y := f.px(f.x0, yv)
		yi := int(math.Round(Y))
		hline(img, a.Min.X, a.Max.X-1, yi, GridColor)
		hline(img, a.Min.X-4, a.Min.X-1, yi, Ink)
		lbl := formatTick(yv)
		text(img, a.Min.X-7-textWidth(lbl), yi+4, lbl, Ink)
	}
	// Axes box.
	hline(img, a.Min.X, a.Max.X-1, a.Max.Y-1, Ink)
	hline(img, a.Min.X, a.Max.X-1, a.Min.Y, Ink)
	vline(img, a.Min.X, a.Min.Y, a.Max.Y-1, Ink)
	vline(img, a.Max.X-1, a.Min.Y, a.Max.Y-1, Ink)

	// Series, clipped to the plotting area.
	clip := img.SubImage(a).(*image.RGBA)
	for i, s := range c.Series {
		col := seriesColor(s, i)
		var px, py float64
		have := false
		for j, x := range s.X {
			y := s.Y[j]
			if !c.ok(x, y) {
				have = false
				continue
			}
			X, Y := f.px(x, y)
			if have {
				line(clip, px, py, X, Y, col)
			} else {
				dot(clip, X, Y, col)
			}
			px, py, have = X, Y, true
		}
	}

	// Labels.
	if c.Title != "" {
		text(img, (w-textWidth(c.Title))/2, 18, c.Title, Ink)
	}
	if c.XLabel != "" {
		text(img, a.Min.X+(a.Dx()-textWidth(c.XLabel))/2, h-8, c.XLabel, Ink)
	}
	if c.YLabel != "" {
		text(img, 4, a.Min.Y-8, c.YLabel, Ink)
	}
	c.legend(img, a)
	return img, nil
}

func pick(b bool, x, y float64) float64 {
	if b {
		return x
	}
	return y
}

func seriesColor(s Series, i int) color.Color {
	if s.Color != nil {
		return s.Color
	}
	return Palette[i%len(Palette)]
}

// legend draws a boxed legend in the top-right corner of the area.
func (c *Chart) legend(img *image.RGBA, a image.Rectangle) {
	named := 0
	wmax := 0
	for _, s := range c.Series {
		if s.Name != "" {
			named++
			wmax = max(wmax, textWidth(s.Name))
		}
	}
	if named == 0 {
		return
	}
	const row, swatch = 16, 20
	bw, bh := wmax+swatch+18, named*row+8
	box := image.Rect(a.Max.X-bw-6, a.Min.Y+6, a.Max.X-6, a.Min.Y+6+bh)
	draw.Draw(img, box, &image.Uniform{Background}, image.Point{}, draw.Src)
	hline(img, box.Min.X, box.Max.X-1, box.Min.Y, Ink)
	hline(img, box.Min.X, box.Max.X-1, box.Max.Y-1, Ink)
	vline(img, box.Min.X, box.Min.Y, box.Max.Y-1, Ink)
	vline(img, box.Max.X-1, box.Min.Y, box.Max.Y-1, Ink)
	k := 0
	for i, s := range c.Series {
		if s.Name == "" {
			continue
		}
		y := box.Min.Y + 4 + k*row + row/2
		col := seriesColor(s, i)
		for d := -1; d <= 1; d++ {
			hline(img, box.Min.X+5, box.Min.X+5+swatch, y+d, col)
		}
		text(img, box.Min.X+swatch+11, y+5, s.Name, Ink)
		k++
	}
}

// Encode writes the chart as PNG to w.
func (c *Chart) Encode(w io.Writer) error {
	img, err := c.Render()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// WritePNG writes the chart to path atomically (temp file, rename),
// creating the folder if needed.
func (c *Chart) WritePNG(path string) error {
	img, err := c.Render()
	if err != nil {
		return fmt.Errorf("%w (%s)", err, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".plot-*.png")
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600
		tmp.Close()
		return fmt.Errorf("plot: %w", err)
	}
	bw := bufio.NewWriter(tmp)
	if err := png.Encode(bw, img); err != nil {
		tmp.Close()
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plot: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// ticks returns about n "nice" values (1, 2 or 5 times a power of ten
// apart) inside [lo, hi].
func ticks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if !(step > 0) || math.IsInf(step, 0) {
		return []float64{lo}
	}
	// A step under the values' rounding unit (a range like 0.04 +- 1e-17)
	// has no distinct ticks: a running sum would never reach hi, and the
	// tick indices are past float64's integers.
	k0, k1 := math.Ceil(lo/step), math.Floor(hi/step+1e-9)
	if math.Abs(k0) > 1<<50 || math.Abs(k1) > 1<<50 || !(k1-k0 < float64(4*n+4)) {
		return []float64{lo, hi}
	}
	var out []float64
	for i := 0; i <= int(k1-k0); i++ {
		t := (k0 + float64(i)) * step
		if math.Abs(t) < step*1e-9 {
			t = 0
		}
		out = append(out, t)
	}
	return out
}

// formatTick prints a tick value compactly: 1500 -> "1.5k", 0.25 -> "0.25".
func formatTick(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	case a < 1e-3:
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func textWidth(s string) int {
	return font.MeasureString(face, s).Round()
}

func text(img *image.RGBA, x, y int, s string, col color.Color) {
	d := &font.Drawer{Dst: img, Src: &image.Uniform{col}, Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func hline(img *image.RGBA, x0, x1, y int, col color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, col)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, col color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, col)
	}
}

// dot draws a 3x3 point (a series of one point, or the start after a gap).
func dot(img *image.RGBA, x, y float64, col color.Color) {
	xi, yi := int(math.Round(x)), int(math.Round(y))
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			img.Set(xi+dx, yi+dy, col)
		}
	}
}

// line draws a 2-pixel-wide segment by stepping along its longer axis.
func line(img *image.RGBA, x0, y0, x1, y1 float64, col color.Color) {
	dx, dy := x1-x0, y1-y0
	n := int(math.Ceil(math.Max(math.Abs(dx), math.Abs(dy))))
	if n == 0 {
		dot(img, x0, y0, col)
		return
	}
	steep := math.Abs(dy) > math.Abs(dx)
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+t*dx)), int(math.Round(y0+t*dy))
		img.Set(x, y, col)
		if steep {
			img.Set(x+1, y, col)
		} else {
			img.Set(x, y+1, col)
		}
	}
}
