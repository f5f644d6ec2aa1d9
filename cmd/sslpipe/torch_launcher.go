//go:build !cgo

package main

// Built without cgo, sslpipe has every data command (augment, features,
// tokenize, preprocess, ...) and hands the commands that need libtorch
// (doctor, train, eval, embed, ...) to sslpipe-torch, the cgo build of the
// same program, found beside this executable (or at $SSLPIPE_TORCH). For
// doctor it runs it as a child process, so a libtorch that cannot be loaded
// is reported clearly (exit code 3) instead of failing in the loader.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

func init() {
	benchFallback = func(ctx context.Context, env *cmdEnv, args []string) error {
		return runTorchBinary(ctx, env, append([]string{"bench"}, args...))
	}
	for name, summary := range torchCommands {
		name := name
		register(&command{Name: name, Summary: summary + " [libtorch]", Run: func(ctx context.Context, env *cmdEnv, args []string) error {
			return runTorchBinary(ctx, env, append([]string{name}, args...))
		}})
	}
}

// torchBinary finds sslpipe-torch.
func torchBinary() (string, error) {
	if p := os.Getenv("SSLPIPE_TORCH"); p != "" {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), "sslpipe-torch")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s not found (run 'make build', which builds it against the local libtorch)", errNoLibtorch, p)
	}
	return p, nil
}

func runTorchBinary(ctx context.Context, env *cmdEnv, args []string) error {
	bin, err := torchBinary()
	if err != nil {
		return err
	}
	if args[0] != "doctor" {
		// Become sslpipe-torch: signals, stdin and exit codes need no relaying.
		return syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout = env.Stdout
	cmd.Stderr = &stderr
	err = cmd.Run()
	env.Stderr.Write(stderr.Bytes())
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 127 || err != nil && strings.Contains(stderr.String(), "error while loading shared libraries") {
		return fmt.Errorf("%w: %s could not load libtorch or the sslpipe shim library: %s\nhint: run 'make build' (it builds the shim for the libtorch found), or set LD_LIBRARY_PATH to the folder holding libsslpipe_tch.so and libtorch",
			errNoLibtorch, bin, strings.TrimSpace(stderr.String()))
	}
	if errors.As(err, &ee) {
		return exitStatus(ee.ExitCode())
	}
	return err
}
