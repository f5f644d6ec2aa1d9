package preprocess

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/text"
)

// textProducer is the text modality. Inputs are the corpus documents
// (text.Documents order); shard j holds the sequences packed from documents
// [j*ShardSize, (j+1)*ShardSize). Packing restarts at each shard, so a shard
// depends on its own documents only (at most one padded sequence per shard)
// and shards can be made independently, resumed and split into parts.
type textProducer struct {
	o       *Options
	n       int
	digest  string
	trainer *text.Trainer
	tok     *text.Tokenizer
	packOpt text.PackOptions

	// document stream, read front to back across shards
	next func() (text.Document, error, bool)
	stop func()
	pos  int
}

func (o *Options) corpusOptions() (text.CorpusOptions, error) {
	split, err := text.ParseSplit(o.Split)
	if err != nil {
		return text.CorpusOptions{}, optErr("%v", err)
	}
	pol, err := text.ParseUTF8Policy(o.UTF8)
	if err != nil {
		return text.CorpusOptions{}, optErr("%v", err)
	}
	return text.CorpusOptions{Split: split, UTF8: pol}, nil
}

// docError tells a per-document problem (rejected) from a fatal one.
func docError(err error) (*text.CorpusError, bool) {
	var ce *text.CorpusError
	if errors.As(err, &ce) {
		return ce, true
	}
	return nil, false
}

func newTextProducer(ctx context.Context, o *Options, r *runner) (producer, error) {
	if _, err := os.Stat(o.In); err != nil {
		return nil, fmt.Errorf("preprocess: --in: %w", err)
	}
	copt, err := o.corpusOptions()
	if err != nil {
		return nil, err
	}
	p := &textProducer{o: o}
	if o.TrainTokenizer != "" {
		p.trainer, err = text.NewTrainer(text.TrainOptions{Kind: o.TrainTokenizer, VocabSize: o.Vocab})
		if err != nil {
			return nil, optErr("%v", err)
		}
	} else {
		sum, _, err := fileSHA256(o.Tokenizer)
		if err != nil {
			return nil, fmt.Errorf("preprocess: --tokenizer: %w", err)
		}
		o.TokenizerSHA = sum
		if p.tok, err = text.LoadTokenizer(o.Tokenizer); err != nil {
			return nil, optErr("--tokenizer: %v", err)
		}
	}
	// Listing pass: count and hash the documents (and feed the trainer).
	h := sha256.New()
	for d, err := range text.Documents(ctx, []string{o.In}, copt) {
		if err != nil {
			ce, ok := docError(err)
			if !ok {
				return nil, fmt.Errorf("preprocess: %w", err)
			}
			fmt.Fprintf(h, "E%d\x00%s\n", p.n, ce.Error())
			p.n++
			continue
		}
		fmt.Fprintf(h, "D%d\x00%s:%d\x00%d\x00", p.n, d.File, d.Line, len(d.Text))
		h.Write([]byte(d.Text))
		if p.trainer != nil {
			p.trainer.Add(d.Text)
		}
		p.n++
	}
	p.digest = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

func (p *textProducer) inputs() (int, string) { return p.n, p.digest }
func (p *textProducer) fields() []string      { return []string{"ids.npy"} }

func (p *textProducer) meta() *Meta {
	pad := p.packOpt.Pad
	return &Meta{SeqLen: p.o.SeqLen, VocabSize: p.tok.VocabSize(), PadID: &pad}
}

// prepare trains (or copies) the tokenizer into DIR/tokenizer.json and
// opens the document stream.
func (p *textProducer) prepare(ctx context.Context, r *runner) error {
	o := p.o
	if p.trainer != nil {
		if p.trainer.Words() == 0 {
			return fmt.Errorf("preprocess: %s: no words to train a tokenizer on", o.In)
		}
		tok, err := p.trainer.Tokenizer(ctx)
		if err != nil {
			return fmt.Errorf("preprocess: train tokenizer: %w", err)
		}
		p.tok = tok
	}
	raw, err := p.tok.MarshalJSON()
	if err != nil {
		return fmt.Errorf("preprocess: tokenizer: %w", err)
	}
	var ind bytes.Buffer
	if err := json.Indent(&ind, raw, "", "  "); err != nil {
		return fmt.Errorf("preprocess: tokenizer: %w", err)
	}
	ind.WriteByte('\n')
	data := ind.Bytes()
	if o.Tokenizer != "" {
		// Keep the user's file byte for byte: the dataset must name the
		// exact tokenizer it was made with.
		if data, err = os.ReadFile(o.Tokenizer); err != nil {
			return fmt.Errorf("preprocess: --tokenizer: %w", err)
		}
	}
	dst := filepath.Join(o.Out, "tokenizer.json")
	sum, err := writeFileAtomic(dst, data)
	if err != nil {
		return err
	}
	r.artifacts = append(r.artifacts, Artifact{Kind: "tokenizer", Path: "tokenizer.json", SHA256: sum})
	mode, err := text.ParsePackMode(o.Pack)
	if err != nil {
		return optErr("%v", err)
	}
	p.packOpt = text.PackOptionsFor(p.tok, o.SeqLen, mode)
	if _, err := text.NewPacker(p.packOpt); err != nil {
		return optErr("%v", err)
	}
	copt, _ := o.corpusOptions()
	p.next, p.stop = iter.Pull2(iter.Seq2[text.Document, error](text.Documents(ctx, []string{o.In}, copt)))
	return nil
}

func (p *textProducer) close() {
	if p.stop != nil {
		p.stop()
	}
}

// textItem is one listed document or a rejected one.
type textItem struct {
	index int
	doc   text.Document
	err   error
}

func (p *textProducer) read(n int) ([]textItem, error) {
	out := make([]textItem, 0, n)
	for len(out) < n {
		d, err, ok := p.next()
		if !ok {
			return nil, fmt.Errorf("preprocess: %s changed while running: %d documents, listed %d", p.o.In, p.pos, p.n)
		}
		if err != nil {
			if _, isDoc := docError(err); !isDoc {
				return nil, fmt.Errorf("preprocess: %w", err)
			}
		}
		out = append(out, textItem{index: p.pos, doc: d, err: err})
		p.pos++
	}
	return out, nil
}

func (p *textProducer) shard(ctx context.Context, r *runner, job shardJob, w *shardWriter, rec *shardRecord) error {
	// Skip the documents of shards kept or belonging to other parts.
	if job.First < p.pos {
		return fmt.Errorf("preprocess: internal: shard %d starts at document %d, stream at %d", job.Index, job.First, p.pos)
	}
	if _, err := p.read(job.First - p.pos); err != nil {
		return err
	}
	items, err := p.read(job.N)
	if err != nil {
		return err
	}
	var texts []string
	for _, it := range items {
		if testHookSample != nil {
			testHookSample(it.index)
		}
		if it.err != nil {
			rec.Errors = append(rec.Errors, ErrorEntry{Input: it.index, Path: docPath(it.err), Kind: "text", Reason: it.err.Error()})
			if err := r.reject(1); err != nil {
				return err
			}
			continue
		}
		texts = append(texts, it.doc.Text)
		rec.Shard.TextBytes += int64(len(it.doc.Text))
	}
	ids, err := p.tok.EncodeAll(ctx, texts, false, r.o.Workers)
	if err != nil {
		return err
	}
	pk, err := text.NewPacker(p.packOpt)
	if err != nil {
		return err
	}
	k := 0
	emit := func(seqs []text.Sequence) error {
		for _, s := range seqs {
			var buf bytes.Buffer
			if err := npy.Write(&buf, &npy.Array{DType: npy.Int32, Shape: []int{len(s.IDs)}, I32: s.IDs}); err != nil {
				return err
			}
			key := fmt.Sprintf("%06d_%06d", job.Index, k)
			k++
			if err := w.Add(sampleOut{Key: key, Fields: []Field{{Name: "ids.npy", Data: buf.Bytes()}}}); err != nil {
				return err
			}
			for _, m := range s.AttentionMask {
				rec.Shard.Tokens += int64(m)
			}
			rec.Shard.Samples++
			r.emitted.Add(1)
		}
		return nil
	}
	for _, x := range ids {
		if err := emit(pk.Add(x, nil)); err != nil {
			return err
		}
	}
	if err := emit(pk.Flush()); err != nil {
		return err
	}
	r.sum.ProcessedNow += len(items)
	r.done.Add(int64(len(items)))
	r.sum.TextBytes += rec.Shard.TextBytes
	r.sum.InputBytes += rec.Shard.TextBytes
	r.sum.Tokens += rec.Shard.Tokens
	return nil
}

func docPath(err error) string {
	if ce, ok := docError(err); ok {
		if ce.Line > 0 {
			return fmt.Sprintf("%s:%d", ce.File, ce.Line)
		}
		return ce.File
	}
	return ""
}
