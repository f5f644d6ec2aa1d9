package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// flagHelp is returned when the user asked for -h; it exits 0.
var flagHelp = flag.ErrHelp

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its usage to w.
func newFlagSet(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sslpipe "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// onParseFlags, set by tests, sees every FlagSet parseFlags parses.
var onParseFlags func(*flag.FlagSet)

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if onParseFlags != nil {
		onParseFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flagHelp
		}
		return usagef("%v", err)
	}
	return nil
}

// runMethod reads the top-level "method:" of RUN_DIR/config.yaml ("" when
// unreadable: the BYOL path then reports the problem).
func runMethod(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "method:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// flagValue returns the value of --name (or -name, --name=v, -name=v) in
// args before any "--", "" if absent.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"--" + name + "=", "-" + name + "="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				return v
			}
		}
		if (a == "--"+name || a == "-"+name) && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// configMethod reads the top-level "method:" of a YAML config file (""
// when unreadable: the loader reports the problem).
func configMethod(path string) string { return yamlTop(path, "method") }

// configHasPreset reports whether a config file names its preset.
func configHasPreset(path string) bool { return path != "" && yamlTop(path, "preset") != "" }

func yamlTop(path, key string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}
