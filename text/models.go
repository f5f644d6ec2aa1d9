package text

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// wordPiece is HF's WordPiece model: greedy longest-match-first with a
// continuation prefix; a word that cannot be covered (or is longer than
// maxChars runes) becomes the unknown token.
type wordPiece struct {
	vocab    map[string]int32
	unk      int32
	prefix   string
	maxChars int
	maxBytes int // longest vocabulary entry without the prefix
	// ascii[c] is the id of the one-byte token c (-1 if none); cont[c] the
	// same with the prefix. They spare map look-ups for one-byte pieces.
	ascii, cont [128]int32
}

func parseWordPiece(raw json.RawMessage) (*wordPiece, error) {
	var m struct {
		Vocab    map[string]int32 `json:"vocab"`
		Unk      string           `json:"unk_token"`
		Prefix   *string          `json:"continuing_subword_prefix"`
		MaxChars *int             `json:"max_input_chars_per_word"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: WordPiece model: %v", ErrMalformed, err)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("%w: WordPiece model has an empty vocab", ErrMalformed)
	}
	wp := &wordPiece{vocab: m.Vocab, prefix: "##", maxChars: 100}
	if m.Prefix != nil {
		wp.prefix = *m.Prefix
	}
	if m.MaxChars != nil {
		wp.maxChars = *m.MaxChars
	}
	if m.Unk == "" {
		m.Unk = "[UNK]"
	}
	unk, ok := m.Vocab[m.Unk]
	if !ok {
		return nil, fmt.Errorf("%w: WordPiece unk_token %q is not in the vocab", ErrMalformed, m.Unk)
	}
	wp.unk = unk
	for s := range m.Vocab {
		wp.maxBytes = max(wp.maxBytes, len(strings.TrimPrefix(s, wp.prefix)))
	}
	for c := range 128 {
		wp.ascii[c], wp.cont[c] = -1, -1
		if id, ok := m.Vocab[string(rune(c))]; ok {
			wp.ascii[c] = id
		}
		if id, ok := m.Vocab[wp.prefix+string(rune(c))]; ok {
			wp.cont[c] = id
		}
	}
	return wp, nil
}

func (wp *wordPiece) appendIDs(dst []int32, word string, sc *encodeScratch) []int32 {
	if len(word) > wp.maxChars && utf8.RuneCountInString(word) > wp.maxChars {
		return append(dst, wp.unk)
	}
	if id, ok := wp.vocab[word]; ok { // whole word in vocabulary: the common case
		return append(dst, id)
	}
	n0 := len(dst)
	buf := append(sc.word[:0], wp.prefix...)
	for start := 0; start < len(word); {
		end := min(len(word), start+wp.maxBytes)
		// Back up to a rune boundary.
		for end > start && end < len(word) && !utf8.RuneStart(word[end]) {
			end--
		}
		found := int32(-1)
		for end > start {
			sub := word[start:end]
			if end-start == 1 && sub[0] < 128 {
				if start == 0 {
					found = wp.ascii[sub[0]]
				} else {
					found = wp.cont[sub[0]]
				}
				if found >= 0 {
					break
				}
			} else {
				var id int32
				var ok bool
				if start == 0 {
					id, ok = wp.vocab[sub]
				} else {
					buf = append(buf[:len(wp.prefix)], sub...)
					id, ok = wp.vocab[unsafeString(buf)]
				}
				if ok {
					found = id
					break
				}
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if found < 0 {
			sc.word = buf
			return append(dst[:n0], wp.unk)
		}
		dst = append(dst, found)
		start = end
	}
	sc.word = buf
	return dst
}

// bpeModel is HF's BPE model. With byteLevel the input pieces are raw bytes
// and each byte starts as the token of its GPT-2 printable rune.
type bpeModel struct {
	vocab        map[string]int32
	merges       map[uint64]uint64 // (left<<32 | right) -> (rank<<32 | merged id)
	unk          int32             // -1 if none
	fuseUnk      bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	ignoreMerges bool
	byteFallback bool
	byteLevel    bool
	byteID       [256]int32 // byte-level: id of each byte's rune (-1 if absent)
	mergeList    [][2]string
}

func parseBPE(raw json.RawMessage) (*bpeModel, error) {
	var m struct {
		Vocab        map[string]int32  `json:"vocab"`
		Merges       []json.RawMessage `json:"merges"`
		Unk          *string           `json:"unk_token"`
		Dropout      *float64          `json:"dropout"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
		FuseUnk      bool              `json:"fuse_unk"`
		ByteFallback bool              `json:"byte_fallback"`
		IgnoreMerges bool              `json:"ignore_merges"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: BPE model: %v", ErrMalformed, err)
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("%w: BPE model has an empty vocab", ErrMalformed)
	}
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, fmt.Errorf("%w: BPE dropout %g (only deterministic BPE)", ErrUnsupported, *m.Dropout)
	}
	if m.ByteFallback {
		return nil, fmt.Errorf("%w: BPE byte_fallback", ErrUnsupported)
	}
	b := &bpeModel{vocab: m.Vocab, unk: -1, fuseUnk: m.FuseUnk, ignoreMerges: m.IgnoreMerges}
	if m.Prefix != nil {
		b.prefix = *m.Prefix
	}
	if m.Suffix != nil {
		b.suffix = *m.Suffix
	}
	if m.Unk != nil {
		id, ok := m.Vocab[*m.Unk]
		if !ok {
			return nil, fmt.Errorf("%w: BPE unk_token %q is not in the vocab", ErrMalformed, *m.Unk)
		}
		b.unk = id
	}
	b.merges = make(map[uint64]uint64, len(m.Merges))
	for rank, rawMerge := range m.Merges {
		var pair [2]string
		var s string
		if err := json.Unmarshal(rawMerge, &s); err == nil {
			l, r, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("%w: BPE merge %d %q is not two tokens", ErrMalformed, rank, s)
			}
			pair = [2]string{l, r}
		} else if err := json.Unmarshal(rawMerge, &pair); err != nil {
			return nil, fmt.Errorf("%w: BPE merge %d: %v", ErrMalformed, rank, err)
		}
		a, okA := m.Vocab[pair[0]]
		c, okC := m.Vocab[pair[1]]
		if !okA || !okC {
			return nil, fmt.Errorf("%w: BPE merge %d (%q, %q) uses a token not in the vocab", ErrMalformed, rank, pair[0], pair[1])
		}
		merged := pair[0] + strings.TrimPrefix(pair[1], b.prefix)
		id, ok := m.Vocab[merged]
		if !ok {
			return nil, fmt.Errorf("%w: BPE merge %d (%q, %q): %q is not in the vocab", ErrMalformed, rank, pair[0], pair[1], merged)
		}
		key := uint64(uint32(a))<<32 | uint64(uint32(c))
		if _, dup := b.merges[key]; !dup {
			b.merges[key] = uint64(rank)<<32 | uint64(uint32(id))
		}
		b.mergeList = append(b.mergeList, pair)
	}
	for i := range 256 {
		b.byteID[i] = -1
		if id, ok := m.Vocab[string(byteToRune[i])]; ok {
			b.byteID[i] = id
		}
	}
	return b, nil
}

// byteToRune is GPT-2's bytes_to_unicode: printable bytes map to themselves,
// the others to U+0100 upward, in byte order.
var byteToRune = func() [256]rune {
	var t [256]rune
	n := 0
	for b := range 256 {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()

// bpeCacheMax bounds the per-scratch word cache (entries); it is cleared
// when full. HF's BPE keeps a similar cache (10,000 words).
const bpeCacheMax = 1 << 16

type cacheSpan struct{ off, n int32 }

func (b *bpeModel) appendIDs(dst []int32, word string, sc *encodeScratch) []int32 {
	if word == "" {
		return dst
	}
	if len(word) <= 32 {
		if sp, ok := sc.bpeCache[word]; ok {
			return append(dst, sc.bpeArena[sp.off:sp.off+sp.n]...)
		}
		n := len(dst)
		dst = b.encodeWord(dst, word, sc)
		if sc.bpeCache == nil || len(sc.bpeCache) >= bpeCacheMax {
			sc.bpeCache = make(map[string]cacheSpan, 1024)
			sc.bpeArena = sc.bpeArena[:0]
		}
		sc.bpeCache[strings.Clone(word)] = cacheSpan{int32(len(sc.bpeArena)), int32(len(dst) - n)}
		sc.bpeArena = append(sc.bpeArena, dst[n:]...)
		return dst
	}
	return b.encodeWord(dst, word, sc)
}

func (b *bpeModel) encodeWord(dst []int32, word string, sc *encodeScratch) []int32 {
	syms := sc.syms[:0]
	if b.byteLevel && b.prefix == "" && b.suffix == "" {
		if b.ignoreMerges {
			if id, ok := b.vocab[mapBytes(sc, word)]; ok {
				return append(dst, id)
			}
		}
		for i := 0; i < len(word); i++ {
			id := b.byteID[word[i]]
			if id < 0 {
				id = b.unk
			}
			if id >= 0 { // HF drops unknown symbols when there is no unk token
				syms = append(syms, id)
			}
		}
	} else {
		if b.byteLevel {
			word = mapBytes(sc, word)
		}
		if b.ignoreMerges {
			if id, ok := b.vocab[word]; ok {
				return append(dst, id)
			}
		}
		lastUnk := false
		for i := 0; i < len(word); {
			_, n := utf8.DecodeRuneInString(word[i:])
			piece := word[i : i+n]
			if i > 0 && b.prefix != "" {
				piece = b.prefix + piece
			}
			if i+n == len(word) && b.suffix != "" {
				piece += b.suffix
			}
			i += n
			id, ok := b.vocab[piece]
			if !ok {
				if b.unk < 0 || (b.fuseUnk && lastUnk) {
					continue
				}
				id, lastUnk = b.unk, true
			} else {
				lastUnk = false
			}
			syms = append(syms, id)
		}
	}
	syms = b.merge(syms)
	sc.syms = syms
	return append(dst, syms...)
}

func mapBytes(sc *encodeScratch, word string) string {
	buf := sc.word[:0]
	for i := 0; i < len(word); i++ {
		buf = appendRune(buf, byteToRune[word[i]])
	}
	sc.word = buf
	return unsafeString(buf)
}

// merge applies merges in rank order (lowest first, leftmost on ties). Short
// words use a quadratic scan; long ones a heap so a 50 MB "word" stays
// O(n log n).
func (b *bpeModel) merge(syms []int32) []int32 {
	if len(syms) < 2 {
		return syms
	}
	if len(syms) > 64 {
		return b.mergeHeap(syms)
	}
	return b.mergeQuadratic(syms)
}

func (b *bpeModel) mergeQuadratic(syms []int32) []int32 {
	for {
		best, bestRank := -1, uint64(1<<63)
		var bestID int32
		for i := 0; i+1 < len(syms); i++ {
			v, ok := b.merges[uint64(uint32(syms[i]))<<32|uint64(uint32(syms[i+1]))]
			if ok && v>>32 < bestRank {
				best, bestRank, bestID = i, v>>32, int32(uint32(v))
			}
		}
		if best < 0 {
			return syms
		}
		syms[best] = bestID
		syms = append(syms[:best+1], syms[best+2:]...)
	}
}

type mergeCand struct {
	rank uint64
	pos  int32 // left symbol index
	l, r int32 // ids at push time, to detect stale entries
	id   int32
}

func (b *bpeModel) mergeHeap(syms []int32) []int32 {
	n := len(syms)
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range n {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	var h []mergeCand
	less := func(a, c mergeCand) bool { return a.rank < c.rank || (a.rank == c.rank && a.pos < c.pos) }
	push := func(c mergeCand) {
		h = append(h, c)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !less(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() mergeCand {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			l, r, m := 2*i+1, 2*i+2, i
			if l < len(h) && less(h[l], h[m]) {
				m = l
			}
			if r < len(h) && less(h[r], h[m]) {
				m = r
			}
			if m == i {
				break
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
		return top
	}
	try := func(i int32) {
		if i < 0 || next[i] < 0 {
			return
		}
		j := next[i]
		if v, ok := b.merges[uint64(uint32(syms[i]))<<32|uint64(uint32(syms[j]))]; ok {
			push(mergeCand{rank: v >> 32, pos: i, l: syms[i], r: syms[j], id: int32(uint32(v))})
		}
	}
	for i := range n - 1 {
		try(int32(i))
	}
	dead := int32(-2)
	for len(h) > 0 {
		c := pop()
		i := c.pos
		if prev[i] == dead {
			continue
		}
		j := next[i]
		if j < 0 || syms[i] != c.l || syms[j] != c.r {
			continue
		}
		syms[i] = c.id
		next[i] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = i
		}
		prev[j] = dead
		try(prev[i])
		try(i)
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}
