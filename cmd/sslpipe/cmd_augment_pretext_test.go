package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

// readLabels parses labels.jsonl.
func readLabels(t *testing.T, dir string) []pretextRecord {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []pretextRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r pretextRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func decodeOut(t *testing.T, dir, file string) *augment.Image {
	t.Helper()
	m, err := augment.DecodeFile(filepath.Join(dir, filepath.FromSlash(file)), augment.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameAugImage(a, b *augment.Image) bool {
	return a.W == b.W && a.H == b.H && a.C == b.C && bytes.Equal(a.Pix, b.Pix)
}

// TestAugmentPretextRecipes runs every pretext recipe with 1 and 3
// workers (byte-identical trees) and checks the files against the
// library's generators on the same sample streams.
func TestAugmentPretextRecipes(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 5)
	for _, recipe := range pretextRecipeNames {
		t.Run(recipe, func(t *testing.T) {
			var dirs []string
			for _, workers := range []int{1, 3} {
				out := t.TempDir()
				res, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{Recipe: recipe, Size: 40, In: in, Out: out,
					Seed: 9, Workers: workers, Pretext: pretextOpts{Perms: 30, Factor: 4, Mask: "random"}})
				if err != nil {
					t.Fatal(err)
				}
				if res.Images != 5 || res.Errors != 0 || res.Recipe != recipe {
					t.Fatalf("workers %d: %+v", workers, res)
				}
				dirs = append(dirs, out)
			}
			a, b := augReadTree(t, dirs[0]), augReadTree(t, dirs[1])
			if !reflect.DeepEqual(a, b) {
				t.Fatal("outputs differ between 1 and 3 workers")
			}
			out := dirs[0]
			recs := readLabels(t, out)
			if len(recs) != 5 {
				t.Fatalf("%d records", len(recs))
			}
			files := 0
			for _, r := range recs {
				for _, f := range append(r.Inputs, r.Targets...) {
					if _, ok := a[filepath.FromSlash(f)]; !ok {
						t.Fatalf("%s listed but not written", f)
					}
					files++
				}
			}
			var man pretextManifest
			if err := json.Unmarshal(a["pretext.json"], &man); err != nil || man.Recipe != recipe || man.Seed != 9 {
				t.Fatalf("pretext.json: %+v %v", man, err)
			}
			// The first record against the library, on the sample's stream.
			r := recs[0]
			src, err := augment.DecodeFile(filepath.Join(in, filepath.FromSlash(r.Image)+".jpg"), augment.DecodeOptions{Channels: 3})
			if err != nil {
				t.Fatal(err)
			}
			rng := pipeline.SampleRand(9, 0, 0, 0)
			fitted := &augment.Image{}
			switch recipe {
			case "rotation":
				pretextFit(fitted, src, 40, nil)
				if files != 20 || !reflect.DeepEqual(r.Labels, []int{0, 1, 2, 3}) {
					t.Fatalf("%d files, labels %v", files, r.Labels)
				}
				var want augment.Image
				augment.Rotate90(&want, fitted, 1)
				if !sameAugImage(decodeOut(t, out, r.Inputs[1]), &want) {
					t.Fatal("rot1 is not the fitted image turned once")
				}
			case "jigsaw":
				perms, err := augment.LoadPermutationSet(filepath.Join(out, "permutations.json"))
				if err != nil {
					t.Fatal(err)
				}
				want, _ := augment.NewPermutationSet(9, 30, 9, augment.MaxMinHamming)
				if !reflect.DeepEqual(perms, want) {
					t.Fatal("permutations.json is not the set of --perms and --seed")
				}
				pretextFit(fitted, src, 44, nil) // crop 39 -> resize 39*256/225
				var p augment.JigsawPuzzle
				if err := (augment.Jigsaw{Grid: 3, Crop: 39, Tile: 11}).Generate(&p, fitted, perms, rng); err != nil {
					t.Fatal(err)
				}
				var mosaic augment.Image
				p.Draw(&mosaic, pretextGap, false)
				if r.Labels[0] != p.Label || !reflect.DeepEqual(r.Permutation, p.Perm) || !sameAugImage(decodeOut(t, out, r.Inputs[0]), &mosaic) {
					t.Fatalf("label %d, library %d", r.Labels[0], p.Label)
				}
			case "colorization":
				bins := augment.DefaultABBins()
				pretextFit(fitted, src, 40, nil)
				var c augment.Colorization
				bins.Colorize(&c, fitted)
				f, _ := os.Open(filepath.Join(out, r.Targets[0]))
				m, err := png.Decode(f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				g := m.(*image.Gray16)
				for i, b := range c.Bins {
					if int32(g.Pix[2*i])<<8|int32(g.Pix[2*i+1]) != b {
						t.Fatalf("pixel %d: bin %d in the PNG, library %d", i, int32(g.Pix[2*i])<<8|int32(g.Pix[2*i+1]), b)
					}
				}
				var col struct {
					Centers     [][2]float64
					Counts      []float64
					Rebalancing augment.Rebalancing
				}
				if err := json.Unmarshal(a["colorization.json"], &col); err != nil {
					t.Fatal(err)
				}
				ew, px := 0.0, 0.0
				for k := range col.Counts {
					ew += col.Rebalancing.Prior[k] * col.Rebalancing.Weights[k]
					px += col.Counts[k]
				}
				if len(col.Centers) != bins.Len() || px != 5*40*40 || math.Abs(ew-1) > 1e-9 {
					t.Fatalf("colorization.json: %d centres, %v pixels, E[w] %v", len(col.Centers), px, ew)
				}
			case "inpainting":
				pretextFit(fitted, src, 40, nil)
				var p augment.Inpainting
				if err := (augment.Inpaint{Kind: "random"}).Generate(&p, fitted, rng); err != nil {
					t.Fatal(err)
				}
				if !sameAugImage(decodeOut(t, out, r.Inputs[0]), &p.Input) || !sameAugImage(decodeOut(t, out, r.Targets[0]), &p.Mask) {
					t.Fatal("input or mask differs from the library's")
				}
			case "superres":
				target := decodeOut(t, out, r.Targets[0])
				var low augment.Image
				augment.Downscale(&low, target, 4, nil)
				if target.W != 40 || !sameAugImage(decodeOut(t, out, r.Inputs[0]), &low) {
					t.Fatal("input is not the target down-sampled by 4")
				}
			}
		})
	}
}

func TestAugmentPretextPreviewAndFlags(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 4)
	dir := t.TempDir()
	grid := filepath.Join(dir, "grid.png")
	env, stdout, _ := augTestEnv()
	if err := run(context.Background(), env, []string{"augment", "--recipe", "rotation", "--size", "32", "--in", in, "--preview", grid, "--limit", "3", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "3 images, 12 views") {
		t.Fatalf("stdout %q", stdout.String())
	}
	f, err := os.Open(grid)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Height != 3*(128+6)+6 || cfg.Width < 5*128 {
		t.Fatalf("preview %dx%d %v", cfg.Width, cfg.Height, err)
	}
	// A saved permutation set is reused, whatever the seed.
	out1, out2 := t.TempDir(), t.TempDir()
	if err := run(context.Background(), env, []string{"augment", "--recipe", "jigsaw", "--size", "48", "--perms", "12", "--seed", "3", "--in", in, "--out", out1, "--quiet"}); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), env, []string{"augment", "--recipe", "jigsaw", "--size", "48", "--perms-file", filepath.Join(out1, "permutations.json"), "--seed", "5", "--epoch", "1", "--in", in, "--out", out2, "--quiet"}); err != nil {
		t.Fatal(err)
	}
	t1, t2 := augReadTree(t, out1), augReadTree(t, out2)
	if !bytes.Equal(t1["permutations.json"], t2["permutations.json"]) {
		t.Fatal("--perms-file did not keep the set")
	}
	if bytes.Equal(t1["labels.jsonl"], t2["labels.jsonl"]) {
		t.Fatal("seed and epoch do not change the puzzles")
	}
	for _, r := range readLabels(t, out2) {
		if r.Labels[0] < 0 || r.Labels[0] >= 12 {
			t.Fatalf("label %d outside the 12 permutations", r.Labels[0])
		}
	}
	for _, args := range [][]string{
		{"--recipe", "superres", "--factor", "0"},
		{"--recipe", "superres", "--factor", "64", "--size", "32"},
		{"--recipe", "inpainting", "--mask", "ring"},
		{"--recipe", "jigsaw", "--perms", "0"},
		{"--recipe", "rotation", "--size", "4"},
	} {
		args = append([]string{"augment", "--in", in, "--out", t.TempDir()}, args...)
		if err := run(context.Background(), env, args); exitCode(err) != exitUsage {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	bad := filepath.Join(dir, "perms.json")
	os.WriteFile(bad, []byte(`{"format": "x"}`), 0o644)
	if err := run(context.Background(), env, []string{"augment", "--recipe", "jigsaw", "--perms-file", bad, "--in", in, "--out", t.TempDir()}); err == nil || !strings.Contains(err.Error(), "perms.json") {
		t.Errorf("bad --perms-file: %v", err)
	}
}
