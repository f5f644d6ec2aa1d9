//go:build cgo && linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// rankPID finds the process of rank among the children of the launcher
// pid (Linux: /proc/PID/task/*/children, each child's RANK variable).
func rankPID(t *testing.T, pid, rank int) int {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			env, _ := os.ReadFile("/proc/" + c + "/environ")
			if bytes.Contains(append([]byte{0}, env...), []byte(fmt.Sprintf("\x00RANK=%d\x00", rank))) {
				n, _ := strconv.Atoi(c)
				return n
			}
		}
	}
	t.Fatalf("no child of process %d has RANK=%d", pid, rank)
	return 0
}

// TestDataParallelInterrupt: a 2-process BYOL run started with
// `sslpipe train --nproc-per-node 2` gets SIGINT mid-run, either the
// launcher (as `kill -INT` does: it forwards the signal to the ranks) or
// rank 1 alone. The launcher exits 130; both ranks say they stopped at
// the same step, before the end; rank 0's checkpoint of that step and
// rank 1's step-N.rank1.json exist; and `--resume` ends with the weights
// and optimizer state of the uninterrupted run, bitwise.
func TestDataParallelInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	dir := t.TempDir()
	images := datatest.ImageShards(t, dir, 240, 4)
	const steps = 60
	common := []string{"--method", "byol", "--preset", "smoke", "--data", images, "--steps", strconv.Itoa(steps), "--batch", "8",
		"--threads", "1", "--workers", "1", "--checkpoint-every", "1000", "--keep", "100", "--log-every", "1", "--quiet"}
	full := filepath.Join(dir, "full")
	launch(t, 2, append(common, "--out", full)...)

	for _, target := range []string{"launcher", "rank 1"} {
		t.Run(strings.ReplaceAll(target, " ", ""), func(t *testing.T) {
			run := filepath.Join(dir, strings.ReplaceAll(target, " ", ""))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c := cli(ctx, nil, append(append([]string{"train", "--nproc-per-node", "2"}, common...), "--out", run)...)
			out := &lockedBuffer{}
			c.Stdout, c.Stderr = out, out
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				if b, _ := os.ReadFile(filepath.Join(run, "metrics.jsonl")); bytes.Count(b, []byte("\n")) >= 3 {
					break
				}
				if i > 1200 {
					c.Process.Kill()
					c.Wait()
					t.Fatalf("the run did not start:\n%s", out.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			pid := c.Process.Pid
			if target == "rank 1" {
				pid = rankPID(t, pid, 1)
			}
			if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			err := c.Wait()
			var xe *exec.ExitError
			if !errors.As(err, &xe) || xe.ExitCode() != exitInterrupted {
				t.Fatalf("launcher: %v, want exit status %d\n%s", err, exitInterrupted, out.String())
			}
			// Each rank names the step it stopped at.
			at := map[string]int64{}
			for _, m := range regexp.MustCompile(`\[rank (\d)\] sslpipe: byol: (?:interrupted|stopped) at step (\d+)`).FindAllStringSubmatch(out.String(), -1) {
				at[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
			}
			t.Logf("SIGINT to the %s: stopped at %v (rank: step)", target, at)
			if len(at) != 2 || at["0"] != at["1"] {
				t.Fatalf("ranks stopped at %v, want both at one step\n%s", at, out.String())
			}
			step := at["0"]
			if step < 3 || step >= steps {
				t.Fatalf("stopped at step %d, not mid-run", step)
			}
			ck, err := train.LatestCheckpoint(run)
			if err != nil {
				t.Fatal(err)
			}
			if ck != train.CheckpointPath(run, step) {
				t.Fatalf("newest checkpoint %s, want step %d's", ck, step)
			}
			if _, err := os.Stat(train.RankStatePath(ck, 1)); err != nil {
				t.Fatalf("rank 1's data position: %v", err)
			}
			launch(t, 2, "--resume", run, "--quiet")
			worst, which := tensorsRel(t, run, full, func(string) bool { return true })
			if worst != 0 {
				t.Errorf("resumed run differs from the uninterrupted one: %.3g relative (%s)", worst, which)
			}
		})
	}
}

// TestDataParallelBadDataStopsTogether: rank 0 meets more bad samples
// than --max-errors allows while rank 1 does not (each rank skips its
// own); both stop before the same step, rank 0 writes that step's
// checkpoint beside rank 1's data position, and the launcher fails with
// rank 0's error, without waiting for a collective timeout.
func TestDataParallelBadDataStopsTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	corruptEvery(t, datatest.ImageShards(t, dir, 240, 4), bad, 7)
	run := filepath.Join(dir, "run")
	c := cli(context.Background(), nil, "train", "--nproc-per-node", "2", "--method", "byol", "--preset", "smoke", "--data", bad,
		"--steps", "40", "--batch", "8", "--max-errors", "5", "--threads", "1", "--workers", "1", "--log-every", "1",
		"--dist-timeout", "20", "--quiet", "--out", run)
	out, lerr := c.CombinedOutput()
	var xe *exec.ExitError
	if !errors.As(lerr, &xe) {
		t.Fatalf("launcher: %v, want a failure\n%s", lerr, out)
	}
	if !regexp.MustCompile(`\[rank 0\] sslpipe: .*train: data: too many bad samples`).Match(out) {
		t.Errorf("rank 0 does not report its bad samples:\n%s", out)
	}
	m := regexp.MustCompile(`\[rank 1\] sslpipe: byol: stopped before step (\d+): another rank could not read its input`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("rank 1 does not say where it stopped:\n%s", out)
	}
	step, _ := strconv.ParseInt(string(m[1]), 10, 64)
	ck, err := train.LatestCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("launcher: %v; both stopped before step %d; %s", lerr, step, filepath.Base(ck))
	if ck != train.CheckpointPath(run, step) {
		t.Errorf("newest checkpoint %s, want step %d's", ck, step)
	}
	if _, err := os.Stat(train.RankStatePath(ck, 1)); err != nil {
		t.Errorf("rank 1's data position: %v", err)
	}
	if bytes.Contains(out, []byte("no rank found dead")) || bytes.Contains(out, []byte("lost rank")) {
		t.Errorf("a collective timed out:\n%s", out)
	}
}
