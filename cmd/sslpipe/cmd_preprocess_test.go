package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/preprocess"
)

// pngFolder writes n small PNGs (two class folders) and one corrupt file.
func pngFolder(t *testing.T, n int) string {
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		m := image.NewRGBA(image.Rect(0, 0, 9+i, 7+2*i))
		for p := range m.Pix {
			m.Pix[p] = uint8(p*7 + i)
		}
		m.Set(0, 0, color.RGBA{255, 0, 0, 255})
		var b bytes.Buffer
		png.Encode(&b, m)
		sub := []string{"a", "b"}[i%2]
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		os.WriteFile(filepath.Join(dir, sub, "img"+string(rune('a'+i))+".png"), b.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "a", "broken.png"), []byte("\x89PNG\r\n\x1a\nnope"), 0o644)
	return dir
}

func runCLI(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, args)
	return out.String(), errb.String(), err
}

func TestPreprocessCLIJSONAndExitCodes(t *testing.T) {
	in := pngFolder(t, 6)
	out := t.TempDir()
	stdout, _, err := runCLI("preprocess", "--modality", "image", "--in", in, "--out", out, "--shard-size", "3", "--labels-from-dirs", "--format", "png", "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	var sum preprocess.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if sum.Samples != 6 || sum.Rejected != 1 || sum.RejectedByKind["decode"] != 1 || sum.Manifest != filepath.Join(out, "manifest.json") {
		t.Fatalf("summary %+v", sum)
	}

	// More bad inputs than --max-errors: exit code 4, summary on stdout.
	stdout, _, err = runCLI("preprocess", "--modality", "image", "--in", in, "--out", t.TempDir(), "--max-errors", "0", "--quiet")
	if exitCode(err) != exitDataErrors {
		t.Fatalf("exit %d (%v), want %d", exitCode(err), err, exitDataErrors)
	}
	if !strings.Contains(stdout, "stopped") || !strings.Contains(err.Error(), "errors.jsonl") {
		t.Errorf("stopped run: stdout %q, err %v", stdout, err)
	}

	// Bad options are usage errors (exit 2).
	for _, args := range [][]string{
		{"--modality", "video", "--in", in, "--out", out},
		{"--modality", "image", "--in", in, "--out", out, "--quality", "200"},
		{"--modality", "image", "--in", in, "--out", out, "--rate", "16000"},
		{"--modality", "audio", "--in", in, "--out", out, "--kmeans", "50"},
		{"--modality", "text", "--in", in, "--out", out},
		{"--modality", "image", "--in", in, "--out", out, "--part", "2", "--parts", "2"},
		{"--modality", "image", "--in", in},
	} {
		if _, _, err := runCLI(append([]string{"preprocess", "--quiet"}, args...)...); exitCode(err) != exitUsage {
			t.Errorf("%v: exit %d (%v), want %d", args, exitCode(err), err, exitUsage)
		}
	}
}

func TestPreprocessCLIPartsAndMerge(t *testing.T) {
	in := pngFolder(t, 7)
	shared := t.TempDir()
	for _, part := range []string{"0", "1"} {
		if _, _, err := runCLI("preprocess", "--modality", "image", "--in", in, "--out", shared, "--shard-size", "2", "--part", part, "--parts", "2", "--quiet"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(shared, "manifest.json")); err == nil {
		t.Fatal("parts wrote manifest.json before the merge")
	}
	stdout, _, err := runCLI("preprocess", "merge", shared)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "merged 4 shards: 7 samples, 1 rejected") {
		t.Errorf("merge output %q", stdout)
	}
	ref := t.TempDir()
	if _, _, err := runCLI("preprocess", "--modality", "image", "--in", in, "--out", ref, "--shard-size", "2", "--quiet"); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(shared, "manifest.json"))
	b, _ := os.ReadFile(filepath.Join(ref, "manifest.json"))
	if !bytes.Equal(a, b) {
		t.Error("merged manifest differs from the single-machine manifest")
	}
	if _, _, err := runCLI("preprocess", "merge"); exitCode(err) != exitUsage {
		t.Errorf("merge without folders: %v", err)
	}
}
