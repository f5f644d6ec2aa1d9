// Package summary reads, updates and renders the demo summary file,
// runs/<name>/summary.json, that `make demo` and `make reproduce` write:
//
//	{"results": [{"modality": "image", "method": "byol", "probe": "knn",
//	  "trained": 0.87, "random_init": 0.80, "baseline": 0.855,
//	  "baseline_kind": "raw pixels", "train_seconds": 420, "device": "cpu"}, ...]}
//
// Scores are fractions in [0, 1]. An entry is identified by (modality,
// method, probe): Update replaces the entry with the same key or appends a
// new one, and writes the file atomically (temp file, fsync, rename), so
// several demo steps (image, audio, text) can add their rows in turn.
// Concurrent writers must be serialized by the caller.
package summary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Result is one row of the summary.
type Result struct {
	Modality     string  `json:"modality"` // image, audio, text
	Method       string  `json:"method"`   // byol, hubert, data2vec
	Probe        string  `json:"probe"`    // knn, linear
	Trained      float64 `json:"trained"`
	RandomInit   float64 `json:"random_init"`
	Baseline     float64 `json:"baseline"`
	BaselineKind string  `json:"baseline_kind"` // raw pixels, mean MFCC, bag of words
	TrainSeconds float64 `json:"train_seconds"`
	Device       string  `json:"device"`
}

// Key is what identifies a row.
func (r Result) Key() string { return r.Modality + "/" + r.Method + "/" + r.Probe }

// File is the whole summary.
type File struct {
	Results []Result `json:"results"`
}

// ErrFormat is wrapped by errors about an invalid summary file.
var ErrFormat = errors.New("summary: invalid summary file")

func (r Result) validate() error {
	if r.Modality == "" || r.Method == "" || r.Probe == "" {
		return fmt.Errorf("entry %q: modality, method and probe must be set", r.Key())
	}
	for name, v := range map[string]float64{"trained": r.Trained, "random_init": r.RandomInit, "baseline": r.Baseline} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("entry %s: %s = %v is not a fraction in [0, 1]", r.Key(), name, v)
		}
	}
	if r.TrainSeconds < 0 || math.IsNaN(r.TrainSeconds) {
		return fmt.Errorf("entry %s: train_seconds = %v", r.Key(), r.TrainSeconds)
	}
	return nil
}

// Decode parses and validates a summary. Unknown fields are rejected so
// that a misspelt key is noticed; name is used in errors.
func Decode(r io.Reader, name string) (*File, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	seen := map[string]bool{}
	for _, r := range f.Results {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
		}
		if seen[r.Key()] {
			return nil, fmt.Errorf("%w: %s: entry %s appears twice", ErrFormat, name, r.Key())
		}
		seen[r.Key()] = true
	}
	if f.Results == nil {
		f.Results = []Result{}
	}
	return &f, nil
}

// Read reads a summary file; a missing file is an empty summary.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{Results: []Result{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return Decode(bytes.NewReader(b), path)
}

// Set replaces the row with r's key, keeping its position, or appends r.
func (f *File) Set(r Result) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("summary: %v", err)
	}
	for i := range f.Results {
		if f.Results[i].Key() == r.Key() {
			f.Results[i] = r
			return nil
		}
	}
	f.Results = append(f.Results, r)
	return nil
}

// Write writes f to path atomically (temp file in the same folder, fsync,
// rename), creating the folder if needed.
func (f *File) Write(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".summary-*.json")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600
		tmp.Close()
		return fmt.Errorf("summary: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("summary: %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("summary: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("summary: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

// Update reads path (missing: empty), sets r and writes it back.
func Update(path string, r Result) (*File, error) {
	f, err := Read(path)
	if err != nil {
		return nil, err
	}
	if err := f.Set(r); err != nil {
		return nil, err
	}
	return f, f.Write(path)
}

var header = []string{"modality", "method", "probe", "trained", "random init", "baseline", "baseline kind", "train time", "device"}

func (r Result) cells() []string {
	pct := func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }
	return []string{r.Modality, r.Method, r.Probe, pct(r.Trained), pct(r.RandomInit), pct(r.Baseline), r.BaselineKind, duration(r.TrainSeconds), r.Device}
}

func duration(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.0f s", s)
	case s < 3600:
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

// Markdown renders f as a GitHub Markdown table (scores in percent).
func (f *File) Markdown() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|")
	for i := range header {
		if i >= 3 && i <= 5 {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range f.Results {
		b.WriteString("| " + strings.Join(r.cells(), " | ") + " |\n")
	}
	return b.String()
}

// Text renders f as an aligned plain-text table for the terminal.
func (f *File) Text() string {
	rows := [][]string{header}
	for _, r := range f.Results {
		rows = append(rows, r.cells())
	}
	width := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for ri, row := range rows {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i >= 3 && i <= 5 && ri > 0 {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
