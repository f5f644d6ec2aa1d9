package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sslpipe/sslpipe/text"
)

func init() {
	register(&command{Name: "tokenize", Summary: "encode each line of a text file to token ids (JSON Lines)", Run: runTokenizeCmd})
	registerBench(&benchTarget{Name: "tokenize", Summary: "tokenizer throughput (MB/s, tokens/s) over a text corpus", Run: runBenchTokenizeCmd})
}

// tokenizeOpts are the flags of `sslpipe tokenize`.
type tokenizeOpts struct {
	Tokenizer string
	In        string
	Out       string
	Special   bool
	Workers   int
	UTF8      string
	MaxErrors int
}

func runTokenizeCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o tokenizeOpts
	fs := newFlagSet("tokenize", env.Stderr)
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json (Hugging Face format)")
	fs.StringVar(&o.In, "in", "", "input text file (one document per line)")
	fs.StringVar(&o.Out, "out", "-", "output JSON Lines file, - for stdout")
	fs.BoolVar(&o.Special, "special", false, "add the tokenizer's special tokens ([CLS] ... [SEP])")
	intVar(fs, &o.Workers, "workers", runtime.GOMAXPROCS(0), 1, maxWorkers, "encoding goroutines")
	fs.StringVar(&o.UTF8, "invalid-utf8", "error", "invalid UTF-8 or NUL in a line: error (counted against --max-errors), skip or replace")
	maxErrorsVar(fs, &o.MaxErrors, "bad lines", "on stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sslpipe tokenize --tokenizer tokenizer.json --in FILE [--out FILE.jsonl] [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 2 bad flags; 4 more bad lines than --max-errors (the lines before are written).\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Tokenizer == "" || o.In == "" || fs.NArg() > 0 {
		return usagef("tokenize: need --tokenizer and --in (and no other arguments)")
	}
	if _, err := text.ParseUTF8Policy(o.UTF8); err != nil {
		return usagef("tokenize: %v", err)
	}
	var w io.Writer = env.Stdout
	if o.Out != "-" {
		f, err := os.Create(o.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	n, err := runTokenize(ctx, env.Stderr, w, o)
	if err != nil {
		return err
	}
	if o.Out != "-" {
		fmt.Fprintf(env.Stderr, "sslpipe: wrote %d lines of ids to %s\n", n, o.Out)
	}
	return nil
}

// runTokenize writes one JSON array of ids per non-empty input line and
// returns the number of lines written. Lines are encoded in blocks so memory
// stays bounded for any input size.
func runTokenize(ctx context.Context, stderr, out io.Writer, o tokenizeOpts) (int, error) {
	tok, err := text.LoadTokenizer(o.Tokenizer)
	if err != nil {
		return 0, err
	}
	pol, err := text.ParseUTF8Policy(o.UTF8)
	if err != nil {
		return 0, usagef("tokenize: %v", err)
	}
	bw := bufio.NewWriterSize(out, 1<<16)
	written, bad := 0, 0
	var block []string
	blockBytes := 0
	flush := func() error {
		ids, err := tok.EncodeAll(ctx, block, o.Special, o.Workers)
		if err != nil {
			return err
		}
		for _, row := range ids {
			bw.Write(appendIDsJSON(nil, row))
			bw.WriteByte('\n')
		}
		written += len(block)
		block, blockBytes = block[:0], 0
		return nil
	}
	st, err := os.Stat(o.In)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, usagef("tokenize: --in %s is a directory; give a text file", o.In)
	}
	for d, err := range text.Documents(ctx, []string{o.In}, text.CorpusOptions{Split: text.SplitLines, UTF8: pol}) {
		if err != nil {
			var ce *text.CorpusError
			if !errors.As(err, &ce) {
				return written, err
			}
			bad++
			fmt.Fprintf(stderr, "sslpipe: tokenize: skipped %v\n", err)
			if tooManyErrors(bad, o.MaxErrors) {
				// Keep the lines before the failure: flush what was read.
				if len(block) > 0 {
					if err := flush(); err != nil {
						return written, err
					}
				}
				bw.Flush()
				return written, tooManyErr("tokenize", bad, o.MaxErrors, "on stderr")
			}
			continue
		}
		block = append(block, d.Text)
		blockBytes += len(d.Text)
		if len(block) == 8192 || blockBytes >= 16<<20 { // bounded memory whatever the line lengths
			if err := flush(); err != nil {
				return written, err
			}
		}
	}
	if len(block) > 0 {
		if err := flush(); err != nil {
			return written, err
		}
	}
	return written, bw.Flush()
}

func appendIDsJSON(dst []byte, ids []int32) []byte {
	dst = append(dst, '[')
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(id), 10)
	}
	return append(dst, ']')
}

// benchTokenizeOpts are the flags of `sslpipe bench tokenize`.
type benchTokenizeOpts struct {
	Tokenizer string
	In        []string
	Workers   int
	Seconds   float64
	JSON      bool
}

// benchTokenizeResult is what `sslpipe bench tokenize` prints.
type benchTokenizeResult struct {
	Tokenizer   string  `json:"tokenizer"`
	Kind        string  `json:"kind"`
	Workers     int     `json:"workers"`
	Lines       int     `json:"lines"`
	Passes      int     `json:"passes"`
	Seconds     float64 `json:"seconds"`
	MBPerS      float64 `json:"mb_per_s"`
	TokensPerS  float64 `json:"tokens_per_s"`
	LinesPerS   float64 `json:"lines_per_s"`
	BytesPerTok float64 `json:"bytes_per_token"`
}

func runBenchTokenizeCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o benchTokenizeOpts
	var in string
	fs := newFlagSet("bench tokenize", env.Stderr)
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json")
	fs.StringVar(&in, "in", "", "comma-separated text files or directories (*.txt, *.jsonl); every non-empty line is one input")
	intVar(fs, &o.Workers, "workers", 1, 1, maxWorkers, "encoding goroutines")
	floatVar(fs, &o.Seconds, "seconds", 5, benchSeconds, "measure for about this long (whole passes over the corpus)")
	fs.BoolVar(&o.JSON, "json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Tokenizer == "" || in == "" || fs.NArg() > 0 {
		return usagef("bench tokenize: need --tokenizer and --in")
	}
	o.In = strings.Split(in, ",")
	r, err := benchTokenize(ctx, o)
	if err != nil {
		return err
	}
	if o.JSON {
		return json.NewEncoder(env.Stdout).Encode(r)
	}
	_, err = fmt.Fprintf(env.Stdout, "tokenize %s (%s): workers=%d lines=%d passes=%d seconds=%.2f mb_per_s=%.2f tokens_per_s=%.0f lines_per_s=%.0f bytes_per_token=%.2f\n",
		r.Tokenizer, r.Kind, r.Workers, r.Lines, r.Passes, r.Seconds, r.MBPerS, r.TokensPerS, r.LinesPerS, r.BytesPerTok)
	return err
}

// benchTokenize loads the corpus lines into memory, then encodes them
// (without special tokens, as HF's encodeBatch benchmark does) in whole
// passes until o.Seconds have elapsed.
func benchTokenize(ctx context.Context, o benchTokenizeOpts) (benchTokenizeResult, error) {
	tok, err := text.LoadTokenizer(o.Tokenizer)
	if err != nil {
		return benchTokenizeResult{}, err
	}
	var lines []string
	var nbytes int64
	for d, err := range text.Documents(ctx, o.In, text.CorpusOptions{Split: text.SplitLines, UTF8: text.UTF8Replace}) {
		if err != nil {
			var ce *text.CorpusError
			if errors.As(err, &ce) && errors.Is(err, text.ErrEmptyFile) {
				continue
			}
			return benchTokenizeResult{}, err
		}
		lines = append(lines, d.Text)
		nbytes += int64(len(d.Text))
	}
	if len(lines) == 0 {
		return benchTokenizeResult{}, fmt.Errorf("bench tokenize: no lines in %s", strings.Join(o.In, ","))
	}
	r := benchTokenizeResult{Tokenizer: o.Tokenizer, Kind: tok.Kind(), Workers: o.Workers, Lines: len(lines)}
	// One warm-up pass, not timed.
	if _, err := tok.EncodeAll(ctx, lines, false, o.Workers); err != nil {
		return r, err
	}
	var tokens int64
	start := time.Now()
	for time.Since(start).Seconds() < o.Seconds {
		ids, err := tok.EncodeAll(ctx, lines, false, o.Workers)
		if err != nil {
			return r, err
		}
		for _, row := range ids {
			tokens += int64(len(row))
		}
		r.Passes++
	}
	r.Seconds = time.Since(start).Seconds()
	r.MBPerS = float64(nbytes) * float64(r.Passes) / r.Seconds / 1e6
	r.TokensPerS = float64(tokens) / r.Seconds
	r.LinesPerS = float64(len(lines)*r.Passes) / r.Seconds
	r.BytesPerTok = float64(nbytes*int64(r.Passes)) / float64(tokens)
	return r, nil
}
