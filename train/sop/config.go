package sop

import (
	"fmt"
	"slices"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// Model is the model block: a BERT-style text encoder (token, position
// and segment embeddings, then train/transformer's post-LN blocks, whose
// first layer norm is BERT's embedding layer norm) with the sentence-order
// head on [CLS]. Vocab and the special ids are filled from the dataset's
// tokenizer.
type Model struct {
	Encoder tr.Config `yaml:"encoder" json:"encoder"`
	// SeqLen is the longest input ([CLS] A [SEP] B [SEP]): the position
	// table's size.
	SeqLen int `yaml:"seq_len" json:"seq_len"`
	Vocab  int `yaml:"vocab" json:"vocab"`
	// CLS, SEP and Pad are the tokenizer's [CLS], [SEP] and [PAD] ids;
	// Mask its [MASK] id (-1: none; needed only with settings.mlm).
	CLS  int32 `yaml:"cls" json:"cls"`
	SEP  int32 `yaml:"sep" json:"sep"`
	Pad  int32 `yaml:"pad" json:"pad"`
	Mask int32 `yaml:"mask" json:"mask"`
}

// Settings is the method's own block.
type Settings struct {
	// Terminators are the token ids that end a sentence (the tokenizer's
	// ".", "!", "?", filled from the dataset's tokenizer when empty).
	Terminators []int32 `yaml:"terminators,flow" json:"terminators"`
	// Closers are the tokens that may follow a terminator inside its
	// sentence (the tokenizer's quotes and closing brackets, filled from
	// it when empty).
	Closers []int32 `yaml:"closers,flow" json:"closers"`
	// WholeSentences keeps only segments of whole sentences (see the
	// package comment): no cut inside a sentence, no trailing words
	// without a terminator.
	WholeSentences bool `yaml:"whole_sentences" json:"whole_sentences"`
	// ShortSeqProb is the probability that a document's chunks aim at a
	// random length instead of the longest (ALBERT and BERT: 0.1).
	ShortSeqProb float64 `yaml:"short_seq_prob" json:"short_seq_prob"`
	// MinTokens drops pairs with fewer tokens (A and B together); a batch
	// is cropped to its shortest pair, so this is also the shortest input.
	MinTokens int `yaml:"min_tokens" json:"min_tokens"`
	// MLM, when > 0, adds ALBERT's masked-language-model loss with this
	// weight (BERT masking with probability MaskProb, 80/10/10) to the
	// sentence-order loss; 0 trains sentence order alone.
	MLM      float64 `yaml:"mlm" json:"mlm"`
	MaskProb float64 `yaml:"mask_prob" json:"mask_prob"`
	// SkipNonFinite skips (and counts) steps whose loss or gradient norm
	// is NaN or Inf.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

func model(c *train.Config) *Model       { return c.Model.(*Model) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// defaults is ALBERT's pretraining setting for sentence order (Lan et al.
// 2020, sec. 3-4): 512-token inputs of two segments, 10% of them shorter,
// batch 4096, 125k steps, no dropout, MLM alongside SOP. The encoder is
// BERT-base-sized (768 x 12) without ALBERT's factorized embeddings and
// cross-layer sharing, and AdamW at BERT's lr 1e-4 replaces LAMB.
func defaults() train.Config {
	return train.Config{
		Method: "sop", Seed: 42, Device: "auto",
		Data: train.DataConfig{Modality: data.Text, Batch: 4096, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &Model{Encoder: tr.Config{Dim: 768, Layers: 12, Heads: 12, FFN: 3072},
			SeqLen: 512, Vocab: 30000, CLS: -1, SEP: -1, Pad: -1, Mask: -1},
		Optim: train.OptimConfig{Name: "adamw", LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01,
			ExcludeBiasNorm: true, Momentum: 0.9, Eta: 1e-3, ClipGradNorm: 1},
		Schedule:   train.ScheduleConfig{Steps: 125000, WarmupSteps: 3125, Kind: "linear"},
		Checkpoint: train.CheckpointConfig{Every: 2000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings:   &Settings{ShortSeqProb: 0.1, MinTokens: 8, WholeSentences: true, MLM: 1, MaskProb: 0.15, SkipNonFinite: true},
	}
}

// fortunes is the comparison's CPU setting: the 3 x 128 encoder of
// data2vec's text-cpu preset on the fortunes shards of
// scripts/demo/pretext.sh (one fortune per 128-token sequence), sentence
// order alone, pairs of at least 24 tokens.
//
// Steps: about 43% of the one-fortune sequences give a pair, and an epoch
// keeps its 16,770 / 32 = 524 steps, so about 57% of the steps are empty
// (the padding batches of pipeline.Batches, no forward pass; see batches).
// The step counts are sized to the CPU budget with that mix:
// benchmarks/text/EXPERIMENTS.md measured 11,000 steps of this preset at
// 478 CPU seconds (one thread) and 11,500 of fortunes-mlm at 592.
func fortunes(c *train.Config) {
	m, s := model(c), settings(c)
	m.Encoder = tr.Config{Dim: 128, Layers: 3, Heads: 4, FFN: 512, Dropout: 0.1, AttnDropout: 0.1}
	m.SeqLen = 128
	s.MinTokens = 24
	s.MLM = 0
	c.Data.Spec = ""
	c.Data.Batch = 32
	c.Device = "cpu"
	c.Threads = 1
	c.Optim = train.OptimConfig{Name: "adamw", LR: 5e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01,
		ExcludeBiasNorm: true, Momentum: 0.9, Eta: 1e-3, ClipGradNorm: 1}
	c.Schedule = train.ScheduleConfig{Steps: 11000, WarmupSteps: 100, Kind: "linear"}
	c.Log.Every = 50
	c.Checkpoint = train.CheckpointConfig{Every: 500, Keep: 2}
}

var presets = []train.Preset{
	{Name: "default", Summary: "BERT-base-size encoder on 512-token pairs, SOP + MLM, batch 4096, 125k steps",
		Source: "ALBERT (Lan et al. 2020: SOP with MLM, short_seq_prob 0.1, batch 4096, 125k steps); AdamW at BERT's lr instead of LAMB"},
	{Name: "fortunes", Modality: data.Text, Summary: "the pretext comparison's CPU run: 3 x 128 encoder on one-fortune sequences, sentence order alone, batch 32, 11,000 steps of which ~43% have pairs (8 CPU minutes)",
		Source: "ALBERT's SOP pairs (short_seq_prob 0.1); data2vec text-cpu's encoder size; steps from the CPU time of a run (benchmarks/text/EXPERIMENTS.md)", Apply: fortunes},
	{Name: "fortunes-mlm", Modality: data.Text, Summary: "fortunes with ALBERT's masked-language-model loss beside sentence order (weight 1, 15% of tokens), 11,500 steps of which ~43% have pairs (9.9 CPU minutes)",
		Source: "ALBERT's joint objective (MLM + SOP, Lan et al. 2020 sec. 4.1) on the fortunes preset; steps from the CPU time of a run (benchmarks/text/EXPERIMENTS.md)", Apply: func(c *train.Config) {
			fortunes(c)
			settings(c).MLM = 1
			c.Schedule.Steps = 11500
		}},
	{Name: "smoke", Modality: data.Text, Summary: "the smallest encoder: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fortunes, shrunk", Apply: func(c *train.Config) {
			fortunes(c)
			model(c).Encoder = tr.Config{Dim: 32, Layers: 2, Heads: 4, FFN: 64, Dropout: 0.1, AttnDropout: 0.1}
			model(c).SeqLen = 64
			settings(c).MinTokens = 4
			settings(c).WholeSentences = false // datatest's corpus has no punctuation
			settings(c).MLM = 0.5
			c.Data.Batch = 8
			c.Schedule = train.ScheduleConfig{Steps: 20, WarmupSteps: 2, Kind: "linear"}
			c.Log.Every = 5
			c.Checkpoint.Every = 10
		}},
}

// resolve fills the vocabulary, the special ids and the sentence
// terminators from the dataset's tokenizer.
func resolve(c *train.Config, d *data.Dataset) error {
	tok := d.Tokenizer
	if tok == nil {
		return fmt.Errorf("sop: %s has no tokenizer: train on `sslpipe preprocess --modality text` output or a raw text folder with --tokenizer", d.Spec)
	}
	m, s := model(c), settings(c)
	sp := tok.Specials()
	m.Vocab = tok.VocabSize()
	m.CLS, m.SEP, m.Pad, m.Mask = sp.Begin, sp.End, sp.Pad, sp.Mask
	if m.Pad < 0 {
		m.Pad = 0
	}
	if len(s.Terminators) == 0 {
		for _, t := range []string{".", "!", "?", "…", "。", "！", "？"} {
			if id, ok := tok.TokenID(t); ok {
				s.Terminators = append(s.Terminators, id)
			}
		}
	}
	if len(s.Closers) == 0 {
		for _, t := range []string{"\"", "'", ")", "]", "}", "”", "’", "»"} {
			if id, ok := tok.TokenID(t); ok {
				s.Closers = append(s.Closers, id)
			}
		}
	}
	return nil
}

// validate checks the method's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	if err := m.Encoder.Validate(); err != nil {
		return fmt.Errorf("sop: %w", err)
	}
	if m.Encoder.PosConvKernel != 0 {
		return fmt.Errorf("sop: the encoder uses learned positions; encoder.pos_conv_kernel must be 0")
	}
	if m.Vocab < 2 || m.SeqLen < 5 || m.SeqLen > 8192 {
		return fmt.Errorf("sop: vocab %d must be >= 2 and seq_len %d in [5, 8192]", m.Vocab, m.SeqLen)
	}
	in := func(id int32) bool { return id >= 0 && int(id) < m.Vocab }
	if !in(m.CLS) || !in(m.SEP) || !in(m.Pad) {
		return fmt.Errorf("sop: the tokenizer needs begin/end tokens ([CLS]/[SEP] or <s>/</s>): cls %d, sep %d, pad %d in a vocabulary of %d", m.CLS, m.SEP, m.Pad, m.Vocab)
	}
	if s.MLM < 0 || (s.MLM > 0 && (!in(m.Mask) || !(s.MaskProb > 0 && s.MaskProb < 1))) {
		return fmt.Errorf("sop: mlm %v needs a [MASK] token (have %d) and mask_prob %v in (0, 1)", s.MLM, m.Mask, s.MaskProb)
	}
	if s.MinTokens < 2 || s.MinTokens > m.SeqLen-3 {
		return fmt.Errorf("sop: min_tokens %d must be in [2, seq_len - 3 = %d]", s.MinTokens, m.SeqLen-3)
	}
	if !(s.ShortSeqProb >= 0 && s.ShortSeqProb <= 1) {
		return fmt.Errorf("sop: short_seq_prob %v outside [0, 1]", s.ShortSeqProb)
	}
	if slices.ContainsFunc(s.Terminators, func(id int32) bool { return !in(id) }) || slices.ContainsFunc(s.Closers, func(id int32) bool { return !in(id) }) {
		return fmt.Errorf("sop: terminators %v or closers %v outside the vocabulary of %d", s.Terminators, s.Closers, m.Vocab)
	}
	if s.WholeSentences && len(s.Terminators) == 0 {
		return fmt.Errorf("sop: whole_sentences needs sentence terminators (the tokenizer has no \".\", \"!\" or \"?\" token): set terminators or whole_sentences false")
	}
	if c.Data.Batch < 2 {
		return fmt.Errorf("sop: data.batch %d must be >= 2", c.Data.Batch)
	}
	return nil
}
