package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// numericFlags lists the numeric flags of every command, by the words that
// run the command ("tokenizer train", "bench augment"). Every bad value of
// TestNumericFlagsRejectBadValues must stop the command in flag parsing with
// exit code 2 and a message naming the flag; TestNumericFlagTableComplete
// fails while a numeric flag of a registered command is missing here. To
// cover a command, add its row and remove it from flagTableTODO.
var numericFlags = []struct {
	cmd   string
	flags []string
}{
	{"preprocess", []string{"shard-size", "part", "parts", "max-errors", "workers", "seed", "max-side", "quality", "max-pixels",
		"rate", "kmeans", "kmeans-fraction", "label-rate", "max-seconds", "vocab", "seq-len"}},
	{"features", []string{"workers", "sample-rate", "num-mel-bins", "num-ceps", "dither", "seed", "max-errors"}},
	{"bench features", []string{"workers", "sample-rate", "num-mel-bins", "num-ceps", "dither", "seed", "seconds"}},
	{"augment", []string{"size", "seed", "workers", "preview-height", "epoch", "limit", "max-errors", "perms", "factor"}},
	{"train", []string{"steps", "batch", "lr", "warmup", "seed", "threads", "workers", "limit", "max-errors", "log-every", "checkpoint-every", "keep", "monitor-every", "nproc-per-node", "dist-timeout"}},
	{"eval", []string{"layer", "batch", "max-train", "max-test", "raw-size", "train-seconds", "workers", "max-iter", "seed", "folds", "repeats", "cv-folds", "random-seeds"}},
	{"embed", []string{"layer", "batch", "workers", "max-errors"}},
	{"bench train", []string{"batch", "steps", "warmup", "threads"}},
	{"bench knn", []string{"train", "test", "dim", "workers"}},
	{"bench data2vec", []string{"batch", "seq", "layers", "top-k", "vocab", "threads", "warmup", "steps"}},
	{"data2vec bench", []string{"batch", "seq", "layers", "top-k", "vocab", "threads", "warmup", "steps"}},
	{"bench augment", []string{"size", "seed", "workers", "seconds", "images"}},
	{"tokenize", []string{"workers", "max-errors"}},
	{"bench tokenize", []string{"workers", "seconds"}},
	{"tokenizer train", []string{"vocab", "min-freq", "max-errors"}},
	{"speechdata", []string{"seed", "pretrain", "valid", "digit-reps", "digit-voices", "test-voices", "workers"}},
	{"doctor", []string{"smoke-steps"}},
	{"hubert labels", []string{"layer", "kmeans", "fraction", "max-frames", "seed", "workers"}},
	{"hubert bench", []string{"batch", "seconds", "steps", "warmup", "threads"}},
	{"bench hubert", []string{"batch", "seconds", "steps", "warmup", "threads"}},
}

// negativeOK are the flags for which a negative value is valid.
var negativeOK = map[string]bool{"max-errors": true, "layer": true, "train-seconds": true} // max-errors < 0: no limit; layer -1: input embeddings; train-seconds -1: from the run

// flagTableTODO are the commands (and bench targets, "bench NAME") whose
// flags are not in numericFlags yet.
var flagTableTODO = map[string]bool{}

// commandWords lists the word sequences that parse flags: every command
// and bench target, with the subcommands of those that have them.
func commandWords() []string {
	var out []string
	for name := range commands {
		switch name {
		case "bench":
			for t := range benchTargets {
				out = append(out, "bench "+t)
			}
		case "tokenizer":
			out = append(out, "tokenizer train")
		case "preprocess":
			out = append(out, "preprocess", "preprocess merge")
		case "hubert":
			out = append(out, "hubert labels", "hubert bench")
		case "data2vec":
			out = append(out, "data2vec bench")
		default:
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// runs reports whether the words' command runs in this test binary.
func runs(words string) bool {
	if flagTableTODO[words] || flagTableTODO[strings.Fields(words)[0]] {
		return false
	}
	f := strings.Fields(words)
	_, torch := torchCommands[f[0]]
	if f[0] == "bench" && len(f) > 1 {
		_, torch = torchBenchTargets[f[1]]
	}
	return cgoBuild || !torch
}

// flagSet returns the FlagSet the command parses, captured from `WORDS -h`.
func flagSet(t *testing.T, words string) *flag.FlagSet {
	t.Helper()
	var fs *flag.FlagSet
	onParseFlags = func(f *flag.FlagSet) { fs = f }
	defer func() { onParseFlags = nil }()
	var out, errb bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, append(strings.Fields(words), "-h"))
	if err != flagHelp || fs == nil {
		t.Fatalf("%s -h: err %v, no flags parsed (list its subcommands in commandWords)", words, err)
	}
	return fs
}

// kind is "int", "uint" or "float" for a numeric flag, "" otherwise.
func kind(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case int, int64:
		return "int"
	case uint, uint64:
		return "uint"
	case float64:
		return "float"
	}
	return ""
}

func TestNumericFlagTableComplete(t *testing.T) {
	listed := map[string][]string{}
	for _, row := range numericFlags {
		listed[row.cmd] = row.flags
	}
	for _, words := range commandWords() {
		if !runs(words) {
			continue
		}
		fs := flagSet(t, words)
		fs.VisitAll(func(f *flag.Flag) {
			if kind(f) != "" && !slices.Contains(listed[words], f.Name) {
				t.Errorf("%s: numeric flag --%s is not in numericFlags", words, f.Name)
			}
		})
		for _, name := range listed[words] {
			if f := fs.Lookup(name); f == nil || kind(f) == "" {
				t.Errorf("%s: numericFlags lists --%s, not a numeric flag of the command", words, name)
			}
		}
	}
}

// badValues are values that no numeric flag accepts, by kind.
func badValues(kind string, negOK bool) []string {
	v := []string{"NaN", "Inf", "-Inf", "3x", "1e-3garbage", "", " 1", "1,5"}
	switch kind {
	case "int", "uint":
		v = append(v, "2.9", "1e3", "99999999999999999999")
	case "float":
		v = append(v, "1e999", "-1e999", "0x1p-2garbage")
	}
	if !negOK || kind == "uint" {
		v = append(v, "-1")
	}
	return v
}

func TestNumericFlagsRejectBadValues(t *testing.T) {
	for _, row := range numericFlags {
		if !runs(row.cmd) {
			continue
		}
		fs := flagSet(t, row.cmd)
		for _, name := range row.flags {
			f := fs.Lookup(name)
			if f == nil {
				t.Errorf("%s: no flag --%s", row.cmd, name)
				continue
			}
			named := regexp.MustCompile(`(^|[^\w-])--?` + regexp.QuoteMeta(name) + `($|[^\w-])`)
			for _, bad := range badValues(kind(f), negativeOK[name]) {
				args := append(strings.Fields(row.cmd), "--"+name, bad)
				var out, errb bytes.Buffer
				err := func() (err error) {
					defer func() {
						if p := recover(); p != nil {
							err = fmt.Errorf("panic: %v", p)
						}
					}()
					return run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, args)
				}()
				if exitCode(err) != exitUsage || !named.MatchString(err.Error()) || strings.Contains(errb.String(), "panic") {
					t.Errorf("sslpipe %s --%s %q: exit %d, err %v; want exit %d naming the flag", row.cmd, name, bad, exitCode(err), err, exitUsage)
				}
			}
		}
	}
}
