package text

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits normalized text into words; the model encodes each
// word independently.
type preTokenizer interface {
	// split appends the pieces of s to dst. Pieces are substrings of s or
	// of sc.tmp, valid until the next call with the same scratch.
	split(s string, sc *encodeScratch, dst []string) []string
}

func decodeRune(s string) (rune, int) {
	if s[0] < utf8RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}

func appendRune(dst []byte, r rune) []byte {
	if r < utf8RuneSelf {
		return append(dst, byte(r))
	}
	return utf8.AppendRune(dst, r)
}

type preJSON struct {
	Type           string            `json:"type"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
}

// parsePreTokenizer returns the pre-tokenizer; a nil raw value means "the
// whole input is one word" as in HF.
func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return wholePre{}, nil
	}
	return parsePre(raw, 0)
}

func parsePre(raw json.RawMessage, depth int) (preTokenizer, error) {
	if depth > 16 {
		return nil, fmt.Errorf("%w: pre_tokenizer nesting too deep", ErrMalformed)
	}
	var h preJSON
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: pre_tokenizer: %v", ErrMalformed, err)
	}
	switch h.Type {
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "ByteLevel":
		bl := byteLevelPre{addPrefixSpace: true, useRegex: true}
		if h.AddPrefixSpace != nil {
			bl.addPrefixSpace = *h.AddPrefixSpace
		}
		if h.UseRegex != nil {
			bl.useRegex = *h.UseRegex
		}
		return bl, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre{}, nil
	case "Sequence":
		var seq seqPre
		for _, sub := range h.PreTokenizers {
			p, err := parsePre(sub, depth+1)
			if err != nil {
				return nil, err
			}
			seq = append(seq, p)
		}
		return seq, nil
	}
	return nil, fmt.Errorf("%w: pre_tokenizer %q", ErrUnsupported, h.Type)
}

// isByteLevel reports whether p (or a member of a Sequence) is ByteLevel:
// the BPE model then works on bytes mapped to printable runes.
func isByteLevel(p preTokenizer) bool {
	switch p := p.(type) {
	case byteLevelPre:
		return true
	case seqPre:
		for _, q := range p {
			if isByteLevel(q) {
				return true
			}
		}
	}
	return false
}

type wholePre struct{}

func (wholePre) split(s string, _ *encodeScratch, dst []string) []string {
	if s != "" {
		dst = append(dst, s)
	}
	return dst
}

type seqPre []preTokenizer

func (q seqPre) split(s string, sc *encodeScratch, dst []string) []string {
	cur := []string{s}
	for _, p := range q {
		var next []string
		for _, c := range cur {
			next = p.split(c, sc, next)
			// A later step may reuse sc.tmp: detach the pieces.
			for i := range next {
				next[i] = strings.Clone(next[i])
			}
		}
		cur = next
	}
	return append(dst, cur...)
}

// bertPre splits on whitespace (dropped) and isolates each punctuation rune.
type bertPre struct{}

func (bertPre) split(s string, _ *encodeScratch, dst []string) []string {
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		n := 1
		if c < utf8RuneSelf {
			r = rune(c)
		} else {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if isWhitespace(r) {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if isBertPunct(r) {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
			dst = append(dst, s[i:i+n])
		} else if start < 0 {
			start = i
		}
		i += n
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// whitespaceSplitPre splits on whitespace.
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) split(s string, _ *encodeScratch, dst []string) []string {
	start := -1
	for i, r := range s {
		if isWhitespace(r) {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// whitespacePre is HF's Whitespace: the regex \w+|[^\w\s]+.
type whitespacePre struct{}

// isRegexWord is Rust regex's Unicode \w: Alphabetic (letters, Nl and
// other-alphabetic marks), marks, decimal digits (Nd only: "²" is not a word
// character), connector punctuation and the two joiners.
func isRegexWord(r rune) bool {
	if r < utf8RuneSelf {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') || r == '_'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Pc, r) || r == 0x200c || r == 0x200d
}

func (whitespacePre) split(s string, _ *encodeScratch, dst []string) []string {
	start, class := -1, 0 // class 1 word, 2 other
	for i, r := range s {
		c := 2
		if isWhitespace(r) {
			c = 0
		} else if isRegexWord(r) {
			c = 1
		}
		if c != class {
			if start >= 0 && class != 0 {
				dst = append(dst, s[start:i])
			}
			start, class = i, c
		}
	}
	if start >= 0 && class != 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// byteLevelPre is GPT-2's pre-tokenizer: optional prefix space, then the
// regex 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented by hand: Go's regexp has no look-ahead). Pieces are passed
// on as raw bytes; the BPE model maps bytes to its byte alphabet.
type byteLevelPre struct{ addPrefixSpace, useRegex bool }

func (b byteLevelPre) split(s string, sc *encodeScratch, dst []string) []string {
	if s == "" {
		return dst
	}
	if b.addPrefixSpace && s[0] != ' ' {
		sc.tmp = append(append(sc.tmp[:0], ' '), s...)
		s = unsafeString(sc.tmp)
	}
	if !b.useRegex {
		return append(dst, s)
	}
	for i := 0; i < len(s); {
		j := gpt2Next(s, i)
		dst = append(dst, s[i:j])
		i = j
	}
	return dst
}

const (
	clsSpace = iota
	clsLetter
	clsNumber
	clsOther
)

func gpt2Class(r rune) int {
	if r < utf8RuneSelf {
		switch {
		case r == ' ' || ('\t' <= r && r <= '\r'):
			return clsSpace
		case ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z'):
			return clsLetter
		case '0' <= r && r <= '9':
			return clsNumber
		}
		return clsOther
	}
	// HF's Oniguruma has a newer Unicode than Go: use its classes.
	switch {
	case unicode.Is(hfGPT2Letter, r):
		return clsLetter
	case unicode.Is(hfGPT2Number, r):
		return clsNumber
	case unicode.Is(hfGPT2Space, r):
		return clsSpace
	}
	return clsOther
}

// gpt2Next returns the end of the regex match starting at i.
func gpt2Next(s string, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	p := i
	if c == ' ' {
		p = i + 1
	}
	if p < len(s) {
		r, n := decodeRune(s[p:])
		if cl := gpt2Class(r); cl != clsSpace {
			j := p + n
			for j < len(s) {
				r, n := decodeRune(s[j:])
				if gpt2Class(r) != cl {
					break
				}
				j += n
			}
			return j
		}
	}
	// Whitespace at i: \s+(?!\S) then \s+.
	j, last, runes := i, i, 0
	for j < len(s) {
		r, n := decodeRune(s[j:])
		if gpt2Class(r) != clsSpace {
			break
		}
		last = j
		j += n
		runes++
	}
	if j == len(s) || runes < 2 {
		return j
	}
	return last
}
