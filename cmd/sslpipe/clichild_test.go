package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// cliArgsEnv, when set in the environment of this test binary, makes it
// run as the sslpipe command with the JSON-encoded arguments (tests start
// it as several processes: data-parallel ranks).
const cliArgsEnv = "SSLPIPE_TEST_CLI_ARGS"

func TestMain(m *testing.M) {
	if a := os.Getenv(cliArgsEnv); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			fmt.Fprintln(os.Stderr, "bad", cliArgsEnv, err)
			os.Exit(2)
		}
		// A rank that the --nproc-per-node launcher started (this
		// binary, as os.Executable(), with `train ...`) inherited the
		// launcher's variable: its own arguments are on its command line.
		if len(os.Args) > 1 && os.Args[1] == "train" {
			args = os.Args[1:]
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, &cmdEnv{Stdout: os.Stdout, Stderr: os.Stderr}, args)
		stop()
		var es exitStatus
		if err != nil && !errors.Is(err, flagHelp) && !errors.As(err, &es) {
			fmt.Fprintf(os.Stderr, "sslpipe: %v\n", err)
		}
		os.Exit(exitCode(err))
	}
	os.Exit(m.Run())
}
