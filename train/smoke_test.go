package train

import (
	"context"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
)

func TestSmokeMLPCPU(t *testing.T) {
	res, err := SmokeMLP(context.Background(), gotch.CPU, 300, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cpu: loss %.4f -> %.5f (%.0fx) in %d steps, %.2fs", res.First, res.Last, res.Ratio(), res.Steps, res.Seconds)
	if res.Ratio() < 10 {
		t.Fatalf("loss fell only %.1fx (%.4f -> %.5f); want at least 10x", res.Ratio(), res.First, res.Last)
	}
}

func TestSmokeMLPCUDA(t *testing.T) {
	if !gotch.CUDA.IsAvailable() {
		t.Skip("no CUDA device in this libtorch")
	}
	res, err := SmokeMLP(context.Background(), gotch.CudaBuilder(0), 300, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cuda: loss %.4f -> %.5f (%.0fx) in %.2fs", res.First, res.Last, res.Ratio(), res.Seconds)
	if res.Ratio() < 10 {
		t.Fatalf("loss fell only %.1fx on CUDA", res.Ratio())
	}
}

func TestSmokeMLPDeterministic(t *testing.T) {
	a, err := SmokeMLP(context.Background(), gotch.CPU, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SmokeMLP(context.Background(), gotch.CPU, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Losses {
		if a.Losses[i] != b.Losses[i] {
			t.Fatalf("same seed, step %d: %v vs %v", i, a.Losses[i], b.Losses[i])
		}
	}
}

func TestSmokeMLPCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := SmokeMLP(ctx, gotch.CPU, 10, 1); err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLibtorchInfo(t *testing.T) {
	info, err := Libtorch()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", info)
	if info.Version == "" || info.Path == "" || !strings.HasSuffix(info.ShimPath, "libsslpipe_tch.so") {
		t.Fatalf("incomplete info: %+v", info)
	}
	if info.CUDAAvailable != (len(info.CUDADevices) > 0) {
		t.Fatalf("cuda_available %v with devices %v", info.CUDAAvailable, info.CUDADevices)
	}
}

func TestStubbedOpReturnsError(t *testing.T) {
	info, err := Libtorch()
	if err != nil {
		t.Fatal(err)
	}
	if info.StubbedOps == 0 {
		t.Skip("this libtorch needed no stubs")
	}
	// empty_permuted appeared in libtorch 2.1; on older builds the shim
	// stubs it and gotch must return the error, not crash.
	if !strings.HasPrefix(info.Version, "1.") {
		t.Skip("op exists in this libtorch")
	}
	_, err = emptyPermuted()
	if err == nil || !strings.Contains(err.Error(), "not supported by libtorch") {
		t.Fatalf("stubbed op: err = %v, want 'not supported by libtorch'", err)
	}
}

func TestParseDevice(t *testing.T) {
	for _, s := range []string{"", "auto", "cpu"} {
		d, err := ParseDevice(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if s == "cpu" && d != gotch.CPU {
			t.Fatalf("cpu -> %v", d)
		}
	}
	for _, s := range []string{"gpu", "cuda:x", "cuda-1", "cuda:-1"} {
		if _, err := ParseDevice(s); err == nil {
			t.Fatalf("%q accepted", s)
		}
	}
	if !gotch.CUDA.IsAvailable() {
		if _, err := ParseDevice("cuda"); err == nil {
			t.Fatal("cuda accepted without CUDA")
		}
	}
}
