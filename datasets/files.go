package datasets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/sslpipe/sslpipe/pipeline"
)

// Folder reads a labelled folder: every file under root whose extension is
// one of exts (none: all files) is an example, its class the first
// directory below root (root/<class>/.../file, the ImageFolder convention of
// pipeline.Folder), classes sorted by name. Keys are the file paths (root
// joined with the relative path), in sorted order. A file directly in root
// has no class and is an error naming it; a folder with no files is an
// error.
func Folder(root string, exts ...string) (*Set, error) {
	src, err := pipeline.Folder(root, exts...)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if src.Len() == 0 {
		return nil, fmt.Errorf("%w: %s: no matching files in labelled folder", ErrFormat, root)
	}
	s := &Set{Name: root, Classes: src.Classes()}
	for i := range src.Len() {
		smp, err := src.At(context.Background(), i)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %w", root, err)
		}
		if smp.Value.Class < 0 {
			return nil, fmt.Errorf("%w: %s: file directly in the labelled folder has no class directory", ErrFormat, smp.Value.Path)
		}
		s.Keys = append(s.Keys, smp.Value.Path)
		s.Labels = append(s.Labels, smp.Value.Class)
	}
	return s, s.validate()
}

// Manifest reads a labelled manifest: CSV or TSV with a header row holding
// "path" and "label" columns, or JSON lines with "path" and "label" keys
// (the formats of pipeline.Manifest; relative paths resolve against the
// manifest's directory). Every line must have a path and a non-empty label;
// the first bad line is an error naming "manifest:line". Classes are the
// distinct labels, sorted numerically when all are integers and by name
// otherwise; Labels index into them. Keys are the resolved paths.
func Manifest(path string) (*Set, error) {
	src, err := pipeline.Manifest(path, pipeline.ManifestOptions{})
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if src.Len() == 0 {
		return nil, fmt.Errorf("%w: %s: manifest lists no files", ErrFormat, path)
	}
	s := &Set{Name: path}
	names := make([]string, src.Len())
	for i := range src.Len() {
		smp, err := src.At(context.Background(), i)
		if err != nil {
			var se *pipeline.SampleError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%w: %s: %v", ErrFormat, se.Origin, se.Err)
			}
			return nil, fmt.Errorf("datasets: %s: %w", path, err)
		}
		if smp.Value.Label == "" {
			return nil, fmt.Errorf("%w: %s: %s has no label", ErrFormat, smp.Origin, smp.Key)
		}
		names[i] = smp.Value.Label
		s.Keys = append(s.Keys, smp.Value.Path)
	}
	s.Classes, s.Labels = indexLabels(names)
	return s, s.validate()
}

// indexLabels maps label names to class indices; classes sorted
// numerically if every name is an integer, else lexically.
func indexLabels(names []string) ([]string, []int) {
	seen := map[string]bool{}
	var classes []string
	allInt := true
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			classes = append(classes, n)
			if _, err := strconv.Atoi(n); err != nil {
				allInt = false
			}
		}
	}
	if allInt {
		slices.SortFunc(classes, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		})
	} else {
		slices.Sort(classes)
	}
	idx := make(map[string]int, len(classes))
	for i, c := range classes {
		idx[c] = i
	}
	labels := make([]int, len(names))
	for i, n := range names {
		labels[i] = idx[n]
	}
	return classes, labels
}

// Open reads a labelled set named by spec: "fashion-mnist:train" or
// "fashion-mnist:test" (optionally "@DIR"), a manifest (a file ending in
// .csv, .tsv, .jsonl, .ndjson or .json) or a labelled folder (a directory;
// exts filters its files).
func Open(spec string, exts ...string) (*Set, error) {
	if split, dir, ok := IsFashionMNISTSpec(spec); ok {
		return FashionMNIST(dir, split)
	}
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if fi.IsDir() {
		return Folder(spec, exts...)
	}
	return Manifest(spec)
}

// AlignClasses gives a and b the same Classes, the union of theirs, and
// remaps their Labels, so that a probe trained on a scores b by class name
// even when one set lacks a class. Sets that already share their class
// list are left unchanged; otherwise the union is sorted as Manifest sorts
// labels (numerically when every name is an integer). It returns the
// classes present in only one of the two sets.
func AlignClasses(a, b *Set) (onlyA, onlyB []string) {
	if slices.Equal(a.Classes, b.Classes) {
		return nil, nil
	}
	inA := map[string]bool{}
	inB := map[string]bool{}
	var names []string
	for _, c := range a.Classes {
		inA[c] = true
		names = append(names, c)
	}
	for _, c := range b.Classes {
		inB[c] = true
		if !inA[c] {
			names = append(names, c)
			onlyB = append(onlyB, c)
		}
	}
	for _, c := range a.Classes {
		if !inB[c] {
			onlyA = append(onlyA, c)
		}
	}
	union, _ := indexLabels(names)
	idx := make(map[string]int, len(union))
	for i, c := range union {
		idx[c] = i
	}
	for _, s := range []*Set{a, b} {
		labels := make([]int, len(s.Labels))
		for i, l := range s.Labels {
			labels[i] = idx[s.Classes[l]]
		}
		s.Labels, s.Classes = labels, union
	}
	return onlyA, onlyB
}
