package text

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentence-level pretext tasks: BERT's next-sentence prediction (NSP) and
// ALBERT's sentence-order prediction (SOP). Both cut a document into
// sentences (SplitSentences), tokenize them, gather consecutive sentences
// into chunks of about MaxTokens tokens and split each chunk into two
// segments A and B, as BERT's create_pretraining_data.py does. Every
// random draw comes from the *rand.Rand passed in; derive it per document
// with pipeline.SampleRand(seed, epoch, document index, view) so the
// pairs do not depend on worker count or order.

// Pair labels.
const (
	SOPInOrder = 0 // SOP: B follows A in the document
	SOPSwapped = 1 // SOP: the two segments were swapped
	NSPIsNext  = 0 // NSP: B is the text that follows A
	NSPRandom  = 1 // NSP: B comes from another document
)

// SegmentPair is one sentence-pair example.
type SegmentPair struct {
	A, B  []int32 // token ids, no special tokens; never aliases the input
	Label int32   // SOPInOrder/SOPSwapped or NSPIsNext/NSPRandom
	Doc   int     // index of the document A comes from (NSPPairs), else -1
}

// PairOptions configures SOPPairs and NSPPairs.
type PairOptions struct {
	// MaxTokens bounds len(A)+len(B): BERT's max_seq_length minus the 3
	// special tokens of "[CLS] A [SEP] B [SEP]" (125 for 128).
	MaxTokens int
	// ShortSeqProb is the probability that a document's chunks aim at a
	// length drawn uniformly from [2, MaxTokens] instead of MaxTokens
	// (BERT and ALBERT use 0.1, to match shorter inputs at fine-tuning).
	ShortSeqProb float64
}

func (o PairOptions) validate() error {
	if o.MaxTokens < 2 {
		return fmt.Errorf("text: pair MaxTokens %d must be at least 2", o.MaxTokens)
	}
	if !(o.ShortSeqProb >= 0 && o.ShortSeqProb <= 1) {
		return fmt.Errorf("text: pair ShortSeqProb %v outside [0, 1]", o.ShortSeqProb)
	}
	return nil
}

// targetLength draws the document's target chunk length (one Float64,
// plus one IntN when short).
func (o PairOptions) targetLength(r *rand.Rand) int {
	if r.Float64() < o.ShortSeqProb {
		return 2 + r.IntN(o.MaxTokens-1)
	}
	return o.MaxTokens
}

// abbreviations never end a sentence when followed by a period (compared
// in lower case, without the period).
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "sr": true, "jr": true,
	"st": true, "mt": true, "rev": true, "gen": true, "col": true, "capt": true, "lt": true,
	"sgt": true, "gov": true, "sen": true, "rep": true, "vs": true, "fig": true, "cf": true,
	"e.g": true, "i.e": true,
}

func isTerminator(r rune) bool {
	switch r {
	case '.', '!', '?', '…', '。', '！', '？':
		return true
	}
	return false
}

func isCloser(r rune) bool {
	switch r {
	case '"', '\'', '”', '’', ')', ']', '}', '»':
		return true
	}
	return false
}

// SplitSentences cuts text into sentences by fixed rules, so the result
// depends on nothing but the text:
//
//   - a blank line (two line breaks with only spaces between) always ends
//     a sentence;
//   - a run of terminators (. ! ? … and the full-width 。！？), with any
//     closing quotes and brackets after it, ends a sentence when followed
//     by whitespace or the end of the text (the full-width ones need no
//     whitespace);
//   - except when the next word starts with a lower-case letter ("Hi!"
//     he said), and for a lone "." after a known abbreviation (Mr, Dr, St,
//     vs, e.g, ...) or a single capital letter other than "I" (an
//     initial).
//
// Sentences are trimmed of surrounding whitespace; empty ones are dropped.
// Single line breaks are kept inside sentences.
func SplitSentences(text string) []string {
	var out []string
	emit := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	start := 0
	for i := 0; i < len(text); {
		c, size := utf8.DecodeRuneInString(text[i:])
		if c == '\n' {
			j := i + size
			for j < len(text) && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r') {
				j++
			}
			if j < len(text) && text[j] == '\n' {
				emit(text[start:i])
				start = j + 1
				i = j + 1
				continue
			}
			i += size
			continue
		}
		if !isTerminator(c) {
			i += size
			continue
		}
		j, dots, wide := i, 0, false
		for j < len(text) {
			t, ts := utf8.DecodeRuneInString(text[j:])
			if !isTerminator(t) {
				break
			}
			if t == '.' {
				dots++
			} else if t == '。' || t == '！' || t == '？' {
				wide = true
			}
			j += ts
		}
		runLen := j - i
		for j < len(text) {
			t, ts := utf8.DecodeRuneInString(text[j:])
			if !isCloser(t) {
				break
			}
			j += ts
		}
		next, _ := utf8.DecodeRuneInString(text[j:])
		atEnd := j == len(text)
		if !atEnd && !wide && !unicode.IsSpace(next) {
			i = j
			continue
		}
		if !wide && !atEnd && (nextWordLower(text[j:]) || (dots == 1 && runLen == 1 && abbreviationBefore(text[start:i]))) {
			i = j
			continue
		}
		emit(text[start:j])
		start, i = j, j
	}
	emit(text[start:])
	return out
}

// abbreviationBefore reports whether the word ending s (just before a
// period) is a known abbreviation or a single capital initial.
func abbreviationBefore(s string) bool {
	k := strings.LastIndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '(' || r == '"' || r == '“' })
	w := s
	if k >= 0 {
		_, sz := utf8.DecodeRuneInString(s[k:])
		w = s[k+sz:]
	}
	if n := utf8.RuneCountInString(w); n == 1 {
		r, _ := utf8.DecodeRuneInString(w)
		return unicode.IsUpper(r) && r != 'I'
	}
	return abbreviations[strings.ToLower(w)]
}

// nextWordLower reports whether the first non-space rune of s is a
// lower-case letter.
func nextWordLower(s string) bool {
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		return unicode.IsLower(r)
	}
	return false
}

// EncodeSentences splits text with SplitSentences and tokenizes every
// sentence without special tokens; sentences that give no tokens are
// dropped.
func EncodeSentences(tok *Tokenizer, text string) [][]int32 {
	var out [][]int32
	for _, s := range SplitSentences(text) {
		if ids := tok.AppendIDs(nil, s); len(ids) > 0 {
			out = append(out, ids)
		}
	}
	return out
}

// EncodeDocuments runs EncodeSentences on every document: the input of
// SOPPairs and NSPPairs. docs[i] gives element i.
func EncodeDocuments(tok *Tokenizer, docs []Document) [][][]int32 {
	out := make([][][]int32, len(docs))
	for i, d := range docs {
		out[i] = EncodeSentences(tok, d.Text)
	}
	return out
}

// truncatePair trims the longer segment, one token at a time from its
// front or back (chosen by r.Float64() < 0.5: front), until the pair fits:
// BERT's truncate_seq_pair.
func truncatePair(a, b []int32, maxTokens int, r *rand.Rand) ([]int32, []int32) {
	for len(a)+len(b) > maxTokens {
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

// nonEmpty returns doc without its empty sentences (doc itself when it
// has none).
func nonEmpty(doc [][]int32) [][]int32 {
	for i, s := range doc {
		if len(s) == 0 {
			out := append([][]int32(nil), doc[:i]...)
			for _, t := range doc[i+1:] {
				if len(t) > 0 {
					out = append(out, t)
				}
			}
			return out
		}
	}
	return doc
}

func concat(segs [][]int32) []int32 {
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	out := make([]int32, 0, n)
	for _, s := range segs {
		out = append(out, s...)
	}
	return out
}

// SOPPairs makes ALBERT's sentence-order pairs from one document given as
// tokenized sentences (EncodeSentences). Consecutive sentences are
// gathered until they reach the target length (or the document ends); a
// chunk of several sentences is cut after a random sentence (A before, B
// after), a chunk of one sentence of at least two tokens after a random
// token (short documents such as fortunes would otherwise give nothing;
// ALBERT instead pairs such a chunk with another document's text, which is
// NSP, not SOP). With probability 1/2 A and B are swapped (SOPSwapped),
// else kept (SOPInOrder); the pair is then truncated to MaxTokens. Pairs
// are appended to dst. Draws from r: the target length, then per chunk the
// cut (r.IntN), the swap (r.Float64) and the truncation's sides.
func SOPPairs(dst []SegmentPair, doc [][]int32, o PairOptions, r *rand.Rand) ([]SegmentPair, error) {
	if err := o.validate(); err != nil {
		return dst, err
	}
	doc = nonEmpty(doc)
	target := o.targetLength(r)
	var chunk [][]int32
	n := 0
	for i, seg := range doc {
		chunk = append(chunk, seg)
		n += len(seg)
		if i < len(doc)-1 && n < target {
			continue
		}
		var a, b []int32
		switch {
		case len(chunk) >= 2:
			cut := 1 + r.IntN(len(chunk)-1)
			a, b = concat(chunk[:cut]), concat(chunk[cut:])
		case len(chunk[0]) >= 2:
			cut := 1 + r.IntN(len(chunk[0])-1)
			a, b = append([]int32(nil), chunk[0][:cut]...), append([]int32(nil), chunk[0][cut:]...)
		}
		chunk, n = chunk[:0], 0
		if a == nil {
			continue
		}
		label := int32(SOPInOrder)
		if r.Float64() < 0.5 {
			a, b, label = b, a, SOPSwapped
		}
		a, b = truncatePair(a, b, o.MaxTokens, r)
		dst = append(dst, SegmentPair{A: a, B: b, Label: label, Doc: -1})
	}
	return dst, nil
}

// ErrNoOtherDocument is returned by NSPPairs when the corpus has no other
// non-empty document to draw random segments from.
var ErrNoOtherDocument = errors.New("text: next-sentence pairs need at least two non-empty documents")

// NSPPairs makes BERT's next-sentence pairs from document d of docs
// (tokenized sentences, EncodeDocuments), appended to dst, following
// create_instances_from_document: consecutive sentences are gathered up
// to the target length; A is the chunk's first 1..k-1 sentences (a random
// cut); with probability 1/2, or always when the chunk has one sentence,
// B is random text (NSPRandom): sentences from a random start in another
// document (a random index, up to 10 tries to avoid d itself and empty
// documents) until B reaches the length A leaves; the chunk's sentences
// after the cut are then not used up but start the next chunk. Otherwise B
// is the rest of the chunk (NSPIsNext). The pair is truncated to
// MaxTokens. docs is only read, so goroutines may share it. Draws from r:
// the target length, then per chunk the cut, the coin, the other
// document and its start, and the truncation's sides.
func NSPPairs(dst []SegmentPair, docs [][][]int32, d int, o PairOptions, r *rand.Rand) ([]SegmentPair, error) {
	if err := o.validate(); err != nil {
		return dst, err
	}
	if d < 0 || d >= len(docs) {
		return dst, fmt.Errorf("text: document %d of %d", d, len(docs))
	}
	others := 0
	for i, doc := range docs {
		if i != d && len(doc) > 0 {
			others++
			break
		}
	}
	if others == 0 {
		return dst, ErrNoOtherDocument
	}
	doc := nonEmpty(docs[d])
	target := o.targetLength(r)
	var chunk [][]int32
	n := 0
	for i := 0; i < len(doc); i++ {
		chunk = append(chunk, doc[i])
		n += len(doc[i])
		if i < len(doc)-1 && n < target {
			continue
		}
		cut := 1
		if len(chunk) >= 2 {
			cut = 1 + r.IntN(len(chunk)-1)
		}
		a := concat(chunk[:cut])
		var b []int32
		label := int32(NSPIsNext)
		if len(chunk) == 1 || r.Float64() < 0.5 {
			label = NSPRandom
			want := target - len(a)
			other := -1
			for range 10 {
				j := r.IntN(len(docs))
				if j != d && len(docs[j]) > 0 {
					other = j
					break
				}
			}
			if other >= 0 {
				od := docs[other]
				for k := r.IntN(len(od)); k < len(od); k++ {
					b = append(b, od[k]...)
					if len(b) >= want {
						break
					}
				}
			}
			// The sentences after the cut were not used: back up so they
			// start the next chunk.
			i -= len(chunk) - cut
		} else {
			b = concat(chunk[cut:])
		}
		chunk, n = chunk[:0], 0
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		a, b = truncatePair(a, b, o.MaxTokens, r)
		dst = append(dst, SegmentPair{A: a, B: b, Label: label, Doc: d})
	}
	return dst, nil
}

// PairInput lays a pair out as BERT's model input of length seqLen:
// "Begin A End B End" then Pad, with token types 0 up to and including the
// first End and 1 after it (0 on padding), and attention 1 on tokens and 0
// on padding. The pair must fit (len(A)+len(B)+3 <= seqLen) and Begin,
// End and Pad must be set (>= 0; PackOptionsFor's Pad fallback of 0 is
// fine).
func PairInput(p SegmentPair, sp SpecialTokens, seqLen int) (ids, types, attention []int32, err error) {
	if sp.Begin < 0 || sp.End < 0 || sp.Pad < 0 {
		return nil, nil, nil, fmt.Errorf("text: pair input needs begin, end and pad tokens, have %d, %d, %d", sp.Begin, sp.End, sp.Pad)
	}
	n := len(p.A) + len(p.B) + 3
	if n > seqLen {
		return nil, nil, nil, fmt.Errorf("text: pair of %d+%d tokens does not fit %d with 3 special tokens", len(p.A), len(p.B), seqLen)
	}
	ids = make([]int32, seqLen)
	types = make([]int32, seqLen)
	attention = make([]int32, seqLen)
	ids[0] = sp.Begin
	copy(ids[1:], p.A)
	ids[1+len(p.A)] = sp.End
	copy(ids[2+len(p.A):], p.B)
	ids[n-1] = sp.End
	for i := n; i < seqLen; i++ {
		ids[i] = sp.Pad
	}
	for i := 2 + len(p.A); i < n; i++ {
		types[i] = 1
	}
	for i := range n {
		attention[i] = 1
	}
	return ids, types, attention, nil
}
