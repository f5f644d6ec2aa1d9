//go:build !cgo

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeTorch(t *testing.T, script string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sslpipe-torch")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSLPIPE_TORCH", p)
}

func TestDoctorReportsUnloadableLibtorch(t *testing.T) {
	fakeTorch(t, "echo 'sslpipe-torch: error while loading shared libraries: libsslpipe_tch.so: cannot open shared object file: No such file or directory' >&2\nexit 127\n")
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"doctor"})
	if got := exitCode(err); got != exitNoLibtorch {
		t.Fatalf("exit code %d (err %v), want %d", got, err, exitNoLibtorch)
	}
	if !strings.Contains(err.Error(), "libsslpipe_tch.so") || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("unclear message: %v", err)
	}
}

func TestDoctorPassesThroughChild(t *testing.T) {
	fakeTorch(t, "echo '{\"libtorch_version\": \"9.9\"}'\nexit 0\n")
	var out, errb bytes.Buffer
	if err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"doctor", "--json"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"9.9"`) {
		t.Fatalf("stdout %q", out.String())
	}
	fakeTorch(t, "echo 'doctor: smoke failed' >&2\nexit 1\n")
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"doctor"})
	if exitCode(err) != 1 || !strings.Contains(errb.String(), "smoke failed") {
		t.Fatalf("err %v, stderr %q", err, errb.String())
	}
}

func TestMissingTorchBinary(t *testing.T) {
	t.Setenv("SSLPIPE_TORCH", "")
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"train"})
	if exitCode(err) != exitNoLibtorch {
		t.Fatalf("err %v", err)
	}
}

func TestTorchBenchTargetForwarded(t *testing.T) {
	fakeTorch(t, "echo \"args: $*\"\nexit 0\n")
	var out, errb bytes.Buffer
	// bench goes through runTorchBinary, which execs for non-doctor
	// commands; exercise the forwarding decision without exec.
	called := ""
	saved := benchFallback
	benchFallback = func(ctx context.Context, env *cmdEnv, args []string) error {
		called = strings.Join(args, " ")
		return nil
	}
	defer func() { benchFallback = saved }()
	if err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"bench", "train", "--device", "cpu"}); err != nil {
		t.Fatal(err)
	}
	if called != "train --device cpu" {
		t.Fatalf("forwarded %q", called)
	}
	if err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"bench", "no-such"}); exitCode(err) != exitUsage {
		t.Fatalf("unknown bench target: %v", err)
	}
}
