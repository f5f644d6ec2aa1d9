package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/text"
)

// isFortunes reports whether dir looks like a fortune(6) folder: regular
// files without a dot in their names (the .dat indexes beside them).
func isFortunes(dir string) bool {
	es, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	n := 0
	for _, e := range es {
		if e.Type().IsRegular() && !strings.Contains(e.Name(), ".") {
			n++
		}
	}
	return n > 0
}

// openTextFolder serves a raw text folder: a fortune(6) folder (one
// example per fortune, its file as the class) or .txt/.jsonl files (one
// example per line, as preprocess's default split). Raw text is for quick
// tries: its documents are held in memory (preprocess a large corpus
// instead). Each document is encoded with the tokenizer ([CLS] ... [SEP]
// when it has them) and cut to SeqLen tokens.
func openTextFolder(dir string, o Options) (*Dataset, error) {
	if o.Tokenizer == "" {
		return nil, fmt.Errorf("%w: %s: raw text needs a tokenizer (--tokenizer FILE; train one with `sslpipe tokenizer train`, or preprocess the folder with `sslpipe preprocess --modality text`)", ErrSpec, dir)
	}
	tok, err := text.LoadTokenizer(o.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	var docs []text.Document
	var classes []string
	if isFortunes(dir) {
		if docs, err = text.ReadFortunes(dir); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSpec, err)
		}
		seen := map[string]bool{}
		for _, d := range docs {
			if !seen[d.Category] {
				seen[d.Category] = true
				classes = append(classes, d.Category)
			}
		}
	} else {
		files, err := text.CorpusFiles([]string{dir})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSpec, err)
		}
		for doc, err := range text.Documents(context.Background(), files, text.CorpusOptions{}) {
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrSpec, err)
			}
			docs = append(docs, doc)
		}
	}
	classOf := map[string]int{}
	for i, c := range classes {
		classOf[c] = i
	}
	d := &Dataset{Spec: dir, Modality: Text, Kind: "folder", Classes: classes, Labelled: len(classes) > 0, Tokenizer: tok, n: len(docs)}
	d.workers = o.Workers
	d.read = func(_ context.Context, i int) (Example, error) {
		doc := docs[i]
		ex := Example{Key: fmt.Sprintf("%s:%d", filepath.Base(doc.File), doc.Line), Origin: doc.File, Class: -1, Text: doc.Text}
		if d.Labelled {
			ex.Class = classOf[doc.Category]
		}
		ex.Tokens = tok.Encode(doc.Text, true).IDs
		if len(ex.Tokens) > o.SeqLen {
			ex.Tokens = ex.Tokens[:o.SeqLen]
		}
		if len(ex.Tokens) == 0 {
			return ex, fmt.Errorf("data: %s: empty after tokenization", ex.Key)
		}
		return ex, nil
	}
	return d, nil
}

// resamplerCache shares one resampler per input rate between workers.
type resamplerCache struct{ m sync.Map }

func (c *resamplerCache) get(in, out int) (*audio.Resampler, error) {
	if r, ok := c.m.Load(in); ok {
		return r.(*audio.Resampler), nil
	}
	r, err := audio.NewResampler(in, out)
	if err != nil {
		return nil, err
	}
	v, _ := c.m.LoadOrStore(in, r)
	return v.(*audio.Resampler), nil
}
