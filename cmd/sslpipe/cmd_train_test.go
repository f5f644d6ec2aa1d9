//go:build cgo

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/train"
)

const tinyTrainYAML = `preset: fmnist-quick
arch: {name: convnet, in_channels: 1, widths: [4, 8], pool: 1}
heads: {hidden: 16, out: 8}
batch: 16
steps: 100000
warmup_steps: 10
log_every: 2
threads: 1
checkpoint: {every: 0, keep: 2}
data: {limit: 256, workers: 1}
`

func tinyTrainConfig(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(datasets.FashionMNISTDir()); err != nil {
		t.Skip("Fashion-MNIST not installed:", err)
	}
	p := filepath.Join(t.TempDir(), "tiny.yaml")
	if err := os.WriteFile(p, []byte(tinyTrainYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainPrintConfigFlagsOverride(t *testing.T) {
	var out, errb bytes.Buffer
	env := &cmdEnv{Stdout: &out, Stderr: &errb}
	err := runTrainCmd(context.Background(), env, []string{"--preset", "fmnist-quick", "--steps", "7", "--optim", "lars", "--print-config"})
	if err != nil {
		t.Fatal(err, errb.String())
	}
	c, err := train.ParseConfig("printed", out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Steps != 7 || c.Optim.Name != "lars" || c.Preset != "fmnist-quick" {
		t.Errorf("printed config: steps %d optim %s preset %s", c.Steps, c.Optim.Name, c.Preset)
	}
	for _, bad := range [][]string{{"--steps", "x", "--print-config"}, {"--preset", "nope", "--print-config"}, {"--optim", "rmsprop", "--print-config"}, {"extra"}} {
		err := runTrainCmd(context.Background(), env, bad)
		if err == nil || exitCode(err) == exitOK {
			t.Errorf("%v accepted", bad)
		}
	}
	if err := runTrainCmd(context.Background(), env, []string{"--resume", t.TempDir(), "--steps", "5"}); err == nil {
		t.Error("--resume with --steps accepted")
	}
}

// TestTrainSIGTERM sends SIGTERM to the process while `sslpipe train`
// runs: the command must write a checkpoint, return an error that maps to
// exit code 130, and the run must resume from that checkpoint.
func TestTrainSIGTERM(t *testing.T) {
	cfgPath := tinyTrainConfig(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		for i := 0; i < 600; i++ {
			time.Sleep(100 * time.Millisecond)
			if b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); err == nil && bytes.Count(b, []byte("\n")) >= 2 {
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
				return
			}
		}
	}()
	var out, errb bytes.Buffer
	env := &cmdEnv{Stdout: &out, Stderr: &errb}
	err := runTrainCmd(ctx, env, []string{"--config", cfgPath, "--out", dir, "--quiet"})
	if !errors.Is(err, context.Canceled) || exitCode(err) != exitInterrupted {
		t.Fatalf("err %v (exit %d), want context.Canceled / 130\n%s", err, exitCode(err), errb.String())
	}
	ck, err := train.LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := train.ReadCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	if st.Step < 4 {
		t.Errorf("checkpoint at step %d, want >= 4", st.Step)
	}
	t.Logf("SIGTERM: checkpoint %s at step %d; stdout: %s", ck, st.Step, strings.TrimSpace(out.String()))
	// Resume for a few more steps (stopped again by a deadline-free cancel).
	cctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 600; i++ {
			time.Sleep(100 * time.Millisecond)
			if cs, _ := train.Checkpoints(dir); len(cs) > 0 {
				if _, st2, err := train.ReadCheckpoint(cs[len(cs)-1]); err == nil && st2.Step > st.Step {
					break
				}
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); bytes.Count(b, []byte("\n")) >= int(st.Step/2)+2 {
				cancel()
				return
			}
		}
		cancel()
	}()
	err = runTrainCmd(cctx, env, []string{"--resume", dir, "--quiet"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("resume: %v", err)
	}
	ck2, _ := train.LatestCheckpoint(dir)
	_, st2, err := train.ReadCheckpoint(ck2)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Step <= st.Step {
		t.Errorf("resumed run did not advance: step %d -> %d", st.Step, st2.Step)
	}
}
