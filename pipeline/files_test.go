package pipeline_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

func readAll[T any](t *testing.T, src pipeline.Source[T]) ([]pipeline.Sample[T], []*pipeline.SampleError) {
	t.Helper()
	r, err := src.Open(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ok []pipeline.Sample[T]
	var bad []*pipeline.SampleError
	for {
		s, err := r.Next()
		if err == io.EOF {
			return ok, bad
		}
		var se *pipeline.SampleError
		if errors.As(err, &se) {
			bad = append(bad, se)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		ok = append(ok, s)
	}
}

func TestFolder(t *testing.T) {
	src, err := pipeline.Folder("testdata/folder", "jpg", ".PNG")
	if err != nil {
		t.Fatal(err)
	}
	got, bad := readAll[pipeline.File](t, src)
	if len(bad) != 0 {
		t.Fatal(bad)
	}
	var keys, labels []string
	var classes []int
	for i, s := range got {
		if s.Index != i {
			t.Fatalf("index %d at %d", s.Index, i)
		}
		keys = append(keys, s.Key)
		labels = append(labels, s.Value.Label)
		classes = append(classes, s.Value.Class)
	}
	if want := []string{"cat/a.jpg", "cat/b.JPG", "dog/c.png", "top.jpg"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if !slices.Equal(labels, []string{"cat", "cat", "dog", ""}) || !slices.Equal(classes, []int{0, 0, 1, -1}) {
		t.Fatalf("labels %v classes %v", labels, classes)
	}
	if !slices.Equal(src.Classes(), []string{"cat", "dog"}) {
		t.Fatalf("classes %v", src.Classes())
	}
	b, err := pipeline.ReadFile(context.Background(), got[2])
	if err != nil || string(b.Data) != "dog-c" || b.Label != "dog" {
		t.Fatalf("ReadFile: %q %v", b.Data, err)
	}
	if _, err := pipeline.Folder("testdata/no-such-dir"); err == nil {
		t.Fatal("missing folder accepted")
	}
}

// Manifests: bad lines and missing files become per-sample errors naming the
// manifest line; good lines are read by ReadFile in a pipeline.
func TestManifest(t *testing.T) {
	for _, tc := range []struct {
		file     string
		good     []string
		badLines []string
	}{
		{"manifest.csv", []string{"cat-a", "dog-c", "cat-b"}, []string{"manifest.csv:4", "manifest.csv:5", "manifest.csv:7"}},
		{"manifest.jsonl", []string{"cat-a", "dog-c"}, []string{"manifest.jsonl:4", "manifest.jsonl:5", "manifest.jsonl:6", "manifest.jsonl:7"}},
	} {
		src, err := pipeline.Manifest(filepath.Join("testdata", tc.file), pipeline.ManifestOptions{IntLabels: true})
		if err != nil {
			t.Fatal(err)
		}
		s := pipeline.Map(pipeline.From[pipeline.File](src, pipeline.Order{}), pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: 2})
		it, err := pipeline.Start(context.Background(), s, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}})
		if err != nil {
			t.Fatal(err)
		}
		var good []string
		for b, err := range it.All() {
			if err != nil {
				t.Fatal(err)
			}
			good = append(good, string(b.Value.Data))
		}
		if !slices.Equal(good, tc.good) {
			t.Errorf("%s: read %q, want %q", tc.file, good, tc.good)
		}
		var lines []string
		for _, e := range it.Report().Errors {
			lines = append(lines, e.Origin)
		}
		if !slices.Equal(lines, tc.badLines) {
			t.Errorf("%s: errors at %v, want %v\n%s", tc.file, lines, tc.badLines, it.Report())
		}
		for _, e := range it.Report().Errors {
			msg := e.Error()
			if strings.Contains(msg, "missing.jpg") && !strings.Contains(msg, "no such file") ||
				strings.Contains(e.Origin, ":4") && !strings.Contains(msg, "missing.jpg") {
				t.Errorf("%s: unhelpful error %q", tc.file, msg)
			}
		}
	}
	// Without IntLabels the garbage label is just a string.
	src, err := pipeline.Manifest("testdata/manifest.csv", pipeline.ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ok, bad := readAll[pipeline.File](t, src)
	if len(ok) != 5 || len(bad) != 1 || ok[3].Value.Label != "banana" {
		t.Fatalf("%d ok, %d bad", len(ok), len(bad))
	}
	if _, err := pipeline.Manifest(writeTemp(t, "m.csv", "file,label\na.jpg,1\n"), pipeline.ManifestOptions{}); !errors.Is(err, pipeline.ErrManifest) {
		t.Fatalf("no path column: %v", err)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTar(t *testing.T) {
	src, err := pipeline.TarGlob("testdata/shard-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ok, bad := readAll[pipeline.TarSample](t, src)
	if len(bad) != 0 || len(ok) != 8 || src.Len() != 8 {
		t.Fatalf("%d samples, %d errors, Len %d", len(ok), len(bad), src.Len())
	}
	for i, s := range ok {
		want := "sample " + string(rune('0'+i)) + " text"
		if s.Key != "00000"+string(rune('0'+i)) || string(s.Value.Files["txt"]) != want || string(s.Value.Files["cls"]) != string(rune('0'+i%3)) {
			t.Fatalf("sample %d: key %q files %q", i, s.Key, s.Value.Files)
		}
		if wantShard := map[bool]string{true: "shard-000.tar", false: "shard-001.tar"}[i < 5]; s.Origin != wantShard {
			t.Fatalf("sample %d from %s", i, s.Origin)
		}
	}
	// Seeking: Open at k yields the suffix.
	r, err := src.Open(context.Background(), 6)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Next()
	if err != nil || s.Key != "000006" || s.Index != 6 {
		t.Fatalf("open at 6: %v %v", s.Key, err)
	}
	// Streamed through a shuffled, sharded pipeline: each rank's part.
	seen := map[string]bool{}
	for rank := range 2 {
		st := pipeline.From[pipeline.TarSample](src, pipeline.Order{Seed: 4, Shuffle: true, Rank: rank, World: 2})
		for x, err := range pipeline.All(context.Background(), st, pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			seen[x.Key] = true
		}
	}
	if len(seen) != 8 {
		t.Fatalf("ranks saw %d samples", len(seen))
	}
}

func TestTruncatedTar(t *testing.T) {
	src, err := pipeline.Tar("testdata/truncated.tar", "testdata/shard-001.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ok, bad := readAll[pipeline.TarSample](t, src)
	// Sample 000000 is whole; 000001's txt is cut: an error naming the shard.
	if len(ok) != 4 || ok[0].Key != "000000" || ok[1].Key != "000005" || len(bad) != 1 {
		t.Fatalf("%d ok, %d bad", len(ok), len(bad))
	}
	if e := bad[0]; e.Key != "000001" || e.Origin != "truncated.tar" || e.Index != 1 || !strings.Contains(e.Error(), "truncated") {
		t.Fatalf("error %v (key %q origin %q index %d)", e, e.Key, e.Origin, e.Index)
	}
}

// Every prefix of a shard: complete samples are read whole, the cut one is
// an error, nothing panics.
func TestTarPrefixes(t *testing.T) {
	full, err := os.ReadFile("testdata/shard-000.tar")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for cut := 0; cut <= len(full); cut += 97 {
		p := filepath.Join(dir, "cut.tar")
		if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := pipeline.Tar(p)
		if err != nil {
			t.Fatal(err)
		}
		ok, bad := readAll[pipeline.TarSample](t, src)
		src.Close()
		// Sample k (two 1024-byte members) is known complete once the next
		// sample's header has been read whole; the last one (k = 4) once the
		// end-of-archive blocks are there.
		complete := 0
		for k := range 4 {
			if cut >= (k+1)*2048+512 {
				complete = k + 1
			}
		}
		if cut >= 10240+1024 {
			complete = 5
		}
		if len(ok) != complete {
			t.Fatalf("cut at %d: %d whole samples, want %d (errors %v)", cut, len(ok), complete, bad)
		}
		for i, s := range ok {
			if len(s.Value.Files) != 2 || s.Index != i {
				t.Fatalf("cut at %d: sample %d has %d members", cut, i, len(s.Value.Files))
			}
		}
		if cut > 0 && cut < 10240+1024 && len(bad) != 1 {
			t.Fatalf("cut at %d: %d errors", cut, len(bad))
		}
	}
}

func FuzzManifest(f *testing.F) {
	for _, name := range []string{"manifest.csv", "manifest.jsonl"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.HasSuffix(name, ".jsonl"))
	}
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		name := "m.csv"
		if jsonl {
			name = "m.jsonl"
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := pipeline.Manifest(p, pipeline.ManifestOptions{IntLabels: true})
		if err != nil {
			if !jsonl && errors.Is(err, pipeline.ErrManifest) {
				return
			}
			t.Fatalf("whole-manifest error: %v", err)
		}
		ok, bad := readAll[pipeline.File](t, src)
		if len(ok)+len(bad) != src.Len() {
			t.Fatalf("%d+%d samples for Len %d", len(ok), len(bad), src.Len())
		}
		for _, e := range bad {
			if !strings.HasPrefix(e.Origin, name+":") {
				t.Fatalf("error without a line: %v", e)
			}
		}
		for _, s := range ok {
			if s.Value.Path == "" {
				t.Fatalf("sample %d without a path", s.Index)
			}
		}
	})
}

// Refs + ReadTar on workers gives what reading the TarSource gives.
func TestTarRefs(t *testing.T) {
	src, err := pipeline.Tar("testdata/shard-000.tar", "testdata/truncated.tar", "testdata/shard-001.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	o := pipeline.Order{Seed: 3, Shuffle: true, Epochs: 2}
	skip := pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}}
	type got struct {
		Index, Epoch int
		Key, Origin  string
		Files        string
	}
	collect := func(s *pipeline.Stream[pipeline.TarSample]) ([]got, []string) {
		it, err := pipeline.Start(context.Background(), s, skip)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var out []got
		for x, err := range it.All() {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got{x.Index, x.Epoch, x.Key, x.Origin, string(x.Value.Files["txt"]) + "|" + string(x.Value.Files["cls"])})
		}
		var errs []string
		for _, e := range it.Report().Errors {
			errs = append(errs, e.Error())
		}
		return out, errs
	}
	direct, derrs := collect(pipeline.From[pipeline.TarSample](src, o))
	viaRefs, rerrs := collect(pipeline.Map(pipeline.From[pipeline.TarRef](src.Refs(), o), pipeline.ReadTar, pipeline.MapOptions{Name: "source", Workers: 4}))
	if len(direct) != 2*(src.Len()-1) || !slices.Equal(direct, viaRefs) {
		t.Fatalf("direct %v\nrefs %v", direct, viaRefs)
	}
	if len(derrs) != 2 || !slices.Equal(derrs, rerrs) {
		t.Fatalf("errors: %q vs %q", derrs, rerrs)
	}
}
