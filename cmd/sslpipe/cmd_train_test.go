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

func needFMNIST(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(datasets.FashionMNISTDir()); err != nil {
		t.Skip("Fashion-MNIST not installed:", err)
	}
}

// TestTrainPrintConfigFlagsOverride: the printed config is the preset
// with the flags applied, and it loads back; bad values are usage errors
// naming the flag.
func TestTrainPrintConfigFlagsOverride(t *testing.T) {
	needFMNIST(t)
	var out, errb bytes.Buffer
	env := &cmdEnv{Stdout: &out, Stderr: &errb}
	err := runTrainCmd(context.Background(), env, []string{"--method", "byol", "--preset", "fmnist-quick", "--steps", "100", "--lr", "0.01", "--print-config"})
	if err != nil {
		t.Fatal(err, errb.String())
	}
	c, err := train.ParseConfig("printed", out.Bytes(), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Schedule.Steps != 100 || c.Optim.LR != 0.01 || c.Preset != "fmnist-quick" || c.Method != "byol" {
		t.Errorf("printed config: steps %d lr %v preset %s", c.Schedule.Steps, c.Optim.LR, c.Preset)
	}
	// --steps shorter than the preset's scales the warm-up (200 -> 100 steps: 20 -> 10).
	if c.Schedule.WarmupSteps != 10 {
		t.Errorf("warm-up %d after --steps 100, want 10 (scaled from the preset's 20 of 200)", c.Schedule.WarmupSteps)
	}
	for _, bad := range [][]string{
		{"--method", "byol", "--steps", "3x"}, {"--method", "byol", "--steps", "2.9"}, {"--method", "byol", "--steps", "-4"},
		{"--method", "byol", "--lr", "1e-3garbage"}, {"--method", "byol", "--lr", "NaN"}, {"--method", "byol", "--lr", "inf"},
		{"--method", "byol", "--bf16", "yes"}, {"--method", "byol", "--device", "gpu"}, {"--method", "byol", "--batch", "0"},
		{"--method", "byol", "--preset", "nope"}, {"--method", "nope"}, {"--method", "byol", "extra"},
		{"--method", "byol", "--data", "/nonexistent/folder"},
	} {
		args := append(bad, "--print-config", "--data", "fashion-mnist:train")
		if bad[len(bad)-1] == "/nonexistent/folder" {
			args = append(bad, "--print-config")
		}
		err := runTrainCmd(context.Background(), env, args)
		if exitCode(err) != exitUsage {
			t.Errorf("%v: exit %d (%v), want 2", bad, exitCode(err), err)
		}
	}
	if err := runTrainCmd(context.Background(), env, []string{"--resume", t.TempDir(), "--steps", "5"}); exitCode(err) != exitUsage {
		t.Errorf("--resume with --steps: %v", err)
	}
}

// TestTrainFailedRunPrintsNoSuccess: a run that fails before training
// (a batch larger than the data) prints no success line and leaves no
// checkpoint behind.
func TestTrainFailedRunPrintsNoSuccess(t *testing.T) {
	needFMNIST(t)
	dir := filepath.Join(t.TempDir(), "run")
	var out, errb bytes.Buffer
	env := &cmdEnv{Stdout: &out, Stderr: &errb}
	err := runTrainCmd(context.Background(), env, []string{"--method", "byol", "--preset", "smoke", "--out", dir, "--limit", "4", "--batch", "64", "--quiet"})
	if err == nil {
		t.Fatal("a batch larger than the data trained")
	}
	if strings.Contains(out.String(), "run ") {
		t.Errorf("success line printed for a failed run: %s", out.String())
	}
	if cs, _ := train.Checkpoints(dir); len(cs) > 0 {
		t.Errorf("failed run left checkpoints %v", cs)
	}
}

// TestTrainSIGTERM sends SIGTERM to the process while `sslpipe train`
// runs: the command must write a checkpoint, return an error that maps to
// exit code 130, and the run must resume from that checkpoint.
func TestTrainSIGTERM(t *testing.T) {
	needFMNIST(t)
	dir := filepath.Join(t.TempDir(), "run")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
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
	args := []string{"--method", "byol", "--preset", "smoke", "--steps", "100000", "--log-every", "2", "--threads", "1", "--out", dir, "--quiet"}
	err := runTrainCmd(ctx, env, args)
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
	// Resume: the run advances from the checkpoint.
	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 0; i < 600; i++ {
			time.Sleep(100 * time.Millisecond)
			if b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); bytes.Count(b, []byte("\n")) >= int(st.Step/2)+2 {
				break
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
