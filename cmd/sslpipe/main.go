// Command sslpipe turns raw unlabeled images, audio and text into trained
// self-supervised representations.
//
// Every subcommand lives in its own file (cmd_<name>.go), registers itself
// in init with register, parses its own flags with a flag.FlagSet and calls
// a plain, testable run function. Results go to stdout, progress and errors
// to stderr. Exit codes are mapped in one place, exitCode.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes, documented in `sslpipe --help`.
const (
	exitOK          = 0
	exitFailure     = 1   // the command ran and failed
	exitUsage       = 2   // bad flags or arguments
	exitNoLibtorch  = 3   // libtorch could not be loaded or is missing
	exitDataErrors  = 4   // more bad inputs than --max-errors allows
	exitInterrupted = 130 // SIGINT/SIGTERM; state was saved where the command supports it
)

// command is one subcommand of sslpipe.
type command struct {
	Name    string
	Summary string // one line, shown in `sslpipe --help`
	// Run executes the command. args excludes the command name.
	Run func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv is what a command may write to.
type cmdEnv struct {
	Stdout io.Writer // results
	Stderr io.Writer // progress, warnings, errors
}

var commands = map[string]*command{}

// register adds a subcommand; called from the init function of each cmd_*.go file.
func register(c *command) {
	if _, dup := commands[c.Name]; dup {
		panic("sslpipe: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// usageError marks an error caused by bad flags or arguments (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// errNoLibtorch is wrapped by errors that come from libtorch being absent or unloadable (exit code 3).
var errNoLibtorch = errors.New("libtorch unavailable")

// errTooManyDataErrors is wrapped when bad inputs exceed the allowed budget (exit code 4).
var errTooManyDataErrors = errors.New("too many bad inputs")

// exitStatus carries a child process's exit code through exitCode; the
// child has already reported its error.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func exitCode(err error) int {
	var ue *usageError
	var es exitStatus
	switch {
	case errors.As(err, &es):
		return int(es)
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, errNoLibtorch):
		return exitNoLibtorch
	case errors.Is(err, errTooManyDataErrors):
		return exitDataErrors
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "sslpipe: self-supervised learning pipelines for images, audio and text\n\n")
	fmt.Fprintf(w, "Usage: sslpipe <command> [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun 'sslpipe <command> -h' for a command's flags.\n")
	fmt.Fprintf(w, "\nExit codes:\n  0    success\n  1    the command failed\n  2    bad flags or arguments\n  3    libtorch missing or unloadable (run 'make build' or set LIBTORCH)\n  4    more bad inputs than --max-errors allows\n  130  interrupted (SIGINT/SIGTERM)\n")
}

func run(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printHelp(env.Stdout)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q (see 'sslpipe --help')", args[0])
	}
	return c.Run(ctx, env, args[1:])
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cmdEnv{Stdout: os.Stdout, Stderr: os.Stderr}
	err := run(ctx, env, os.Args[1:])
	var es exitStatus
	if err != nil && !errors.Is(err, flagHelp) && !errors.As(err, &es) {
		fmt.Fprintf(os.Stderr, "sslpipe: %v\n", err)
	}
	if errors.Is(err, flagHelp) {
		err = nil
	}
	stop()
	os.Exit(exitCode(err))
}
