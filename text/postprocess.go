package text

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds special tokens around one encoded sequence.
type postProcessor interface {
	apply(ids, words []int32) ([]int32, []int32)
}

// wrapPost puts before and after around the sequence.
type wrapPost struct{ before, after []int32 }

func (w wrapPost) apply(ids, words []int32) ([]int32, []int32) {
	out := make([]int32, 0, len(w.before)+len(ids)+len(w.after))
	out = append(append(append(out, w.before...), ids...), w.after...)
	if words == nil {
		return out, nil
	}
	ow := make([]int32, 0, len(out))
	for range w.before {
		ow = append(ow, -1)
	}
	ow = append(ow, words...)
	for range w.after {
		ow = append(ow, -1)
	}
	return out, ow
}

func parsePostProcessor(raw json.RawMessage, vocab map[string]int32) (postProcessor, error) {
	if isNull(raw) {
		return wrapPost{}, nil
	}
	var h struct {
		Type       string            `json:"type"`
		Sep        []json.RawMessage `json:"sep"`
		Cls        []json.RawMessage `json:"cls"`
		Processors []json.RawMessage `json:"processors"`
		Single     []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: post_processor: %v", ErrMalformed, err)
	}
	tokID := func(pair []json.RawMessage, what string) (int32, error) {
		var id int32
		if len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil {
			return 0, fmt.Errorf("%w: post_processor %s %s", ErrMalformed, h.Type, what)
		}
		return id, nil
	}
	switch h.Type {
	case "BertProcessing", "RobertaProcessing":
		cls, err := tokID(h.Cls, "cls")
		if err != nil {
			return nil, err
		}
		sep, err := tokID(h.Sep, "sep")
		if err != nil {
			return nil, err
		}
		return wrapPost{before: []int32{cls}, after: []int32{sep}}, nil
	case "ByteLevel":
		return wrapPost{}, nil
	case "TemplateProcessing":
		var w wrapPost
		seen := false
		for _, p := range h.Single {
			switch {
			case p.Sequence != nil:
				if seen {
					return nil, fmt.Errorf("%w: TemplateProcessing with the sequence twice", ErrUnsupported)
				}
				seen = true
			case p.SpecialToken != nil:
				st, ok := h.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("%w: TemplateProcessing token %q not in special_tokens", ErrMalformed, p.SpecialToken.ID)
				}
				if seen {
					w.after = append(w.after, st.IDs...)
				} else {
					w.before = append(w.before, st.IDs...)
				}
			}
		}
		return w, nil
	case "Sequence":
		var w wrapPost
		for _, sub := range h.Processors {
			p, err := parsePostProcessor(sub, vocab)
			if err != nil {
				return nil, err
			}
			if pw, ok := p.(wrapPost); ok && (len(pw.before) > 0 || len(pw.after) > 0) {
				if len(w.before) > 0 || len(w.after) > 0 {
					return nil, fmt.Errorf("%w: post_processor Sequence adding special tokens twice", ErrUnsupported)
				}
				w = pw
			}
		}
		return w, nil
	}
	return nil, fmt.Errorf("%w: post_processor %q", ErrUnsupported, h.Type)
}
