package preprocess

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPartsMergeEqualsSingleRun(t *testing.T) {
	dir, _ := imageCorpus(t, 30)
	ref := t.TempDir()
	if _, err := Run(context.Background(), imageOpts(dir, ref)); err != nil {
		t.Fatal(err)
	}
	const n = 3
	// Shared folder (Kubernetes indexed Job on a shared volume).
	shared := t.TempDir()
	// One folder per machine, merged into a fresh folder.
	var sep []string
	for i := 0; i < n; i++ {
		o := imageOpts(dir, shared)
		o.Part, o.Parts = i, n
		sum, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Shards != 2 && sum.Shards != 1 { // 5 shards over 3 parts
			t.Errorf("part %d made %d shards", i, sum.Shards)
		}
		if _, err := os.Stat(filepath.Join(shared, "manifest.json")); err == nil {
			t.Fatal("a part wrote manifest.json")
		}
		o.Out = filepath.Join(t.TempDir(), "m")
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		sep = append(sep, o.Out)
		if i == 0 {
			// Merging before every part is done is refused.
			if _, err := Merge(context.Background(), MergeOptions{Dirs: []string{shared}}); err == nil || !strings.Contains(err.Error(), "missing") {
				t.Fatalf("merge with parts missing: %v", err)
			}
		}
	}
	if _, err := Merge(context.Background(), MergeOptions{Dirs: []string{shared}, Verify: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifest.json", "errors.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(ref, f))
		b, _ := os.ReadFile(filepath.Join(shared, f))
		if string(a) != string(b) {
			t.Errorf("merged %s differs from the single run's", f)
		}
	}
	merged := t.TempDir()
	if _, err := Merge(context.Background(), MergeOptions{Dirs: sep, Out: merged, Verify: true}); err != nil {
		t.Fatal(err)
	}
	if n := sameTree(t, ref, merged); n != 7 {
		t.Errorf("compared %d files, want 5 shards + manifest + errors", n)
	}
	// A tampered shard is caught while copying.
	p := filepath.Join(sep[1], ShardName(1))
	data, _ := os.ReadFile(p)
	data[100] ^= 1
	os.WriteFile(p, data, 0o644)
	if _, err := Merge(context.Background(), MergeOptions{Dirs: sep, Out: t.TempDir(), Verify: true}); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("tampered shard: %v", err)
	}
	// Parts of different runs are refused.
	o := imageOpts(dir, t.TempDir())
	o.Part, o.Parts, o.Quality = 0, n, 70
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(context.Background(), MergeOptions{Dirs: []string{o.Out, sep[1], sep[2]}, Out: t.TempDir()}); !errors.Is(err, ErrOtherDataset) {
		t.Fatalf("mixed runs: %v", err)
	}
}

func TestParseManifestRejectsUnsafe(t *testing.T) {
	dir, _ := imageCorpus(t, 3)
	out := t.TempDir()
	if _, err := Run(context.Background(), imageOpts(dir, out)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if _, err := ParseManifest(good, "m"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new string }{
		{`"name": "shard-000000.tar"`, `"name": "../shard-000000.tar"`},
		{`"name": "shard-000000.tar"`, `"name": "/etc/passwd"`},
		{`"format": "sslpipe-preprocess/1"`, `"format": "other"`},
		{`"samples": 3`, `"samples": 4`},
		{`"shard_count": 1`, `"shard_count": 2`},
	} {
		bad := strings.Replace(string(good), c.old, c.new, 1)
		if bad == string(good) {
			t.Fatalf("%q not in manifest", c.old)
		}
		if _, err := ParseManifest([]byte(bad), "m"); !errors.Is(err, ErrManifest) {
			t.Errorf("%s -> %s accepted: %v", c.old, c.new, err)
		}
	}
}

// FuzzParseManifest: no panic, and an accepted manifest only names shards
// and artifacts that stay inside the folder.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":"sslpipe-preprocess/1","fingerprint":"` + strings.Repeat("a", 64) + `","options":{"shard_size":1},"shard_count":1,"samples":1,"shards":[{"name":"shard-000000.tar","index":0,"samples":1,"sha256":"` + strings.Repeat("b", 64) + `"}]}`))
	f.Add([]byte(`{"format":"sslpipe-preprocess/1","part":{"index":0,"count":2},"shards":[{"name":"../x"}]}`))
	f.Add([]byte(`{"artifacts":[{"path":"../../k.npy"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data, "fuzz")
		if err != nil {
			return
		}
		for _, s := range m.Shards {
			if s.Name != ShardName(s.Index) || strings.ContainsAny(s.Name, "/\\") {
				t.Fatalf("accepted shard name %q", s.Name)
			}
		}
		for _, a := range m.Artifacts {
			if filepath.Base(a.Path) != a.Path || a.Path == ".." || a.Path == "." {
				t.Fatalf("accepted artifact path %q", a.Path)
			}
		}
	})
}

// Parts running at the same time in one folder all write the shared
// tokenizer.json; the merged dataset still equals a single run.
func TestConcurrentTextPartsShareFolder(t *testing.T) {
	dir, _ := textCorpus(t, 300)
	ref := t.TempDir()
	if _, err := Run(context.Background(), textOpts(dir, ref)); err != nil {
		t.Fatal(err)
	}
	shared := t.TempDir()
	const n = 3
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			o := textOpts(dir, shared)
			o.Part, o.Parts, o.Workers = i, n, 1
			_, err := Run(context.Background(), o)
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Merge(context.Background(), MergeOptions{Dirs: []string{shared}, Verify: true}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, ref, shared)
}
