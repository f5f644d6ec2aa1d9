package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/sslpipe/sslpipe/text"
)

func init() {
	register(&command{Name: "tokenizer", Summary: "train a WordPiece or byte-level BPE tokenizer (tokenizer.json)", Run: runTokenizerCmd})
}

// tokenizerTrainOpts are the flags of `sslpipe tokenizer train`.
type tokenizerTrainOpts struct {
	Kind      string
	Vocab     int
	MinFreq   int
	In        []string
	Fortunes  string
	Out       string
	Split     string
	UTF8      string
	Field     string
	MaxErrors int
	Cased     bool
	Special   string
	JSON      bool
}

func runTokenizerCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.Stderr, "Usage: sslpipe tokenizer train --kind wordpiece|bpe --vocab 8000 --in DIR --out tokenizer.json\n")
		if len(args) == 0 {
			return usagef("tokenizer: no subcommand given (train)")
		}
		return flagHelp
	}
	if args[0] != "train" {
		return usagef("tokenizer: unknown subcommand %q (train)", args[0])
	}
	o, err := parseTokenizerTrain(env, args[1:])
	if err != nil {
		return err
	}
	return runTokenizerTrain(ctx, env, o)
}

func parseTokenizerTrain(env *cmdEnv, args []string) (tokenizerTrainOpts, error) {
	var o tokenizerTrainOpts
	var in string
	fs := newFlagSet("tokenizer train", env.Stderr)
	fs.StringVar(&o.Kind, "kind", "wordpiece", "wordpiece (BERT) or bpe (byte-level, RoBERTa/GPT-2)")
	intVar(fs, &o.Vocab, "vocab", 8000, 10, 1<<22, "vocabulary size, including special tokens")
	intVar(fs, &o.MinFreq, "min-freq", 2, 1, math.MaxInt32, "minimum pair frequency for a merge")
	fs.StringVar(&in, "in", "", "comma-separated corpus files or directories (*.txt, *.jsonl)")
	fs.StringVar(&o.Fortunes, "fortunes", "", "read a fortune(6) directory instead (e.g. /usr/share/games/fortunes)")
	fs.StringVar(&o.Out, "out", "tokenizer.json", "output tokenizer.json")
	fs.StringVar(&o.Split, "split", "lines", "plain-text documents: lines, blank (paragraphs), file, or fortune (fortune(6) files)")
	fs.StringVar(&o.UTF8, "invalid-utf8", "error", "invalid UTF-8 or NUL: error (counted against --max-errors), skip or replace")
	fs.StringVar(&o.Field, "field", "text", "JSONL field holding the text")
	maxErrorsVar(fs, &o.MaxErrors, "bad documents or files", "on stderr")
	fs.BoolVar(&o.Cased, "cased", false, "wordpiece: keep case and accents")
	fs.StringVar(&o.Special, "special", "", "comma-separated special tokens (default [PAD],[UNK],[CLS],[SEP],[MASK] or <s>,<pad>,</s>,<unk>,<mask>)")
	fs.BoolVar(&o.JSON, "json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sslpipe tokenizer train --kind wordpiece|bpe --vocab 8000 --in DIR --out tokenizer.json\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 2 bad flags; 4 more bad inputs than --max-errors.\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("tokenizer train: unexpected arguments %q", fs.Args())
	}
	if in != "" {
		o.In = strings.Split(in, ",")
	}
	if (len(o.In) == 0) == (o.Fortunes == "") {
		return o, usagef("tokenizer train: give exactly one of --in or --fortunes")
	}
	if o.Kind != "wordpiece" && o.Kind != "bpe" {
		return o, usagef("tokenizer train: --kind must be wordpiece or bpe, not %q", o.Kind)
	}
	if _, err := text.ParseSplit(o.Split); err != nil {
		return o, usagef("tokenizer train: %v", err)
	}
	if _, err := text.ParseUTF8Policy(o.UTF8); err != nil {
		return o, usagef("tokenizer train: %v", err)
	}
	return o, nil
}

// trainSummary is what `tokenizer train` prints.
type trainSummary struct {
	Out       string  `json:"out"`
	Kind      string  `json:"kind"`
	VocabSize int     `json:"vocab_size"`
	Documents int     `json:"documents"`
	Bytes     int64   `json:"bytes"`
	Words     int     `json:"distinct_words"`
	BadInputs int     `json:"bad_inputs"`
	Seconds   float64 `json:"seconds"`
}

func runTokenizerTrain(ctx context.Context, env *cmdEnv, o tokenizerTrainOpts) error {
	start := time.Now()
	topts := text.TrainOptions{Kind: o.Kind, VocabSize: o.Vocab, MinFrequency: o.MinFreq, Cased: o.Cased}
	if o.Special != "" {
		topts.SpecialTokens = strings.Split(o.Special, ",")
	}
	tr, err := text.NewTrainer(topts)
	if err != nil {
		return usagef("tokenizer train: %v", err)
	}
	sum := trainSummary{Out: o.Out, Kind: o.Kind}
	if o.Fortunes != "" {
		docs, err := text.ReadFortunes(o.Fortunes)
		if err != nil {
			return err
		}
		for _, d := range docs {
			tr.Add(d.Text)
			sum.Documents++
			sum.Bytes += int64(len(d.Text))
		}
	} else {
		split, _ := text.ParseSplit(o.Split)
		pol, _ := text.ParseUTF8Policy(o.UTF8)
		for d, err := range text.Documents(ctx, o.In, text.CorpusOptions{Split: split, UTF8: pol, JSONField: o.Field}) {
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				var ce *text.CorpusError
				if !errors.As(err, &ce) {
					return err
				}
				sum.BadInputs++
				fmt.Fprintf(env.Stderr, "sslpipe: tokenizer train: skipped %v\n", err)
				if tooManyErrors(sum.BadInputs, o.MaxErrors) {
					return tooManyErr("tokenizer train", sum.BadInputs, o.MaxErrors, "on stderr")
				}
				continue
			}
			tr.Add(d.Text)
			sum.Documents++
			sum.Bytes += int64(len(d.Text))
		}
	}
	sum.Words = tr.Words()
	if sum.Words == 0 {
		return fmt.Errorf("tokenizer train: no text in the corpus")
	}
	tok, err := tr.Tokenizer(ctx)
	if err != nil {
		return err
	}
	if err := tok.Save(o.Out); err != nil {
		return err
	}
	sum.VocabSize = tok.VocabSize()
	sum.Seconds = time.Since(start).Seconds()
	return printTrainSummary(env.Stdout, sum, o.JSON)
}

func printTrainSummary(w io.Writer, s trainSummary, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(s)
	}
	_, err := fmt.Fprintf(w, "wrote %s: %s, %d tokens, from %d documents (%.1f MB, %d distinct words, %d bad inputs) in %.1fs\n",
		s.Out, s.Kind, s.VocabSize, s.Documents, float64(s.Bytes)/1e6, s.Words, s.BadInputs, s.Seconds)
	return err
}
