package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/sslpipe/sslpipe/internal/buildinfo"
)

func init() {
	register(&command{Name: "version", Summary: "print the sslpipe, Go and gotch versions", Run: runVersion})
}

func runVersion(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("version", env.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "sslpipe %s (%s, gotch %s)\n", buildinfo.Version, runtime.Version(), buildinfo.GotchVersion)
	return nil
}
