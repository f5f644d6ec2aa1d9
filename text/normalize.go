package text

//go:generate sh -c "cd .. && go run ./text/internal/genunicode"

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

// normalizer is a parsed tokenizer.json "normalizer" (possibly a Sequence).
type normalizer struct{ steps []normStep }

type normStep interface {
	appendNorm(dst []byte, s string) []byte
}

func (n *normalizer) appendNormalized(dst []byte, s string, _ *encodeScratch) []byte {
	if len(n.steps) == 1 {
		return n.steps[0].appendNorm(dst, s)
	}
	cur := s
	for _, st := range n.steps {
		cur = string(st.appendNorm(make([]byte, 0, len(cur)+8), cur))
	}
	return append(dst, cur...)
}

// Normalize applies the tokenizer's normalizer to s (s itself if it has none).
func (t *Tokenizer) Normalize(s string) string {
	if t.norm == nil {
		return s
	}
	return string(t.norm.appendNormalized(nil, s, nil))
}

func parseNormalizer(raw json.RawMessage) (*normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	n := &normalizer{}
	if err := n.add(raw, 0); err != nil {
		return nil, err
	}
	if len(n.steps) == 0 {
		return nil, nil
	}
	return n, nil
}

func (n *normalizer) add(raw json.RawMessage, depth int) error {
	if depth > 16 {
		return fmt.Errorf("%w: normalizer nesting too deep", ErrMalformed)
	}
	var h struct {
		Type          string            `json:"type"`
		CleanText     *bool             `json:"clean_text"`
		HandleChinese *bool             `json:"handle_chinese_chars"`
		StripAccents  *bool             `json:"strip_accents"`
		Lowercase     *bool             `json:"lowercase"`
		Normalizers   []json.RawMessage `json:"normalizers"`
		StripLeft     bool              `json:"strip_left"`
		StripRight    bool              `json:"strip_right"`
		Pattern       struct {
			String *string `json:"String"`
			Regex  *string `json:"Regex"`
		} `json:"pattern"`
		Content string `json:"content"`
		Prepend string `json:"prepend"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("%w: normalizer: %v", ErrMalformed, err)
	}
	b := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	switch h.Type {
	case "BertNormalizer":
		lower := b(h.Lowercase, true)
		n.steps = append(n.steps, bertNorm{
			clean:   b(h.CleanText, true),
			chinese: b(h.HandleChinese, true),
			strip:   b(h.StripAccents, lower), // HF: strip_accents None follows lowercase
			lower:   lower,
		})
	case "Lowercase":
		n.steps = append(n.steps, lowerNorm{})
	case "NFC":
		n.steps = append(n.steps, unicodeNorm{norm.NFC})
	case "NFD":
		n.steps = append(n.steps, unicodeNorm{norm.NFD})
	case "NFKC":
		n.steps = append(n.steps, unicodeNorm{norm.NFKC})
	case "NFKD":
		n.steps = append(n.steps, unicodeNorm{norm.NFKD})
	case "StripAccents":
		n.steps = append(n.steps, stripMarks{table: unicode.M})
	case "Strip":
		n.steps = append(n.steps, stripNorm{left: h.StripLeft, right: h.StripRight})
	case "Prepend":
		n.steps = append(n.steps, prependNorm{h.Prepend})
	case "Replace":
		if h.Pattern.String == nil {
			return fmt.Errorf("%w: Replace normalizer with a regex pattern", ErrUnsupported)
		}
		if *h.Pattern.String == "" {
			return fmt.Errorf("%w: Replace normalizer with an empty pattern", ErrMalformed)
		}
		n.steps = append(n.steps, replaceNorm{*h.Pattern.String, h.Content})
	case "Sequence":
		for _, sub := range h.Normalizers {
			if err := n.add(sub, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: normalizer %q", ErrUnsupported, h.Type)
	}
	return nil
}

// bertNorm is HF's BertNormalizer: clean text (drop NUL, U+FFFD and
// control/format/unassigned characters, map whitespace to ' '), surround CJK
// ideographs with spaces, strip accents (NFD then drop Mn), lowercase.
type bertNorm struct{ clean, chinese, strip, lower bool }

func (b bertNorm) appendNorm(dst []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] < utf8RuneSelf {
		i++
	}
	if i == len(s) { // ASCII fast path
		for j := 0; j < len(s); j++ {
			c := s[j]
			if b.clean {
				if c < 0x20 || c == 0x7f {
					if c != '\t' && c != '\n' && c != '\r' {
						continue
					}
					c = ' '
				}
			}
			if b.lower && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	}
	start := len(dst)
	for _, r := range s {
		if b.clean {
			if r == 0 || r == 0xfffd || isOther(r) {
				continue
			}
			if isWhitespace(r) {
				r = ' '
			}
		}
		if b.chinese && isChineseChar(r) {
			dst = append(dst, ' ')
			dst = appendRune(dst, r)
			dst = append(dst, ' ')
			continue
		}
		dst = appendRune(dst, r)
	}
	if b.strip {
		cleaned := string(dst[start:])
		dst = dst[:start]
		dst = stripMarks{table: hfBertStrip}.appendNorm(dst, hfNFD(cleaned))
	}
	if b.lower {
		lowered := lowerNorm{}.appendNorm(nil, string(dst[start:]))
		dst = append(dst[:start], lowered...)
	}
	return dst
}

const utf8RuneSelf = 0x80

// hfNFD is NFD that leaves whole the code points whose decomposition is
// newer than HF's tables (hfNFDKeep).
func hfNFD(s string) string {
	var b []byte
	start := 0
	for i, r := range s {
		if r >= 0x80 && unicode.Is(hfNFDKeep, r) {
			b = norm.NFD.AppendString(b, s[start:i])
			b = appendRune(b, r)
			start = i + utf8.RuneLen(r)
		}
	}
	if b == nil {
		return norm.NFD.String(s)
	}
	return string(norm.NFD.AppendString(b, s[start:]))
}

type lowerNorm struct{}

// appendNorm lowercases rune by rune like Rust's char::to_lowercase (used by
// HF), which maps U+0130 to two runes and has no final-sigma rule.
func (lowerNorm) appendNorm(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			continue
		}
		r, n := decodeRune(s[i:])
		i += n - 1
		if r == 0x130 {
			dst = append(dst, "i\u0307"...)
			continue
		}
		if l, ok := hfLower[r]; ok { // Unicode newer than Go's tables
			dst = append(dst, l...)
			continue
		}
		dst = appendRune(dst, unicode.ToLower(r))
	}
	return dst
}

type unicodeNorm struct{ f norm.Form }

// appendNorm normalizes s. For NFKC/NFKD, code points whose compatibility
// mapping is newer than HF's tables (hfNFKCKeep) are kept as they are, as HF
// does: the text around them is normalized piece by piece.
func (u unicodeNorm) appendNorm(dst []byte, s string) []byte {
	if u.f == norm.NFKC || u.f == norm.NFKD {
		start := 0
		for i, r := range s {
			if r >= 0x80 && unicode.Is(hfNFKCKeep, r) {
				dst = u.f.AppendString(dst, s[start:i])
				dst = appendRune(dst, r)
				start = i + utf8.RuneLen(r)
			}
		}
		s = s[start:]
	}
	return u.f.AppendString(dst, s)
}

type stripMarks struct{ table *unicode.RangeTable }

func (m stripMarks) appendNorm(dst []byte, s string) []byte {
	for _, r := range s {
		if r >= utf8RuneSelf && unicode.Is(m.table, r) {
			continue
		}
		dst = appendRune(dst, r)
	}
	return dst
}

type stripNorm struct{ left, right bool }

func (st stripNorm) appendNorm(dst []byte, s string) []byte {
	if st.left {
		s = strings.TrimLeftFunc(s, isWhitespace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, isWhitespace)
	}
	return append(dst, s...)
}

type prependNorm struct{ p string }

func (p prependNorm) appendNorm(dst []byte, s string) []byte {
	if s == "" {
		return dst
	}
	return append(append(dst, p.p...), s...)
}

type replaceNorm struct{ old, new string }

func (r replaceNorm) appendNorm(dst []byte, s string) []byte {
	return append(dst, strings.ReplaceAll(s, r.old, r.new)...)
}

// isWhitespace is Rust's char::is_whitespace (Unicode White_Space).
func isWhitespace(r rune) bool {
	if r < utf8RuneSelf {
		return r == ' ' || ('\t' <= r && r <= '\r')
	}
	return unicode.Is(unicode.White_Space, r)
}

// isOther is HF's BERT is_control: \t \n \r are not control; otherwise the
// general categories Cc, Cf, Cs and Co. (HF's comment says Cn too, but
// measured over all code points it keeps unassigned ones; see
// TestGoldenUnicode.)
func isOther(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	// Not unicode.C: Go's C table also covers unassigned code points.
	goOther := unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r)
	return (goOther && !unicode.Is(hfNotOther, r)) || unicode.Is(hfOther, r)
}

// isChineseChar is HF's BERT CJK ideograph test (the CJK Unified Ideographs
// blocks and compatibility ideographs, not kana or hangul).
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// isBertPunct is HF's BERT punctuation: ASCII punctuation or Unicode P*.
func isBertPunct(r rune) bool {
	if r < utf8RuneSelf {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.Is(hfBertPunct, r)
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' }

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
