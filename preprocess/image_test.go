package preprocess

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

// readErrors parses DIR/errors.jsonl.
func readErrors(t testing.TB, dir string) []ErrorEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "errors.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []ErrorEntry
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e ErrorEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("errors.jsonl line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// readBack reads every sample of a finished dataset through pipeline.Tar,
// as the trainer does.
func readBack(t testing.TB, dir string) []pipeline.TarSample {
	t.Helper()
	paths, err := Shards(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	src, err := pipeline.Tar(paths...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []pipeline.TarSample
	for i := 0; i < src.Len(); i++ {
		s, err := src.At(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Value)
	}
	return out
}

// sameTree fails unless the dataset files (shards, manifest, errors,
// artifacts; not part manifests) of a and b are byte-identical, and returns
// how many files it compared.
func sameTree(t testing.TB, a, b string) int {
	t.Helper()
	list := func(d string) []string {
		var names []string
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "part-") || e.IsDir() {
				continue
			}
			names = append(names, e.Name())
		}
		return names
	}
	na, nb := list(a), list(b)
	if !slices.Equal(na, nb) {
		t.Fatalf("file lists differ:\n%v\n%v", na, nb)
	}
	for _, n := range na {
		x, _ := os.ReadFile(filepath.Join(a, n))
		y, _ := os.ReadFile(filepath.Join(b, n))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs (%d vs %d bytes)", n, len(x), len(y))
		}
	}
	return len(na)
}

func imageOpts(in, out string) Options {
	return Options{Modality: Image, In: in, Out: out, ShardSize: 7, LabelsFromDirs: true, MaxSide: 32, MaxErrors: -1, Workers: 3}
}

func TestImageEndToEnd(t *testing.T) {
	dir, bad := imageCorpus(t, 20)
	out := t.TempDir()
	sum, err := Run(context.Background(), imageOpts(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Inputs != 24 || sum.Samples != 20 || sum.Rejected != 4 || sum.ShardsWritten != 4 {
		t.Fatalf("summary %+v", sum)
	}
	// The listing order, computed independently: sorted relative paths.
	var rels []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			rels = append(rels, filepath.ToSlash(r))
		}
		return nil
	})
	slices.Sort(rels)

	// errors.jsonl names exactly the corrupt files, with reasons.
	errs := readErrors(t, out)
	got := map[string]ErrorEntry{}
	for _, e := range errs {
		got[e.Path] = e
		if rels[e.Input] != e.Path {
			t.Errorf("error for input %d names %s, input is %s", e.Input, e.Path, rels[e.Input])
		}
		if e.Shard != ShardName(e.Input/7) {
			t.Errorf("%s: shard %s, want %s", e.Path, e.Shard, ShardName(e.Input/7))
		}
	}
	if len(errs) != len(bad) {
		t.Errorf("%d errors, want %d: %+v", len(errs), len(bad), errs)
	}
	for p := range bad {
		if _, ok := got[p]; !ok {
			t.Errorf("%s not reported", p)
		}
	}
	if e := got["eel/bad-huge.png"]; e.Kind != "too-large" || !strings.Contains(e.Reason, "100000x100000") {
		t.Errorf("huge PNG: %+v", e)
	}
	if e := got["dog/bad-empty.png"]; e.Kind != "decode" || !strings.Contains(e.Reason, "empty") {
		t.Errorf("empty PNG: %+v", e)
	}

	// Read back through pipeline.Tar: keys, labels and sizes.
	samples := readBack(t, out)
	if len(samples) != 20 {
		t.Fatalf("read back %d samples", len(samples))
	}
	m, src, err := Open(out, true)
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != m.Samples {
		t.Fatalf("Open: %d samples in the shards, manifest says %d", src.Len(), m.Samples)
	}
	src.Close()
	if !slices.Equal(m.Classes, []string{"cat", "dog", "eel"}) || !slices.Equal(m.Fields, []string{"jpg", "cls"}) {
		t.Fatalf("manifest classes %v fields %v", m.Classes, m.Fields)
	}
	for _, s := range samples {
		idx, err := strconv.Atoi(s.Key)
		if err != nil {
			t.Fatalf("key %q", s.Key)
		}
		rel := rels[idx]
		if _, isBad := bad[rel]; isBad {
			t.Errorf("rejected input %s was written", rel)
		}
		cls, _ := strconv.Atoi(string(s.Files["cls"]))
		if want := strings.Split(rel, "/")[0]; m.Classes[cls] != want {
			t.Errorf("%s: class %s, want %s", rel, m.Classes[cls], want)
		}
		orig, err := augment.DecodeFile(filepath.Join(dir, rel), augment.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img, err := augment.Decode(s.Key, s.Files["jpg"], augment.DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: written JPEG does not decode: %v", rel, err)
		}
		ww, wh := orig.W, orig.H
		if min(ww, wh) > 32 {
			ww, wh = augment.ShorterSide(ww, wh, 32)
		}
		if img.W != ww || img.H != wh || img.C != orig.C {
			t.Errorf("%s: %dx%dx%d written, want %dx%dx%d (from %dx%d)", rel, img.W, img.H, img.C, ww, wh, orig.C, orig.W, orig.H)
		}
	}

	// Same inputs and options with another worker count: identical bytes.
	out2 := t.TempDir()
	o := imageOpts(dir, out2)
	o.Workers = 1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if n := sameTree(t, out, out2); n != 6 {
		t.Errorf("compared %d files, want 4 shards + manifest + errors", n)
	}
}

func TestImagePNGLosslessAndManifestInput(t *testing.T) {
	dir := t.TempDir()
	r := newRand(7)
	var csv strings.Builder
	csv.WriteString("path,label\n")
	var origs [][]byte
	for i := 0; i < 5; i++ {
		data := encodeImage(t, genImage(r, 20+i, 11+2*i, i == 3), true)
		name := "x" + strconv.Itoa(i) + ".png"
		writeFile(t, filepath.Join(dir, "imgs", name), data)
		csv.WriteString("imgs/" + name + "," + strconv.Itoa(10+i%2) + "\n")
		origs = append(origs, data)
	}
	csv.WriteString("imgs/missing.png,3\n")
	writeFile(t, filepath.Join(dir, "list.csv"), []byte(csv.String()))
	out := t.TempDir()
	_, err := Run(context.Background(), Options{Modality: Image, In: filepath.Join(dir, "list.csv"), Out: out, Format: "png", MaxErrors: -1})
	if err != nil {
		t.Fatal(err)
	}
	samples := readBack(t, out)
	if len(samples) != 5 {
		t.Fatalf("%d samples", len(samples))
	}
	for i, s := range samples {
		want, _ := augment.Decode("orig", origs[i], augment.DecodeOptions{})
		got, err := augment.Decode("png", s.Files["png"], augment.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Pix, want.Pix) || got.W != want.W || got.C != want.C {
			t.Errorf("sample %d: PNG not lossless", i)
		}
		if c := string(s.Files["cls"]); c != strconv.Itoa(10+i%2) {
			t.Errorf("sample %d: cls %q (integer labels are kept as is)", i, c)
		}
	}
	errs := readErrors(t, out)
	if len(errs) != 1 || errs[0].Kind != "unreadable" || !strings.Contains(errs[0].Path, "list.csv:7") {
		t.Errorf("errors %+v", errs)
	}
}

func TestRefusesOtherDatasetAndResumeFlag(t *testing.T) {
	dir, _ := imageCorpus(t, 6)
	out := t.TempDir()
	o := imageOpts(dir, out)
	o.Resume = true
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
		t.Fatalf("--resume on an empty folder: %v", err)
	}
	o.Resume = false
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Quality = 50
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrOtherDataset) {
		t.Fatalf("other quality into the same folder: %v", err)
	}
	// Rerunning a finished run keeps everything and rewrites nothing.
	o.Quality = 0
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsWritten != 0 || sum.ShardsKept != sum.Shards {
		t.Fatalf("rerun of a finished run: %+v", sum)
	}
}

func TestCorruptedShardIsRewritten(t *testing.T) {
	dir, _ := imageCorpus(t, 12)
	out, ref := t.TempDir(), t.TempDir()
	if _, err := Run(context.Background(), imageOpts(dir, ref)); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), imageOpts(dir, out)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(out, ShardName(1))
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 0xff
	os.WriteFile(p, data, 0o644)
	os.Remove(filepath.Join(out, ShardName(2)))
	sum, err := Run(context.Background(), imageOpts(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsWritten != 2 || sum.ShardsKept != sum.Shards-2 {
		t.Fatalf("want shards 1 and 2 rewritten: %+v", sum)
	}
	sameTree(t, out, ref)
}

func TestMaxErrors(t *testing.T) {
	dir, _ := imageCorpus(t, 20)
	out := t.TempDir()
	o := imageOpts(dir, out)
	o.MaxErrors = 2
	sum, err := Run(context.Background(), o)
	if !errors.Is(err, ErrTooManyErrors) {
		t.Fatalf("err %v", err)
	}
	if !sum.Stopped || sum.Rejected != 3 {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("manifest written by a stopped run: %v", err)
	}
	if errs := readErrors(t, out); len(errs) != 3 {
		t.Fatalf("errors.jsonl of the stopped run: %+v", errs)
	}
	// With the budget raised, the rerun completes and keeps the shards done.
	o.MaxErrors = 4
	sum, err = Run(context.Background(), o)
	if err != nil || sum.ShardsKept == 0 {
		t.Fatalf("rerun: %v %+v", err, sum)
	}
}
