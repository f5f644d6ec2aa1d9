//go:build cgo

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data/datatest"
	"github.com/sslpipe/sslpipe/train/dist"
)

// cli returns a command that runs this test binary as `sslpipe args...`.
func cli(ctx context.Context, env []string, args ...string) *exec.Cmd {
	a, _ := json.Marshal(args)
	c := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	c.Env = append(append(os.Environ(), cliArgsEnv+"="+string(a)), env...)
	return c
}

// launch runs `sslpipe train args...` as nproc data-parallel processes
// (the launcher of --nproc-per-node, with this test binary as sslpipe).
func launch(t *testing.T, nproc int, args ...string) string {
	t.Helper()
	a, _ := json.Marshal(append([]string{"train"}, args...))
	var out bytes.Buffer
	err := dist.LaunchLocal(context.Background(), dist.LaunchOptions{NProc: nproc, Argv: []string{os.Args[0], "-test.run=^$"},
		Env: append(os.Environ(), cliArgsEnv+"="+string(a)), Stdout: &out, Stderr: &out, Prefix: true})
	if err != nil {
		t.Fatalf("%d processes: %v\n%s", nproc, err, out.String())
	}
	return out.String()
}

// trainAlone runs `sslpipe train args...` as one plain process, outside
// any process group (no rank variables: the methods take their
// one-process paths, with no gather or all-reduce at all).
func trainAlone(t *testing.T, args ...string) {
	t.Helper()
	c := cli(context.Background(), nil, append([]string{"train"}, args...)...)
	c.Env = withoutEnv(c.Env, "RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// withoutEnv drops the named variables from env.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}

// tensorsRel compares the weights of two checkpoints: the largest
// ||a-b|| / ||b|| over the tensors whose names pass keep.
func tensorsRel(t *testing.T, a, b string, keep func(string) bool) (worst float64, name string) {
	t.Helper()
	read := func(dir string) map[string]train.STensor {
		p, err := train.LatestCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		ts, _, err := train.ReadCheckpoint(p)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	ta, tb := read(a), read(b)
	for n, x := range ta {
		if !keep(n) {
			continue
		}
		y, ok := tb[n]
		if !ok || len(x.F32) != len(y.F32) {
			t.Fatalf("tensor %s missing or of another size", n)
		}
		var d2, n2 float64
		for i := range x.F32 {
			d := float64(x.F32[i]) - float64(y.F32[i])
			d2 += d * d
			n2 += float64(y.F32[i]) * float64(y.F32[i])
		}
		if r := math.Sqrt(d2) / math.Max(math.Sqrt(n2), 1e-12); r > worst {
			worst, name = r, n
		}
	}
	return worst, name
}

// TestDataParallelEquivalence: for HuBERT and data2vec (no BatchNorm), 2
// Gloo processes on loopback with batch B/2 each train the same weights as
// 1 plain process (no process group) with batch B: after 1 step (the averaged gradients equal the
// full batch's gradient, through one optimizer update) and after 5 steps,
// within 1e-5 relative per tensor (attention key biases excepted: their
// true gradient is zero). The data and masks are keyed by sample,
// and rank r reads positions r, r+2, ... of each epoch's order, so the two
// ranks' batches together are the one process's batch.
func TestDataParallelEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	dir := t.TempDir()
	audio := datatest.AudioShards(t, dir, 16, 1, 8)
	for _, c := range []struct{ method, preset, data, mask string }{
		{"hubert", "smoke", audio, "require_same_masks: false"},
		{"data2vec", "smoke-audio", audio, "own_counts: true"},
	} {
		for _, steps := range []string{"1", "5"} {
			name := c.method + "-" + steps
			// SGD with momentum: an update proportional to the gradient,
			// so that rounding noise stays rounding noise (AdamW's first
			// step is lr*sign(g) for every element, near-zero gradients
			// included). Each row keeps its own mask count (fairseq's
			// require_same_masks false): thinning rows to the batch's
			// smallest count makes a mask depend on its batch-mates.
			cfg := filepath.Join(dir, c.method+".yaml")
			os.WriteFile(cfg, []byte("method: "+c.method+"\nmodel:\n  mask:\n    "+c.mask+
				"\noptim:\n  name: sgd\n  momentum: 0.9\n  weight_decay: 0\n"), 0o644)
			common := []string{"--config", cfg, "--preset", c.preset, "--data", c.data, "--steps", steps, "--batch", "8",
				"--threads", "1", "--workers", "1", "--log-every", "1", "--quiet"}
			one := filepath.Join(dir, name+"-1proc")
			trainAlone(t, append(common, "--out", one)...)
			two := filepath.Join(dir, name+"-2proc")
			launch(t, 2, append(common, "--out", two)...)
			// Attention key biases start at zero and have no true gradient
			// (softmax is invariant to them): they hold rounding noise
			// only, so a relative measure means nothing for them.
			worst, which := tensorsRel(t, two, one, func(n string) bool {
				return !strings.HasPrefix(n, "optim.") && !strings.HasSuffix(n, "k_proj.bias")
			})
			t.Logf("%s, %s steps: 2 x 4 vs 1 x 8: worst weight difference %.2g (%s)", c.method, steps, worst, which)
			if worst > 1e-5 {
				t.Errorf("%s, %s steps: weights differ by %.3g relative (%s)", c.method, steps, worst, which)
			}
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer is a bytes.Buffer safe for a process's output goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDataParallelLostRank starts two ranks the way torchrun does (RANK,
// WORLD_SIZE, MASTER_ADDR/PORT), SIGKILLs rank 1 mid-run: rank 0 exits
// non-zero within the collective timeout with a message naming rank 1;
// both ranks rerun with --resume continue from the last checkpoint to the
// end.
func TestDataParallelLostRank(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	needFMNIST(t)
	dir := filepath.Join(t.TempDir(), "run")
	port := freePort(t)
	start := func(rank int, args ...string) (*exec.Cmd, *lockedBuffer) {
		env := []string{fmt.Sprintf("RANK=%d", rank), "WORLD_SIZE=2", fmt.Sprintf("LOCAL_RANK=%d", rank), "LOCAL_WORLD_SIZE=2",
			"MASTER_ADDR=127.0.0.1", fmt.Sprintf("MASTER_PORT=%d", port)}
		c := cli(context.Background(), env, append([]string{"train"}, args...)...)
		out := &lockedBuffer{}
		c.Stdout, c.Stderr = out, out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c, out
	}
	args := []string{"--method", "byol", "--preset", "smoke", "--steps", "60", "--log-every", "1", "--checkpoint-every", "5",
		"--threads", "1", "--workers", "1", "--dist-timeout", "5", "--out", dir}
	r0, out0 := start(0, args...)
	r1, _ := start(1, args...)
	for i := 0; ; i++ {
		if b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); bytes.Count(b, []byte("\n")) >= 12 {
			break
		}
		if i > 1200 {
			r0.Process.Kill()
			r1.Process.Kill()
			t.Fatalf("the run did not start:\n%s", out0.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	r1.Process.Kill()
	r1.Wait()
	killed := time.Now()
	done := make(chan error, 1)
	go func() { done <- r0.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("rank 0 succeeded after rank 1 was killed:\n%s", out0.String())
		}
		t.Logf("rank 0 exited %v after %.1f s", err, time.Since(killed).Seconds())
	case <-time.After(60 * time.Second):
		r0.Process.Kill()
		t.Fatalf("rank 0 still runs 60 s after rank 1 was killed:\n%s", out0.String())
	}
	if !strings.Contains(out0.String(), "rank 1") {
		t.Errorf("rank 0's error does not name rank 1:\n%s", out0.String())
	}
	ck, err := train.LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, st, _ := train.ReadCheckpoint(ck)
	// Both ranks resume.
	port = freePort(t)
	resume := []string{"--resume", dir, "--dist-timeout", "30"}
	q0, o0 := start(0, resume...)
	q1, o1 := start(1, resume...)
	if err := q0.Wait(); err != nil {
		t.Fatalf("resumed rank 0: %v\n%s", err, o0.String())
	}
	if err := q1.Wait(); err != nil {
		t.Fatalf("resumed rank 1: %v\n%s", err, o1.String())
	}
	ck2, _ := train.LatestCheckpoint(dir)
	_, st2, _ := train.ReadCheckpoint(ck2)
	if st.Step < 5 || st2.Step != 60 {
		t.Errorf("checkpoint at step %d before the kill, %d after the resume (want 60)", st.Step, st2.Step)
	}
}

// corruptEvery copies the preprocessed dataset src to dst and breaks the
// PNG data of every k-th PNG member of each shard (the signature stays, the
// chunks do not), so that decoding it fails.
func corruptEvery(t *testing.T, src, dst string, k int) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(dst, "shard-*.tar"))
	n := 0
	for _, p := range shards {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+512 <= len(b); {
			name := b[off : off+100]
			size := int64(0)
			fmt.Sscanf(strings.Trim(string(b[off+124:off+136]), "\x00 "), "%o", &size)
			if bytes.Count(b[off:off+512], []byte{0}) == 512 {
				break
			}
			if bytes.HasSuffix(bytes.TrimRight(name, "\x00"), []byte(".png")) {
				if n%k == k-1 {
					for j := off + 512 + 8; j < off+512+min(int(size), 64); j++ {
						b[j] = 0x5a
					}
				}
				n++
			}
			off += 512 + int(size+511)/512*512
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n < k {
		t.Fatalf("%d PNG members in %s", n, dst)
	}
}

// TestDataParallelResumeWithBadSamples: each rank skips its own bad
// samples, so the ranks' data positions differ; a 2-process BYOL run
// resumed from a mid-run checkpoint ends with the weights of the same run
// uninterrupted, bitwise, because each rank resumes from its own position
// (checkpoints/step-N.rank1.json beside rank 0's checkpoint).
func TestDataParallelResumeWithBadSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	dir := t.TempDir()
	good := datatest.ImageShards(t, dir, 240, 4)
	bad := filepath.Join(dir, "bad")
	corruptEvery(t, good, bad, 7)
	full := filepath.Join(dir, "full")
	common := []string{"--method", "byol", "--preset", "smoke", "--data", bad, "--steps", "20", "--batch", "8",
		"--threads", "1", "--workers", "1", "--checkpoint-every", "4", "--keep", "100", "--log-every", "1", "--quiet"}
	launch(t, 2, append(common, "--out", full)...)

	// The same run stopped after step 12: its folder without the later
	// checkpoints, resumed.
	cut := filepath.Join(dir, "cut")
	if err := os.CopyFS(cut, os.DirFS(full)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cut, "checkpoints", "step-*"))
	for _, f := range files {
		var step int
		fmt.Sscanf(filepath.Base(f), "step-%d", &step)
		if step > 12 {
			os.Remove(f)
		}
	}
	ck := train.CheckpointPath(cut, 12)
	_, st, err := train.ReadCheckpoint(ck)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := os.ReadFile(train.RankStatePath(ck, 1))
	if err != nil {
		t.Fatal(err)
	}
	var rs struct {
		Pipeline struct{ Position, Errors int }
	}
	json.Unmarshal(r1, &rs)
	t.Logf("step 12: rank 0 at position %d (%d skipped), rank 1 at %d (%d skipped)", st.Pipeline.Position, st.Pipeline.Errors,
		rs.Pipeline.Position, rs.Pipeline.Errors)
	if rs.Pipeline.Position == st.Pipeline.Position {
		t.Fatal("the ranks skipped as many samples: the data does not exercise per-rank positions")
	}
	a, _ := json.Marshal([]string{"train", "--resume", cut, "--quiet"})
	var out bytes.Buffer
	if err := dist.LaunchLocal(context.Background(), dist.LaunchOptions{NProc: 2, Argv: []string{os.Args[0], "-test.run=^$"},
		Env: append(os.Environ(), cliArgsEnv+"="+string(a)), Stdout: &out, Stderr: &out, Prefix: true}); err != nil {
		t.Fatalf("resume: %v\n%s", err, out.String())
	}
	worst, which := tensorsRel(t, cut, full, func(string) bool { return true })
	if worst != 0 {
		t.Errorf("resumed run differs from the uninterrupted one: %.3g relative (%s)", worst, which)
	}
}
