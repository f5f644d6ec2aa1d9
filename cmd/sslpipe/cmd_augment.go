package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/disintegration/imaging"
	"gopkg.in/yaml.v3"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

func init() {
	register(&command{Name: "augment", Summary: "write the SSL views of a recipe (byol, simclr, simsiam, dino, mask) or a pretext task's inputs and targets (rotation, jigsaw, colorization, inpainting, superres) as PNGs, or a preview grid", Run: runAugmentCmd})
	registerBench(&benchTarget{Name: "augment", Summary: "augmentation throughput (views/s, images/s): decode once, all views, normalized float32", Run: runBenchAugmentCmd})
}

// augmentOpts are the flags of `sslpipe augment`.
type augmentOpts struct {
	Recipe     string // built-in name
	RecipeFile string // YAML file holding an augment.Recipe (overrides Recipe)
	Size       int
	In, Out    string
	Preview    string
	PreviewH   int // row height of the preview in pixels
	Seed       uint64
	Epoch      int
	Workers    int
	Limit      int
	MaxErrors  int
	Quiet      bool
	Pretext    pretextOpts // flags of the pretext recipes (cmd_augment_pretext.go)
}

func augmentFlags(name string, env *cmdEnv, o *augmentOpts) *flag.FlagSet {
	fs := newFlagSet(name, env.Stderr)
	fs.StringVar(&o.Recipe, "recipe", "byol", "recipe: "+strings.Join(augment.RecipeNames(), ", ")+"; pretext tasks: "+strings.Join(pretextRecipeNames, ", "))
	fs.StringVar(&o.RecipeFile, "recipe-file", "", "YAML file with a recipe (an augment.Recipe: views with sizes, scales, probabilities); overrides --recipe")
	fs.IntVar(&o.Size, "size", 224, "view size in pixels (dino: global views; local views are size*96/224)")
	fs.StringVar(&o.In, "in", "", "input folder of JPEG/PNG images (searched recursively)")
	fs.Uint64Var(&o.Seed, "seed", 0, "random seed; views depend only on (seed, epoch, file index, view)")
	fs.IntVar(&o.Workers, "workers", runtime.GOMAXPROCS(0), "worker goroutines (one sample each at a time)")
	return fs
}

func runAugmentCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o augmentOpts
	fs := augmentFlags("augment", env, &o)
	fs.StringVar(&o.Out, "out", "", "output folder: <name>_v<i>.png per view (and <name>_mask.png for masking recipes); pretext recipes: <name>_<role>.png per input and target, labels.jsonl, pretext.json")
	fs.StringVar(&o.Preview, "preview", "", "write a contact sheet PNG (each original beside its views; at most 32 rows) instead of/besides --out")
	intVar(fs, &o.PreviewH, "preview-height", 128, 8, 4096, "row height of the preview in pixels")
	intVar(fs, &o.Epoch, "epoch", 0, 0, math.MaxInt, "epoch number (changes every view)")
	intVar(fs, &o.Limit, "limit", 0, 0, math.MaxInt, "process only the first K images (sorted by path); --preview alone defaults to 8")
	maxErrorsVar(fs, &o.MaxErrors, "unreadable or undecodable images", "on stderr (and in OUT/errors.jsonl with --out)")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress on stderr")
	pretextFlags(fs, &o.Pretext)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sslpipe augment --in DIR (--out DIR | --preview FILE.png) [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 2 bad flags; 4 more bad images than --max-errors.\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkAugmentFlags(&o); err != nil {
		return err
	}
	if o.In == "" || (o.Out == "" && o.Preview == "") || fs.NArg() > 0 {
		return usagef("augment: need --in and --out and/or --preview (and no other arguments)")
	}
	if o.Preview != "" && o.Out == "" && o.Limit == 0 {
		o.Limit = 8
	}
	res, err := runAugment(ctx, env.Stderr, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d images, %d views written, %d bad inputs skipped (recipe %s, %s decoder)\n",
		res.Images, res.Views, res.Errors, res.Recipe, augment.JPEGDecoder)
	return nil
}

// checkAugmentFlags checks the numeric flags defined by augmentFlags.
func checkAugmentFlags(o *augmentOpts) error {
	if o.Size < 1 || o.Size > 8192 {
		return usagef("invalid value \"%d\" for flag -size: must be in 1..8192", o.Size)
	}
	if o.Workers < 1 || o.Workers > maxWorkers {
		return usagef("invalid value \"%d\" for flag -workers: must be in 1..%d", o.Workers, maxWorkers)
	}
	return nil
}

func augLoadRecipe(o augmentOpts) (augment.Recipe, error) {
	var rec augment.Recipe
	if o.RecipeFile != "" {
		b, err := os.ReadFile(o.RecipeFile)
		if err != nil {
			return rec, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&rec); err != nil {
			return rec, usagef("augment: %s: %v", o.RecipeFile, err)
		}
	} else {
		var err error
		if rec, err = augment.NamedRecipe(o.Recipe, o.Size); err != nil {
			return rec, usagef("%v", err)
		}
	}
	if err := rec.Validate(); err != nil {
		return rec, usagef("%v", err)
	}
	return rec, nil
}

// augmentResult summarizes a runAugment call.
type augmentResult struct {
	Recipe                string
	Images, Views, Errors int
}

// augmented is one image's output, made on a worker.
type augmented struct {
	name  string         // relative path without extension
	pngs  [][]byte       // encoded views (and mask)
	orig  *augment.Image // kept for the preview only
	views []*augment.Image
	mask  *augment.Mask
}

// augPreviewMaxRows bounds the contact sheet (and the images kept for it).
const augPreviewMaxRows = 32

var augScratchPool = sync.Pool{New: func() any { return new(augment.Scratch) }}

// runAugment makes the views of every image under o.In with pipeline.Map
// (ordered, o.Workers goroutines, one sample per goroutine at a time) and
// writes them in input order. Each image's views depend only on (seed,
// epoch, its index in the sorted file list, view), so the files are
// byte-identical for any worker count.
func runAugment(ctx context.Context, stderr io.Writer, o augmentOpts) (res augmentResult, err error) {
	if isPretextRecipe(o) {
		return runPretextAugment(ctx, stderr, o)
	}
	rec, err := augLoadRecipe(o)
	res = augmentResult{Recipe: rec.Name}
	if err != nil {
		return res, err
	}
	src, err := pipeline.Folder(o.In, ".jpg", ".jpeg", ".png")
	if err != nil {
		return res, fmt.Errorf("augment: %w", err)
	}
	if src.Len() == 0 {
		return res, fmt.Errorf("augment: no .jpg, .jpeg or .png files under %s", o.In)
	}
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return res, err
		}
	}
	workers := max(o.Workers, 1)
	keepForPreview := o.Preview != ""
	writePNGs := o.Out != ""
	s := pipeline.From(src, pipeline.Order{Seed: o.Seed, Limit: o.Limit, Epochs: 1})
	files := pipeline.Map(s, pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: workers})
	out := pipeline.Map(files, func(ctx context.Context, sm pipeline.Sample[pipeline.Blob]) (augmented, error) {
		img, err := augment.Decode(sm.Key, sm.Value.Data, augment.DecodeOptions{Channels: rec.Channels})
		if err != nil {
			return augmented{}, err
		}
		sc := augScratchPool.Get().(*augment.Scratch)
		defer augScratchPool.Put(sc)
		key := augment.Key{Seed: sm.Seed, Epoch: uint64(sm.Epoch), Index: uint64(sm.Index)}
		a := augmented{name: strings.TrimSuffix(sm.Key, filepath.Ext(sm.Key))}
		a.views = rec.Apply(nil, img, key, sc)
		if m, ok := rec.MaskFor(key); ok {
			a.mask = &m
		}
		if writePNGs {
			for _, v := range a.views {
				b, err := augEncodePNG(v.ToImage())
				if err != nil {
					return a, err
				}
				a.pngs = append(a.pngs, b)
			}
			if a.mask != nil {
				b, err := augEncodePNG(augMaskImage(*a.mask))
				if err != nil {
					return a, err
				}
				a.pngs = append(a.pngs, b)
			}
		}
		if keepForPreview && sm.Pos < augPreviewMaxRows {
			a.orig = img
		} else {
			a.views = nil
		}
		return a, nil
	}, pipeline.MapOptions{Name: "augment", Workers: workers, Chunk: 1})
	skips, err := newSkipLog("augment", stderr, o.Out)
	if err != nil {
		return res, err
	}
	defer func() {
		if e := skips.close(); e != nil && err == nil {
			err = e
		}
	}()
	where := "on stderr"
	if o.Out != "" {
		where = "in " + skips.path
	}
	var logErr error
	it, err := pipeline.Start(ctx, out, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{
		Skip: true, // counted against --max-errors below
		OnError: func(se *pipeline.SampleError) {
			if err := skips.skip(se.Index, se.Key, se); err != nil && logErr == nil {
				logErr = err
			}
		},
	}})
	if err != nil {
		return res, err
	}
	defer it.Close()
	var preview []augmented
	start := time.Now()
	lastProgress := start
	for {
		sm, err := it.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			err = logErr
		}
		if err != nil {
			res.Errors = skips.count()
			if tooManyErrors(skips.count(), o.MaxErrors) {
				return res, tooManyErr("augment", skips.count(), o.MaxErrors, where)
			}
			return res, err
		}
		if tooManyErrors(skips.count(), o.MaxErrors) {
			res.Errors = skips.count()
			return res, tooManyErr("augment", skips.count(), o.MaxErrors, where)
		}
		a := sm.Value
		if writePNGs {
			for i, b := range a.pngs {
				suffix := fmt.Sprintf("_v%d.png", i)
				if a.mask != nil && i == len(a.pngs)-1 {
					suffix = "_mask.png"
				}
				p := filepath.Join(o.Out, filepath.FromSlash(a.name)+suffix)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return res, err
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					return res, err
				}
			}
		}
		res.Images++
		res.Views += rec.NumViews()
		if a.orig != nil {
			preview = append(preview, a)
		}
		if !o.Quiet && time.Since(lastProgress) > 2*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(stderr, "sslpipe: augment: %d images, %.1f images/s\n", res.Images, float64(res.Images)/time.Since(start).Seconds())
		}
	}
	res.Errors = skips.count()
	if tooManyErrors(skips.count(), o.MaxErrors) {
		return res, tooManyErr("augment", skips.count(), o.MaxErrors, where)
	}
	if keepForPreview {
		if err := augWritePreview(o.Preview, preview, o.PreviewH); err != nil {
			return res, err
		}
	}
	return res, nil
}

func augEncodePNG(m image.Image) ([]byte, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&b, m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// augMaskImage draws a mask as a Cols x Rows gray image, white = masked.
func augMaskImage(m augment.Mask) image.Image {
	g := image.NewGray(image.Rect(0, 0, m.Cols, m.Rows))
	for i, b := range m.Bits {
		if b {
			g.Pix[i] = 255
		}
	}
	return g
}

// augWritePreview draws one row per image: the original scaled to the row
// height, a gap, then every view at the row height (masked patches of a
// masking recipe darkened).
func augWritePreview(path string, rows []augmented, h int) error {
	if len(rows) == 0 {
		return fmt.Errorf("augment: no images for the preview")
	}
	if h <= 0 {
		h = 128
	}
	const gap = 6
	width := 0
	for _, r := range rows {
		w := r.orig.W * h / max(r.orig.H, 1)
		width = max(width, w+gap*2+len(r.views)*(h+gap))
	}
	sheet := imaging.New(width, len(rows)*(h+gap)+gap, color.NRGBA{255, 255, 255, 255})
	for i, r := range rows {
		y := gap + i*(h+gap)
		o := imaging.Resize(r.orig.ToImage(), 0, h, imaging.Lanczos)
		sheet = imaging.Paste(sheet, o, image.Pt(0, y))
		x := o.Bounds().Dx() + 2*gap
		for _, v := range r.views {
			vi := imaging.Resize(v.ToImage(), h, h, imaging.Lanczos)
			if r.mask != nil {
				augDarkenMasked(vi, *r.mask)
			}
			sheet = imaging.Paste(sheet, vi, image.Pt(x, y))
			x += h + gap
		}
	}
	return imaging.Save(sheet, path)
}

func augDarkenMasked(m *image.NRGBA, mask augment.Mask) {
	b := m.Bounds()
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if mask.Bits[(y*mask.Rows/b.Dy())*mask.Cols+x*mask.Cols/b.Dx()] {
				p := m.Pix[y*m.Stride+4*x:]
				p[0], p[1], p[2] = p[0]/4, p[1]/4, p[2]/4+40
			}
		}
	}
}

// benchAugmentOpts are the flags of `sslpipe bench augment`.
type benchAugmentOpts struct {
	augmentOpts
	Seconds float64
	JSON    bool
	Images  int
	// decodeInto decodes one timed image (nil: augment.DecodeInto); tests
	// replace it to make workers fail.
	decodeInto func(dst *augment.Image, name string, data []byte, opt augment.DecodeOptions) error
}

// benchAugmentResult is what `sslpipe bench augment --json` prints.
type benchAugmentResult struct {
	Recipe      string  `json:"recipe"`
	Size        int     `json:"size"`
	Workers     int     `json:"workers"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	Decoder     string  `json:"jpeg_decoder"`
	Seconds     float64 `json:"seconds"`
	Images      int64   `json:"images"`
	Views       int64   `json:"views"`
	ImagesPerS  float64 `json:"images_per_s"`
	ViewsPerS   float64 `json:"views_per_s"`
	InputImages int     `json:"input_images"`
	// CPUSeconds is the process's user+system CPU time during the run and
	// ViewsPerCPUSecond the views made per CPU-second: on a shared machine
	// this is steadier than wall-clock throughput.
	CPUSeconds        float64 `json:"cpu_seconds"`
	ViewsPerCPUSecond float64 `json:"views_per_cpu_s"`
}

func runBenchAugmentCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o benchAugmentOpts
	fs := augmentFlags("bench augment", env, &o.augmentOpts)
	floatVar(fs, &o.Seconds, "seconds", 10, benchSeconds, "measure for this long")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object")
	intVar(fs, &o.Images, "images", 256, 1, 1<<20, "load at most this many input images into memory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkAugmentFlags(&o.augmentOpts); err != nil {
		return err
	}
	if o.In == "" || fs.NArg() > 0 {
		return usagef("bench augment: need --in DIR")
	}
	r, err := runBenchAugment(ctx, o)
	if err != nil {
		return err
	}
	if o.JSON {
		return json.NewEncoder(env.Stdout).Encode(r)
	}
	fmt.Fprintf(env.Stdout, "augment %s size %d: %.1f views/s, %.1f images/s, %.1f views per CPU-second (%d workers, GOMAXPROCS %d, %s, %.1f s, %d input images)\n",
		r.Recipe, r.Size, r.ViewsPerS, r.ImagesPerS, r.ViewsPerCPUSecond, r.Workers, r.GOMAXPROCS, r.Decoder, r.Seconds, r.InputImages)
	return nil
}

// runBenchAugment loads the input files into memory, then runs o.Workers
// goroutines for o.Seconds, each taking the next image, decoding it once,
// making all its views and normalizing each into a float32 CHW buffer (the
// work a training data loader does per image). File reading is excluded, as
// in the torchvision reference (benchmarks/augment/bench_vs_torchvision.py).
func runBenchAugment(ctx context.Context, o benchAugmentOpts) (benchAugmentResult, error) {
	rec, err := augLoadRecipe(o.augmentOpts)
	if err != nil {
		return benchAugmentResult{}, err
	}
	src, err := pipeline.Folder(o.In, ".jpg", ".jpeg", ".png")
	if err != nil {
		return benchAugmentResult{}, fmt.Errorf("bench augment: %w", err)
	}
	var data [][]byte
	for i := 0; i < src.Len() && len(data) < max(o.Images, 1); i++ {
		sm, err := src.At(ctx, i)
		if err != nil {
			return benchAugmentResult{}, err
		}
		b, err := os.ReadFile(sm.Value.Path)
		if err != nil {
			return benchAugmentResult{}, err
		}
		if _, err := augment.Decode(sm.Key, b, augment.DecodeOptions{Channels: rec.Channels}); err != nil {
			return benchAugmentResult{}, err
		}
		data = append(data, b)
	}
	if len(data) == 0 {
		return benchAugmentResult{}, fmt.Errorf("bench augment: no images under %s", o.In)
	}
	workers := max(o.Workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	decodeInto := o.decodeInto
	if decodeInto == nil {
		decodeInto = augment.DecodeInto
	}
	var next, done atomic.Int64
	// The first worker error wins. An atomic.Pointer, not an atomic.Value:
	// Value.CompareAndSwap panics when workers store errors of different
	// dynamic types.
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	cpu0 := augCPUSeconds()
	start := time.Now()
	deadline := start.Add(time.Duration(o.Seconds * float64(time.Second)))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s augment.Scratch
			img := &augment.Image{}
			var views []*augment.Image
			var buf []float32
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if err := decodeInto(img, "bench", data[int(i)%len(data)], augment.DecodeOptions{Channels: rec.Channels}); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					cancel()
					return
				}
				views = rec.Apply(views, img, augment.Key{Seed: o.Seed, Index: uint64(i)}, &s)
				for v, m := range views {
					n := m.C * m.W * m.H
					if cap(buf) < n {
						buf = make([]float32, n)
					}
					rec.ViewSpec(v).Normalize.ToCHW(buf[:n], m)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	cpu := augCPUSeconds() - cpu0
	if e := firstErr.Load(); e != nil {
		return benchAugmentResult{}, *e
	}
	if err := ctx.Err(); err != nil && errors.Is(context.Cause(ctx), context.Canceled) && time.Now().Before(deadline) {
		return benchAugmentResult{}, err
	}
	n := done.Load()
	return benchAugmentResult{
		Recipe: rec.Name, Size: rec.Views[0].Size, Workers: workers, GOMAXPROCS: runtime.GOMAXPROCS(0),
		Decoder: augment.JPEGDecoder, Seconds: el, Images: n, Views: n * int64(rec.NumViews()),
		ImagesPerS: float64(n) / el, ViewsPerS: float64(n*int64(rec.NumViews())) / el, InputImages: len(data),
		CPUSeconds: cpu, ViewsPerCPUSecond: float64(n*int64(rec.NumViews())) / max(cpu, 1e-9),
	}, nil
}
