package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
)

// writeAugmentInputs writes n small photo-like images (odd sizes, JPEG and
// PNG, one gray) under dir, some in a subfolder.
func writeAugmentInputs(t *testing.T, dir string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		w, h := 61+7*i, 47+5*i
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x*y + i*40) % 256), 255})
			}
		}
		sub := dir
		if i%3 == 2 {
			sub = filepath.Join(dir, "sub")
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		name := filepath.Join(sub, "img"+string(rune('a'+i)))
		switch {
		case i%4 == 1:
			png.Encode(&b, m)
			name += ".png"
		case i%4 == 3:
			g := image.NewGray(m.Bounds())
			for j := range g.Pix {
				g.Pix[j] = uint8(j * 3)
			}
			jpeg.Encode(&b, g, &jpeg.Options{Quality: 90})
			name += ".jpg"
		default:
			jpeg.Encode(&b, m, &jpeg.Options{Quality: 90})
			name += ".jpg"
		}
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// augReadTree maps relative path -> contents for every file under dir.
func augReadTree(t *testing.T, dir string) map[string][]byte {
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return nil
	})
	return out
}

func TestAugmentByteIdenticalAcrossWorkers(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 7)
	var trees []map[string][]byte
	for _, workers := range []int{1, 2, 5} {
		out := t.TempDir()
		res, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{
			Recipe: "byol", Size: 32, In: in, Out: out, Seed: 9, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if res.Images != 7 || res.Views != 14 || res.Errors != 0 {
			t.Fatalf("workers %d: %+v", workers, res)
		}
		trees = append(trees, augReadTree(t, out))
	}
	if len(trees[0]) != 14 {
		var names []string
		for k := range trees[0] {
			names = append(names, k)
		}
		sort.Strings(names)
		t.Fatalf("wrote %d files: %v", len(trees[0]), names)
	}
	if _, ok := trees[0][filepath.Join("sub", "imgc_v1.png")]; !ok {
		t.Fatal("sub/imgc_v1.png missing")
	}
	for i := 1; i < len(trees); i++ {
		for k, v := range trees[0] {
			if !bytes.Equal(trees[i][k], v) {
				t.Fatalf("%s differs between 1 and %d workers", k, []int{1, 2, 5}[i])
			}
		}
	}
	// Each file is the recipe's view: decode it and compare with the library.
	rec := augment.BYOL(32, true)
	src, err := augment.DecodeFile(filepath.Join(in, "imga.jpg"), augment.DecodeOptions{Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	views := rec.Apply(nil, src, augment.Key{Seed: 9, Index: 0}, nil) // imga.jpg sorts first
	got, err := augment.Decode("v1", trees[0]["imga_v1.png"], augment.DecodeOptions{Channels: 3})
	if err != nil || !bytes.Equal(got.Pix, views[1].Pix) {
		t.Fatalf("imga_v1.png is not view 1 of sample 0 (%v)", err)
	}
	// Another seed changes the views.
	out := t.TempDir()
	if _, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{Recipe: "byol", Size: 32, In: in, Out: out, Seed: 10, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(augReadTree(t, out)["imga_v0.png"], trees[0]["imga_v0.png"]) {
		t.Fatal("seed does not change the views")
	}
}

func TestAugmentPreviewAndMask(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 5)
	dir := t.TempDir()
	grid := filepath.Join(dir, "grid.png")
	env, stdout, _ := augTestEnv()
	err := run(context.Background(), env, []string{"augment", "--recipe", "dino", "--size", "64", "--in", in, "--preview", grid, "--limit", "3", "--quiet"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "3 images, 30 views") {
		t.Fatalf("stdout: %q", stdout.String())
	}
	f, err := os.Open(grid)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Height != 3*(128+6)+6 || cfg.Width < 10*128 {
		t.Fatalf("preview %dx%d, %v", cfg.Width, cfg.Height, err)
	}
	out := t.TempDir()
	res, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{Recipe: "mask", Size: 64, In: in, Out: out, Workers: 2, Limit: 2})
	if err != nil || res.Images != 2 {
		t.Fatal(res, err)
	}
	mb, err := os.ReadFile(filepath.Join(out, "imga_mask.png"))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := png.Decode(bytes.NewReader(mb))
	if err != nil || mi.Bounds().Dx() != 4 || mi.Bounds().Dy() != 4 {
		t.Fatalf("mask image %v %v", mi.Bounds(), err)
	}
}

func TestAugmentBadInputs(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 3)
	os.WriteFile(filepath.Join(in, "broken.jpg"), []byte("\xff\xd8\xff\xe0 not really"), 0o644)
	os.WriteFile(filepath.Join(in, "empty.png"), nil, 0o644)
	_, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{Recipe: "simclr", Size: 24, In: in, Out: t.TempDir(), Workers: 2})
	if !errors.Is(err, errTooManyDataErrors) || exitCode(err) != exitDataErrors {
		t.Fatalf("MaxErrors 0: %v", err)
	}
	var stderr bytes.Buffer
	res, err := runAugment(context.Background(), &stderr, augmentOpts{Recipe: "simclr", Size: 24, In: in, Out: t.TempDir(), Workers: 2, MaxErrors: 2})
	if err != nil || res.Images != 3 || res.Errors != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	for _, name := range []string{"broken.jpg", "empty.png"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("stderr does not name %s: %s", name, stderr.String())
		}
	}
	env, _, _ := augTestEnv()
	for _, args := range [][]string{
		{"augment", "--recipe", "nope", "--in", in, "--out", t.TempDir()},
		{"augment", "--in", in},
		{"augment", "--recipe", "byol", "--size", "0", "--in", in, "--out", t.TempDir()},
	} {
		if err := run(context.Background(), env, args); exitCode(err) != exitUsage {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestAugmentRecipeFile(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 2)
	rf := filepath.Join(t.TempDir(), "r.yaml")
	os.WriteFile(rf, []byte(`name: custom
channels: 1
views:
  - name: small
    count: 3
    size: 20
    scale: [0.5, 1]
    ratio: [0.75, 1.3333]
    interp: bicubic
    flip_p: 0.5
    jitter_p: 1
    jitter: {brightness: 0.4, contrast: 0.4}
    normalize: {mean: [0.5], std: [0.25]}
`), 0o644)
	out := t.TempDir()
	res, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{RecipeFile: rf, In: in, Out: out, Workers: 1})
	if err != nil || res.Views != 6 || res.Recipe != "custom" {
		t.Fatalf("%+v %v", res, err)
	}
	m, err := augment.DecodeFile(filepath.Join(out, "imgb_v2.png"), augment.DecodeOptions{})
	if err != nil || m.C != 1 || m.W != 20 {
		t.Fatalf("%+v %v", m, err)
	}
	os.WriteFile(rf, []byte("name: x\nviews: [{size: 10, scale: [0.5, 0.1], ratio: [1, 1]}]\n"), 0o644)
	if _, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{RecipeFile: rf, In: in, Out: out}); exitCode(err) != exitUsage {
		t.Fatalf("bad scale accepted: %v", err)
	}
	os.WriteFile(rf, []byte("name: x\nunknown_field: 1\n"), 0o644)
	if _, err := runAugment(context.Background(), &bytes.Buffer{}, augmentOpts{RecipeFile: rf, In: in, Out: out}); exitCode(err) != exitUsage {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

func TestBenchAugmentJSON(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 4)
	env, stdout, _ := augTestEnv()
	err := run(context.Background(), env, []string{"bench", "augment", "--recipe", "byol", "--size", "32", "--in", in, "--workers", "2", "--seconds", "0.3", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	for _, k := range []string{"views_per_s", "images_per_s", "workers"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON lacks %s: %s", k, stdout.String())
		}
	}
	if r["workers"].(float64) != 2 || !(r["views_per_s"].(float64) > 0) || r["views_per_s"].(float64) != 2*r["images_per_s"].(float64) {
		t.Errorf("implausible result %v", r)
	}
}

func augTestEnv() (*cmdEnv, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &cmdEnv{Stdout: &out, Stderr: &errb}, &out, &errb
}
