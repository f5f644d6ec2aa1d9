package text

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// TrainOptions configures NewTrainer.
type TrainOptions struct {
	// Kind is "wordpiece" (BERT: BertNormalizer, BertPreTokenizer,
	// [CLS]/[SEP]) or "bpe" (RoBERTa/GPT-2 byte-level BPE, <s>/</s>).
	Kind string
	// VocabSize is the final vocabulary size including special tokens and
	// the alphabet. Default 8000.
	VocabSize int
	// MinFrequency: pairs seen fewer times are not merged. Default 2.
	MinFrequency int
	// SpecialTokens get the first ids, in order. Default: [PAD] [UNK] [CLS]
	// [SEP] [MASK] (wordpiece), <s> <pad> </s> <unk> <mask> (bpe).
	SpecialTokens []string
	// Cased keeps case and accents (wordpiece only; default: lowercase and
	// strip accents like bert-base-uncased).
	Cased bool
	// LimitAlphabet keeps only the most frequent characters as the initial
	// alphabet (wordpiece only; HF's default for BERT, 1000). Words with
	// other characters encode to [UNK].
	LimitAlphabet int
}

// Trainer learns a WordPiece or byte-level BPE vocabulary from text. Add
// documents, then call Tokenizer. Not safe for concurrent use.
type Trainer struct {
	o     TrainOptions
	norm  *normalizer
	pre   preTokenizer
	sc    encodeScratch
	words map[string]int64
}

// NewTrainer checks opts and returns an empty Trainer.
func NewTrainer(opts TrainOptions) (*Trainer, error) {
	if opts.VocabSize == 0 {
		opts.VocabSize = 8000
	}
	if opts.MinFrequency == 0 {
		opts.MinFrequency = 2
	}
	if opts.LimitAlphabet == 0 {
		opts.LimitAlphabet = 1000
	}
	tr := &Trainer{o: opts, words: map[string]int64{}}
	switch opts.Kind {
	case "wordpiece":
		if tr.o.SpecialTokens == nil {
			tr.o.SpecialTokens = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
		}
		lower := !opts.Cased
		tr.norm = &normalizer{steps: []normStep{bertNorm{clean: true, chinese: true, strip: lower, lower: lower}}}
		tr.pre = bertPre{}
	case "bpe":
		if tr.o.SpecialTokens == nil {
			tr.o.SpecialTokens = []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>"}
		}
		tr.pre = byteLevelPre{useRegex: true}
	default:
		return nil, fmt.Errorf("text: unknown tokenizer kind %q (wordpiece, bpe)", opts.Kind)
	}
	seen := map[string]bool{}
	for _, s := range tr.o.SpecialTokens {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("text: special token %q empty or repeated", s)
		}
		seen[s] = true
	}
	if opts.VocabSize < len(tr.o.SpecialTokens)+1 {
		return nil, fmt.Errorf("text: vocabulary size %d is too small", opts.VocabSize)
	}
	return tr, nil
}

// Add counts the words of one document.
func (tr *Trainer) Add(text string) {
	if tr.norm != nil {
		tr.sc.norm = tr.norm.appendNormalized(tr.sc.norm[:0], text, &tr.sc)
		text = string(tr.sc.norm)
	}
	tr.sc.pieces = tr.pre.split(text, &tr.sc, tr.sc.pieces[:0])
	for _, w := range tr.sc.pieces {
		tr.words[w]++
	}
}

// Words is the number of distinct words counted so far.
func (tr *Trainer) Words() int { return len(tr.words) }

// pairHeap is a max-heap of pair counts; ties go to the smaller pair key so
// training is deterministic.
type pairItem struct {
	count int64
	key   uint64
}
type pairHeap []pairItem

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].key < h[j].key
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairItem)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Tokenizer learns the vocabulary (BPE merges; WordPiece is learned the same
// way with "##" continuation symbols, as HF's WordPieceTrainer does) and
// returns the tokenizer. ctx is checked between merges.
//
// The vocabulary starts with the special tokens and the alphabet (the
// LimitAlphabet most frequent characters with their "##" forms for
// WordPiece, the 256 byte runes for byte-level BPE); every counted word is
// split into alphabet symbols; then the most frequent adjacent pair is
// merged into a new token until the vocabulary is full or no pair is seen
// MinFrequency times.
func (tr *Trainer) Tokenizer(ctx context.Context) (*Tokenizer, error) {
	v := newTrainVocab(tr.o.SpecialTokens)
	keys := tr.sortedWords()
	if tr.o.Kind == "wordpiece" {
		v.addWordPieceAlphabet(tr.alphabet(keys))
	} else {
		v.addByteAlphabet()
	}
	m := newMerger(tr.segment(v, keys))
	merges, err := m.learn(ctx, v, tr.o)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(tr.document(v.toks, merges))
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	return ParseTokenizer(data, "")
}

// learnedVocab is the vocabulary being learned: tokens in id order.
type learnedVocab struct {
	toks  []string
	index map[string]int32
}

func newTrainVocab(specials []string) *learnedVocab {
	v := &learnedVocab{index: map[string]int32{}}
	for _, s := range specials {
		v.add(s)
	}
	return v
}

// add returns the id of s, giving it the next id if it is new.
func (v *learnedVocab) add(s string) int32 {
	if id, ok := v.index[s]; ok {
		return id
	}
	id := int32(len(v.toks))
	v.toks = append(v.toks, s)
	v.index[s] = id
	return id
}

// addWordPieceAlphabet adds each character, then each with the "##"
// continuation prefix.
func (v *learnedVocab) addWordPieceAlphabet(chars []rune) {
	for _, r := range chars {
		v.add(string(r))
	}
	for _, r := range chars {
		v.add("##" + string(r))
	}
}

// addByteAlphabet adds GPT-2's rune for each byte, in byte order.
func (v *learnedVocab) addByteAlphabet() {
	for b := range 256 {
		v.add(string(byteToRune[b]))
	}
}

// sortedWords lists the counted words in sorted order, for determinism.
func (tr *Trainer) sortedWords() []string {
	keys := make([]string, 0, len(tr.words))
	for w := range tr.words {
		keys = append(keys, w)
	}
	slices.Sort(keys)
	return keys
}

// alphabet is the WordPiece alphabet: the LimitAlphabet characters most
// frequent in the words (ties to the smaller rune), in rune order.
func (tr *Trainer) alphabet(keys []string) []rune {
	freq := map[rune]int64{}
	for _, w := range keys {
		for _, r := range w {
			freq[r] += tr.words[w]
		}
	}
	chars := make([]rune, 0, len(freq))
	for r := range freq {
		chars = append(chars, r)
	}
	slices.SortFunc(chars, func(a, b rune) int {
		if c := cmp.Compare(freq[b], freq[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	chars = chars[:min(len(chars), tr.o.LimitAlphabet)]
	slices.Sort(chars)
	return chars
}

// trainWord is a distinct word as a sequence of token ids, with its count.
type trainWord struct {
	syms  []int32
	count int64
}

// segment splits each word into alphabet symbols: characters (the first
// plain, the rest with "##") for WordPiece, bytes for byte-level BPE.
// WordPiece words with a character outside the alphabet are left out: they
// encode to [UNK] whatever is learned.
func (tr *Trainer) segment(v *learnedVocab, keys []string) []trainWord {
	words := make([]trainWord, 0, len(keys))
	for _, w := range keys {
		var syms []int32
		if tr.o.Kind == "wordpiece" {
			var ok bool
			if syms, ok = wordPieceSymbols(v, w); !ok {
				continue
			}
		} else {
			for i := 0; i < len(w); i++ {
				syms = append(syms, v.index[string(byteToRune[w[i]])])
			}
		}
		words = append(words, trainWord{syms: syms, count: tr.words[w]})
	}
	return words
}

// wordPieceSymbols is w's characters as ids; false if one is not in the
// alphabet.
func wordPieceSymbols(v *learnedVocab, w string) ([]int32, bool) {
	var syms []int32
	for i, r := range w {
		s := string(r)
		if i > 0 {
			s = "##" + s
		}
		id, ok := v.index[s]
		if !ok {
			return nil, false
		}
		syms = append(syms, id)
	}
	return syms, true
}

// merger runs the merges: the words as symbol sequences, the weighted count
// of every adjacent pair, which words may hold each pair, and a heap of
// candidate pairs. Heap entries and where lists may be stale; counts is the
// truth.
type merger struct {
	words  []trainWord
	counts map[uint64]int64   // pair -> occurrences, weighted by word counts
	where  map[uint64][]int32 // pair -> words that held it (repeats and stale entries allowed)
	heap   pairHeap
	stamp  []int // word -> the last merge iteration that visited it
}

func newMerger(words []trainWord) *merger {
	m := &merger{words: words, counts: map[uint64]int64{}, where: map[uint64][]int32{}, stamp: make([]int, len(words))}
	for wi, w := range words {
		for i := 0; i+1 < len(w.syms); i++ {
			k := pairKey(w.syms[i], w.syms[i+1])
			m.counts[k] += w.count
			m.where[k] = append(m.where[k], int32(wi))
		}
	}
	m.heap = make(pairHeap, 0, len(m.counts))
	for k, c := range m.counts {
		m.heap = append(m.heap, pairItem{c, k})
	}
	heap.Init(&m.heap)
	return m
}

// learn merges the most frequent pair (ties to the smaller pair key) into a
// new token of v until v holds o.VocabSize tokens, no pair is left or the
// best is seen fewer than o.MinFrequency times, and returns the merges in
// order.
func (m *merger) learn(ctx context.Context, v *learnedVocab, o TrainOptions) ([][2]string, error) {
	var merges [][2]string
	for iter := 1; len(v.toks) < o.VocabSize && m.heap.Len() > 0; iter++ {
		if iter%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		top := heap.Pop(&m.heap).(pairItem)
		if m.requeueStale(top) {
			continue
		}
		if top.count < int64(o.MinFrequency) {
			break
		}
		a, b := int32(top.key>>32), int32(uint32(top.key))
		merged := v.toks[a] + v.toks[b]
		if o.Kind == "wordpiece" {
			merged = v.toks[a] + strings.TrimPrefix(v.toks[b], "##")
		}
		c := v.add(merged)
		merges = append(merges, [2]string{v.toks[a], v.toks[b]})
		m.apply(top.key, c, iter)
	}
	return merges, nil
}

// requeueStale reports whether a popped heap entry is out of date; if its
// pair is still present, it goes back with the current count.
func (m *merger) requeueStale(top pairItem) bool {
	cur := m.counts[top.key]
	if cur == top.count {
		return false
	}
	if cur > 0 {
		heap.Push(&m.heap, pairItem{cur, top.key})
	}
	return true
}

// apply replaces the pair key with token c in every word that holds it,
// updates the pair counts, and queues the pairs that now contain c (in key
// order, for determinism).
func (m *merger) apply(key uint64, c int32, iter int) {
	changed := map[uint64]bool{}
	for _, wi := range m.where[key] {
		if m.stamp[wi] == iter {
			continue
		}
		m.stamp[wi] = iter
		m.mergeWord(wi, key, c, changed)
	}
	delete(m.where, key)
	delete(m.counts, key)
	ks := make([]uint64, 0, len(changed))
	for k := range changed {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks {
		if m.counts[k] > 0 {
			heap.Push(&m.heap, pairItem{m.counts[k], k})
		}
	}
}

// mergeWord rewrites word wi with pair key merged into c, left to right,
// moving its pair counts from the old symbols to the new ones and recording
// in changed the pairs that contain c.
func (m *merger) mergeWord(wi int32, key uint64, c int32, changed map[uint64]bool) {
	a, b := int32(key>>32), int32(uint32(key))
	w := &m.words[wi]
	has := false
	for i := 0; i+1 < len(w.syms); i++ {
		if w.syms[i] == a && w.syms[i+1] == b {
			has = true
			break
		}
	}
	if !has {
		return
	}
	for i := 0; i+1 < len(w.syms); i++ {
		m.counts[pairKey(w.syms[i], w.syms[i+1])] -= w.count
	}
	out := w.syms[:0]
	for i := 0; i < len(w.syms); i++ {
		if i+1 < len(w.syms) && w.syms[i] == a && w.syms[i+1] == b {
			out = append(out, c)
			i++
		} else {
			out = append(out, w.syms[i])
		}
	}
	w.syms = out
	for i := 0; i+1 < len(w.syms); i++ {
		k := pairKey(w.syms[i], w.syms[i+1])
		m.counts[k] += w.count
		if w.syms[i] == c || w.syms[i+1] == c {
			m.where[k] = append(m.where[k], wi)
			changed[k] = true
		}
	}
}

// document builds the tokenizer.json object in HF's layout.
func (tr *Trainer) document(toks []string, merges [][2]string) map[string]any {
	vocab := make(map[string]int, len(toks))
	for i, s := range toks {
		vocab[s] = i
	}
	var added []map[string]any
	for i, s := range tr.o.SpecialTokens {
		added = append(added, map[string]any{
			"id": i, "content": s, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true,
		})
	}
	d := map[string]any{"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added}
	pair := func(name string) []any {
		id, ok := vocab[name]
		if !ok {
			return nil
		}
		return []any{name, id}
	}
	if tr.o.Kind == "wordpiece" {
		lower := !tr.o.Cased
		d["normalizer"] = map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": lower, "lowercase": lower}
		d["pre_tokenizer"] = map[string]any{"type": "BertPreTokenizer"}
		if cls, sep := pair("[CLS]"), pair("[SEP]"); cls != nil && sep != nil {
			d["post_processor"] = map[string]any{"type": "BertProcessing", "sep": sep, "cls": cls}
		} else {
			d["post_processor"] = nil
		}
		d["decoder"] = map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true}
		unk := "[UNK]"
		if _, ok := vocab[unk]; !ok {
			unk = tr.o.SpecialTokens[0]
		}
		d["model"] = map[string]any{"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab}
		return d
	}
	d["normalizer"] = nil
	d["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	if cls, sep := pair("<s>"), pair("</s>"); cls != nil && sep != nil {
		d["post_processor"] = map[string]any{"type": "RobertaProcessing", "sep": sep, "cls": cls, "trim_offsets": true, "add_prefix_space": false}
	} else {
		d["post_processor"] = nil
	}
	d["decoder"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
	d["model"] = map[string]any{
		"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
		"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
		"vocab": vocab, "merges": merges,
	}
	return d
}

// MarshalJSON returns the tokenizer.json document.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.raw)
}

// Save writes the tokenizer as tokenizer.json (indented), through a
// temporary file renamed into place. HF tokenizers loads the result with
// Tokenizer.from_file.
func (t *Tokenizer) Save(path string) (err error) {
	data, err := json.MarshalIndent(t.raw, "", "  ")
	if err != nil {
		return fmt.Errorf("text: %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tokenizer-*.json")
	if err != nil {
		return fmt.Errorf("text: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(append(data, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("text: %s: %w", path, err)
	}
	return nil
}

// TrainFromDocuments feeds docs to a new Trainer and returns the tokenizer.
// Document errors are passed to onErr; if it returns an error, training
// stops with it. A nil onErr stops at the first error.
func TrainFromDocuments(ctx context.Context, docs iter.Seq2[Document, error], opts TrainOptions, onErr func(error) error) (*Tokenizer, error) {
	tr, err := NewTrainer(opts)
	if err != nil {
		return nil, err
	}
	for d, err := range docs {
		if err != nil {
			if onErr == nil || errors.Is(err, context.Canceled) {
				return nil, err
			}
			if err := onErr(err); err != nil {
				return nil, err
			}
			continue
		}
		tr.Add(d.Text)
	}
	if tr.Words() == 0 {
		return nil, errors.New("text: no words to train on")
	}
	return tr.Tokenizer(ctx)
}
