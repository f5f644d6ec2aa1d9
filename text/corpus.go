package text

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Document is one unit of text from a corpus.
type Document struct {
	Text     string
	File     string // the file it came from
	Line     int    // 1-based line where it starts
	Category string // ReadFortunes: the category (file name); otherwise ""
}

// Split says how a plain-text file is cut into documents.
type Split int

const (
	SplitLines      Split = iota // every non-empty line is a document
	SplitBlankLines              // paragraphs separated by blank lines
	SplitFile                    // the whole file is one document
	// SplitFortune: fortune(6) files, documents separated by lines that
	// hold a single "%". A folder contributes its files without a dot in
	// their names (the .dat indexes and .u8 links beside them are not
	// text).
	SplitFortune
)

// ParseSplit maps "lines", "blank" (or "paragraphs") and "file" to a Split.
func ParseSplit(s string) (Split, error) {
	switch s {
	case "lines", "line":
		return SplitLines, nil
	case "blank", "blank-lines", "paragraphs":
		return SplitBlankLines, nil
	case "file":
		return SplitFile, nil
	case "fortune", "fortunes":
		return SplitFortune, nil
	}
	return 0, fmt.Errorf("text: unknown split %q (lines, blank, file, fortune)", s)
}

// UTF8Policy says what happens to a document with invalid UTF-8 or NUL bytes.
type UTF8Policy int

const (
	// UTF8Error yields a *CorpusError (ErrInvalidUTF8 or ErrNULByte) naming
	// the file and line instead of the document; iteration goes on.
	UTF8Error UTF8Policy = iota
	// UTF8Skip drops the document silently; CorpusStats.Skipped counts it.
	UTF8Skip
	// UTF8Replace replaces each run of invalid bytes with one U+FFFD and
	// removes NUL bytes; CorpusStats.Replaced counts such documents.
	UTF8Replace
)

// ParseUTF8Policy maps "error", "skip" and "replace" to a policy.
func ParseUTF8Policy(s string) (UTF8Policy, error) {
	switch s {
	case "error":
		return UTF8Error, nil
	case "skip":
		return UTF8Skip, nil
	case "replace":
		return UTF8Replace, nil
	}
	return 0, fmt.Errorf("text: unknown invalid-UTF-8 policy %q (error, skip, replace)", s)
}

// Sentinel errors wrapped by *CorpusError.
var (
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	ErrNULByte     = errors.New("NUL byte in text")
	ErrLineTooLong = errors.New("line too long")
	ErrDocTooLong  = errors.New("document too long")
	ErrEmptyFile   = errors.New("empty file")
	ErrBadJSONL    = errors.New("bad JSONL record")
)

// CorpusError is a problem with one document or file; Line is 0 when it
// concerns the whole file.
type CorpusError struct {
	File string
	Line int
	Err  error
}

func (e *CorpusError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("text: %s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("text: %s: %v", e.File, e.Err)
}

func (e *CorpusError) Unwrap() error { return e.Err }

// CorpusStats counts what a Documents iteration saw. It is updated by the
// iterating goroutine only.
type CorpusStats struct {
	Files, Documents int
	Bytes            int64 // text bytes of yielded documents
	Skipped          int   // documents dropped by UTF8Skip
	Replaced         int   // documents repaired by UTF8Replace
}

// CorpusOptions configures Documents. The zero value reads every non-empty
// line as a document, reports invalid UTF-8 as errors, reads the "text" field
// of JSONL records and limits lines to 1 MiB.
type CorpusOptions struct {
	Split     Split
	UTF8      UTF8Policy
	JSONField string // JSONL field holding the text; default "text"
	// MaxLineBytes bounds one line (and one JSONL record); longer lines are
	// skipped without being held in memory and reported with ErrLineTooLong.
	// Default 1 MiB.
	MaxLineBytes int
	// MaxDocBytes bounds a SplitBlankLines/SplitFile document (ErrDocTooLong). Default 16 MiB.
	MaxDocBytes int
	Stats       *CorpusStats // optional
}

func (o *CorpusOptions) defaults() {
	if o.JSONField == "" {
		o.JSONField = "text"
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
	if o.MaxDocBytes <= 0 {
		o.MaxDocBytes = 16 << 20
	}
	if o.Stats == nil {
		o.Stats = new(CorpusStats)
	}
}

// CorpusFiles expands paths: a file is taken as is; a directory is walked
// recursively for *.txt and *.jsonl files (hidden entries skipped). The
// result is sorted within each directory so the order is reproducible.
func CorpusFiles(paths []string) ([]string, error) { return corpusFiles(paths, SplitLines) }

// corpusFiles is CorpusFiles; with SplitFortune a directory contributes
// its regular files without a dot in their names instead.
func corpusFiles(paths []string, split Split) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if path != p && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if split == SplitFortune {
				if d.Type().IsRegular() && !strings.Contains(name, ".") {
					found = append(found, path)
				}
			} else if !d.IsDir() && (strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".jsonl")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
		slices.Sort(found)
		out = append(out, found...)
	}
	return out, nil
}

// Documents streams the documents of paths (files or directories, see
// CorpusFiles). Files ending in .jsonl are JSON Lines whose JSONField is the
// text; other files are plain text cut per opts.Split. Problems with one
// document or file are yielded as *CorpusError values and iteration goes
// on, so a caller can count them against a budget or stop by breaking.
// Memory is bounded by MaxLineBytes and MaxDocBytes whatever the input.
func Documents(ctx context.Context, paths []string, opts CorpusOptions) iter.Seq2[Document, error] {
	return func(yield func(Document, error) bool) {
		r := newDocReader(ctx, paths, opts)
		defer r.close()
		for {
			d, err, ok := r.next()
			if !ok || !yield(d, err) {
				return
			}
		}
	}
}

// lineReader reads lines of bounded length from r.
type lineReader struct {
	r    *bufio.Reader
	max  int
	line int
	buf  []byte
}

// next returns the next line without its newline. tooLong reports a line
// longer than max (its content is discarded). err is io.EOF at the end.
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	lr.line++
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if !tooLong {
			if len(lr.buf)+len(chunk) > lr.max+1 {
				tooLong = true
				lr.buf = lr.buf[:0]
			} else {
				lr.buf = append(lr.buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (len(lr.buf) > 0 || tooLong) && err == io.EOF {
			err = nil // last line without newline
		}
		if err != nil {
			return nil, false, err
		}
		if tooLong {
			return nil, true, nil
		}
		line = bytes.TrimSuffix(lr.buf, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > lr.max {
			return nil, true, nil
		}
		return line, false, nil
	}
}

// docReader is the pull-style reader behind Documents and CorpusSource: no
// goroutines, one open file at a time, closed by close.
type docReader struct {
	ctx     context.Context
	paths   []string
	o       CorpusOptions
	files   []string
	listed  bool
	fi      int
	pending []docResult
	done    bool

	// current file
	path     string
	f        *os.File
	lr       *lineReader
	jsonl    bool
	sawBytes bool
	doc      []byte
	docLine  int
	badLine  int
	docLong  bool
}

type docResult struct {
	d   Document
	err error
}

func newDocReader(ctx context.Context, paths []string, opts CorpusOptions) *docReader {
	opts.defaults()
	return &docReader{ctx: ctx, paths: paths, o: opts}
}

func (r *docReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	r.done = true
}

func (r *docReader) fail(err error) { r.pending = append(r.pending, docResult{err: err}) }

// next returns the next document or per-item error; ok is false at the end.
func (r *docReader) next() (Document, error, bool) {
	for {
		if len(r.pending) > 0 {
			p := r.pending[0]
			r.pending = r.pending[1:]
			return p.d, p.err, true
		}
		if r.done {
			return Document{}, nil, false
		}
		if err := r.ctx.Err(); err != nil {
			r.close()
			return Document{}, err, true
		}
		if !r.listed {
			r.listed = true
			files, err := corpusFiles(r.paths, r.o.Split)
			if err != nil {
				r.close()
				return Document{}, err, true
			}
			r.files = files
		}
		if r.f == nil {
			if r.fi >= len(r.files) {
				r.close()
				continue
			}
			r.openFile(r.files[r.fi])
			r.fi++
			continue
		}
		r.step()
	}
}

func (r *docReader) openFile(path string) {
	r.path = path
	f, err := os.Open(path)
	if err != nil {
		r.fail(&CorpusError{File: path, Err: err})
		return
	}
	r.o.Stats.Files++
	r.f = f
	r.lr = &lineReader{r: bufio.NewReaderSize(f, 64<<10), max: r.o.MaxLineBytes}
	r.jsonl = strings.HasSuffix(path, ".jsonl")
	r.sawBytes, r.doc, r.docLine, r.badLine, r.docLong = false, r.doc[:0], 0, 0, false
}

// emit applies the UTF-8 policy and queues one document.
func (r *docReader) emit(text []byte, line, badLine int) {
	s, ok, err := checkText(text, &r.o)
	if err != nil {
		r.fail(&CorpusError{File: r.path, Line: badLine, Err: err})
		return
	}
	if !ok {
		return
	}
	r.o.Stats.Documents++
	r.o.Stats.Bytes += int64(len(s))
	r.pending = append(r.pending, docResult{d: Document{Text: s, File: r.path, Line: line}})
}

func (r *docReader) flushDoc() {
	defer func() { r.doc, r.badLine, r.docLong = r.doc[:0], 0, false }()
	if r.docLong {
		r.fail(&CorpusError{File: r.path, Line: r.docLine, Err: fmt.Errorf("%w: more than %d bytes", ErrDocTooLong, r.o.MaxDocBytes)})
		return
	}
	if len(bytes.TrimSpace(r.doc)) == 0 {
		return
	}
	bl := r.badLine
	if bl == 0 {
		bl = r.docLine
	}
	r.emit(r.doc, r.docLine, bl)
}

// step reads one line of the current file.
func (r *docReader) step() {
	line, tooLong, err := r.lr.next()
	if err != nil {
		if err != io.EOF {
			r.fail(&CorpusError{File: r.path, Line: r.lr.line, Err: err})
		} else if !r.sawBytes {
			r.fail(&CorpusError{File: r.path, Err: ErrEmptyFile})
		} else if len(r.doc) > 0 || r.docLong {
			r.flushDoc()
		}
		r.f.Close()
		r.f = nil
		return
	}
	r.sawBytes = true
	if tooLong {
		r.fail(&CorpusError{File: r.path, Line: r.lr.line, Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.o.MaxLineBytes)})
		return
	}
	if r.jsonl {
		if len(bytes.TrimSpace(line)) == 0 {
			return
		}
		text, err := jsonField(line, r.o.JSONField)
		if err != nil {
			r.fail(&CorpusError{File: r.path, Line: r.lr.line, Err: err})
			return
		}
		if text != "" {
			r.emit([]byte(text), r.lr.line, r.lr.line)
		}
		return
	}
	switch r.o.Split {
	case SplitLines:
		if len(bytes.TrimSpace(line)) > 0 {
			r.emit(line, r.lr.line, r.lr.line)
		}
	case SplitBlankLines, SplitFile, SplitFortune:
		if r.o.Split == SplitBlankLines && len(bytes.TrimSpace(line)) == 0 ||
			r.o.Split == SplitFortune && string(bytes.TrimRight(line, "\r")) == "%" {
			r.flushDoc()
			return
		}
		if len(r.doc) == 0 && !r.docLong {
			r.docLine = r.lr.line
		}
		if r.badLine == 0 && (!utf8.Valid(line) || bytes.IndexByte(line, 0) >= 0) {
			r.badLine = r.lr.line
		}
		if len(r.doc)+len(line)+1 > r.o.MaxDocBytes {
			r.docLong = true
			r.doc = r.doc[:0]
		}
		if !r.docLong {
			if len(r.doc) > 0 {
				r.doc = append(r.doc, '\n')
			}
			r.doc = append(r.doc, line...)
		}
	}
}

// jsonField extracts a string field of a JSON object. The raw line has been
// checked for length; invalid UTF-8 inside the string is caught afterwards
// by checkText because encoding/json would silently replace it.
func jsonField(line []byte, field string) (string, error) {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(line, &rec); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadJSONL, err)
	}
	raw, ok := rec[field]
	if !ok {
		return "", fmt.Errorf("%w: no %q field", ErrBadJSONL, field)
	}
	if !utf8.Valid(raw) {
		return "", ErrInvalidUTF8
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: field %q is not a string", ErrBadJSONL, field)
	}
	return s, nil
}

// checkText applies the UTF-8 policy. ok is false when the document is to be
// dropped silently.
func checkText(b []byte, o *CorpusOptions) (s string, ok bool, err error) {
	valid := utf8.Valid(b)
	nul := bytes.IndexByte(b, 0) >= 0
	if valid && !nul {
		return string(b), true, nil
	}
	switch o.UTF8 {
	case UTF8Skip:
		o.Stats.Skipped++
		return "", false, nil
	case UTF8Replace:
		o.Stats.Replaced++
		s := strings.ToValidUTF8(string(b), "\uFFFD")
		return strings.ReplaceAll(s, "\x00", ""), true, nil
	}
	if !valid {
		return "", false, ErrInvalidUTF8
	}
	return "", false, ErrNULByte
}

// FortunesDir is where Debian's fortunes packages install their files.
const FortunesDir = "/usr/share/games/fortunes"

// ReadFortunes reads a fortune(6) directory (Debian: FortunesDir) as
// documents labelled by category: every regular file without a dot in its
// name (so not the .dat indexes or .u8 links) is a category, and its
// fortunes are separated by lines holding a single "%". Invalid UTF-8 is
// replaced with U+FFFD. Documents come in category-name order, then file
// order; Line is the fortune's first line.
func ReadFortunes(dir string) ([]Document, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	var docs []Document
	for _, e := range entries {
		name := e.Name()
		if strings.Contains(name, ".") || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
		s := strings.ToValidUTF8(string(data), "\uFFFD")
		s = strings.ReplaceAll(s, "\x00", "")
		line, start := 1, 1
		var cur []string
		push := func() {
			t := strings.TrimSpace(strings.Join(cur, "\n"))
			if t != "" {
				docs = append(docs, Document{Text: t, File: path, Line: start, Category: name})
			}
			cur = cur[:0]
		}
		for l := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
			if strings.TrimRight(l, "\r") == "%" {
				push()
				start = line + 1
			} else {
				cur = append(cur, l)
			}
			line++
		}
		push()
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("text: %s: no fortunes found", dir)
	}
	return docs, nil
}
