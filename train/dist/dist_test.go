package dist

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// The multi-process tests run this test binary again as the ranks: with
// childEnv set, TestMain runs the named scenario instead of the tests and
// exits 0 (passed) or 1, printing "FAIL: ..." to stderr.
const childEnv = "SSLPIPE_DIST_TEST_CHILD"

// testTimeout bounds each collective in the scenarios. launchTimeout
// bounds a whole scenario run and the ranks' rendezvous: on an idle
// machine a rank starts in half a second, on a loaded 2-core machine a
// test binary linking libtorch took 5 s; it only guards against a hang.
const (
	testTimeout   = 5 * time.Second
	launchTimeout = 60 * time.Second
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

var scenarios = map[string]func(ctx context.Context) error{
	"env":         childEnvScenario,
	"exit":        childExit,
	"sigwait":     childSigwait,
	"sigslow":     childSigslow,
	"collectives": childCollectives,
	"grads":       childGrads,
	"gather":      childGather,
	"kill1":       func(ctx context.Context) error { return childFault(ctx, 1) },
	"kill0":       func(ctx context.Context) error { return childFault(ctx, 0) },
	"killgrad":    childFaultBackward,
}

func runChild(name string) int {
	f := scenarios[name]
	if f == nil {
		fmt.Fprintf(os.Stderr, "FAIL: no scenario %q\n", name)
		return 2
	}
	runtime.LockOSThread() // torch's grad mode and errors are per thread
	ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	return 0
}

// syncBuffer is a bytes.Buffer for the launcher's serialized lines, with
// a hook called on each line.
type syncBuffer struct {
	buf    bytes.Buffer
	onLine func(string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	if b.onLine != nil {
		b.onLine(string(p))
	}
	return b.buf.Write(p)
}

// runRanks runs scenario on n ranks through the launcher and returns
// their prefixed output.
func runRanks(t *testing.T, scenario string, n int, mod func(*LaunchOptions)) (string, error) {
	t.Helper()
	out := &syncBuffer{}
	opt := LaunchOptions{
		NProc:  n,
		Argv:   []string{os.Args[0], "-test.run=^$"},
		Env:    append(os.Environ(), childEnv+"="+scenario),
		Stdout: out,
		Stderr: out,
		Prefix: true,
		Grace:  3 * time.Second,
	}
	if mod != nil {
		mod(&opt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
	defer cancel()
	start := time.Now()
	err := launch(ctx, opt, nil)
	t.Logf("%s on %d ranks: %v (%.1fs)\n%s", scenario, n, err, time.Since(start).Seconds(), out.buf.String())
	return out.buf.String(), err
}

func needGloo(t *testing.T) {
	t.Helper()
	if Available(Gloo) {
		return
	}
	if _, err := os.Stat("/usr/include/gloo/algorithm.h"); err == nil {
		t.Fatal("Gloo's headers are installed but the shim has no Gloo process group: rebuild it (make build)")
	}
	t.Skip("the shim has no Gloo process group (install libgloo-dev and rebuild)")
}

// --- launcher ---

func childEnvScenario(ctx context.Context) error {
	e, ok, err := FromEnv(os.Getenv)
	if err != nil || !ok {
		return fmt.Errorf("FromEnv: %v %v", ok, err)
	}
	st, err := os.Stat(strings.TrimSuffix(e.StoreFile, "/store"))
	if err != nil || st.Mode().Perm() != 0o700 {
		return fmt.Errorf("store folder %q: %v %v", e.StoreFile, st, err)
	}
	fmt.Printf("rank=%d world=%d local=%d/%d master=%s:%d launcher=%s\n", e.Rank, e.World, e.LocalRank, e.LocalWorld,
		e.MasterAddr, e.MasterPort, e.Launcher)
	return nil
}

func TestLaunchLocalEnv(t *testing.T) {
	t.Setenv("SLURM_PROCID", "7") // inherited Slurm variables: the torchrun variables win
	t.Setenv("SLURM_NTASKS", "9")
	out, err := runRanks(t, "env", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r := range 3 {
		want := fmt.Sprintf("[rank %d] rank=%d world=3 local=%d/3 master=127.0.0.1:", r, r, r)
		if !strings.Contains(out, want) || !strings.Contains(out, "launcher=torchrun") {
			t.Errorf("missing %q", want)
		}
	}
}

func childExit(ctx context.Context) error {
	e, _, _ := FromEnv(os.Getenv)
	if e.Rank == 1 {
		os.Exit(3)
	}
	signal.Ignore(syscall.SIGTERM) // only SIGKILL ends this rank
	fmt.Println("waiting")
	<-ctx.Done()
	return errors.New("rank 0 was not killed")
}

func TestLaunchLocalFailsAsAWhole(t *testing.T) {
	out, err := runRanks(t, "exit", 2, func(o *LaunchOptions) { o.Grace = 200 * time.Millisecond })
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Rank != 1 {
		t.Fatalf("err = %v, want rank 1's failure", err)
	}
	var xe *exec.ExitError
	if !errors.As(err, &xe) || xe.ExitCode() != 3 {
		t.Errorf("rank 1's exit = %v, want status 3", ee.Err)
	}
	if strings.Contains(out, "was not killed") {
		t.Error("rank 0 outlived the launch")
	}
}

func childSigwait(ctx context.Context) error {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT)
	fmt.Println("ready")
	select {
	case s := <-c:
		fmt.Println("got", s)
		return nil
	case <-ctx.Done():
		return errors.New("no signal")
	}
}

// childSigslow takes 1 s to finish after SIGINT (a rank writing its last
// checkpoint), then exits 0.
func childSigslow(ctx context.Context) error {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT)
	fmt.Println("ready")
	select {
	case s := <-c:
		fmt.Println("got", s)
	case <-ctx.Done():
		return errors.New("no signal")
	}
	time.Sleep(time.Second)
	fmt.Println("saved")
	return nil
}

// TestLaunchLocalSignalNoDeadline: after a forwarded SIGINT the ranks
// get as long as they need (here 1 s, with a Grace of 100 ms) to finish;
// a second SIGINT kills them at once.
func TestLaunchLocalSignalNoDeadline(t *testing.T) {
	for _, signals := range []int{1, 2} {
		sigs := make(chan os.Signal, 2)
		var mu sync.Mutex
		ready, got := 0, 0
		out := &syncBuffer{onLine: func(l string) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case strings.HasSuffix(l, "] ready\n"):
				if ready++; ready == 2 {
					sigs <- syscall.SIGINT
				}
			case strings.HasSuffix(l, "] got interrupt\n"):
				if got++; got == 2 && signals == 2 {
					sigs <- syscall.SIGINT
				}
			}
		}}
		ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
		err := launch(ctx, LaunchOptions{NProc: 2, Argv: []string{os.Args[0], "-test.run=^$"}, Env: append(os.Environ(), childEnv+"=sigslow"),
			Stdout: out, Stderr: out, Prefix: true, Grace: 100 * time.Millisecond}, sigs)
		cancel()
		saved := strings.Count(out.buf.String(), "] saved\n")
		t.Logf("%d signals: %v, %d ranks saved", signals, err, saved)
		switch {
		case signals == 1 && (err != nil || saved != 2):
			t.Errorf("one signal: %v, %d ranks saved, want nil and 2\n%s", err, saved, out.buf.String())
		case signals == 2 && (err == nil || saved != 0):
			t.Errorf("two signals: %v, %d ranks saved, want a killed rank and 0\n%s", err, saved, out.buf.String())
		}
	}
}

func TestLaunchLocalForwardsSignals(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	ready := make(chan struct{}, 2)
	out := &syncBuffer{onLine: func(l string) {
		if strings.HasSuffix(l, "] ready\n") {
			ready <- struct{}{}
		}
	}}
	go func() {
		<-ready
		<-ready
		sigs <- syscall.SIGINT
	}()
	ctx, cancel := context.WithTimeout(context.Background(), launchTimeout)
	defer cancel()
	err := launch(ctx, LaunchOptions{NProc: 2, Argv: []string{os.Args[0], "-test.run=^$"}, Env: append(os.Environ(), childEnv+"=sigwait"),
		Stdout: out, Stderr: out, Prefix: true, Grace: 5 * time.Second}, sigs)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.buf.String())
	}
	for r := range 2 {
		if want := fmt.Sprintf("[rank %d] got interrupt", r); !strings.Contains(out.buf.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.buf.String())
		}
	}
}

func TestLaunchLocalContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{onLine: func(l string) {
		if strings.HasSuffix(l, "ready\n") {
			cancel()
		}
	}}
	err := launch(ctx, LaunchOptions{NProc: 2, Argv: []string{os.Args[0], "-test.run=^$"}, Env: append(os.Environ(), childEnv+"=sigwait"),
		Stdout: out, Stderr: out, Grace: 5 * time.Second}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled\n%s", err, out.buf.String())
	}
}

func TestLaunchLocalBadCommand(t *testing.T) {
	err := launch(context.Background(), LaunchOptions{NProc: 2, Argv: []string{"/nonexistent/sslpipe"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "launch rank 0") {
		t.Errorf("err = %v", err)
	}
	if err := launch(context.Background(), LaunchOptions{NProc: 0, Argv: []string{"true"}}, nil); err == nil {
		t.Error("0 processes accepted")
	}
}

func TestLineWriter(t *testing.T) {
	var buf bytes.Buffer
	var l lineWriter
	l.w, l.prefix = &buf, "[r] "
	l.mu = new(sync.Mutex)
	l.Write([]byte("a\nb"))
	l.Write([]byte("c\n\nd"))
	l.Flush()
	if got, want := buf.String(), "[r] a\n[r] bc\n[r] \n[r] d\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// --- collectives ---

// initGroup joins the group the launcher describes.
func initGroup(ctx context.Context) (*Group, error) {
	e, ok, err := FromEnv(os.Getenv)
	if err != nil || !ok {
		return nil, fmt.Errorf("FromEnv: %v %v", ok, err)
	}
	return Init(ctx, e.Options(Gloo, testTimeout))
}

func f32s(x op.Tensor) []float32 { return op.ToFloat32(x) }

func near(got, want []float32, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(float64(w)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*max(scale, 1e-30) || math.IsNaN(float64(got[i])) {
			return fmt.Errorf("element %d = %g, want %g (relative error %.3g > %g)\ngot  %v\nwant %v", i, got[i], want[i], d/scale, tol, got, want)
		}
	}
	return nil
}

func childCollectives(ctx context.Context) (err error) {
	defer op.Catch(&err)
	g, err := initGroup(ctx)
	if err != nil {
		return err
	}
	defer g.Close()
	r, w := g.Rank(), g.World()
	var tp op.Tape
	defer tp.Drop()
	mk := func(v []float32, dims ...int64) op.Tensor {
		x, err := op.FromFloat32(v, gotch.CPU, dims...)
		if err != nil {
			op.Fail(err)
		}
		return tp.Own(x)
	}
	fr := float32(r)

	// Sum over float32, float64 and int64 tensors and a non-contiguous view.
	a := mk([]float32{1 + fr, 2 + fr, 3 + fr}, 3)
	b := tp.ToDtype(mk([]float32{0.5 * (fr + 1)}, 1), gotch.Double)
	ci, err := op.FromInt64([]int64{int64(10 * (r + 1))}, gotch.CPU, 1)
	if err != nil {
		return err
	}
	c := tp.Own(ci)
	base := mk([]float32{fr, 1, 2, 3, 4, 5}, 2, 3)
	view := tp.Transpose(base, 0, 1)
	if err := g.AllReduce([]op.Tensor{a, b, c, view}, Sum); err != nil {
		return err
	}
	// Ranks 0 and 1: a = (1,2,3) + (2,3,4); b = 0.5 + 1; c = 10 + 20; base = 2 x (r,1,...,5).
	if err := near(f32s(a), []float32{3, 5, 7}, 0); err != nil {
		return fmt.Errorf("allreduce sum: %w", err)
	}
	if got := f32s(b); got[0] != 1.5 {
		return fmt.Errorf("allreduce float64: %v", got)
	}
	if got := op.ToInt64(c); got[0] != 30 {
		return fmt.Errorf("allreduce int64: %v", got)
	}
	if err := near(f32s(base), []float32{1, 2, 4, 6, 8, 10}, 0); err != nil {
		return fmt.Errorf("allreduce of a transposed view: %w", err)
	}

	// Average.
	d := mk([]float32{10 * fr, 1 + 10*fr}, 2)
	if err := g.AllReduce([]op.Tensor{d}, Avg); err != nil {
		return err
	}
	if err := near(f32s(d), []float32{5, 6}, 0); err != nil {
		return fmt.Errorf("allreduce avg: %w", err)
	}
	// A local error (average of integers) leaves the group usable.
	if err := g.AllReduce([]op.Tensor{c}, Avg); err == nil || errors.Is(err, ErrLost) || g.Err() != nil {
		return fmt.Errorf("average of int64: err %v, group err %v", err, g.Err())
	}

	// Broadcast from rank 1: two dtypes, a transposed view.
	e := mk([]float32{100 * fr, 100*fr + 1}, 2)
	ei, err := op.FromInt64([]int64{int64(7 * r), 3}, gotch.CPU, 2)
	if err != nil {
		return err
	}
	e2 := tp.Own(ei)
	ebase := mk([]float32{fr, 2 * fr, 3 * fr, 4 * fr, 5 * fr, 6 * fr}, 2, 3)
	if err := g.Broadcast([]op.Tensor{e, e2, tp.Transpose(ebase, 0, 1)}, 1); err != nil {
		return err
	}
	if err := near(f32s(e), []float32{100, 101}, 0); err != nil {
		return fmt.Errorf("broadcast: %w", err)
	}
	if got := op.ToInt64(e2); got[0] != 7 || got[1] != 3 {
		return fmt.Errorf("broadcast int64: %v", got)
	}
	if err := near(f32s(ebase), []float32{1, 2, 3, 4, 5, 6}, 0); err != nil {
		return fmt.Errorf("broadcast of a view: %w", err)
	}

	// Metrics in float64.
	vals := []float64{float64(r) + 0.25, 1e-12 * float64(r+1)}
	if err := g.SumFloat64(vals); err != nil {
		return err
	}
	if vals[0] != 1.5 || vals[1] != 3e-12 {
		return fmt.Errorf("SumFloat64: %v", vals)
	}

	// All-gather.
	outs, err := g.AllGather(mk([]float32{fr, fr + 0.5}, 2))
	if err != nil {
		return err
	}
	if len(outs) != w {
		return fmt.Errorf("allgather: %d outputs", len(outs))
	}
	for k, o := range outs {
		tp.Own(o)
		if err := near(f32s(o), []float32{float32(k), float32(k) + 0.5}, 0); err != nil {
			return fmt.Errorf("allgather slot %d: %w", k, err)
		}
	}

	// Reduce-scatter: rank k receives the sum of every rank's ins[k].
	ins := make([]op.Tensor, w)
	for k := range ins {
		ins[k] = mk([]float32{10*fr + float32(k)}, 1)
	}
	out := mk([]float32{-1}, 1)
	if err := g.ReduceScatter(out, ins, Sum); err != nil {
		return err
	}
	if got, want := f32s(out)[0], float32(10+2*r); got != want {
		return fmt.Errorf("reduce_scatter: %v, want %v", got, want)
	}
	// A single-machine group keeps to the loopback interface: every TCP
	// socket of this process (Gloo's connections to its peers and any
	// listener) has a loopback local address.
	addrs, err := tcpSockets()
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return errors.New("no TCP socket found: Gloo's connections were not seen")
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			return fmt.Errorf("a socket on %v, not a loopback address (all: %v)", a, addrs)
		}
	}
	return g.Barrier()
}

// tcpSockets returns the local addresses of this process's TCP sockets
// (from /proc/self/fd and /proc/net/tcp{,6}).
func tcpSockets() ([]net.IP, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []net.IP
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || !mine[fs[9]] {
				continue
			}
			hexIP, _, _ := strings.Cut(fs[1], ":")
			raw, err := hex.DecodeString(hexIP)
			if err != nil {
				return nil, err
			}
			// The kernel prints each 32-bit word in host (little-endian) order.
			for i := 0; i+4 <= len(raw); i += 4 {
				raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			out = append(out, net.IP(raw))
		}
	}
	return out, nil
}

func TestCollectives(t *testing.T) {
	needGloo(t)
	if out, err := runRanks(t, "collectives", 2, nil); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// --- DDP: broadcast of the parameters and gradient averaging ---

func randn(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x5551))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// The test model: parameter 2 is float64, parameter 4 is used by rank 1's
// data only, parameter 5 by no rank.
var gradShapes = [][]int64{{3, 5}, {1000}, {7}, {17, 3}, {4}, {2}}

func gradUsed(i, dataRank int) bool { return i < 4 || i == 4 && dataRank == 1 }

func newParams(tp *op.Tape, seed uint64) []op.Tensor {
	ps := make([]op.Tensor, len(gradShapes))
	for i, sh := range gradShapes {
		x, err := op.FromFloat32(randn(seed+uint64(i)*1000, int(op.Numel(sh))), gotch.CPU, sh...)
		if err != nil {
			op.Fail(err)
		}
		if i == 2 {
			d := tp.ToDtype(x, gotch.Double)
			op.Free(x)
			x = tp.Keep(d)
		}
		op.RequiresGrad(x, true)
		ps[i] = tp.Own(x)
	}
	return ps
}

// lossOn is Σ_i sum((p_i·d_i)²) over the parameters rank dataRank's data
// uses, d_i drawn from dataRank.
func lossOn(tp *op.Tape, ps []op.Tensor, dataRank int) op.Tensor {
	var loss op.Tensor
	for i, p := range ps {
		if !gradUsed(i, dataRank) {
			continue
		}
		d, err := op.FromFloat32(randn(uint64(500+dataRank*100+i), int(op.Numel(gradShapes[i]))), gotch.CPU, gradShapes[i]...)
		if err != nil {
			op.Fail(err)
		}
		dd := tp.ToDtype(tp.Own(d), gotch.CKind2DType(lib.AtScalarType(p)))
		pd := tp.Mul(p, dd)
		term := tp.Sum(tp.Mul(pd, pd))
		if loss == nil {
			loss = term
		} else {
			loss = tp.Add(loss, term)
		}
	}
	return loss
}

// wantGrad is d/dp sum((p·d)²) = 2·p·d² for rank dataRank's data, zeros
// when unused.
func wantGrad(p []float32, i, dataRank int) []float32 {
	out := make([]float32, len(p))
	if !gradUsed(i, dataRank) {
		return out
	}
	d := randn(uint64(500+dataRank*100+i), len(p))
	for k := range p {
		out[k] = 2 * p[k] * d[k] * d[k]
	}
	return out
}

func childGrads(ctx context.Context) (err error) {
	defer op.Catch(&err)
	g, err := initGroup(ctx)
	if err != nil {
		return err
	}
	defer g.Close()
	r := g.Rank()
	var tp op.Tape
	defer tp.Drop()
	// Different initial weights on each rank; rank 0's everywhere after
	// the broadcast.
	ps := newParams(&tp, uint64(10+r))
	if err := g.BroadcastParams(ps, 0); err != nil {
		return err
	}
	var ref op.Tape
	defer ref.Drop()
	want := newParams(&ref, 10)
	for i := range ps {
		if err := near(f32s(ps[i]), f32s(want[i]), 0); err != nil {
			return fmt.Errorf("parameter %d after the broadcast: %w", i, err)
		}
	}

	for _, bo := range []BucketOptions{{First: 64, Size: 2048}, {}} {
		red, err := NewReducer(g, ps, bo)
		if err != nil {
			return err
		}
		buckets := red.Buckets()
		if bo.First == 64 {
			// Reverse order, float32: 8+16+204 B >= 64 B closes [5 4 3];
			// 4000 B >= 2048 B closes [1]; [0] and float64's [2] close at
			// the end.
			if !reflect.DeepEqual(buckets, [][]int{{5, 4, 3}, {1}, {0}, {2}}) {
				return fmt.Errorf("small buckets: %v", buckets)
			}
		} else if !reflect.DeepEqual(buckets, [][]int{{5, 4, 3, 1, 0}, {2}}) {
			return fmt.Errorf("default buckets: %v", buckets)
		}
		op.ClearGrads(ps)
		op.Backward(lossOn(&tp, ps, r))
		if err := red.AverageGrads(); err != nil {
			return err
		}
		for i, p := range ps {
			gr := tp.Grad(p)
			pv := f32s(p)
			if i == 5 {
				if gr != nil {
					return fmt.Errorf("parameter 5, unused on every rank, got a gradient %v", f32s(gr))
				}
				continue
			}
			if gr == nil {
				return fmt.Errorf("parameter %d has no gradient after averaging (buckets %v)", i, buckets)
			}
			g0, g1 := wantGrad(pv, i, 0), wantGrad(pv, i, 1)
			mean := make([]float32, len(pv))
			for k := range mean {
				mean[k] = (g0[k] + g1[k]) / 2
			}
			if err := near(f32s(gr), mean, 1e-6); err != nil {
				return fmt.Errorf("buckets %v: parameter %d's averaged gradient: %w", buckets, i, err)
			}
		}
	}
	// The loop's form: the gradient tensors themselves, all defined.
	op.ClearGrads(ps)
	op.Backward(lossOn(&tp, ps, r))
	grads := make([]op.Tensor, 4)
	for i := range grads {
		grads[i] = tp.Grad(ps[i])
	}
	for range 2 { // the second call reuses the plan
		if err := g.AverageGradients(grads); err != nil {
			return err
		}
	}
	for i, gr := range grads {
		pv := f32s(ps[i])
		g0, g1 := wantGrad(pv, i, 0), wantGrad(pv, i, 1)
		mean := make([]float32, len(pv))
		for k := range mean {
			mean[k] = (g0[k] + g1[k]) / 2
		}
		// Averaged twice: the mean of equal values is the value.
		if err := near(f32s(gr), mean, 1e-6); err != nil {
			return fmt.Errorf("AverageGradients: gradient %d: %w", i, err)
		}
	}
	return nil
}

func TestGradAveraging(t *testing.T) {
	needGloo(t)
	if out, err := runRanks(t, "grads", 2, nil); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// --- all_gather with gradient ---

const gB, gD, gK = 3, 4, 5 // rows per rank, features, classes

// gatherLoss is rank k's loss on the gathered rows X (2B x D):
// Σ LogSoftmax(X·A_k)⊙T_k + ½Σ x_k², with A_k, T_k drawn from k.
func gatherLoss(tp *op.Tape, X, xk op.Tensor, k, world int) op.Tensor {
	a, err := op.FromFloat32(randn(uint64(50+k), gD*gK), gotch.CPU, gD, gK)
	if err != nil {
		op.Fail(err)
	}
	w, err := op.FromFloat32(randn(uint64(70+k), world*gB*gK), gotch.CPU, int64(world*gB), gK)
	if err != nil {
		op.Fail(err)
	}
	ls := tp.LogSoftmax(tp.Matmul(X, tp.Own(a)), 1)
	return tp.Add(tp.Sum(tp.Mul(ls, tp.Own(w))), tp.MulScalar(tp.Sum(tp.Mul(xk, xk)), 0.5))
}

func leaf(tp *op.Tape, k int) op.Tensor {
	x, err := op.FromFloat32(randn(uint64(30+k), gB*gD), gotch.CPU, gB, gD)
	if err != nil {
		op.Fail(err)
	}
	op.RequiresGrad(x, true)
	return tp.Own(x)
}

func childGather(ctx context.Context) (err error) {
	defer op.Catch(&err)
	g, err := initGroup(ctx)
	if err != nil {
		return err
	}
	defer g.Close()
	r, w := g.Rank(), g.World()
	var tp op.Tape
	defer tp.Drop()

	// Distributed: each rank gathers and backpropagates its own loss.
	x := leaf(&tp, r)
	X := g.GatherWithGrad(&tp, x)
	op.Backward(gatherLoss(&tp, X, x, r, w))
	got := f32s(tp.Grad(x))

	// One process: every rank's rows as leaves, the sum of every rank's
	// loss, backpropagated once.
	xs := make([]op.Tensor, w)
	for k := range xs {
		xs[k] = leaf(&tp, k)
	}
	if err := near(f32s(X), f32s(tp.Cat(xs, 0)), 0); err != nil {
		return fmt.Errorf("gathered values: %w", err)
	}
	all := tp.Cat(xs, 0)
	var total op.Tensor
	for k := range w {
		l := gatherLoss(&tp, all, xs[k], k, w)
		if total == nil {
			total = l
		} else {
			total = tp.Add(total, l)
		}
	}
	op.Backward(total)
	want := f32s(tp.Grad(xs[r]))
	if err := near(got, want, 1e-5); err != nil {
		return fmt.Errorf("rank %d's gradient vs the 1-process gradient of the sum of the losses: %w", r, err)
	}

	// The test can tell: the gradient of this rank's loss alone (what a
	// cat of the detached remote rows would give) differs.
	ys := make([]op.Tensor, w)
	for k := range ys {
		ys[k] = leaf(&tp, k)
	}
	op.Backward(gatherLoss(&tp, tp.Cat(ys, 0), ys[r], r, w))
	if err := near(f32s(tp.Grad(ys[r])), want, 1e-3); err == nil {
		return errors.New("the local-only gradient equals the summed one: the test cannot tell the semantics apart")
	}
	return nil
}

func TestGatherWithGrad(t *testing.T) {
	needGloo(t)
	if out, err := runRanks(t, "gather", 2, nil); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// --- faults ---

// childFault: rank victim kills itself (SIGKILL) while an all-reduce is in
// flight; the other rank's all-reduce must fail within the timeout with
// an *Error naming the victim.
func childFault(ctx context.Context, victim int) (err error) {
	defer op.Catch(&err)
	signal.Ignore(syscall.SIGTERM) // let the survivor report after the launcher's SIGTERM
	g, err := initGroup(ctx)
	if err != nil {
		return err
	}
	defer g.Close()
	x, err := op.FromFloat32(make([]float32, 1<<20), gotch.CPU, 1<<20)
	if err != nil {
		return err
	}
	defer op.Free(x)
	for i := 0; ; i++ {
		if g.Rank() == victim && i == 3 {
			go func() {
				time.Sleep(2 * time.Millisecond)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}()
		}
		start := time.Now()
		err := g.AllReduce([]op.Tensor{x}, Sum)
		took := time.Since(start)
		if err == nil {
			if i > 10000 {
				return errors.New("the victim never died")
			}
			continue
		}
		var de *Error
		if !errors.As(err, &de) || !errors.Is(err, ErrLost) || !reflect.DeepEqual(de.Lost, []int{victim}) {
			return fmt.Errorf("after %d all-reduces: %v, want an error naming rank %d", i, err, victim)
		}
		if took >= g.Timeout() {
			return fmt.Errorf("the failure took %v, the whole timeout", took)
		}
		if again := g.Barrier(); again != err {
			return fmt.Errorf("the broken group answered %v, then %v", err, again)
		}
		fmt.Printf("detected in %v: %v\n", took.Round(time.Millisecond), err)
		return nil
	}
}

func TestFaultLostRank(t *testing.T) {
	needGloo(t)
	out, err := runRanks(t, "kill1", 2, func(o *LaunchOptions) { o.Grace = launchTimeout })
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Rank != 1 || !strings.Contains(ee.Err.Error(), "killed") {
		t.Fatalf("launch: %v, want rank 1 killed\n%s", err, out)
	}
	if !strings.Contains(out, "[rank 0] detected in") || !strings.Contains(out, "allreduce on rank 0 failed: lost rank 1") || strings.Contains(out, "FAIL") {
		t.Errorf("rank 0 did not report the lost rank:\n%s", out)
	}
}

func TestFaultLostStoreHost(t *testing.T) {
	needGloo(t)
	out, err := runRanks(t, "kill0", 2, func(o *LaunchOptions) { o.Grace = launchTimeout; o.TCPStore = true })
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Rank != 0 || !strings.Contains(ee.Err.Error(), "killed") {
		t.Fatalf("launch: %v, want rank 0 killed\n%s", err, out)
	}
	if !strings.Contains(out, "[rank 1] detected in") || !strings.Contains(out, "allreduce on rank 1 failed: lost rank 0") || strings.Contains(out, "FAIL") {
		t.Errorf("rank 1 did not report the lost rank:\n%s", out)
	}
}

func TestInitOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []Options{
		{Rank: 2, World: 2, StoreFile: "x"},
		{Rank: 0, World: 0, StoreFile: "x"},
		{Rank: 0, World: 2},
		{Rank: 0, World: 2, StoreAddr: "h", StorePort: 70000},
		{Backend: "mpi", Rank: 0, World: 1, StoreFile: "x"},
	} {
		if g, err := Init(ctx, o); err == nil {
			g.Close()
			t.Errorf("Init(%+v) accepted", o)
		}
	}
}

// TestRendezvousNamesMissingRanks: a world of 2 where only rank 0 comes.
func TestRendezvousNamesMissingRanks(t *testing.T) {
	needGloo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Init(ctx, Options{Rank: 0, World: 2, StoreFile: t.TempDir() + "/store", Local: true, Timeout: testTimeout})
	if err == nil || !strings.Contains(err.Error(), "rank 1 did not join") {
		t.Errorf("err = %v, want rank 1 named", err)
	}
}

// TestSingleRank: a world of one works without any peer (and gathers
// with a gradient that is the identity's).
func TestSingleRank(t *testing.T) {
	needGloo(t)
	defer op.LockThread()()
	g, err := Init(context.Background(), Options{Rank: 0, World: 1, StoreFile: t.TempDir() + "/store", Local: true, Timeout: testTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var tp op.Tape
	defer tp.Drop()
	x := leaf(&tp, 0)
	y := g.GatherWithGrad(&tp, x)
	op.Backward(tp.Sum(tp.Mul(y, y)))
	xv := f32s(x)
	want := make([]float32, len(xv))
	for i := range xv {
		want[i] = 2 * xv[i]
	}
	if err := near(f32s(tp.Grad(x)), want, 1e-6); err != nil {
		t.Error(err)
	}
	if err := g.Barrier(); err != nil {
		t.Error(err)
	}
	g.Close()
	if err := g.Barrier(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// childFaultBackward: rank 1 dies after GatherWithGrad's forward pass;
// rank 0's backward pass fails, and Explain names rank 1.
func childFaultBackward(ctx context.Context) (err error) {
	defer op.Catch(&err)
	signal.Ignore(syscall.SIGTERM)
	g, err := initGroup(ctx)
	if err != nil {
		return err
	}
	defer g.Close()
	var tp op.Tape
	defer tp.Drop()
	x := leaf(&tp, g.Rank())
	y := g.GatherWithGrad(&tp, x)
	if g.Rank() == 1 {
		time.Sleep(200 * time.Millisecond) // rank 0's forward pass has its data
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	berr := func() (err error) {
		defer op.Catch(&err)
		op.Backward(tp.Sum(tp.Mul(y, y)))
		return nil
	}()
	if berr == nil {
		return errors.New("the backward pass succeeded without rank 1")
	}
	err = g.Explain(berr)
	var de *Error
	if !errors.As(err, &de) || !reflect.DeepEqual(de.Lost, []int{1}) || de.Op != "all_gather backward" {
		return fmt.Errorf("Explain(%v) = %v, want rank 1 named", berr, err)
	}
	fmt.Printf("detected: %v\n", err)
	return nil
}

func TestFaultInBackward(t *testing.T) {
	needGloo(t)
	out, err := runRanks(t, "killgrad", 2, func(o *LaunchOptions) { o.Grace = launchTimeout })
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Rank != 1 {
		t.Fatalf("launch: %v, want rank 1's failure\n%s", err, out)
	}
	if !strings.Contains(out, "[rank 0] detected: dist: all_gather backward on rank 0 failed: lost rank 1") || strings.Contains(out, "FAIL") {
		t.Errorf("rank 0 did not report the lost rank:\n%s", out)
	}
}
