package summary

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpdateReplaceOrAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo", "summary.json")
	knn := Result{Modality: "image", Method: "byol", Probe: "knn", Trained: 0.87, RandomInit: 0.8, Baseline: 0.855, BaselineKind: "raw pixels", TrainSeconds: 300, Device: "cpu"}
	if _, err := Update(path, knn); err != nil {
		t.Fatal(err)
	}
	lin := knn
	lin.Probe, lin.Trained = "linear", 0.88
	audio := Result{Modality: "audio", Method: "hubert", Probe: "linear", Trained: 0.9, RandomInit: 0.5, Baseline: 0.7, BaselineKind: "mean MFCC", TrainSeconds: 200, Device: "cpu"}
	Update(path, lin)
	Update(path, audio)
	knn2 := knn
	knn2.Trained = 0.9
	f, err := Update(path, knn2)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 3 || back.Results[0] != knn2 || back.Results[1] != lin || back.Results[2] != audio {
		t.Fatalf("results %+v", back.Results)
	}
	if len(f.Results) != 3 {
		t.Fatalf("returned %+v", f.Results)
	}
	// The exact key names of the issue.
	raw, _ := os.ReadFile(path)
	for _, k := range []string{`"results"`, `"modality"`, `"method"`, `"probe"`, `"trained"`, `"random_init"`, `"baseline"`, `"baseline_kind"`, `"train_seconds"`, `"device"`} {
		if !strings.Contains(string(raw), k) {
			t.Errorf("file lacks key %s:\n%s", k, raw)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v: %v", fi.Mode(), err)
	}
	// No temp files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("folder holds %d entries", len(ents))
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	f, err := Read(filepath.Join(dir, "missing.json"))
	if err != nil || len(f.Results) != 0 {
		t.Errorf("missing file: %v %+v", err, f)
	}
	bad := map[string]string{
		"syntax.json":  `{"results": [`,
		"unknown.json": `{"results": [{"modality": "image", "method": "byol", "probe": "knn", "trianed": 0.5}]}`,
		"range.json":   `{"results": [{"modality": "image", "method": "byol", "probe": "knn", "trained": 87}]}`,
		"dup.json":     `{"results": [{"modality": "a", "method": "b", "probe": "c"}, {"modality": "a", "method": "b", "probe": "c"}]}`,
		"nokey.json":   `{"results": [{"modality": "image", "probe": "knn"}]}`,
	}
	for name, content := range bad {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := Read(p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var empty File
	if err := empty.Set(Result{Modality: "x", Method: "y", Probe: "z", Trained: 1.5}); err == nil {
		t.Error("Set accepted a score above 1")
	}
}

func TestRender(t *testing.T) {
	f := &File{Results: []Result{
		{Modality: "image", Method: "byol", Probe: "knn", Trained: 0.8712, RandomInit: 0.8, Baseline: 0.8554, BaselineKind: "raw pixels", TrainSeconds: 420, Device: "cpu"},
		{Modality: "text", Method: "data2vec", Probe: "linear", Trained: 0.5, RandomInit: 0.25, Baseline: 0.6, BaselineKind: "bag of words", TrainSeconds: 30, Device: "cuda:0"},
	}}
	md := f.Markdown()
	want := "| modality | method | probe | trained | random init | baseline | baseline kind | train time | device |\n" +
		"|---|---|---|---:|---:|---:|---|---|---|\n" +
		"| image | byol | knn | 87.12% | 80.00% | 85.54% | raw pixels | 7.0 min | cpu |\n" +
		"| text | data2vec | linear | 50.00% | 25.00% | 60.00% | bag of words | 30 s | cuda:0 |\n"
	if md != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", md, want)
	}
	txt := f.Text()
	lines := strings.Split(strings.TrimRight(txt, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "image     byol      knn      87.12%") {
		t.Errorf("text:\n%s", txt)
	}
	// Columns line up: every line has "%" ending at the same offsets.
	if strings.Index(lines[1], "87.12%") != strings.Index(lines[2], "50.00%") {
		t.Errorf("misaligned:\n%s", txt)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"results": [{"modality": "image", "method": "byol", "probe": "knn", "trained": 0.87, "random_init": 0.8, "baseline": 0.855, "baseline_kind": "raw pixels", "train_seconds": 420, "device": "cpu"}]}`))
	f.Add([]byte(`{"results": []}`))
	f.Add([]byte(`{"results": [{"modality": "a", "method": "b", "probe": "c", "trained": 1e309}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		sf, err := Decode(bytes.NewReader(in), "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		// A decoded summary survives Set of its own rows, rendering, and
		// a write/read round trip.
		for _, r := range sf.Results {
			if err := sf.Set(r); err != nil {
				t.Fatalf("Set of a decoded row: %v", err)
			}
		}
		_ = sf.Markdown()
		_ = sf.Text()
		path := filepath.Join(t.TempDir(), "s.json")
		if err := sf.Write(path); err != nil {
			t.Fatal(err)
		}
		back, err := Read(path)
		if err != nil || len(back.Results) != len(sf.Results) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
