package text

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Errors callers can test with errors.Is.
var (
	// ErrUnsupported marks a tokenizer.json component this package does not
	// implement (it would otherwise encode differently from HF).
	ErrUnsupported = errors.New("unsupported tokenizer component")
	// ErrMalformed marks a tokenizer.json that is not valid JSON or is
	// internally inconsistent (missing vocab, unknown unk token, ...).
	ErrMalformed = errors.New("malformed tokenizer.json")
)

// MaxTokenizerFileBytes bounds the size of a tokenizer.json that
// LoadTokenizer reads (real ones are a few MB).
const MaxTokenizerFileBytes = 256 << 20

// Tokenizer encodes text to token ids like a Hugging Face tokenizer.json.
// It is immutable after construction and safe for concurrent use.
type Tokenizer struct {
	name string // file name, for messages

	norm  *normalizer
	pre   preTokenizer
	wp    *wordPiece
	bpe   *bpeModel
	post  postProcessor
	dec   decoder // nil: Decode joins tokens with spaces
	added *addedVocab

	vocab   map[string]int32 // model vocabulary plus added tokens
	inverse []string         // id -> token
	special []bool           // id -> is a special added token

	// raw is the parsed document; Save writes it back so that fields this
	// package does not interpret (truncation, padding, ...) survive.
	raw map[string]json.RawMessage

	scratch sync.Pool // *encodeScratch
}

type encodeScratch struct {
	segs     []segment
	pieces   []string
	bpeCache map[string]cacheSpan // BPE word -> ids in bpeArena
	bpeArena []int32
	norm     []byte
	tmp      []byte
	word     []byte
	syms     []int32
	runes    []rune
}

// LoadTokenizer reads a Hugging Face tokenizer.json file.
func LoadTokenizer(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("text: %s: %w", path, err)
	}
	if st.Size() > MaxTokenizerFileBytes {
		return nil, fmt.Errorf("text: %s: %w: file is %d bytes, more than %d", path, ErrMalformed, st.Size(), MaxTokenizerFileBytes)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("text: %s: %w", path, err)
	}
	return ParseTokenizer(data, path)
}

// ParseTokenizer parses the contents of a tokenizer.json; name is used in
// error messages.
func ParseTokenizer(data []byte, name string) (tok *Tokenizer, err error) {
	defer func() {
		// The parser validates its input; a panic here is a bug, but a
		// malformed file must never crash a caller.
		if r := recover(); r != nil {
			tok, err = nil, fmt.Errorf("text: %s: %w: %v", name, ErrMalformed, r)
		}
	}()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("text: %s: %w: %v", name, ErrMalformed, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("text: %s: %w: not a JSON object", name, ErrMalformed)
	}
	t := &Tokenizer{name: name, raw: raw}
	if err := t.build(); err != nil {
		return nil, fmt.Errorf("text: %s: %w", name, err)
	}
	return t, nil
}

type addedTokenJSON struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

func isNull(m json.RawMessage) bool {
	s := strings.TrimSpace(string(m))
	return len(m) == 0 || s == "null"
}

func (t *Tokenizer) build() error {
	var model struct {
		Type string `json:"type"`
	}
	if isNull(t.raw["model"]) {
		return fmt.Errorf("%w: no model", ErrMalformed)
	}
	if err := json.Unmarshal(t.raw["model"], &model); err != nil {
		return fmt.Errorf("%w: model: %v", ErrMalformed, err)
	}
	var err error
	switch model.Type {
	case "WordPiece":
		t.wp, err = parseWordPiece(t.raw["model"])
	case "BPE":
		t.bpe, err = parseBPE(t.raw["model"])
	case "":
		// HF omits "type" for some models when serializing untagged; guess from fields.
		var probe map[string]json.RawMessage
		_ = json.Unmarshal(t.raw["model"], &probe)
		if _, ok := probe["merges"]; ok {
			t.bpe, err = parseBPE(t.raw["model"])
		} else if _, ok := probe["max_input_chars_per_word"]; ok {
			t.wp, err = parseWordPiece(t.raw["model"])
		} else {
			err = fmt.Errorf("%w: model without type", ErrMalformed)
		}
	default:
		err = fmt.Errorf("%w: model type %q (WordPiece and BPE are supported)", ErrUnsupported, model.Type)
	}
	if err != nil {
		return err
	}
	var modelVocab map[string]int32
	if t.wp != nil {
		modelVocab = t.wp.vocab
	} else {
		modelVocab = t.bpe.vocab
	}
	t.vocab = make(map[string]int32, len(modelVocab)+8)
	maxID := int32(-1)
	for s, id := range modelVocab {
		if id < 0 {
			return fmt.Errorf("%w: negative id %d for token %q", ErrMalformed, id, s)
		}
		t.vocab[s] = id
		maxID = max(maxID, id)
	}
	var added []addedTokenJSON
	if !isNull(t.raw["added_tokens"]) {
		if err := json.Unmarshal(t.raw["added_tokens"], &added); err != nil {
			return fmt.Errorf("%w: added_tokens: %v", ErrMalformed, err)
		}
	}
	for _, a := range added {
		if a.ID < 0 || a.Content == "" {
			return fmt.Errorf("%w: added token %q with id %d", ErrMalformed, a.Content, a.ID)
		}
		if old, ok := t.vocab[a.Content]; ok && old != a.ID {
			return fmt.Errorf("%w: added token %q has id %d but the model gives it %d", ErrMalformed, a.Content, a.ID, old)
		}
		t.vocab[a.Content] = a.ID
		maxID = max(maxID, a.ID)
	}
	if maxID > 1<<26 {
		return fmt.Errorf("%w: token id %d is implausibly large", ErrMalformed, maxID)
	}
	t.inverse = make([]string, maxID+1)
	for s, id := range modelVocab {
		// Two tokens with one id: keep one, the same one every time.
		if old := t.inverse[id]; old == "" || s < old {
			t.inverse[id] = s
		}
	}
	// As in HF, an id's added token wins over a model token with the same id.
	t.special = make([]bool, maxID+1)
	for _, a := range added {
		t.inverse[a.ID] = a.Content
		if a.Special {
			t.special[a.ID] = true
		}
	}
	t.added = newAddedVocab(added)

	if t.norm, err = parseNormalizer(t.raw["normalizer"]); err != nil {
		return err
	}
	if t.pre, err = parsePreTokenizer(t.raw["pre_tokenizer"]); err != nil {
		return err
	}
	if t.bpe != nil {
		t.bpe.byteLevel = isByteLevel(t.pre)
	}
	if t.post, err = parsePostProcessor(t.raw["post_processor"], t.vocab); err != nil {
		return err
	}
	if t.dec, err = parseDecoder(t.raw["decoder"]); err != nil {
		return err
	}
	t.scratch.New = func() any { return new(encodeScratch) }
	return nil
}

// Name is the file name the tokenizer was loaded from (or "" if built in memory).
func (t *Tokenizer) Name() string { return t.name }

// VocabSize is one more than the largest id, including added tokens.
func (t *Tokenizer) VocabSize() int { return len(t.inverse) }

// TokenID returns the id of a token string (model vocabulary or added token).
func (t *Tokenizer) TokenID(token string) (int32, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// Token returns the string of an id, or "" if the id is unused.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.inverse) {
		return ""
	}
	return t.inverse[id]
}

// IsSpecial reports whether id is a special added token ([CLS], <pad>, ...).
func (t *Tokenizer) IsSpecial(id int32) bool {
	return id >= 0 && int(id) < len(t.special) && t.special[id]
}

// SpecialIDs lists the ids of special added tokens in increasing order.
func (t *Tokenizer) SpecialIDs() []int32 {
	var ids []int32
	for id, s := range t.special {
		if s {
			ids = append(ids, int32(id))
		}
	}
	return ids
}

// Kind is "wordpiece" or "bpe".
func (t *Tokenizer) Kind() string {
	if t.wp != nil {
		return "wordpiece"
	}
	return "bpe"
}

// SpecialTokens are the ids a model input uses around and between text.
// An id is -1 when the tokenizer has no such token.
type SpecialTokens struct {
	Begin int32 // [CLS] or <s>
	End   int32 // [SEP] or </s>
	Pad   int32 // [PAD] or <pad>
	Mask  int32 // [MASK] or <mask>
	Unk   int32 // [UNK] or <unk>
}

// Specials finds the conventional special tokens by name (BERT names first,
// then RoBERTa/GPT-2 names).
func (t *Tokenizer) Specials() SpecialTokens {
	find := func(names ...string) int32 {
		for _, n := range names {
			if id, ok := t.vocab[n]; ok {
				return id
			}
		}
		return -1
	}
	return SpecialTokens{
		Begin: find("[CLS]", "<s>", "<|begin_of_text|>", "<|endoftext|>"),
		End:   find("[SEP]", "</s>", "<|end_of_text|>", "<|endoftext|>"),
		Pad:   find("[PAD]", "<pad>", "<|pad|>"),
		Mask:  find("[MASK]", "<mask>"),
		Unk:   find("[UNK]", "<unk>"),
	}
}

// Encoding is the result of Encode.
type Encoding struct {
	IDs []int32
	// Words gives, for each token, the index of the word (pre-token) it came
	// from, counted from 0 in the input; -1 for special tokens. Whole-word
	// masking uses it.
	Words []int32
}

// Encode tokenizes s. With addSpecial the post-processor's tokens
// ([CLS] ... [SEP], <s> ... </s>) are added as HF does with
// add_special_tokens=True.
func (t *Tokenizer) Encode(s string, addSpecial bool) Encoding {
	var e Encoding
	e.IDs, e.Words = t.encode(s, nil, nil, true)
	if addSpecial {
		e.IDs, e.Words = t.post.apply(e.IDs, e.Words)
	}
	return e
}

// AppendIDs appends the ids of s (no special tokens) to dst and returns it.
// It is the allocation-free fast path used for bulk tokenization.
func (t *Tokenizer) AppendIDs(dst []int32, s string) []int32 {
	dst, _ = t.encode(s, dst, nil, false)
	return dst
}

// AddSpecial wraps ids with the post-processor's special tokens.
func (t *Tokenizer) AddSpecial(ids []int32) []int32 {
	out, _ := t.post.apply(ids, nil)
	return out
}

// segment is a piece of input between added tokens (id -1) or an added token.
type segment struct {
	s  string
	id int32
}

// encode appends ids (and word indexes when withWords) for s.
func (t *Tokenizer) encode(s string, ids, words []int32, withWords bool) ([]int32, []int32) {
	sc := t.scratch.Get().(*encodeScratch)
	word := int32(0)
	if !t.added.hasRaw {
		ids, words = t.encodeSegment(s, ids, words, withWords, &word, sc)
	} else {
		sc.segs = t.added.split(s, false, sc.segs[:0])
		for _, seg := range sc.segs {
			if seg.id >= 0 {
				ids = append(ids, seg.id)
				if withWords {
					words = append(words, word)
				}
				word++
				continue
			}
			ids, words = t.encodeSegment(seg.s, ids, words, withWords, &word, sc)
		}
	}
	t.scratch.Put(sc)
	return ids, words
}

// encodeSegment normalizes, pre-tokenizes and runs the model on a segment
// that contains no raw added token.
func (t *Tokenizer) encodeSegment(seg string, ids, words []int32, withWords bool, word *int32, sc *encodeScratch) ([]int32, []int32) {
	norm := seg
	if t.norm != nil {
		sc.norm = t.norm.appendNormalized(sc.norm[:0], seg, sc)
		norm = unsafeString(sc.norm)
	}
	if !t.added.hasNormalized {
		return t.preAndModel(norm, ids, words, withWords, word, sc)
	}
	// Rare: added tokens matched on normalized text. Copy the segments,
	// since the model step reuses the scratch buffers.
	segs := t.added.split(norm, true, nil)
	for i := range segs {
		segs[i].s = strings.Clone(segs[i].s)
	}
	for _, sub := range segs {
		if sub.id >= 0 {
			ids = append(ids, sub.id)
			if withWords {
				words = append(words, *word)
			}
			*word++
			continue
		}
		ids, words = t.preAndModel(sub.s, ids, words, withWords, word, sc)
	}
	return ids, words
}

func (t *Tokenizer) preAndModel(s string, ids, words []int32, withWords bool, word *int32, sc *encodeScratch) ([]int32, []int32) {
	sc.pieces = t.pre.split(s, sc, sc.pieces[:0])
	for _, piece := range sc.pieces {
		n := len(ids)
		if t.wp != nil {
			ids = t.wp.appendIDs(ids, piece, sc)
		} else {
			ids = t.bpe.appendIDs(ids, piece, sc)
		}
		if withWords {
			for range len(ids) - n {
				words = append(words, *word)
			}
		}
		if len(ids) > n {
			*word++
		}
	}
	return ids, words
}

// addedVocab splits input on added tokens (special or not), leftmost-longest.
type addedVocab struct {
	raw, norm     []addedToken // normalized=false / normalized=true tokens, longest first
	hasRaw        bool
	hasNormalized bool
	first         [256]bool // first byte of some raw token
	firstNorm     [256]bool
}

type addedToken struct {
	content      string
	id           int32
	lstrip       bool
	rstrip       bool
	singleWord   bool
	isNormalized bool
}

func newAddedVocab(list []addedTokenJSON) *addedVocab {
	av := &addedVocab{}
	for _, a := range list {
		tok := addedToken{content: a.Content, id: a.ID, lstrip: a.Lstrip, rstrip: a.Rstrip, singleWord: a.SingleWord}
		// As in HF, the normalized flag decides where a token is matched:
		// on the normalized text or on the raw input.
		if a.Normalized {
			av.norm = append(av.norm, tok)
			av.firstNorm[a.Content[0]] = true
		} else {
			av.raw = append(av.raw, tok)
			av.first[a.Content[0]] = true
		}
	}
	byLen := func(l []addedToken) {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].content) > len(l[j].content) })
	}
	byLen(av.raw)
	byLen(av.norm)
	av.hasRaw = len(av.raw) > 0
	av.hasNormalized = len(av.norm) > 0
	return av
}

func isWordByte(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isAlnum(r)
}

func isWordByteBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isAlnum(r)
}

// split appends to dst each maximal piece of s without added tokens (id -1)
// and each added token found (its id). lstrip/rstrip tokens swallow the
// whitespace next to them, single_word tokens only match between word
// boundaries.
func (av *addedVocab) split(s string, normalized bool, dst []segment) []segment {
	toks, first := av.raw, &av.first
	if normalized {
		toks, first = av.norm, &av.firstNorm
	}
	start := 0
	for i := 0; i < len(s); i++ {
		if !first[s[i]] {
			continue
		}
		for _, tk := range toks {
			if !strings.HasPrefix(s[i:], tk.content) {
				continue
			}
			end := i + len(tk.content)
			if tk.singleWord && ((i > 0 && isWordByteBefore(s, i)) || (end < len(s) && isWordByte(s, end))) {
				continue
			}
			segEnd := i
			if tk.lstrip {
				for segEnd > start && isSpaceByteOrRune(s[:segEnd]) {
					_, n := utf8.DecodeLastRuneInString(s[:segEnd])
					segEnd -= n
				}
			}
			if tk.rstrip {
				for end < len(s) {
					r, n := utf8.DecodeRuneInString(s[end:])
					if !isWhitespace(r) {
						break
					}
					end += n
				}
			}
			if segEnd > start {
				dst = append(dst, segment{s[start:segEnd], -1})
			}
			dst = append(dst, segment{tk.content, tk.id})
			start = end
			i = end - 1
			break
		}
	}
	if start < len(s) {
		dst = append(dst, segment{s[start:], -1})
	}
	return dst
}

func isSpaceByteOrRune(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWhitespace(r)
}
