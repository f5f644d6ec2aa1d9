package text

import (
	"context"

	"github.com/sslpipe/sslpipe/pipeline"
)

// encodeBlock is the number of texts one pipeline sample carries: encoding a
// short line takes about a microsecond, so per-line hand-offs would cost as
// much as the work.
const encodeBlock = 256

// EncodeAll encodes texts on workers goroutines (<= 0: GOMAXPROCS) through
// an ordered pipeline.Map stage and returns the ids in input order, with the
// post-processor's special tokens when addSpecial is set. It returns early
// with ctx's error if ctx is cancelled; no goroutine outlives the call.
func (t *Tokenizer) EncodeAll(ctx context.Context, texts []string, addSpecial bool, workers int) ([][]int32, error) {
	var blocks [][]string
	for i := 0; i < len(texts); i += encodeBlock {
		blocks = append(blocks, texts[i:min(len(texts), i+encodeBlock)])
	}
	enc := pipeline.Map(pipeline.From(pipeline.Slice(blocks), pipeline.Order{}),
		func(_ context.Context, s pipeline.Sample[[]string]) ([][]int32, error) {
			out := make([][]int32, len(s.Value))
			n := 0
			for _, txt := range s.Value {
				n += len(txt)/3 + 2
			}
			// One backing array per block: fewer, larger allocations.
			buf := make([]int32, 0, n)
			for i, txt := range s.Value {
				start := len(buf)
				buf = t.AppendIDs(buf, txt)
				out[i] = buf[start:len(buf):len(buf)]
				if addSpecial {
					out[i] = t.AddSpecial(out[i])
				}
			}
			return out, nil
		}, pipeline.MapOptions{Name: "tokenize", Workers: workers, Chunk: 1})
	out := make([][]int32, 0, len(texts))
	for s, err := range pipeline.All(ctx, enc, pipeline.RunOptions{}) {
		if err != nil {
			return nil, err
		}
		out = append(out, s.Value...)
	}
	return out, nil
}
