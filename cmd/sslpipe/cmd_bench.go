package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// benchTarget is one `sslpipe bench <name>` measurement.
type benchTarget struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *cmdEnv, args []string) error
}

var benchTargets = map[string]*benchTarget{}

// registerBench adds a target to `sslpipe bench`; called from init of the
// file that owns the measured capability (cmd_augment.go registers "augment").
func registerBench(b *benchTarget) {
	if _, dup := benchTargets[b.Name]; dup {
		panic("sslpipe: bench target registered twice: " + b.Name)
	}
	benchTargets[b.Name] = b
}

func init() {
	register(&command{Name: "bench", Summary: "measure throughput (augment, features, tokenize, ...)", Run: runBench})
}

func runBench(ctx context.Context, env *cmdEnv, args []string) error {
	names := make([]string, 0, len(benchTargets))
	for n := range benchTargets {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.Stderr, "Usage: sslpipe bench <target> [flags]\n\nTargets:\n")
		for _, n := range names {
			fmt.Fprintf(env.Stderr, "  %-12s %s\n", n, benchTargets[n].Summary)
		}
		for n, summary := range torchBenchTargets {
			if _, ok := benchTargets[n]; !ok {
				fmt.Fprintf(env.Stderr, "  %-12s %s [libtorch]\n", n, summary)
			}
		}
		if len(args) == 0 {
			return usagef("bench: no target given (one of: %s)", strings.Join(names, ", "))
		}
		return flagHelp
	}
	b, ok := benchTargets[args[0]]
	if _, torch := torchBenchTargets[args[0]]; !ok && torch && benchFallback != nil {
		return benchFallback(ctx, env, args)
	}
	if !ok {
		return usagef("bench: unknown target %q (one of: %s)", args[0], strings.Join(names, ", "))
	}
	return b.Run(ctx, env, args[1:])
}
