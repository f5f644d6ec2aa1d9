package text

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Decode turns ids back into text with the tokenizer's decoder, as HF's
// decode does: the ids' tokens (model vocabulary or added tokens; with
// skipSpecial, special added tokens are left out; unknown ids are skipped)
// go through the decoder's chain and the results are concatenated. The
// decoder was parsed and validated by LoadTokenizer (see parseDecoder for
// the supported types); a tokenizer without one joins its tokens with
// spaces, as HF does.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if !t.hasID(id) || (skipSpecial && t.special[id]) {
			continue
		}
		toks = append(toks, t.inverse[id])
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.dec.decodeChain(toks), "")
}

// hasID reports whether id names a token (ids between the used ones are
// holes in inverse).
func (t *Tokenizer) hasID(id int32) bool {
	if id < 0 || int(id) >= len(t.inverse) {
		return false
	}
	if t.inverse[id] != "" {
		return true
	}
	v, ok := t.vocab[""]
	return ok && v == id
}

// decoder is one step of HF's Decoder::decode_chain: it turns the list of
// token strings into a new list (which Decode concatenates). It may reuse
// the input slice. Implementations are immutable.
type decoder interface {
	decodeChain(toks []string) []string
}

// maxDecoderDepth bounds the nesting of Sequence decoders.
const maxDecoderDepth = 16

// decoderFields is one decoder object of tokenizer.json with HF's rules for
// its fields: a field HF requires must be present and not null.
type decoderFields struct {
	typ string
	f   map[string]json.RawMessage
}

func (d decoderFields) has(name string) bool {
	v, ok := d.f[name]
	return ok && !isNull(v)
}

func (d decoderFields) get(name string, dst any) error {
	if !d.has(name) {
		return fmt.Errorf("%w: %s decoder: missing field %q", ErrMalformed, d.typ, name)
	}
	if err := json.Unmarshal(d.f[name], dst); err != nil {
		return fmt.Errorf("%w: %s decoder: field %q: %v", ErrMalformed, d.typ, name, err)
	}
	return nil
}

// optional reads a field that HF defaults when absent.
func (d decoderFields) optional(name string, dst any) error {
	if _, ok := d.f[name]; !ok {
		return nil
	}
	return d.get(name, dst)
}

// char reads a field that HF types as a Rust char: a string of one rune.
func (d decoderFields) char(name string) (rune, error) {
	var s string
	if err := d.get(name, &s); err != nil {
		return 0, err
	}
	if utf8.RuneCountInString(s) != 1 {
		return 0, fmt.Errorf("%w: %s decoder: field %q is %q, not one character", ErrMalformed, d.typ, name, s)
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r, nil
}

// supportedDecoders lists the decoder types parseDecoder accepts (all of HF
// tokenizers 0.23's).
const supportedDecoders = "WordPiece, ByteLevel, Metaspace, BPEDecoder, CTC, Sequence, ByteFallback, Fuse, Strip, Replace"

// parseDecoder parses and validates a tokenizer.json "decoder" (nil for
// null or absent). It accepts what HF tokenizers 0.23 accepts, with the same
// required fields, except a Replace decoder with a regex pattern
// (ErrUnsupported: HF's regexes are Oniguruma's) and a decoder without a
// "type" (HF's legacy untagged form; ErrMalformed).
func parseDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	return parseDecoderAt(raw, 0)
}

func parseDecoderAt(raw json.RawMessage, depth int) (decoder, error) {
	if depth > maxDecoderDepth {
		return nil, fmt.Errorf("%w: decoder nesting deeper than %d", ErrMalformed, maxDecoderDepth)
	}
	var d decoderFields
	if err := json.Unmarshal(raw, &d.f); err != nil || d.f == nil {
		return nil, fmt.Errorf("%w: decoder is not a JSON object", ErrMalformed)
	}
	if !d.has("type") {
		return nil, fmt.Errorf("%w: decoder without a type (supported: %s)", ErrMalformed, supportedDecoders)
	}
	if err := json.Unmarshal(d.f["type"], &d.typ); err != nil {
		return nil, fmt.Errorf("%w: decoder type: %v", ErrMalformed, err)
	}
	switch d.typ {
	case "WordPiece":
		var w wordPieceDecoder
		if err := d.get("prefix", &w.prefix); err != nil {
			return nil, err
		}
		if err := d.get("cleanup", &w.cleanup); err != nil {
			return nil, err
		}
		return w, nil
	case "ByteLevel":
		var b bool
		for _, f := range []string{"add_prefix_space", "trim_offsets"} {
			if err := d.get(f, &b); err != nil {
				return nil, err
			}
		}
		if err := d.optional("use_regex", &b); err != nil {
			return nil, err
		}
		return byteLevelDecoder{}, nil
	case "Metaspace":
		return parseMetaspaceDecoder(d)
	case "BPEDecoder":
		var b bpeDecoder
		if err := d.get("suffix", &b.suffix); err != nil {
			return nil, err
		}
		return b, nil
	case "CTC":
		var c ctcDecoder
		if err := d.get("pad_token", &c.pad); err != nil {
			return nil, err
		}
		if err := d.get("word_delimiter_token", &c.delimiter); err != nil {
			return nil, err
		}
		if err := d.get("cleanup", &c.cleanup); err != nil {
			return nil, err
		}
		return c, nil
	case "Sequence":
		var subs []json.RawMessage
		if err := d.get("decoders", &subs); err != nil {
			return nil, err
		}
		seq := make(sequenceDecoder, 0, len(subs))
		for i, sub := range subs {
			dec, err := parseDecoderAt(sub, depth+1)
			if err != nil {
				return nil, fmt.Errorf("Sequence decoder %d: %w", i, err)
			}
			seq = append(seq, dec)
		}
		return seq, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		var s stripDecoder
		var err error
		if s.content, err = d.char("content"); err != nil {
			return nil, err
		}
		var start, stop uint64
		if err := d.get("start", &start); err != nil {
			return nil, err
		}
		if err := d.get("stop", &stop); err != nil {
			return nil, err
		}
		s.start, s.stop = int(min(start, 1<<31)), int(min(stop, 1<<31))
		return s, nil
	case "Replace":
		var p struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		}
		var r replaceDecoder
		if err := d.get("pattern", &p); err != nil {
			return nil, err
		}
		if err := d.get("content", &r.content); err != nil {
			return nil, err
		}
		switch {
		case p.Regex != nil:
			return nil, fmt.Errorf("%w: Replace decoder with a regex pattern %q (only literal String patterns)", ErrUnsupported, *p.Regex)
		case p.String == nil:
			return nil, fmt.Errorf("%w: Replace decoder: pattern is neither String nor Regex", ErrMalformed)
		}
		r.pattern = *p.String
		return r, nil
	}
	return nil, fmt.Errorf("%w: decoder %q (supported: %s)", ErrUnsupported, d.typ, supportedDecoders)
}

func parseMetaspaceDecoder(d decoderFields) (decoder, error) {
	var m metaspaceDecoder
	var err error
	if m.replacement, err = d.char("replacement"); err != nil {
		return nil, err
	}
	scheme := "always" // HF's default
	if err := d.optional("prepend_scheme", &scheme); err != nil {
		return nil, err
	}
	if scheme != "always" && scheme != "first" && scheme != "never" {
		return nil, fmt.Errorf("%w: Metaspace decoder: prepend_scheme %q (always, first or never)", ErrMalformed, scheme)
	}
	// add_prefix_space and split are optional and may be null. HF:
	// add_prefix_space false (the form before prepend_scheme existed) must
	// come with prepend_scheme never.
	var addPrefix, split bool
	if d.has("add_prefix_space") {
		if err := d.get("add_prefix_space", &addPrefix); err != nil {
			return nil, err
		}
		if !addPrefix && scheme != "never" {
			return nil, fmt.Errorf("%w: Metaspace decoder: add_prefix_space false but prepend_scheme %q", ErrMalformed, scheme)
		}
	}
	if d.has("split") {
		if err := d.get("split", &split); err != nil {
			return nil, err
		}
	}
	m.prepend = scheme != "never"
	return m, nil
}

// wordPieceDecoder is HF's WordPiece decoder: every token but the first
// loses its continuing-subword prefix or gets a leading space; with cleanup,
// each token then has the spaces before punctuation and English
// contractions removed.
type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

func (w wordPieceDecoder) decodeChain(toks []string) []string {
	for i, tk := range toks {
		if i > 0 {
			if rest, ok := strings.CutPrefix(tk, w.prefix); ok {
				tk = rest
			} else {
				tk = " " + tk
			}
		}
		if w.cleanup {
			tk = cleanupSpaces(tk)
		}
		toks[i] = tk
	}
	return toks
}

// cleanupSpaces is HF's WordPiece decoder cleanup, applied in this order.
func cleanupSpaces(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// byteLevelDecoder is HF's ByteLevel decoder: a token made only of GPT-2's
// byte runes becomes those bytes, any other token stays as it is (its UTF-8
// bytes); all the bytes make one string, invalid UTF-8 decoded lossily.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(toks []string) []string {
	var buf []byte
	for _, tk := range toks {
		n := len(buf)
		for _, r := range tk {
			b, ok := runeToByte[r]
			if !ok {
				buf = append(buf[:n], tk...)
				break
			}
			buf = append(buf, b)
		}
	}
	return []string{lossyUTF8(buf)}
}

// metaspaceDecoder is HF's Metaspace decoder: the replacement character
// becomes a space, except in the first token when a space was prepended at
// encoding (prepend_scheme always or first), where it is dropped.
type metaspaceDecoder struct {
	replacement rune
	prepend     bool
}

func (m metaspaceDecoder) decodeChain(toks []string) []string {
	for i, tk := range toks {
		if !strings.ContainsRune(tk, m.replacement) {
			continue
		}
		with := " "
		if i == 0 && m.prepend {
			with = ""
		}
		toks[i] = strings.ReplaceAll(tk, string(m.replacement), with)
	}
	return toks
}

// bpeDecoder is HF's BPEDecoder: the end-of-word suffix becomes a space,
// or nothing in the last token.
type bpeDecoder struct{ suffix string }

func (b bpeDecoder) decodeChain(toks []string) []string {
	for i, tk := range toks {
		with := " "
		if i == len(toks)-1 {
			with = ""
		}
		toks[i] = strings.ReplaceAll(tk, b.suffix, with)
	}
	return toks
}

// ctcDecoder is HF's CTC decoder: repeated tokens collapse to one, the pad
// token is removed, with cleanup the word delimiter becomes a space (after
// the WordPiece cleanup), and tokens left empty are dropped.
type ctcDecoder struct {
	pad, delimiter string
	cleanup        bool
}

func (c ctcDecoder) decodeChain(toks []string) []string {
	toks = slices.Compact(toks)
	out := toks[:0]
	for _, tk := range toks {
		tk = strings.ReplaceAll(tk, c.pad, "")
		if c.cleanup {
			tk = strings.ReplaceAll(cleanupSpaces(tk), c.delimiter, " ")
		}
		if tk != "" {
			out = append(out, tk)
		}
	}
	return out
}

// sequenceDecoder runs decoders one after the other on the token list.
type sequenceDecoder []decoder

func (s sequenceDecoder) decodeChain(toks []string) []string {
	for _, d := range s {
		toks = d.decodeChain(toks)
	}
	return toks
}

// byteFallbackDecoder is HF's ByteFallback decoder: each run of tokens
// <0xXX> becomes the string of those bytes if they are valid UTF-8, and one
// U+FFFD per byte if not.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var run []byte
	flush := func() {
		if len(run) == 0 {
			return
		}
		if utf8.Valid(run) {
			out = append(out, string(run))
		} else {
			for range run {
				out = append(out, "\uFFFD")
			}
		}
		run = run[:0]
	}
	for _, tk := range toks {
		if b, ok := byteToken(tk); ok {
			run = append(run, b)
			continue
		}
		flush()
		out = append(out, tk)
	}
	flush()
	return out
}

// byteToken parses a byte-fallback token <0xXX>: six bytes, two of them
// hexadecimal digits read as Rust's u8::from_str_radix does (which also
// takes "+X").
func byteToken(tk string) (byte, bool) {
	if len(tk) != 6 || !strings.HasPrefix(tk, "<0x") || tk[5] != '>' {
		return 0, false
	}
	digits := tk[3:5]
	if digits[0] == '+' {
		digits = digits[1:]
	}
	var v byte
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | c
	}
	return v, true
}

// fuseDecoder is HF's Fuse decoder: all tokens become one.
type fuseDecoder struct{}

func (fuseDecoder) decodeChain(toks []string) []string {
	return []string{strings.Join(toks, "")}
}

// stripDecoder is HF's Strip decoder: each token loses up to start leading
// and up to stop trailing content characters. Where HF panics (stop longer
// than the token, or the two cuts crossing) the token becomes empty.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (s stripDecoder) decodeChain(toks []string) []string {
	for i, tk := range toks {
		runes := []rune(tk)
		lo := 0
		for lo < min(s.start, len(runes)) && runes[lo] == s.content {
			lo++
		}
		hi := len(runes)
		for len(runes)-hi < s.stop && hi > 0 && runes[hi-1] == s.content {
			hi--
		}
		if lo >= hi {
			toks[i] = ""
			continue
		}
		toks[i] = string(runes[lo:hi])
	}
	return toks
}

// replaceDecoder is HF's Replace decoder with a literal pattern: every
// occurrence in a token is replaced with content (an empty pattern matches
// between all characters of a non-empty token, as HF's regex does).
type replaceDecoder struct{ pattern, content string }

func (r replaceDecoder) decodeChain(toks []string) []string {
	for i, tk := range toks {
		if tk != "" {
			toks[i] = strings.ReplaceAll(tk, r.pattern, r.content)
		}
	}
	return toks
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid
// subpart (a byte, or the valid prefix of a truncated sequence) becomes one
// U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		out = append(out, "\uFFFD"...)
		i += maximalSubpart(b[i:])
	}
	return string(out)
}

// maximalSubpart is the length of the longest prefix of b (which does not
// start a valid rune) that could begin a valid UTF-8 sequence, at least 1.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 1; k <= need && k < len(b); k++ {
		if b[k] < lo || b[k] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

var runeToByte = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteToRune {
		m[r] = byte(b)
	}
	return m
}()
