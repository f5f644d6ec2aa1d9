//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/internal/buildinfo"
	"github.com/sslpipe/sslpipe/train"
)

func init() {
	register(&command{Name: "doctor", Summary: "check libtorch, CUDA, cuDNN and BLAS; --smoke trains a tiny MLP", Run: runDoctor})
}

type doctorOptions struct {
	JSON       bool
	Smoke      bool
	SmokeSteps int
}

// doctorReport is `sslpipe doctor --json`.
type doctorReport struct {
	SslpipeVersion string `json:"sslpipe_version"`
	GoVersion      string `json:"go_version"`
	GotchVersion   string `json:"gotch_version"`
	OS             string `json:"os"`
	*train.LibtorchInfo
	Smoke []*train.SmokeResult `json:"smoke,omitempty"`
}

func runDoctor(ctx context.Context, env *cmdEnv, args []string) error {
	var o doctorOptions
	fs := newFlagSet("doctor", env.Stderr)
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object")
	fs.BoolVar(&o.Smoke, "smoke", false, "also train a tiny MLP on each device and report the loss")
	intVar(fs, &o.SmokeSteps, "smoke-steps", 300, 1, 1_000_000, "steps of the smoke training")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return doctor(ctx, env, o)
}

func doctor(ctx context.Context, env *cmdEnv, o doctorOptions) error {
	train.SetNumThreads(0) // as every sslpipe command does: one intra-op thread per core
	info, err := train.Libtorch()
	if err != nil {
		return fmt.Errorf("%w: %v", errNoLibtorch, err)
	}
	rep := doctorReport{
		SslpipeVersion: buildinfo.Version,
		GoVersion:      runtime.Version(),
		GotchVersion:   buildinfo.GotchVersion,
		OS:             runtime.GOOS + "/" + runtime.GOARCH,
		LibtorchInfo:   info,
	}
	if o.Smoke {
		devs := []gotch.Device{gotch.CPU}
		if info.CUDAAvailable {
			devs = append(devs, gotch.CudaBuilder(0))
		}
		for _, d := range devs {
			r, err := train.SmokeMLP(ctx, d, o.SmokeSteps, 1)
			if err != nil {
				return fmt.Errorf("doctor: smoke training on %s: %w", train.DeviceName(d), err)
			}
			rep.Smoke = append(rep.Smoke, r)
		}
	}
	if o.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printDoctor(env, &rep)
	}
	for _, r := range rep.Smoke {
		if r.Ratio() < 10 {
			return fmt.Errorf("doctor: smoke training on %s: loss fell only %.1fx (%.4f -> %.4f)", r.Device, r.Ratio(), r.First, r.Last)
		}
	}
	return nil
}

func printDoctor(env *cmdEnv, r *doctorReport) {
	w := env.Stdout
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "sslpipe     %s (%s, %s, gotch %s)\n", r.SslpipeVersion, r.GoVersion, r.OS, r.GotchVersion)
	fmt.Fprintf(w, "libtorch    %s (%s)\n", r.Version, r.Path)
	fmt.Fprintf(w, "shim        %s\n", r.ShimPath)
	fmt.Fprintf(w, "            %d gotch ops stubbed (not in this libtorch; they return an error)\n", r.StubbedOps)
	fmt.Fprintf(w, "CUDA        %s", yes(r.CUDAAvailable))
	if r.CUDAAvailable {
		fmt.Fprintf(w, ", %d device(s): %s", len(r.CUDADevices), strings.Join(r.CUDADevices, "; "))
	}
	fmt.Fprintln(w)
	cudnn := yes(r.CuDNN)
	if r.CuDNNVersion > 0 {
		cudnn += fmt.Sprintf(" (version %d)", r.CuDNNVersion)
	}
	fmt.Fprintf(w, "cuDNN       %s\n", cudnn)
	blas := "none mapped"
	if len(r.BLAS) > 0 {
		blas = strings.Join(r.BLAS, ", ")
	}
	fmt.Fprintf(w, "BLAS        %s (libtorch build: BLAS_INFO=%s)\n", blas, r.BLASBuild)
	if !strings.Contains(blas, "openblas") && !strings.Contains(blas, "mkl") {
		fmt.Fprintf(w, "            hint: install libopenblas0-pthread; the reference BLAS makes CPU training about 2x slower\n")
	}
	fmt.Fprintf(w, "threads     %d intra-op (%s)\n", r.Threads, r.Parallel)
	for _, s := range r.Smoke {
		fmt.Fprintf(w, "smoke %-5s loss %.4f -> %.5f (%.0fx lower) in %d steps, %.2fs\n", s.Device, s.First, s.Last, s.Ratio(), s.Steps, s.Seconds)
	}
}
