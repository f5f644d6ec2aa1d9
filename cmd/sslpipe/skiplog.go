package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// skipLog reports the inputs a command skips under --max-errors: one line
// each on stderr and, for a command that writes an output folder, one JSON
// object per line in OUT/errors.jsonl:
//
//	{"input":3,"path":"spk1/a.wav","reason":"audio: spk1/a.wav: truncated WAV: ..."}
//
// where input is the input's index in the sorted listing and path is
// relative to --in. errors.jsonl exists only when the run skipped an input:
// it is created at the first and written one line per skip, and one left by
// an earlier run is removed when the run starts. A skipLog is used from one
// goroutine.
type skipLog struct {
	cmd    string // command name, the stderr prefix
	stderr io.Writer
	path   string   // OUT/errors.jsonl; "" without an output folder
	f      *os.File // open once an input was skipped
	n      int
}

// skipRecord is one line of errors.jsonl.
type skipRecord struct {
	Input  int    `json:"input"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// newSkipLog starts the report of command cmd; dir is the output folder
// receiving errors.jsonl ("" for stderr only).
func newSkipLog(cmd string, stderr io.Writer, dir string) (*skipLog, error) {
	l := &skipLog{cmd: cmd, stderr: stderr}
	if dir != "" {
		l.path = filepath.Join(dir, "errors.jsonl")
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
	}
	return l, nil
}

// skip reports one skipped input; it fails only if errors.jsonl cannot be
// written.
func (l *skipLog) skip(input int, path string, reason error) error {
	l.n++
	fmt.Fprintf(l.stderr, "sslpipe: %s: skipped %v\n", l.cmd, reason)
	if l.path == "" {
		return nil
	}
	var err error
	if l.f == nil {
		l.f, err = os.Create(l.path)
	}
	if err == nil {
		var b []byte
		if b, err = json.Marshal(skipRecord{Input: input, Path: path, Reason: reason.Error()}); err == nil {
			_, err = l.f.Write(append(b, '\n'))
		}
	}
	if err != nil {
		return fmt.Errorf("%s: writing %s: %w", l.cmd, l.path, err)
	}
	return nil
}

// count is the number of inputs skipped so far.
func (l *skipLog) count() int { return l.n }

// close finishes errors.jsonl.
func (l *skipLog) close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("%s: writing %s: %w", l.cmd, l.path, err)
	}
	return nil
}

// tooManyErr is the error of a command stopped by --max-errors (exit code 4).
func tooManyErr(cmd string, n, limit int, where string) error {
	return fmt.Errorf("%s: %d bad inputs, more than --max-errors %d (listed %s): %w", cmd, n, limit, where, errTooManyDataErrors)
}
