package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
)

// typedErr is an error type of its own, to mix with *fs.PathError.
type typedErr struct{ worker int }

func (e typedErr) Error() string { return "worker failed" }

// Workers of `bench augment` that fail at the same time with errors of
// different types: the first error is returned. (atomic.Value's
// CompareAndSwap panicked on the second type.)
func TestBenchAugmentWorkersFailWithDifferentErrorTypes(t *testing.T) {
	in := t.TempDir()
	writeAugmentInputs(t, in, 2)
	const workers = 4
	var arrived sync.WaitGroup
	arrived.Add(workers)
	var mu sync.Mutex
	calls := 0
	o := benchAugmentOpts{augmentOpts: augmentOpts{Recipe: "simclr", Size: 24, In: in, Workers: workers}, Seconds: 60, Images: 2}
	o.decodeInto = func(*augment.Image, string, []byte, augment.DecodeOptions) error {
		mu.Lock()
		calls++
		k := calls
		mu.Unlock()
		// Every worker fails on its first image, all at once.
		arrived.Done()
		arrived.Wait()
		if k%2 == 0 {
			return &fs.PathError{Op: "read", Path: "x.jpg", Err: os.ErrInvalid}
		}
		return typedErr{k}
	}
	_, err := runBenchAugment(context.Background(), o)
	var pe *fs.PathError
	var te typedErr
	if !errors.As(err, &pe) && !errors.As(err, &te) {
		t.Fatalf("err = %v, want one of the workers' errors", err)
	}
	if calls != workers {
		t.Errorf("%d decode calls, want %d (one per worker)", calls, workers)
	}
}

// The preprocess flags of issue 16 with otherwise valid arguments: a usage
// error naming the flag, not a panic in the manifest's JSON encoding.
func TestPreprocessNonFiniteFlags(t *testing.T) {
	in := t.TempDir()
	copyFile(t, filepath.Join(featTestdata, "utt1.wav"), filepath.Join(in, "utt1.wav"))
	for _, bad := range [][]string{
		{"--features", "mfcc", "--kmeans", "4", "--kmeans-fraction", "NaN"},
		{"--max-seconds", "inf"},
		{"--max-seconds", "-1"},
	} {
		args := append([]string{"preprocess", "--modality", "audio", "--in", in, "--out", t.TempDir(), "--quiet"}, bad...)
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			_, _, err = runCLI(args...)
		}()
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), bad[len(bad)-2][1:]) {
			t.Errorf("%v: exit %d, %v; want a usage error naming the flag", bad, exitCode(err), err)
		}
	}
}

// Every command that reads user data has the same --max-errors: default
// 100, N < 0 for no limit, exit code 4 beyond it (in its help).
func TestMaxErrorsSameEverywhere(t *testing.T) {
	for _, words := range []string{"preprocess", "features", "augment", "tokenize", "tokenizer train"} {
		f := flagSet(t, words).Lookup("max-errors")
		if f == nil {
			t.Errorf("%s: no --max-errors", words)
			continue
		}
		if f.DefValue != fmt.Sprint(defaultMaxErrors) || defaultMaxErrors != 100 || !strings.Contains(f.Usage, "exit code 4") || !strings.Contains(f.Usage, "N < 0: no limit") {
			t.Errorf("%s: --max-errors default %s, usage %q", words, f.DefValue, f.Usage)
		}
		var out, errb bytes.Buffer
		run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, append(strings.Fields(words), "-h"))
		if !strings.Contains(errb.String(), "Exit codes: 2 bad flags; 4 more") {
			t.Errorf("%s -h does not document exit code 4:\n%s", words, errb.String())
		}
	}
}

// readSkips reads OUT/errors.jsonl.
func readSkips(t *testing.T, dir string) []skipRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "errors.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []skipRecord
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r skipRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("errors.jsonl line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// features and augment skip bad inputs under the default --max-errors and
// list each in OUT/errors.jsonl (and on stderr); --max-errors 0 stops with
// exit code 4 after listing the first; a clean run leaves an empty file.
func TestSkippedInputsReported(t *testing.T) {
	wavs := t.TempDir()
	copyFile(t, filepath.Join(featTestdata, "utt3.wav"), filepath.Join(wavs, "good.wav"))
	os.MkdirAll(filepath.Join(wavs, "sub"), 0o755)
	os.WriteFile(filepath.Join(wavs, "sub", "junk.wav"), []byte("not a wav file"), 0o644)
	imgs := t.TempDir()
	writeAugmentInputs(t, imgs, 2)
	os.WriteFile(filepath.Join(imgs, "broken.jpg"), []byte("\xff\xd8\xff\xe0 not really"), 0o644)

	for _, c := range []struct {
		args []string
		bad  string
	}{
		{[]string{"features", "--in", wavs, "--quiet"}, "sub/junk.wav"},
		{[]string{"augment", "--in", imgs, "--recipe", "simclr", "--size", "24", "--quiet"}, "broken.jpg"},
	} {
		out := t.TempDir()
		stdout, stderr, err := runCLI(append(c.args, "--out", out)...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.args[0], err, stderr)
		}
		recs := readSkips(t, out)
		if len(recs) != 1 || recs[0].Path != c.bad || recs[0].Reason == "" || !strings.Contains(stderr, c.bad) {
			t.Errorf("%s: errors.jsonl %+v, stderr %q, stdout %q", c.args[0], recs, stderr, stdout)
		}
		out = t.TempDir()
		_, _, err = runCLI(append(c.args, "--out", out, "--max-errors", "0")...)
		if exitCode(err) != exitDataErrors || !strings.Contains(err.Error(), "errors.jsonl") || len(readSkips(t, out)) != 1 {
			t.Errorf("%s --max-errors 0: exit %d, %v", c.args[0], exitCode(err), err)
		}
	}
	// Nothing skipped: no errors.jsonl, and an earlier run's is removed.
	os.Remove(filepath.Join(wavs, "sub", "junk.wav"))
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "errors.jsonl"), []byte(`{"input":0,"path":"old","reason":"old"}`+"\n"), 0o644)
	if _, _, err := runCLI("features", "--in", wavs, "--out", out, "--quiet"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "errors.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("clean run left errors.jsonl: %v", err)
	}
}
