package byol

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/dist"
	"github.com/sslpipe/sslpipe/train/nn"
)

// The data-parallel test runs this test binary again as the two ranks:
// with ddpChildEnv set (to the optimizer's name) TestMain trains one rank
// instead of running the tests, writing its files under ddpDirEnv.
const (
	ddpChildEnv = "SSLPIPE_BYOL_DDP_CHILD"
	ddpDirEnv   = "SSLPIPE_BYOL_DDP_DIR"
	ddpMethod   = "byol-ddp-golden"
	ddpSteps    = 5
	ddpBatch    = 8 // global; 4 per rank
)

func TestMain(m *testing.M) {
	if name := os.Getenv(ddpChildEnv); name != "" {
		if err := ddpChild(name, os.Getenv(ddpDirEnv)); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ddpOptims are the golden script's optimizers (the parity goldens').
var ddpOptims = map[string]train.OptimConfig{
	"sgd":   {Name: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4},
	"adamw": {Name: "adamw", LR: 2e-3, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6},
}

// TestDataParallelPyTorchDDP: BYOL (BatchNorm in the backbone, projector
// and predictor) trained by train.Run on 2 Gloo processes on loopback
// matches PyTorch DistributedDataParallel(broadcast_buffers=True) around
// the whole BYOL module (online + EMA target), as
// testdata/ddp/make_ddp_goldens.py runs it: 5 steps from the parity
// goldens' initial weights (loaded on rank 0 only; rank 1 starts from its
// own seeded weights, so the initial broadcast is needed), rank r training
// on rows [4r, 4r+4) of each view of parity batch k % 4, BatchNorm on each
// rank's own 4 rows, for SGD and AdamW.
//
// Compared, each at 1e-4 relative (per tensor ||go-torch|| / ||torch||):
//   - each rank's own loss at every step with the same rank's in PyTorch;
//   - the loss the run reports (metrics.jsonl, log.every 1: the mean over
//     the ranks of each rank's loss) with the mean of PyTorch's two ranks;
//   - rank 0's final checkpoint (online and target weights and both
//     networks' BatchNorm running statistics) with PyTorch's rank 0;
//   - rank 1's final running statistics with PyTorch's rank 1: DDP
//     broadcasts rank 0's buffers before each forward, so they are rank
//     0's from before the last step updated with rank 1's last batch (this
//     fails if the buffers are not broadcast, or broadcast after the step).
//
// And rank 1's final weights (every parameter, not the running
// statistics) equal rank 0's bitwise: the same averaged gradients, the
// same optimizer and EMA updates. (AdamW: the biases with no true gradient
// and the running means that follow them only hold rounding noise, which
// Adam turns into steps of up to lr; they are checked against Adam's step
// bound, as in TestParityPyTorch.)
func TestDataParallelPyTorchDDP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes per optimizer")
	}
	if !dist.Available(dist.Gloo) {
		if _, err := os.Stat("/usr/include/gloo/algorithm.h"); err == nil {
			t.Fatal("Gloo's headers are installed but the shim has no Gloo process group: rebuild it (make build)")
		}
		t.Skip("the shim has no Gloo process group (install libgloo-dev and rebuild)")
	}
	for _, name := range []string{"sgd", "adamw"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			err := dist.LaunchLocal(ctx, dist.LaunchOptions{NProc: 2, Argv: []string{os.Args[0], "-test.run=^$"},
				Env:    append(os.Environ(), ddpChildEnv+"="+name, ddpDirEnv+"="+dir),
				Stdout: &out, Stderr: &out, Prefix: true})
			if err != nil {
				t.Fatalf("2 ranks: %v\n%s", err, out.String())
			}
			gold := readST(t, filepath.Join("testdata", "ddp", name+".safetensors"))
			ranks := [2]map[string]train.STensor{readST(t, filepath.Join(dir, "rank0.safetensors")), readST(t, filepath.Join(dir, "rank1.safetensors"))}
			ck, err := train.LatestCheckpoint(filepath.Join(dir, "run"))
			if err != nil {
				t.Fatal(err)
			}
			final, _, err := train.ReadCheckpoint(ck)
			if err != nil {
				t.Fatal(err)
			}

			// Losses: each rank's own, and the reported mean.
			reported := readLosses(t, filepath.Join(dir, "run", "metrics.jsonl"))
			if len(reported) != ddpSteps || len(ranks[0]["loss"].F32) != ddpSteps || len(ranks[1]["loss"].F32) != ddpSteps {
				t.Fatalf("%d, %d and %d losses (metrics.jsonl, rank 0, rank 1), want %d", len(reported), len(ranks[0]["loss"].F32), len(ranks[1]["loss"].F32), ddpSteps)
			}
			var worstLoss float64
			lossCheck := func(what string, k int, got, want float64) {
				rel := math.Abs(got-want) / math.Abs(want)
				worstLoss = math.Max(worstLoss, rel)
				if testing.Verbose() {
					t.Logf("step %d: %s %.7f, PyTorch %.7f (rel %.2g)", k, what, got, want, rel)
				}
				if rel > 1e-4 {
					t.Errorf("step %d: %s %.7f, PyTorch %.7f (rel %.2g)", k, what, got, want, rel)
				}
			}
			for k := range ddpSteps {
				t0, t1 := float64(gold["loss.r0"].F32[k]), float64(gold["loss.r1"].F32[k])
				lossCheck("rank 0's loss", k, float64(ranks[0]["loss"].F32[k]), t0)
				lossCheck("rank 1's loss", k, float64(ranks[1]["loss"].F32[k]), t1)
				lossCheck("reported loss (mean over ranks)", k, reported[k], (t0+t1)/2)
			}

			// Tensors.
			lr := ddpOptims[name].LR
			var worst float64
			var worstName string
			check := func(what, key string, got []float32, want train.STensor) {
				rel, diff := relDiff(got, want.F32)
				if testing.Verbose() {
					t.Logf("%s %s: rel %.3g, max diff %.3g", what, key, rel, diff)
				}
				base := strings.TrimPrefix(strings.TrimPrefix(key, "online."), "target.")
				if name == "adamw" && zeroGrad[base] {
					if bound := 2 * ddpSteps * lr; diff > bound {
						t.Errorf("%s %s: max diff %.3g above Adam's step bound %.3g", what, key, diff, bound)
					}
					return
				}
				if rel > worst {
					worst, worstName = rel, what+" "+key
				}
				if rel > 1e-4 {
					t.Errorf("%s %s: max diff %.3g (rel %.3g)", what, key, diff, rel)
				}
			}
			var nBuf, nParam int
			for _, key := range slices.Sorted(maps.Keys(gold)) {
				want := gold[key]
				if strings.HasPrefix(key, "loss.") {
					continue
				}
				if r1key, ok := strings.CutPrefix(key, "r1."); ok {
					got, ok := ranks[1][r1key]
					if !ok {
						t.Errorf("rank 1 lacks %s", r1key)
						continue
					}
					check("rank 1's", r1key, got.F32, want)
					nBuf++
					continue
				}
				got, ok := final[key]
				if !ok {
					t.Errorf("the checkpoint lacks %s", key)
					continue
				}
				check("rank 0's", key, got.F32, want)
			}
			for key := range final {
				if _, ok := gold[key]; !ok && (strings.HasPrefix(key, "online.") || strings.HasPrefix(key, "target.")) {
					t.Errorf("the golden lacks %s", key)
				}
			}
			// The ranks' weights: bitwise equal.
			for _, key := range slices.Sorted(maps.Keys(ranks[0])) {
				x := ranks[0][key]
				if key == "loss" || isRunningStat(key) {
					continue
				}
				nParam++
				y := ranks[1][key]
				if len(x.F32) != len(y.F32) {
					t.Errorf("%s: %d values on rank 0, %d on rank 1", key, len(x.F32), len(y.F32))
					continue
				}
				for i := range x.F32 {
					if math.Float32bits(x.F32[i]) != math.Float32bits(y.F32[i]) {
						t.Errorf("%s[%d]: rank 0 %g, rank 1 %g", key, i, x.F32[i], y.F32[i])
						break
					}
				}
			}
			if nBuf == 0 || nParam == 0 {
				t.Fatalf("compared %d running statistics of rank 1 and %d weights", nBuf, nParam)
			}
			t.Logf("%s: %d steps on 2 ranks: worst loss rel diff %.3g, worst tensor rel diff %.3g (%s); %d weights bitwise equal across ranks",
				name, ddpSteps, worstLoss, worst, worstName, nParam)
		})
	}
}

func isRunningStat(key string) bool {
	return strings.HasSuffix(key, ".running_mean") || strings.HasSuffix(key, ".running_var")
}

// relDiff is ||got-want|| / ||want|| and max |got-want|.
func relDiff(got, want []float32) (rel, maxAbs float64) {
	if len(got) != len(want) {
		return math.Inf(1), math.Inf(1)
	}
	var d2, n2 float64
	for i := range got {
		e := float64(got[i]) - float64(want[i])
		maxAbs = math.Max(maxAbs, math.Abs(e))
		d2 += e * e
		n2 += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d2) / math.Max(math.Sqrt(n2), 1e-12), maxAbs
}

func readST(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := train.ParseSafetensors(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ts
}

// readLosses returns the loss of each metrics line.
func readLosses(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Step int64   `json:"step"`
			Loss float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if line.Step != int64(len(out)+1) {
			t.Fatalf("%s: step %d after %d lines", path, line.Step, len(out))
		}
		out = append(out, line.Loss)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ddpChild is one rank: it joins the group the launcher describes and
// runs train.Run with BYOL's trainer fed the golden batches (ddpTrainer).
func ddpChild(optim, dir string) error {
	runtime.LockOSThread()
	o, ok := ddpOptims[optim]
	if !ok || dir == "" {
		return fmt.Errorf("no optimizer %q or no folder %q", optim, dir)
	}
	e, ok, err := dist.FromEnv(os.Getenv)
	if err != nil || !ok {
		return fmt.Errorf("FromEnv: %v %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	g, err := dist.Init(ctx, e.Options(dist.Gloo, 60*time.Second))
	if err != nil {
		return err
	}
	defer g.Close()
	read := func(path string) (map[string]train.STensor, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ts, _, err := train.ParseSafetensors(b)
		return ts, err
	}
	init, err := read("testdata/parity/init.safetensors")
	if err != nil {
		return err
	}
	batches, err := read("testdata/parity/batches.safetensors")
	if err != nil {
		return err
	}
	train.Register(&train.Method{Name: ddpMethod, Modalities: []string{data.Image}, Defaults: defaults, Validate: validate,
		New: func(env *train.Env) (train.Trainer, error) {
			tr, err := newTrainer(env)
			if err != nil {
				return nil, err
			}
			t := &ddpTrainer{trainer: tr.(*trainer), rank: env.Rank, world: env.World, batches: batches,
				dump: filepath.Join(dir, fmt.Sprintf("rank%d.safetensors", env.Rank))}
			if env.Rank == 0 {
				// Rank 1 keeps its seeded weights: the run's initial
				// broadcast must replace them.
				if err := t.m.online.p.Load("init", init, "online."); err != nil {
					return nil, err
				}
				if err := t.m.target.p.Load("init", init, "target."); err != nil {
					return nil, err
				}
			}
			return t, nil
		}})
	c := defaults()
	c.Method, c.Out, c.Device, c.Threads, c.Seed = ddpMethod, filepath.Join(dir, "run"), "cpu", 1, 42
	c.Data = train.DataConfig{Modality: data.Image, Batch: ddpBatch, Workers: 1, Prefetch: 1}
	c.Model = &Model{Arch: nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{8, 16}}, Heads: Heads{Hidden: 32, Out: 16}}
	c.Optim = o
	c.Schedule = train.ScheduleConfig{Steps: ddpSteps, WarmupSteps: 3, Kind: "cosine"}
	c.Checkpoint = train.CheckpointConfig{Keep: 1}
	c.Log = train.LogConfig{Every: 1}
	c.Monitor = train.MonitorConfig{}
	settings(&c).Tau = train.TauSchedule{Kind: "cosine", Base: 0.99, End: 1}
	// 4 golden batches per epoch on each rank (the examples are empty:
	// ddpTrainer.Batches takes only their batch numbers).
	ds := data.New("ddp-golden", data.Image, 4*ddpBatch, 1, func(context.Context, int) (data.Example, error) {
		return data.Example{Class: -1}, nil
	})
	_, err = train.Run(ctx, c, train.RunOptions{Data: ds, Dist: g, LocalProcs: e.LocalWorld})
	return err
}

// ddpTrainer is BYOL's trainer (its Step, State, ReplicatedTensors and
// SyncedBuffers unchanged) fed rows [rank*b, (rank+1)*b) of parity batch
// k % 4 at step k, which records its own losses and, on Close, writes them
// with its final tensors to dump.
type ddpTrainer struct {
	*trainer
	rank, world int
	batches     map[string]train.STensor
	losses      []float32
	dump        string
}

func (t *ddpTrainer) Batches(ex *pipeline.Stream[data.Example], batch, _ int) *pipeline.Stream[any] {
	bs := pipeline.Batches(ex, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[data.Example]]) (any, error) {
		v := &train.Views{}
		for view := range 2 {
			x := t.batches[bname(int64(s.Index%4), int64(view))]
			row := len(x.F32) / int(x.Shape[0])
			lo := t.rank * batch * row
			v.Views = append(v.Views, x.F32[lo:lo+batch*row])
			v.Shape = append(v.Shape, [4]int{batch, int(x.Shape[1]), int(x.Shape[2]), int(x.Shape[3])})
		}
		return v, nil
	}, pipeline.MapOptions{Name: "golden", Workers: 1})
}

func (t *ddpTrainer) Step(ctx context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	r, err := t.trainer.Step(ctx, batch, s)
	t.losses = append(t.losses, float32(r.Loss))
	return r, err
}

func (t *ddpTrainer) Close() error {
	defer t.trainer.Close()
	ts, _, err := t.State()
	if err != nil {
		return err
	}
	out := map[string]train.STensor{"loss": {Shape: []int64{int64(len(t.losses))}, F32: t.losses}}
	for k, v := range ts {
		if strings.HasPrefix(k, "online.") || strings.HasPrefix(k, "target.") {
			out[k] = v
		}
	}
	return train.WriteSafetensorsFile(t.dump, out, nil)
}
