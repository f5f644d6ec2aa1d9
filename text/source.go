package text

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sslpipe/sslpipe/pipeline"
)

// CorpusSource is a pipeline.Source over the documents of a corpus (see
// Documents), so that tokenization and masking run as pipeline.Map stages on
// all cores with per-sample seeds, error budgets and resume. Each item of
// the Documents stream (a document or a *CorpusError) takes one index; a
// *CorpusError becomes a *pipeline.SampleError naming the file and line, so
// the run's ErrorPolicy decides whether it stops the run. Its length is
// unknown (-1) and it has no random access: use Order without Shuffle (or
// with a ShuffleBuffer).
type CorpusSource struct {
	paths []string
	opts  CorpusOptions
}

// NewCorpusSource returns a source over paths read with opts. opts.Stats is
// ignored: each Reader keeps its own counts.
func NewCorpusSource(paths []string, opts CorpusOptions) *CorpusSource {
	opts.Stats = nil
	return &CorpusSource{paths: append([]string(nil), paths...), opts: opts}
}

// Len is -1: the number of documents is known only after reading everything.
func (c *CorpusSource) Len() int { return -1 }

// Open returns a Reader positioned at document index start; the documents
// before it are read and discarded.
func (c *CorpusSource) Open(ctx context.Context, start int) (pipeline.Reader[Document], error) {
	r := &corpusReader{dr: newDocReader(ctx, c.paths, c.opts)}
	for r.index < start {
		if _, err := r.Next(); err != nil {
			var se *pipeline.SampleError
			if errors.As(err, &se) {
				continue
			}
			r.dr.close()
			if err == io.EOF {
				return nil, fmt.Errorf("text: resume position %d is past the end of the corpus (%d documents)", start, r.index)
			}
			return nil, err
		}
	}
	return r, nil
}

// corpusReader has no goroutine: a run that ends without calling Close
// leaves at most one open file, which Close (or the GC) releases.
type corpusReader struct {
	dr    *docReader
	index int
}

func (r *corpusReader) Next() (pipeline.Sample[Document], error) {
	d, err, ok := r.dr.next()
	if !ok {
		return pipeline.Sample[Document]{}, io.EOF
	}
	i := r.index
	if err != nil {
		var ce *CorpusError
		if !errors.As(err, &ce) {
			return pipeline.Sample[Document]{}, err
		}
		r.index++
		origin := ce.File
		if ce.Line > 0 {
			origin = fmt.Sprintf("%s:%d", ce.File, ce.Line)
		}
		return pipeline.Sample[Document]{Index: i}, &pipeline.SampleError{Index: i, Key: ce.File, Origin: origin, Stage: "source", Err: err}
	}
	r.index++
	return pipeline.Sample[Document]{Value: d, Index: i, Key: d.File, Origin: fmt.Sprintf("%s:%d", d.File, d.Line)}, nil
}

func (r *corpusReader) Close() error {
	r.dr.close()
	return nil
}

// EncodeFunc is a pipeline.MapFunc that tokenizes a Document. The Encoding
// carries word indexes for whole-word masking.
func EncodeFunc(tok *Tokenizer, addSpecial bool) pipeline.MapFunc[Document, Encoding] {
	return func(_ context.Context, s pipeline.Sample[Document]) (Encoding, error) {
		return tok.Encode(s.Value.Text, addSpecial), nil
	}
}
