//go:build cgo && portpending

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sslpipe/sslpipe/train"
)

func TestMethodFromArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "data2vec", "--modality", "text"}, "data2vec"},
		{[]string{"--modality=text", "-method=data2vec"}, "data2vec"},
		{[]string{"--preset", "cifar"}, ""},
		{[]string{"--", "--method", "x"}, ""},
		{[]string{"--resume", "/nonexistent/run"}, ""},
	} {
		if got := methodFromArgs(c.args); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
	if trainMethods["data2vec"] == nil {
		t.Fatal("data2vec is not a registered train method")
	}
}

func TestData2vecTrainPrintConfig(t *testing.T) {
	env, out, _ := testEnv()
	err := runData2vecTrainMethod(t.Context(), env, []string{"--method", "data2vec", "--modality", "image", "--out", "/tmp/x", "--steps", "7", "--print-config"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{"modality: image", "steps: 7", "dir: /tmp/x", "method: data2vec"} {
		if !slices.Contains(lines, want) {
			t.Errorf("config lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTrainMethodDispatch(t *testing.T) {
	for _, m := range []string{"data2vec", "hubert"} {
		if trainMethods[m] == nil {
			t.Errorf("sslpipe train --method %s is not wired", m)
		}
	}
	got := methodArgs([]string{"--method", "hubert", "--out", "runs/x", "--steps", "3", "--out=runs/y", "-method=hubert"})
	want := "--dir runs/x --steps 3 --dir=runs/y"
	if strings.Join(got, " ") != want {
		t.Fatalf("methodArgs = %q, want %q", strings.Join(got, " "), want)
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"train", "--method", "hubert", "--print-config"})
	if err != nil || !strings.Contains(out.String(), "layers") {
		t.Fatalf("train --method hubert --print-config: %v\n%s%s", err, out.String(), errb.String())
	}
}

// TestData2vecInterruptAndResume: `sslpipe train --method data2vec`
// stopped by a cancelled context (what SIGINT/SIGTERM do) writes a
// checkpoint and exits 130; `sslpipe train --resume DIR` (the method
// read from the run's config.yaml) finishes the run.
func TestData2vecInterruptAndResume(t *testing.T) {
	if _, err := os.Stat("/usr/share/games/fortunes"); err != nil {
		t.Skip("fortunes not installed")
	}
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 0; i < 3000; i++ {
			time.Sleep(20 * time.Millisecond)
			if b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); err == nil && len(b) > 0 {
				cancel()
				return
			}
		}
	}()
	env, _, errb := testEnv()
	args := []string{"--method", "data2vec", "--modality", "text", "--out", dir, "--steps", "30", "--batch", "8", "--limit", "200", "--threads", "1", "--quiet"}
	err := runTrainCmd(ctx, env, args)
	if !errors.Is(err, context.Canceled) || exitCode(err) != exitInterrupted {
		t.Fatalf("err %v (exit %d), want context.Canceled / 130\n%s", err, exitCode(err), errb.String())
	}
	if !strings.Contains(errb.String(), "--resume "+dir) {
		t.Errorf("no resume hint on stderr: %s", errb.String())
	}
	ck, err := train.LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := train.ReadCheckpoint(ck)
	if err != nil || st.Method != "data2vec" || st.Step < 1 || st.Step >= 30 {
		t.Fatalf("checkpoint %s: %+v, %v", ck, st, err)
	}
	env2, out2, errb2 := testEnv()
	if err := runTrainCmd(context.Background(), env2, []string{"--resume", dir, "--quiet"}); err != nil {
		t.Fatalf("resume: %v\n%s", err, errb2.String())
	}
	if _, err := os.Stat(train.CheckpointPath(dir, 30)); err != nil {
		t.Errorf("no final checkpoint: %v", err)
	}
	t.Logf("stopped at step %d; resumed: %s", st.Step, strings.TrimSpace(out2.String()))
}

// TestEvalDispatchesByRunMethod: `sslpipe eval --run RUN` runs the probe
// of the method named in RUN/config.yaml.
func TestEvalDispatchesByRunMethod(t *testing.T) {
	for method, want := range map[string]string{"hubert": "hubert probe: --run, --train and --test", "data2vec": "data2vec: "} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("method: "+method+"\npreset: x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		env, _, _ := testEnv()
		err := runEvalCmd(context.Background(), env, []string{"--run", dir, "--probe", "nope"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("eval --run <%s run>: %v, want an error from %q", method, err, want)
		}
	}
}
