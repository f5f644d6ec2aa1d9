// Package sop is ALBERT's sentence-order prediction (Lan et al. 2020,
// "ALBERT: A Lite BERT for Self-supervised Learning of Language
// Representations", sec. 3.2) on sslpipe's shared trainer: a text encoder
// sees "[CLS] A [SEP] B [SEP]" where A and B are consecutive segments of
// one document, and a head on [CLS] tells whether they are in their
// original order or swapped. Optionally ALBERT's masked-language-model
// loss is added (settings.mlm). It registers the method "sop" (text).
//
// # Pairs
//
// Each training example is one token sequence of a `sslpipe preprocess
// --modality text` dataset (data.Example.Tokens: "[CLS] ... [SEP]" then
// [PAD]s) or of a raw text folder. A sequence is cut into documents at
// its [SEP] tokens ([CLS] and [PAD] dropped): with `--pack one` that is
// the sequence's one document; with the default `--pack across` a
// sequence holds the end of one document, whole documents and the start
// of another, each taken as a document of its own (the packing cut the
// first and last), so A and B never straddle a document boundary. Each
// document is cut into sentences after its terminator tokens (".", "!",
// "?"; settings.terminators), and text.SOPPairs gathers consecutive
// sentences into chunks and cuts each chunk into A and B at a random
// sentence (a chunk of one sentence at a random token), swapping them with
// probability 1/2. Of all the pairs of a sequence one is taken uniformly;
// a pair shorter than settings.min_tokens is dropped (so is a sequence
// without one). All of it is drawn from the sample's key.
//
// With settings.whole_sentences (the default) the segments are whole
// sentences, as in ALBERT's data: a document's trailing words without a
// terminator (a fortune's "-- Author" line) are left out, and the pairs
// that text.SOPPairs cuts inside a one-sentence chunk are dropped. Such a
// cut shows in the segments' ends (the segment that comes first ends
// mid-sentence, the other with a full stop), and a network reads the order
// off that cue alone: on the fortunes the order loss fell to 3e-4 within
// 350 steps without learning anything a category probe could use.
//
// The encoder has no padding mask (train/transformer), so no padding
// reaches it: a batch is cropped to its shortest pair, each longer pair
// losing tokens of its longer segment from a random end (BERT's
// truncate_seq_pair, drawn from the sample's key).
//
// # Representation
//
// eval, embed and the online monitor use the mean over positions of the
// encoder's output for "[CLS] text [SEP]" (the example's tokens up to
// seq_len, padding removed), segment 0.
package sop

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// Views of a sample's random stream (pipeline.Sample.Rand).
const (
	viewPairs    = 1
	viewTruncate = 2
	viewMask     = 3
)

// Documents cuts a token sequence into its documents: [CLS] and [PAD]
// tokens are dropped and the rest is cut at every [SEP]; empty documents
// are dropped. The result aliases tokens.
func Documents(tokens []int32, cls, sep, pad int32) [][]int32 {
	var docs [][]int32
	start := 0
	flush := func(end int) {
		if end > start {
			docs = append(docs, tokens[start:end])
		}
	}
	for i, t := range tokens {
		switch t {
		case sep, cls, pad:
			flush(i)
			start = i + 1
		}
	}
	flush(len(tokens))
	return docs
}

// Sentences cuts a document after each run of terminator tokens and the
// closing tokens (quotes, brackets) right after it, as
// text.SplitSentences cuts text.
func Sentences(doc, terminators, closers []int32) [][]int32 {
	var out [][]int32
	start := 0
	for i := 0; i < len(doc); i++ {
		if !slices.Contains(terminators, doc[i]) {
			continue
		}
		for i+1 < len(doc) && slices.Contains(terminators, doc[i+1]) {
			i++
		}
		for i+1 < len(doc) && slices.Contains(closers, doc[i+1]) {
			i++
		}
		out = append(out, doc[start:i+1])
		start = i + 1
	}
	if start < len(doc) {
		out = append(out, doc[start:])
	}
	return out
}

// ended reports whether seg ends a sentence: its last token a terminator,
// or closers after one.
func ended(seg []int32, s *Settings) bool {
	i := len(seg) - 1
	for i >= 0 && slices.Contains(s.Closers, seg[i]) {
		i--
	}
	return i >= 0 && slices.Contains(s.Terminators, seg[i])
}

// PairFor draws a sequence's pair from r (see the package comment): the
// pairs of text.SOPPairs over every document in order, then one of those
// with at least minTokens tokens, uniformly; ok is false when there is
// none. With s.WholeSentences a document's trailing words without a
// terminator are left out and pairs cut inside a sentence are dropped.
// The pair does not alias tokens.
func PairFor(tokens []int32, m *Model, s *Settings, r *rand.Rand) (p text.SegmentPair, ok bool, err error) {
	o := text.PairOptions{MaxTokens: m.SeqLen - 3, ShortSeqProb: s.ShortSeqProb}
	var pairs []text.SegmentPair
	for _, doc := range Documents(tokens, m.CLS, m.SEP, m.Pad) {
		sents := Sentences(doc, s.Terminators, s.Closers)
		if s.WholeSentences && len(sents) > 0 && !ended(sents[len(sents)-1], s) {
			sents = sents[:len(sents)-1]
		}
		if len(sents) == 0 {
			continue
		}
		if pairs, err = text.SOPPairs(pairs, sents, o, r); err != nil {
			return p, false, err
		}
	}
	pairs = slices.DeleteFunc(pairs, func(q text.SegmentPair) bool {
		first := q.A // the segment that comes first in the document
		if q.Label == text.SOPSwapped {
			first = q.B
		}
		return len(q.A)+len(q.B) < s.MinTokens || s.WholeSentences && !ended(first, s)
	})
	if len(pairs) == 0 {
		return p, false, nil
	}
	return pairs[r.IntN(len(pairs))], true, nil
}

// truncate trims the longer of a and b, one token at a time from its
// front or back (r.Float64() < 0.5: front), until they hold n tokens
// together: BERT's truncate_seq_pair.
func truncate(a, b []int32, n int, r *rand.Rand) ([]int32, []int32) {
	for len(a)+len(b) > n {
		long := &b
		if len(a) > len(b) {
			long = &a
		}
		if r.Float64() < 0.5 {
			*long = (*long)[1:]
		} else {
			*long = (*long)[:len(*long)-1]
		}
	}
	return a, b
}

// Batch is one training batch of B inputs of T tokens: ids and segment
// ids (B x T, row-major), the order labels (B) and, with MLM, the masked
// positions (flat indices into B*T) and their original ids. B is at most
// data.batch: the real pairs of the pipeline's batch; B == 0 is an empty
// step (an epoch whose sequences gave fewer pairs than its batch count).
type Batch struct {
	IDs, Types    []int64
	Labels        []int64
	MaskPos       []int64
	MaskTargets   []int64
	B, T          int
	Swapped, Kept int // pairs swapped; tokens kept of the pairs' total (crop statistics)
	Total         int
}

type pairSample struct {
	p  text.SegmentPair
	ok bool
}

// batches is the data path: the pair of every sequence on the workers,
// sequences without one dropped, batches cropped to their shortest pair,
// then laid out (and masked, with MLM).
func batches(ex *pipeline.Stream[data.Example], m *Model, s *Settings, masker *text.Masker, batch, workers int) *pipeline.Stream[any] {
	per := pipeline.Map(ex, func(_ context.Context, smp pipeline.Sample[data.Example]) (pairSample, error) {
		p, ok, err := PairFor(smp.Value.Tokens, m, s, smp.Rand(viewPairs))
		if err != nil {
			return pairSample{}, fmt.Errorf("sop: %s: %w", smp.Value.Key, err)
		}
		return pairSample{p: p, ok: ok}, nil
	}, pipeline.MapOptions{Name: "pairs", Workers: workers})
	per = pipeline.Filter(per, func(x pipeline.Sample[pairSample]) bool { return x.Value.ok })
	bs := pipeline.Batches(per, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, smp pipeline.Sample[pipeline.Batch[pairSample]]) (any, error) {
		// Only Samples[:Valid] are real: pipeline.Batches keeps the
		// epoch's batch count (the sequences' count / batch) and, once the
		// pairs of an epoch run out, pads with copies of its last real
		// batch, which the step must not train on.
		real := smp.Value.Samples[:smp.Value.Valid]
		if len(real) == 0 {
			return &Batch{}, nil
		}
		n := math.MaxInt
		total := 0
		for _, x := range real {
			l := len(x.Value.p.A) + len(x.Value.p.B)
			n, total = min(n, l), total+l
		}
		b := &Batch{B: len(real), T: n + 3, Total: total}
		for i, x := range real {
			a, bb := truncate(x.Value.p.A, x.Value.p.B, n, x.Rand(viewTruncate))
			ids, types, _, err := text.PairInput(text.SegmentPair{A: a, B: bb}, text.SpecialTokens{Begin: m.CLS, End: m.SEP, Pad: m.Pad}, n+3)
			if err != nil {
				return nil, err
			}
			if masker != nil {
				mk := masker.MLM(ids, x.Rand(viewMask))
				for j, l := range mk.Labels {
					if l != text.IgnoreLabel {
						b.MaskPos = append(b.MaskPos, int64(i*b.T+j))
						b.MaskTargets = append(b.MaskTargets, int64(l))
					}
				}
				ids = mk.Inputs
			}
			for j := range ids {
				b.IDs = append(b.IDs, int64(ids[j]))
				b.Types = append(b.Types, int64(types[j]))
			}
			b.Labels = append(b.Labels, int64(x.Value.p.Label))
			b.Swapped += int(x.Value.p.Label)
		}
		b.Kept = b.B * n
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// net is the encoder (token, position and segment embeddings,
// "embeddings.*"; blocks, "encoder.*"), the sentence-order head on [CLS]
// ("sop.*") and, with MLM, the masked-token head ("mlm.*", its decoder
// tied to the token embeddings).
type net struct {
	p             *nn.Params
	tok, pos, typ op.Tensor
	enc           *tr.Encoder
	pool, cls     *nn.Linear
	mlm           *nn.Linear
	mlmW, mlmB    op.Tensor
	mlmBias       op.Tensor
	dim           int64
	eps           float64
}

// newNet builds the network (with the MLM head when withMLM); the seed
// fixes the initial weights: embeddings N(0, 0.02²) as BERT, blocks as
// train/transformer initializes them, heads PyTorch's Linear default.
func newNet(m *Model, withMLM bool, seed uint64, dev gotch.Device) (n *net, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	p := nn.NewParams(seed, dev)
	d := m.Encoder.Dim
	n = &net{p: p, dim: d, eps: 1e-12}
	defer func() {
		if err != nil {
			p.Free()
		}
	}()
	n.tok = p.New("embeddings.word_embeddings.weight", false, p.Normal(int64(m.Vocab)*d, 0.02), int64(m.Vocab), d)
	n.pos = p.New("embeddings.position_embeddings.weight", false, p.Normal(int64(m.SeqLen)*d, 0.02), int64(m.SeqLen), d)
	n.typ = p.New("embeddings.token_type_embeddings.weight", false, p.Normal(2*d, 0.02), 2, d)
	if n.enc, err = tr.New(p, "encoder.", m.Encoder); err != nil {
		return nil, err
	}
	n.pool = nn.NewLinear(p, "sop.pooler", d, d)
	n.cls = nn.NewLinear(p, "sop.classifier", d, 2)
	if withMLM {
		n.mlm = nn.NewLinear(p, "mlm.dense", d, d)
		n.mlmW = p.New("mlm.layer_norm.weight", true, nn.Fill(d, 1), d)
		n.mlmB = p.New("mlm.layer_norm.bias", true, nn.Fill(d, 0), d)
		n.mlmBias = p.New("mlm.bias", true, nn.Fill(int64(m.Vocab), 0), int64(m.Vocab))
	}
	return n, nil
}

// encode runs the encoder on ids and segment ids (B x T, int64) and
// returns its output (B x T x D).
func (n *net) encode(tp *op.Tape, ids, types op.Tensor, train bool) op.Tensor {
	s := op.Shape(ids)
	B, T := s[0], s[1]
	e := tp.Reshape(tp.IndexSelect(n.tok, 0, tp.Reshape(ids, -1)), B, T, n.dim)
	e = tp.Add(e, tp.Narrow(n.pos, 0, 0, T))
	e = tp.Add(e, tp.Reshape(tp.IndexSelect(n.typ, 0, tp.Reshape(types, -1)), B, T, n.dim))
	return n.enc.Forward(tp, e, tr.Options{Train: train}).Final
}

// sopLogits is the order head on the [CLS] output: Linear, GELU (the op
// layer has no tanh, ALBERT's pooler activation), Linear to 2 classes.
func (n *net) sopLogits(tp *op.Tape, h op.Tensor) op.Tensor {
	s := op.Shape(h)
	c := tp.Reshape(tp.Narrow(h, 1, 0, 1), s[0], s[2])
	return n.cls.Forward(tp, tp.Gelu(n.pool.Forward(tp, c)))
}

// mlmLogits is the masked-token head at flat positions pos of h:
// Linear, GELU, LayerNorm, then the tied decoder (token embeddings) and a
// bias.
func (n *net) mlmLogits(tp *op.Tape, h, pos op.Tensor) op.Tensor {
	x := tp.IndexSelect(tp.Reshape(h, -1, n.dim), 0, pos)
	x = tp.LayerNorm(tp.Gelu(n.mlm.Forward(tp, x)), n.mlmW, n.mlmB, n.dim, n.eps)
	return tp.Add(tp.Matmul(x, tp.Transpose(n.tok, 0, 1)), n.mlmBias)
}

// tensors is a batch on the device.
type tensors struct{ ids, types, labels, maskPos, maskTargets op.Tensor }

func (t tensors) free() {
	for _, x := range []op.Tensor{t.ids, t.types, t.labels, t.maskPos, t.maskTargets} {
		if x != nil {
			op.Free(x)
		}
	}
}

// toDevice copies a batch to dev.
func toDevice(b *Batch, dev gotch.Device) (t tensors, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	up := func(v []int64, dims ...int64) op.Tensor {
		return tp.Keep(tp.To(tp.Int64(v, gotch.CPU, dims...), dev))
	}
	t = tensors{ids: up(b.IDs, int64(b.B), int64(b.T)), types: up(b.Types, int64(b.B), int64(b.T)), labels: up(b.Labels, int64(b.B))}
	if len(b.MaskPos) > 0 {
		t.maskPos, t.maskTargets = up(b.MaskPos, int64(len(b.MaskPos))), up(b.MaskTargets, int64(len(b.MaskTargets)))
	}
	return t, nil
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss, sop, mlm, acc, gradNorm float64
	skipped                       bool
}

// step trains on one batch: the order cross-entropy plus, with MLM,
// mlmWeight times the masked-token cross-entropy.
func step(n *net, opt *nn.Optimizer, mlmWeight float64, skipNonFinite bool, b tensors, lr, clip float64, reduce func([]op.Tensor) error) (r stepResult, err error) {
	o := sslkit.StepOptions{SkipNonFinite: skipNonFinite, LR: lr, Clip: clip, Reduce: reduce}
	var pairs float64
	s, err := sslkit.TrainStep(n.p, opt, o, func(tp *op.Tape) []op.Tensor {
		h := n.encode(tp, b.ids, b.types, true)
		logits := n.sopLogits(tp, h)
		sopLoss := tp.CrossEntropy(logits, b.labels)
		loss, mlmLoss := sopLoss, tp.Zeros(op.DeviceOf(logits), 1)
		if n.mlm != nil && b.maskPos != nil && mlmWeight > 0 {
			mlmLoss = tp.CrossEntropy(n.mlmLogits(tp, h, b.maskPos), b.maskTargets)
			loss = tp.Add(sopLoss, tp.MulScalar(mlmLoss, mlmWeight))
		}
		pairs = float64(op.Shape(b.labels)[0])
		return []op.Tensor{loss, sopLoss, mlmLoss, tp.CountEqual(tp.Argmax(logits, 1), b.labels)}
	})
	if err != nil {
		return r, err
	}
	return stepResult{loss: s.Vals[0], sop: s.Vals[1], mlm: s.Vals[2], acc: s.Vals[3] / pairs, gradNorm: s.GradNorm, skipped: s.Skipped}, nil
}
