package pipeline

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File names one input file of a Folder or Manifest source.
type File struct {
	Path  string // path to open (joined with the folder or manifest directory)
	Label string // class directory (Folder) or label column (Manifest); "" if none
	Class int    // index of Label among the sorted class names (Folder), the integer label (Manifest with IntLabels), or -1
}

// Blob is a File with its contents, as produced by ReadFile.
type Blob struct {
	File
	Data []byte
}

// MaxFileSize bounds the files ReadFile loads (default 1 GiB): a larger file
// is a per-sample error, not an allocation.
var MaxFileSize int64 = 1 << 30

// ReadFile is a MapFunc that loads a File's contents. Use it as the first Map
// of a Folder or Manifest pipeline so that reads run on the map's workers.
// A missing or unreadable file becomes a per-sample error naming the path
// (and, for manifests, the line).
func ReadFile(_ context.Context, s Sample[File]) (Blob, error) {
	f, err := os.Open(s.Value.Path)
	if err != nil {
		return Blob{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Blob{}, err
	}
	if !fi.Mode().IsRegular() {
		return Blob{}, fmt.Errorf("not a regular file")
	}
	if fi.Size() > MaxFileSize {
		return Blob{}, fmt.Errorf("file size %d exceeds limit %d", fi.Size(), MaxFileSize)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return Blob{}, fmt.Errorf("read: %w", err)
	}
	return Blob{File: s.Value, Data: data}, nil
}

// FileSource is a random-access list of files: a Folder or a Manifest. Its
// entries are held in memory (a path and label each); file contents are read
// by ReadFile.
type FileSource struct {
	files   []File
	keys    []string // as listed (relative path)
	origins []string // "manifest.csv:12" or ""
	errs    []error  // per-entry errors (bad manifest line)
	classes []string
}

// Len returns the number of entries.
func (f *FileSource) Len() int { return len(f.files) }

// Classes returns the sorted class names of a Folder (nil for a Manifest).
func (f *FileSource) Classes() []string { return f.classes }

// At returns entry i. An invalid manifest line is a *SampleError here.
func (f *FileSource) At(_ context.Context, i int) (Sample[File], error) {
	if i < 0 || i >= len(f.files) {
		return Sample[File]{}, fmt.Errorf("pipeline: file index %d out of range [0,%d)", i, len(f.files))
	}
	s := Sample[File]{Index: i, Value: f.files[i], Key: f.keys[i], Origin: f.origins[i]}
	if f.errs[i] != nil {
		return s, &SampleError{Index: i, Key: s.Key, Origin: s.Origin, Stage: "source", Err: f.errs[i]}
	}
	return s, nil
}

// Open returns a reader at index start.
func (f *FileSource) Open(ctx context.Context, start int) (Reader[File], error) {
	return OpenAt[File](ctx, f, start)
}

// Folder lists the files under root whose extension is one of exts
// (case-insensitive, with or without the dot; none means all files), in
// stable order: sorted by slash-separated path relative to root. A file's
// Label is its first directory below root (the ImageFolder convention) and
// Class that label's index among the sorted labels; files directly in root
// have Label "" and Class -1. Hidden files and directories (".name") are
// skipped.
func Folder(root string, exts ...string) (*FileSource, error) {
	want := map[string]bool{}
	for _, e := range exts {
		want["."+strings.ToLower(strings.TrimPrefix(e, "."))] = true
	}
	var rels []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if len(want) > 0 && !want[strings.ToLower(filepath.Ext(path))] {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: folder %s: %w", root, err)
	}
	slices.Sort(rels)
	src := &FileSource{files: make([]File, len(rels)), keys: rels, origins: make([]string, len(rels)), errs: make([]error, len(rels))}
	classIdx := map[string]int{}
	for _, r := range rels {
		if dir, _, ok := strings.Cut(r, "/"); ok {
			if _, seen := classIdx[dir]; !seen {
				classIdx[dir] = 0
				src.classes = append(src.classes, dir)
			}
		}
	}
	slices.Sort(src.classes)
	for i, c := range src.classes {
		classIdx[c] = i
	}
	for i, r := range rels {
		f := File{Path: filepath.Join(root, filepath.FromSlash(r)), Class: -1}
		if dir, _, ok := strings.Cut(r, "/"); ok {
			f.Label, f.Class = dir, classIdx[dir]
		}
		src.files[i] = f
	}
	return src, nil
}

// ManifestOptions configures Manifest.
type ManifestOptions struct {
	// PathColumn and LabelColumn name the fields (CSV header or JSON keys);
	// defaults "path" and "label". A missing label field gives Label "".
	PathColumn, LabelColumn string
	// IntLabels parses labels as integers into File.Class; a line whose label
	// is not an integer becomes a per-sample error (the line keeps its index).
	IntLabels bool
	// Dir resolves relative paths; default: the manifest's directory.
	Dir string
}

// ErrManifest is wrapped by errors about a manifest as a whole (no header,
// no path column); per-line problems are *SampleErrors instead.
var ErrManifest = errors.New("pipeline: bad manifest")

// Manifest reads a file list: CSV (".csv", ".tsv", with a header row) or JSON
// lines (".jsonl", ".ndjson", ".json"; one object per line), each line
// naming a path and optionally a label. Lines keep their order; blank lines
// are ignored. A line that cannot be parsed, lacks a path or has a bad
// integer label still occupies an index and yields a *SampleError naming
// "manifest:line", so errors are reported by the pipeline's policy like any
// unreadable file.
func Manifest(path string, o ManifestOptions) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: manifest: %w", err)
	}
	defer f.Close()
	if o.Dir == "" {
		o.Dir = filepath.Dir(path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return parseJSONL(f, path, o)
	case ".tsv":
		return parseCSV(f, path, '\t', o)
	default:
		return parseCSV(f, path, ',', o)
	}
}

func (o *ManifestOptions) cols() (string, string) {
	p, l := o.PathColumn, o.LabelColumn
	if p == "" {
		p = "path"
	}
	if l == "" {
		l = "label"
	}
	return p, l
}

func (src *FileSource) addLine(name string, line int, path, label string, hasLabel bool, o ManifestOptions, err error) {
	f := File{Path: path, Label: label, Class: -1}
	if err == nil && path == "" {
		err = errors.New("empty path")
	}
	if err == nil && o.IntLabels {
		if !hasLabel {
			err = errors.New("missing label")
		} else if c, perr := strconv.Atoi(strings.TrimSpace(label)); perr != nil {
			err = fmt.Errorf("label %q is not an integer", label)
		} else {
			f.Class = c
		}
	}
	if path != "" && !filepath.IsAbs(path) {
		f.Path = filepath.Join(o.Dir, filepath.FromSlash(path))
	}
	src.files = append(src.files, f)
	src.keys = append(src.keys, path)
	src.origins = append(src.origins, fmt.Sprintf("%s:%d", filepath.Base(name), line))
	src.errs = append(src.errs, err)
}

func parseCSV(r io.Reader, name string, sep rune, o ManifestOptions) (*FileSource, error) {
	pc, lc := o.cols()
	cr := csv.NewReader(bufio.NewReader(r))
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: header: %v", ErrManifest, name, err)
	}
	pi, li := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case pc:
			pi = i
		case lc:
			li = i
		}
	}
	if pi < 0 {
		return nil, fmt.Errorf("%w: %s: no %q column in header", ErrManifest, name, pc)
	}
	src := &FileSource{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("pipeline: manifest %s: %w", name, err)
			}
			src.addLine(name, pe.StartLine, "", "", false, o, pe.Err)
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		var path, label string
		var lerr error
		if pi < len(rec) {
			path = strings.TrimSpace(rec[pi])
		} else {
			lerr = fmt.Errorf("%d fields, no %q field", len(rec), pc)
		}
		hasLabel := li >= 0 && li < len(rec)
		if hasLabel {
			label = strings.TrimSpace(rec[li])
		}
		src.addLine(name, line, path, label, hasLabel, o, lerr)
	}
	return src, nil
}

func parseJSONL(r io.Reader, name string, o ManifestOptions) (*FileSource, error) {
	pc, lc := o.cols()
	br := bufio.NewReader(r)
	src := &FileSource{}
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("pipeline: manifest %s: %w", name, err)
		}
		if t := strings.TrimSpace(string(b)); t == "" {
			continue
		}
		var m map[string]any
		if jerr := json.Unmarshal(b, &m); jerr != nil {
			src.addLine(name, line, "", "", false, o, fmt.Errorf("invalid JSON: %v", jerr))
			continue
		}
		var path, label string
		var perr error
		switch v := m[pc].(type) {
		case string:
			path = v
		case nil:
			perr = fmt.Errorf("no %q field", pc)
		default:
			perr = fmt.Errorf("%q is not a string", pc)
		}
		lv, hasLabel := m[lc]
		switch v := lv.(type) {
		case string:
			label = v
		case float64:
			label = strconv.FormatFloat(v, 'f', -1, 64)
		case nil:
			hasLabel = false
		default:
			b, _ := json.Marshal(v)
			label = string(b)
		}
		src.addLine(name, line, path, label, hasLabel, o, perr)
		if err == io.EOF {
			break
		}
	}
	return src, nil
}
