//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// equivalent is the command `sslpipe data2vec train|probe` printed.
func equivalent(t *testing.T, stderr string) []string {
	t.Helper()
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "  sslpipe train ") || strings.HasPrefix(l, "  sslpipe eval ") {
			return strings.Fields(l)
		}
	}
	t.Fatalf("no equivalent command in:\n%s", stderr)
	return nil
}

// TestData2vecTrainMoved: `sslpipe data2vec train` exits 2 printing the
// `sslpipe train --method data2vec` command, and that command works.
func TestData2vecTrainMoved(t *testing.T) {
	_, stderr, err := runArgs(t, "data2vec", "train", "--modality", "image", "--dir", "runs/x")
	if got := strings.Join(equivalent(t, stderr), " "); exitCode(err) != exitUsage || got != "sslpipe train --method data2vec --out runs/x --data fashion-mnist:train" {
		t.Errorf("exit %d (%v), printed %q", exitCode(err), err, got)
	}
	shards := datatest.ImageShards(t, t.TempDir(), 12, 2)
	_, stderr, err = runArgs(t, "data2vec", "train", "--modality", "image", "--data", shards, "--dir", "/tmp/x", "--steps", "7", "--lr", "0.001", "--print-config")
	if exitCode(err) != exitUsage {
		t.Fatalf("exit %d (%v), want 2", exitCode(err), err)
	}
	cmd := equivalent(t, stderr)
	if got := strings.Join(cmd, " "); got != "sslpipe train --method data2vec --data "+shards+" --out /tmp/x --lr 0.001 --print-config --steps 7" {
		t.Fatalf("printed %q", got)
	}
	out, stderr, err := runArgs(t, cmd[1:]...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"method: data2vec", "preset: image-cpu", "  steps: 7", "  lr: 0.001", "  modality: image", "out: /tmp/x", "data2vec:\n  ema:"} {
		if !strings.Contains(out, want) {
			t.Errorf("config lacks %q:\n%s", want, out)
		}
	}
	_, stderr, err = runArgs(t, "data2vec", "train", "--resume", "runs/x", "--threads", "2")
	if got := strings.Join(equivalent(t, stderr), " "); exitCode(err) != exitUsage || got != "sslpipe train --resume runs/x --threads 2" {
		t.Errorf("resume: exit %d, printed %q", exitCode(err), got)
	}
}

// TestData2vecProbeMoved: `sslpipe data2vec probe` exits 2 printing the
// `sslpipe eval` command of the run's modality.
func TestData2vecProbeMoved(t *testing.T) {
	for _, c := range []struct {
		preset string
		args   []string
		want   string
	}{
		{"image-cpu", nil, "--train fashion-mnist:train --test fashion-mnist:test --max-train 10000 --max-test 2000 --probe knn --k 20 --t 0.07"},
		{"text-cpu", []string{"--layer", "0", "--teacher"}, "--train FORTUNES_TRAIN --test FORTUNES_TEST --tokenizer RUN/tokenizer.json --probe linear --k 20 --t 0.07 --which teacher --layer 3"},
		{"audio-cpu", []string{"--data", "data/speech/digits", "--summary", "s.json"}, "--train data/speech/digits/train --test data/speech/digits/test --probe linear --k 20 --t 0.07 --summary s.json"},
	} {
		dir := t.TempDir()
		cfg, err := train.PresetConfig("data2vec", c.preset)
		if err != nil {
			t.Fatal(err)
		}
		y, _ := cfg.YAML()
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), y, 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := runArgs(t, append([]string{"data2vec", "probe", "--run", dir}, c.args...)...)
		if exitCode(err) != exitUsage {
			t.Fatalf("%s: exit %d (%v)", c.preset, exitCode(err), err)
		}
		want := "sslpipe eval --run " + dir + " " + strings.ReplaceAll(c.want, "RUN", dir)
		if got := strings.Join(equivalent(t, stderr), " "); got != want {
			t.Errorf("%s: printed\n %s\nwant\n %s", c.preset, got, want)
		}
	}
}

// TestData2vecBench: the step benchmark runs (one small CPU step) and
// rejects bad flags with exit 2, as `sslpipe data2vec bench` and
// `sslpipe bench data2vec`.
func TestData2vecBench(t *testing.T) {
	out, stderr, err := runArgs(t, "bench", "data2vec", "--device", "cpu", "--layers", "1", "--top-k", "1", "--batch", "2", "--seq", "8", "--vocab", "100",
		"--steps", "1", "--warmup", "0", "--threads", "1", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r["impl"] != "sslpipe" || r["steps"] != 1.0 || r["layers"] != 1.0 || !(r["median_ms"].(float64) > 0) || math.IsNaN(r["loss"].(float64)) {
		t.Errorf("bench result %v", r)
	}
	for _, bad := range [][]string{{"--steps", "0"}, {"--top-k", "9", "--layers", "2"}, {"--device", "gpu"}, {"--batch", "0"}, {"--vocab", "3"}, {"extra"}} {
		_, _, err := runArgs(t, append([]string{"data2vec", "bench"}, bad...)...)
		if exitCode(err) != exitUsage {
			t.Errorf("data2vec bench %q: exit %d (%v), want 2", bad, exitCode(err), err)
		}
	}
}

// writeFortunes writes a fortune(6) folder of two categories of n
// fortunes each.
func writeFortunes(t *testing.T, dir string, n int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	words := map[string][]string{
		"cats":   {"the", "cat", "sat", "on", "a", "mat", "and", "purred", "softly", "near", "warm", "fire"},
		"stocks": {"stocks", "rose", "as", "markets", "rallied", "on", "strong", "earnings", "and", "low", "rates", "today"},
	}
	for name, ws := range words {
		var b strings.Builder
		for i := 0; i < n; i++ {
			for j := 0; j < 6+i%7; j++ {
				fmt.Fprintf(&b, "%s ", ws[(i*5+j*3)%len(ws)])
			}
			b.WriteString("\n%\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestData2vecTrainEvalEmbed is the product flow for each modality:
// `sslpipe train --method data2vec` on preprocess shards (smoke preset, a
// few steps), `sslpipe eval` of the run on labelled data (images and
// audio: their labelled shards; text: a fortune folder labelled by file,
// encoded with the run's tokenizer.json) and `sslpipe embed`.
func TestData2vecTrainEvalEmbed(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		modality, data string
		eval           []string
	}{
		{"image", datatest.ImageShards(t, filepath.Join(root, "img"), 48, 4), nil},
		{"audio", datatest.AudioShards(t, filepath.Join(root, "aud"), 8, 1, 8), nil},
		{"text", datatest.TextShards(t, filepath.Join(root, "txt"), 300, 150, 32), nil},
	} {
		t.Run(c.modality, func(t *testing.T) {
			run := filepath.Join(root, "run-"+c.modality)
			_, stderr, err := runArgs(t, "train", "--method", "data2vec", "--preset", "smoke-"+c.modality, "--data", c.data, "--out", run,
				"--steps", "3", "--batch", "4", "--threads", "1", "--workers", "2", "--device", "cpu", "--quiet")
			if err != nil {
				t.Fatalf("train: %v\n%s", err, stderr)
			}
			args := []string{"eval", "--run", run, "--train", c.data, "--test", c.data, "--probe", "knn", "--k", "3", "--json", "--quiet"}
			if c.modality == "text" {
				f := writeFortunes(t, filepath.Join(root, "fortunes"), 12)
				args = []string{"eval", "--run", run, "--train", f, "--test", f, "--tokenizer", filepath.Join(run, "tokenizer.json"), "--probe", "knn", "--k", "3", "--json", "--quiet"}
			}
			out, stderr, err := runArgs(t, args...)
			if err != nil {
				t.Fatalf("eval: %v\n%s", err, stderr)
			}
			var rep struct {
				Results []struct {
					Features string  `json:"features"`
					Top1     float64 `json:"top1"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			names := map[string]bool{}
			for _, r := range rep.Results {
				names[r.Features] = true
			}
			if !names["trained"] || !names["random_init"] {
				t.Fatalf("eval rows %s", out)
			}
			spec := args[4]
			emb := filepath.Join(root, c.modality+".npy")
			embArgs := []string{"embed", "--run", run, "--data", spec, "--out", emb, "--quiet"}
			if c.modality == "text" {
				embArgs = append(embArgs, "--tokenizer", filepath.Join(run, "tokenizer.json"))
			}
			if _, stderr, err := runArgs(t, embArgs...); err != nil {
				t.Fatalf("embed: %v\n%s", err, stderr)
			}
			a, err := npy.ReadFile(emb)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Shape) != 2 || a.Shape[1] != 32 || a.Shape[0] < 4 {
				t.Errorf("embeddings of shape %v", a.Shape)
			}
			t.Logf("%s: eval %s", c.modality, strings.Join(strings.Fields(out), " ")[:min(200, len(strings.Join(strings.Fields(out), " ")))])
		})
	}
}
