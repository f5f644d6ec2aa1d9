package text

import (
	"errors"
	"fmt"
)

// PackMode chooses how documents fill fixed-length sequences.
type PackMode int

const (
	// PackAcross concatenates documents, separated by the End token, and
	// cuts the stream into full sequences (RoBERTa FULL-SENTENCES, HF
	// run_mlm group_texts): no padding except in the last sequence.
	PackAcross PackMode = iota
	// PackOnePerSequence puts each document in its own padded sequence,
	// truncated to fit (or split into several with SplitLong).
	PackOnePerSequence
)

// ParsePackMode maps "across" and "one" (or "single") to a PackMode.
func ParsePackMode(s string) (PackMode, error) {
	switch s {
	case "across", "pack":
		return PackAcross, nil
	case "one", "single", "one-per-sequence":
		return PackOnePerSequence, nil
	}
	return 0, fmt.Errorf("text: unknown pack mode %q (across, one)", s)
}

// PackOptions configures a Packer.
type PackOptions struct {
	SeqLen int // total length including Begin/End, e.g. 128 or 512
	Mode   PackMode
	// Begin and End wrap every sequence ([CLS]/[SEP] or <s>/</s>); -1 for
	// none. End also separates documents in PackAcross. Pad fills the tail.
	Begin, End, Pad int32
	// SplitLong: in PackOnePerSequence, continue a long document in further
	// sequences instead of truncating it.
	SplitLong bool
}

// PackOptionsFor fills Begin/End/Pad from a tokenizer's special tokens.
func PackOptionsFor(tok *Tokenizer, seqLen int, mode PackMode) PackOptions {
	sp := tok.Specials()
	pad := sp.Pad
	if pad < 0 {
		pad = 0
	}
	return PackOptions{SeqLen: seqLen, Mode: mode, Begin: sp.Begin, End: sp.End, Pad: pad}
}

// Sequence is one fixed-length model input.
type Sequence struct {
	IDs           []int32
	AttentionMask []int32 // 1 for tokens, 0 for padding
	// Words is the word index of each position (unique within the
	// sequence), -1 for special tokens and padding; see Masker.WholeWord.
	Words []int32
	Docs  int // documents (or parts of documents) it holds
}

// Packer turns tokenized documents into fixed-length sequences. It is not
// safe for concurrent use; give each stream its own Packer.
type Packer struct {
	o        PackOptions
	capacity int // content tokens per sequence
	ids      []int32
	words    []int32
	docs     int
	wordBase int32
}

// NewPacker checks opts and returns a Packer.
func NewPacker(opts PackOptions) (*Packer, error) {
	c := opts.SeqLen
	if opts.Begin >= 0 {
		c--
	}
	if opts.End >= 0 {
		c--
	}
	if c < 1 {
		return nil, fmt.Errorf("text: sequence length %d leaves no room for tokens", opts.SeqLen)
	}
	if opts.Pad < 0 {
		return nil, errors.New("text: pad id must be >= 0")
	}
	return &Packer{o: opts, capacity: c}, nil
}

// Add packs one document's ids (without special tokens; words may be nil or
// its Encoding.Words) and returns the sequences it completed. The returned
// slices are new and owned by the caller; ids and words are not retained.
func (p *Packer) Add(ids, words []int32) []Sequence {
	if len(ids) == 0 {
		return nil
	}
	if words != nil && len(words) != len(ids) {
		words = nil
	}
	var out []Sequence
	if p.o.Mode == PackOnePerSequence {
		for start := 0; start < len(ids); start += p.capacity {
			end := min(len(ids), start+p.capacity)
			p.appendDoc(ids[start:end], sliceOrNil(words, start, end))
			out = append(out, p.emit())
			if !p.o.SplitLong {
				break
			}
		}
		return out
	}
	if len(p.ids) > 0 && p.o.End >= 0 {
		p.ids = append(p.ids, p.o.End)
		p.words = append(p.words, -1)
		if len(p.ids) == p.capacity {
			out = append(out, p.emit())
		}
	}
	for start := 0; start < len(ids); {
		n := min(len(ids)-start, p.capacity-len(p.ids))
		p.appendDoc(ids[start:start+n], sliceOrNil(words, start, start+n))
		start += n
		if len(p.ids) == p.capacity {
			out = append(out, p.emit())
		}
	}
	p.wordBase = p.nextWordBase()
	return out
}

func sliceOrNil(s []int32, i, j int) []int32 {
	if s == nil {
		return nil
	}
	return s[i:j]
}

func (p *Packer) nextWordBase() int32 {
	m := p.wordBase - 1
	for _, w := range p.words {
		m = max(m, w)
	}
	return m + 1
}

func (p *Packer) appendDoc(ids, words []int32) {
	if len(p.ids) == 0 || p.o.Mode == PackOnePerSequence {
		p.docs = 0
	}
	p.docs++
	p.ids = append(p.ids, ids...)
	for i := range ids {
		w := int32(i)
		if words != nil {
			w = words[i] - words[0]
			if words[i] < 0 {
				w = -1
			}
		}
		if w >= 0 {
			w += p.wordBase
		}
		p.words = append(p.words, w)
	}
	if words == nil || p.o.Mode == PackOnePerSequence {
		p.wordBase = p.nextWordBase()
	}
}

// emit wraps and pads the current content as one sequence.
func (p *Packer) emit() Sequence {
	n := p.o.SeqLen
	s := Sequence{IDs: make([]int32, 0, n), AttentionMask: make([]int32, 0, n), Words: make([]int32, 0, n), Docs: p.docs}
	if p.o.Begin >= 0 {
		s.IDs = append(s.IDs, p.o.Begin)
		s.Words = append(s.Words, -1)
	}
	s.IDs = append(s.IDs, p.ids...)
	s.Words = append(s.Words, p.words...)
	if p.o.End >= 0 {
		s.IDs = append(s.IDs, p.o.End)
		s.Words = append(s.Words, -1)
	}
	for range s.IDs {
		s.AttentionMask = append(s.AttentionMask, 1)
	}
	for len(s.IDs) < n {
		s.IDs = append(s.IDs, p.o.Pad)
		s.AttentionMask = append(s.AttentionMask, 0)
		s.Words = append(s.Words, -1)
	}
	p.ids, p.words, p.docs, p.wordBase = p.ids[:0], p.words[:0], 0, 0
	return s
}

// Flush returns the partial last sequence, padded, if there is one.
func (p *Packer) Flush() []Sequence {
	if len(p.ids) == 0 {
		return nil
	}
	return []Sequence{p.emit()}
}
