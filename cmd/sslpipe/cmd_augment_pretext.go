package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/disintegration/imaging"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

// The pretext-task recipes of `sslpipe augment`: instead of SSL views they
// write each generator's inputs and targets (PNG) and labels
// (labels.jsonl), for inspection.
var pretextRecipeNames = []string{"colorization", "inpainting", "jigsaw", "rotation", "superres"}

// pretextOpts are the flags only the pretext recipes read.
type pretextOpts struct {
	Perms     int    // jigsaw: size of the permutation set
	PermsFile string // jigsaw: load this set instead
	Factor    int    // superres: down-sampling factor
	Mask      string // inpainting: center or random
}

func pretextFlags(fs *flag.FlagSet, o *pretextOpts) {
	intVar(fs, &o.Perms, "perms", 100, 1, 362880, "jigsaw: permutations in the set (chosen by maximal Hamming distance from --seed; 1000 in the paper's best setting)")
	fs.StringVar(&o.PermsFile, "perms-file", "", "jigsaw: load the permutation set from this JSON file (as written to --out) instead of choosing one")
	intVar(fs, &o.Factor, "factor", 4, 2, 64, "superres: down-sampling factor (Pillow-exact bicubic)")
	fs.StringVar(&o.Mask, "mask", augment.InpaintCenter, "inpainting: center (the central half-size square) or random (rectangles covering a quarter)")
}

func isPretextRecipe(o augmentOpts) bool {
	return o.RecipeFile == "" && slices.Contains(pretextRecipeNames, o.Recipe)
}

// pretextRecord is one line of labels.jsonl: what the files of one image
// are.
type pretextRecord struct {
	Image   string   `json:"image"`             // source path relative to --in, without extension
	Inputs  []string `json:"inputs"`            // the network's input(s)
	Targets []string `json:"targets,omitempty"` // images it must produce
	Labels  []int    `json:"labels,omitempty"`  // class labels, one per input
	// jigsaw: the permutation applied (slot t holds cell Permutation[t])
	// and the tiles' source boxes (x0, y0, x1, y1 in the fitted image).
	Permutation []int    `json:"permutation,omitempty"`
	Boxes       [][4]int `json:"boxes,omitempty"`
	// inpainting and superres: the target's box in the fitted image.
	Box *[4]int `json:"box,omitempty"`
}

// pretextManifest is pretext.json: the parameters of the run.
type pretextManifest struct {
	Recipe   string            `json:"recipe"`
	Size     int               `json:"size"`
	Seed     uint64            `json:"seed"`
	Epoch    int               `json:"epoch"`
	Fit      string            `json:"fit"`
	Jigsaw   *augment.Jigsaw   `json:"jigsaw,omitempty"`
	JigsawIn int               `json:"jigsaw_resize,omitempty"`
	Gap      int               `json:"jigsaw_mosaic_gap,omitempty"`
	Inpaint  *augment.Inpaint  `json:"inpaint,omitempty"`
	SuperRes *augment.SuperRes `json:"superres,omitempty"`
	Files    map[string]string `json:"files"`
	Extra    map[string]any    `json:"extra,omitempty"`
}

// pretextOut is one image's output, made on a worker.
type pretextOut struct {
	rec     pretextRecord
	pngs    [][]byte
	preview []image.Image // original first, then inputs and targets
	hist    []float64     // colorization: bin counts of the fitted image
}

// pretextJob holds what every worker shares (read-only).
type pretextJob struct {
	o        augmentOpts
	jig      augment.Jigsaw
	jigIn    int
	perms    *augment.PermutationSet
	bins     *augment.ABBins
	inpaint  augment.Inpaint
	superres augment.SuperRes
}

const pretextGap = 2 // white pixels between jigsaw tiles in the mosaics

func newPretextJob(o augmentOpts) (*pretextJob, error) {
	j := &pretextJob{o: o}
	if o.Size < 8 || o.Size > 4096 {
		return nil, usagef("augment: --size %d outside [8, 4096] for recipe %s", o.Size, o.Recipe)
	}
	switch o.Recipe {
	case "jigsaw":
		crop := o.Size - o.Size%3
		cell := crop / 3
		j.jig = augment.Jigsaw{Grid: 3, Crop: crop, Tile: max(int(math.Round(float64(cell)*64/75)), 1)}
		j.jigIn = int(math.Round(float64(crop) * 256 / 225))
		if err := j.jig.Validate(); err != nil {
			return nil, usagef("%v", err)
		}
		var err error
		if o.Pretext.PermsFile != "" {
			j.perms, err = augment.LoadPermutationSet(o.Pretext.PermsFile)
			if err == nil && j.perms.Size != 9 {
				err = fmt.Errorf("augment: %s: permutations of %d elements, a 3x3 jigsaw needs 9", o.Pretext.PermsFile, j.perms.Size)
			}
		} else {
			j.perms, err = augment.NewPermutationSet(9, o.Pretext.Perms, o.Seed, augment.MaxMinHamming)
			if err != nil {
				err = usagef("%v", err)
			}
		}
		if err != nil {
			return nil, err
		}
	case "colorization":
		j.bins = augment.DefaultABBins()
	case "inpainting":
		j.inpaint = augment.Inpaint{Kind: o.Pretext.Mask}
		if o.Pretext.Mask == augment.InpaintCenter {
			j.inpaint.Overlap = int(math.Round(float64(o.Size) * 4 / 128)) // the context encoder's 4 px at 128
		}
		if err := j.inpaint.Validate(); err != nil {
			return nil, usagef("%v", err)
		}
	case "superres":
		j.superres = augment.SuperRes{Factor: o.Pretext.Factor}
		if err := j.superres.Validate(); err != nil || o.Pretext.Factor > o.Size {
			return nil, usagef("augment: --factor %d must be in [1, --size %d]", o.Pretext.Factor, o.Size)
		}
	}
	return j, nil
}

// fit writes the centred square of src, resized to side x side with
// Pillow's bicubic filter, into dst.
func pretextFit(dst, src *augment.Image, side int, s *augment.Scratch) {
	m := min(src.W, src.H)
	augment.ResizedCrop(dst, src, augment.CenterCropBox(src.W, src.H, m, m), side, side, augment.Bicubic, s)
}

// make builds one image's outputs; name is the relative path without
// extension, rng the sample's stream (view 0). encode asks for the PNG
// files, keep for the preview images.
func (j *pretextJob) make(name string, src *augment.Image, rng *rand.Rand, s *augment.Scratch, encode, keep bool) (pretextOut, error) {
	var out pretextOut
	out.rec.Image = name
	add := func(role string, m image.Image, input bool) error {
		file := name + "_" + role + ".png"
		if input {
			out.rec.Inputs = append(out.rec.Inputs, file)
		} else {
			out.rec.Targets = append(out.rec.Targets, file)
		}
		if encode {
			b, err := augEncodePNG(m)
			if err != nil {
				return err
			}
			out.pngs = append(out.pngs, b)
		}
		return nil
	}
	show := func(m image.Image) {
		if keep {
			out.preview = append(out.preview, m)
		}
	}
	show(src.ToImage())
	fitted := &augment.Image{}
	switch j.o.Recipe {
	case "rotation":
		pretextFit(fitted, src, j.o.Size, s)
		for k, v := range augment.RotationViews(nil, fitted) {
			if err := add(fmt.Sprintf("rot%d", k), v.ToImage(), true); err != nil {
				return out, err
			}
			out.rec.Labels = append(out.rec.Labels, k)
			show(v.ToImage())
		}
	case "jigsaw":
		pretextFit(fitted, src, j.jigIn, s)
		var p augment.JigsawPuzzle
		if err := j.jig.Generate(&p, fitted, j.perms, rng); err != nil {
			return out, err
		}
		var puzzle, solved augment.Image
		p.Draw(&puzzle, pretextGap, false)
		p.Draw(&solved, pretextGap, true)
		if err := add("puzzle", puzzle.ToImage(), true); err != nil {
			return out, err
		}
		out.rec.Labels = []int{p.Label}
		out.rec.Permutation = p.Perm
		for _, b := range p.Boxes {
			out.rec.Boxes = append(out.rec.Boxes, [4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y})
		}
		show(puzzle.ToImage())
		show(solved.ToImage())
	case "colorization":
		pretextFit(fitted, src, j.o.Size, s)
		var c augment.Colorization
		j.bins.Colorize(&c, fitted)
		var light, quant augment.Image
		c.LightnessImage(&light)
		j.bins.QuantizedImage(&quant, &c)
		bins := image.NewGray16(image.Rect(0, 0, c.W, c.H))
		for i, b := range c.Bins {
			bins.Pix[2*i], bins.Pix[2*i+1] = uint8(b>>8), uint8(b)
		}
		for _, f := range []struct {
			role  string
			m     image.Image
			input bool
		}{{"L", light.ToImage(), true}, {"bins", bins, false}, {"quantized", quant.ToImage(), false}} {
			if err := add(f.role, f.m, f.input); err != nil {
				return out, err
			}
		}
		out.hist = make([]float64, j.bins.Len())
		for _, b := range c.Bins {
			out.hist[b]++
		}
		show(light.ToImage())
		show(quant.ToImage())
	case "inpainting":
		pretextFit(fitted, src, j.o.Size, s)
		var p augment.Inpainting
		if err := j.inpaint.Generate(&p, fitted, rng); err != nil {
			return out, err
		}
		for _, f := range []struct {
			role  string
			m     *augment.Image
			input bool
		}{{"input", &p.Input, true}, {"mask", &p.Mask, false}, {"target", &p.Target, false}} {
			if err := add(f.role, f.m.ToImage(), f.input); err != nil {
				return out, err
			}
			show(f.m.ToImage())
		}
		out.rec.Box = &[4]int{p.Box.Min.X, p.Box.Min.Y, p.Box.Max.X, p.Box.Max.Y}
	case "superres":
		side := j.o.Size - j.o.Size%j.superres.Factor
		pretextFit(fitted, src, side, s)
		var p augment.SuperResPair
		if err := j.superres.Generate(&p, fitted, rng, s); err != nil {
			return out, err
		}
		if err := add("input", p.Low.ToImage(), true); err != nil {
			return out, err
		}
		if err := add("target", p.Target.ToImage(), false); err != nil {
			return out, err
		}
		out.rec.Box = &[4]int{p.Box.Min.X, p.Box.Min.Y, p.Box.Max.X, p.Box.Max.Y}
		show(p.Low.ToImage())
		show(p.Target.ToImage())
	}
	return out, nil
}

// runPretextAugment is runAugment for the pretext recipes: the same
// ordered pipeline (files byte-identical for any worker count, each
// image's draws from SampleRand(seed, epoch, index, 0)), writing into
// --out <name>_<role>.png per input and target, labels.jsonl (one record
// per image, in input order), pretext.json (the parameters), and
// permutations.json (jigsaw) or colorization.json (the bins and the class
// rebalancing of the images written).
func runPretextAugment(ctx context.Context, stderr io.Writer, o augmentOpts) (augmentResult, error) {
	res := augmentResult{Recipe: o.Recipe}
	job, err := newPretextJob(o)
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
	var labels *bufio.Writer
	if o.Out != "" {
		if err := os.MkdirAll(o.Out, 0o755); err != nil {
			return res, err
		}
		f, err := os.Create(filepath.Join(o.Out, "labels.jsonl"))
		if err != nil {
			return res, err
		}
		defer f.Close()
		labels = bufio.NewWriter(f)
	}
	workers := max(o.Workers, 1)
	s := pipeline.From(src, pipeline.Order{Seed: o.Seed, Limit: o.Limit, Epochs: 1})
	files := pipeline.Map(s, pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: workers})
	out := pipeline.Map(files, func(ctx context.Context, sm pipeline.Sample[pipeline.Blob]) (pretextOut, error) {
		img, err := augment.Decode(sm.Key, sm.Value.Data, augment.DecodeOptions{Channels: 3})
		if err != nil {
			return pretextOut{}, err
		}
		sc := augScratchPool.Get().(*augment.Scratch)
		defer augScratchPool.Put(sc)
		sm.Epoch = o.Epoch // one pass; --epoch only keys the random streams
		name := strings.TrimSuffix(sm.Key, filepath.Ext(sm.Key))
		return job.make(name, img, sm.Rand(0), sc, o.Out != "", o.Preview != "" && sm.Pos < augPreviewMaxRows)
	}, pipeline.MapOptions{Name: "pretext", Workers: workers, Chunk: 1})
	var bad []string
	it, err := pipeline.Start(ctx, out, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{
		Skip: true,
		OnError: func(se *pipeline.SampleError) {
			bad = append(bad, se.Error())
			fmt.Fprintf(stderr, "sslpipe: augment: skipped %v\n", se)
		},
	}})
	if err != nil {
		return res, err
	}
	defer it.Close()
	tooMany := func() error {
		return fmt.Errorf("augment: %d bad inputs (--max-errors %d): %w", len(bad), o.MaxErrors, errTooManyDataErrors)
	}
	var preview [][]image.Image
	var hist []float64
	start, lastProgress := time.Now(), time.Now()
	for {
		sm, err := it.Next()
		if err == io.EOF {
			break
		}
		if len(bad) > o.MaxErrors {
			return res, tooMany()
		}
		if err != nil {
			return res, err
		}
		a := sm.Value
		files := append(slices.Clone(a.rec.Inputs), a.rec.Targets...)
		if o.Out != "" {
			for i, b := range a.pngs {
				p := filepath.Join(o.Out, filepath.FromSlash(files[i]))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return res, err
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					return res, err
				}
			}
			line, err := json.Marshal(a.rec)
			if err != nil {
				return res, err
			}
			labels.Write(append(line, '\n'))
		}
		if a.hist != nil {
			if hist == nil {
				hist = make([]float64, len(a.hist))
			}
			for k, v := range a.hist {
				hist[k] += v
			}
		}
		res.Images++
		res.Views += len(files)
		if a.preview != nil {
			preview = append(preview, a.preview)
		}
		if !o.Quiet && time.Since(lastProgress) > 2*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(stderr, "sslpipe: augment: %d images, %.1f images/s\n", res.Images, float64(res.Images)/time.Since(start).Seconds())
		}
	}
	res.Errors = len(bad)
	if len(bad) > o.MaxErrors {
		return res, tooMany()
	}
	if o.Out != "" {
		if err := labels.Flush(); err != nil {
			return res, err
		}
		if err := job.writeManifest(hist); err != nil {
			return res, err
		}
	}
	if o.Preview != "" {
		if err := pretextWritePreview(o.Preview, preview, o.PreviewH); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writeManifest writes pretext.json and the recipe's side files.
func (j *pretextJob) writeManifest(hist []float64) error {
	o := j.o
	m := pretextManifest{Recipe: o.Recipe, Size: o.Size, Seed: o.Seed, Epoch: o.Epoch,
		Fit: "centred square of each image, resized with Pillow-exact bicubic", Files: map[string]string{"labels": "labels.jsonl"}}
	writeJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(o.Out, name), append(b, '\n'), 0o644)
	}
	switch o.Recipe {
	case "rotation":
		m.Extra = map[string]any{"labels": "label k = rotation by k*90 degrees counter-clockwise (np.rot90)"}
	case "jigsaw":
		m.Jigsaw, m.JigsawIn, m.Gap = &j.jig, j.jigIn, pretextGap
		m.Files["permutations"] = "permutations.json"
		m.Extra = map[string]any{"puzzle": "tiles in slot order, row-major, gap pixels apart; slot t holds the tile of cell permutation[t]"}
		if err := j.perms.Save(filepath.Join(o.Out, "permutations.json")); err != nil {
			return err
		}
	case "colorization":
		m.Files["colorization"] = "colorization.json"
		m.Extra = map[string]any{"L": "L* scaled by 255/100", "bins": "16-bit PNG of bin indices into colorization.json's centers",
			"quantized": "L* with each pixel's bin centre as ab, back in sRGB"}
		col := map[string]any{"grid": j.bins.Grid(), "centers": j.bins.Centers(),
			"bins_rule": "grid points that are a corner of the 10x10 ab cell of some 8-bit sRGB colour (augment.GamutABBins)"}
		if hist != nil {
			rb, err := j.bins.RebalanceWeights(hist, 5, 0.5)
			if err != nil {
				return err
			}
			col["counts"], col["rebalancing"] = hist, rb
		}
		if err := writeJSON("colorization.json", col); err != nil {
			return err
		}
	case "inpainting":
		m.Inpaint = &j.inpaint
	case "superres":
		m.SuperRes = &j.superres
	}
	return writeJSON("pretext.json", m)
}

// pretextWritePreview draws one row per image: the original, a gap, then
// the inputs and targets, each scaled to the row height with its aspect
// ratio kept (nearest-neighbour when enlarging, so low-resolution inputs
// show their pixels).
func pretextWritePreview(path string, rows [][]image.Image, h int) error {
	if len(rows) == 0 {
		return fmt.Errorf("augment: no images for the preview")
	}
	if h <= 0 {
		h = 128
	}
	const gap = 6
	scale := func(m image.Image) image.Image {
		b := m.Bounds()
		f := imaging.Lanczos
		if b.Dy() < h {
			f = imaging.NearestNeighbor
		}
		return imaging.Resize(m, max(b.Dx()*h/max(b.Dy(), 1), 1), h, f)
	}
	var scaled [][]image.Image
	width := 0
	for _, r := range rows {
		var row []image.Image
		w := gap
		for i, m := range r {
			s := scale(m)
			row = append(row, s)
			w += s.Bounds().Dx() + gap
			if i == 0 {
				w += gap
			}
		}
		scaled = append(scaled, row)
		width = max(width, w)
	}
	sheet := imaging.New(width, len(rows)*(h+gap)+gap, color.NRGBA{255, 255, 255, 255})
	for i, row := range scaled {
		y, x := gap+i*(h+gap), 0
		for k, m := range row {
			sheet = imaging.Paste(sheet, m, image.Pt(x, y))
			x += m.Bounds().Dx() + gap
			if k == 0 {
				x += gap
			}
		}
	}
	return imaging.Save(sheet, path)
}
