//go:build cgo

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data/datatest"
	"github.com/sslpipe/sslpipe/train/hubert"
)

// TestHubertMovedCommands: `hubert train`, `hubert probe` and the MFCC
// `hubert labels` print the command that does their work now and exit 2.
func TestHubertMovedCommands(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"hubert", "train", "--preset", "cpu-small", "--data", "ds", "--labels", "l2", "--dir", "runs/h", "-steps=5"},
			"sslpipe train --method hubert --preset cpu-small --data ds --labels l2 --out runs/h --steps=5"},
		{[]string{"hubert", "probe", "--run", "runs/h", "--train", "digits train", "--test", "t", "--layer", "2"},
			"sslpipe eval --run runs/h --train 'digits train' --test t --layer 2"},
		{[]string{"hubert", "labels", "--data", "wavs", "--out", "lab", "--kmeans", "100"},
			"sslpipe preprocess --modality audio --features mfcc --deltas --in wavs --out lab --kmeans=100"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, c.args)
		if exitCode(err) != exitUsage || !strings.Contains(errb.String(), c.want) || out.Len() != 0 {
			t.Errorf("%v: exit %d (%v), stderr %q; want exit 2 and %q", c.args, exitCode(err), err, errb.String(), c.want)
		}
	}
}

// TestHubertIterations runs the product flow on tiny preprocessed audio:
// `train --method hubert` (iteration 1 on the km.npy labels), `hubert
// labels --from-run` (iteration-2 label set), `train --labels` (k from the
// label set); a label set whose keys are another dataset's stops a run
// with --max-errors 0 at exit 4.
func TestHubertIterations(t *testing.T) {
	dir := t.TempDir()
	ds := datatest.AudioShards(t, dir, 8, 1, 8)
	ctx := context.Background()
	sh := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, &cmdEnv{Stdout: &out, Stderr: &errb}, args)
		return out.String(), errb.String(), err
	}
	it1 := filepath.Join(dir, "it1")
	if _, e, err := sh("train", "--method", "hubert", "--preset", "smoke", "--data", ds, "--valid", ds, "--out", it1, "--steps", "3", "--workers", "1", "--quiet"); err != nil {
		t.Fatal(err, e)
	}
	validated := func(run string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); err != nil || !strings.Contains(lines[len(lines)-1], `"val_acc_m"`) {
			t.Errorf("%s: no validation on the last metrics line (%v)", run, err)
		}
	}
	validated(it1)
	ds2 := filepath.Join(dir, "ds2")
	out, e, err := sh("hubert", "labels", "--data", ds, "--from-run", it1, "--layer", "1", "--kmeans", "4", "--fraction", "1", "--out", ds2, "--workers", "1")
	if err != nil || !strings.Contains(out, "k=4 at 50 Hz") || !strings.Contains(e, "fitting k-means") {
		t.Fatalf("hubert labels: %v\n%s%s", err, out, e)
	}
	if _, _, err := sh("hubert", "labels", "--data", ds, "--from-run", it1, "--layer", "1", "--kmeans", "4", "--out", ds2, "--quiet"); err == nil {
		t.Error("hubert labels overwrote an existing label set")
	}
	for _, bad := range [][]string{{"--data", ds, "--out", "x", "--from-run", it1, "--layer", "0"}, {"--data", ds, "--from-run", it1}, {"--data", ds, "--from-run", it1, "--out", "y", "--fraction", "2"}} {
		if _, _, err := sh(append([]string{"hubert", "labels"}, bad...)...); exitCode(err) != exitUsage {
			t.Errorf("hubert labels %v: exit %d (%v), want 2", bad, exitCode(err), err)
		}
	}
	it2 := filepath.Join(dir, "it2")
	if _, e, err := sh("train", "--method", "hubert", "--preset", "smoke", "--data", ds, "--labels", ds2, "--valid", ds, "--valid-labels", ds2,
		"--out", it2, "--steps", "2", "--workers", "1", "--quiet"); err != nil {
		t.Fatal(err, e)
	}
	validated(it2)
	// The held-out set's own (iteration-1, k = 8) labels are another dictionary.
	if _, e, err := sh("train", "--method", "hubert", "--preset", "smoke", "--data", ds, "--labels", ds2, "--valid", ds,
		"--out", filepath.Join(dir, "it2-bad"), "--steps", "2", "--quiet"); exitCode(err) != exitUsage || !strings.Contains(e+fmt.Sprint(err), "k = 8") {
		t.Errorf("--valid with k = 8 labels for k = 4 training labels: exit %d (%v) %s", exitCode(err), err, e)
	}
	c, err := train.LoadConfig(filepath.Join(it2, "config.yaml"))
	if err != nil || c.Model.(*hubert.ModelConfig).NumClasses != 4 || c.Data.Labels != ds2 {
		t.Errorf("iteration 2 config: %+v, %v", c.Model, err)
	}

	// A label set of the right size whose keys are not the data's.
	other := filepath.Join(dir, "other")
	os.MkdirAll(other, 0o755)
	sw, err := preprocess.NewShardWriter(filepath.Join(other, "shard-000000.tar"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	npy.Write(&b, &npy.Array{DType: npy.Int32, Shape: []int{49}, I32: make([]int32, 49)})
	for i := range 8 {
		sw.Add(fmt.Sprintf("other-%d", i), preprocess.Field{Name: "km.npy", Data: b.Bytes()})
	}
	if _, _, err := sw.Commit(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, "labels.json"), []byte(`{"k": 4, "label_rate": 50, "samples": 8, "shards": ["shard-000000.tar"]}`), 0o644)
	_, e, err = sh("train", "--method", "hubert", "--preset", "smoke", "--data", ds, "--labels", other, "--out", filepath.Join(dir, "bad"), "--steps", "2", "--max-errors", "0")
	if exitCode(err) != exitDataErrors || !strings.Contains(e, "in the labels but") {
		t.Errorf("labels for other data with --max-errors 0: exit %d (%v), want 4\n%s", exitCode(err), err, e)
	}
}
