package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitFailure},
		{usagef("bad flag"), exitUsage},
		{fmt.Errorf("x: %w", errNoLibtorch), exitNoLibtorch},
		{fmt.Errorf("x: %w", errTooManyDataErrors), exitDataErrors},
		{fmt.Errorf("x: %w", context.Canceled), exitInterrupted},
		{exitStatus(7), 7},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"no-such-command"})
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "no-such-command") {
		t.Fatalf("err = %v", err)
	}
}

func TestHelpListsCommandsAndExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"version", "doctor", "Exit codes", "130"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
