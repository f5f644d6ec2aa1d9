package text

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

type goldenRow struct {
	IDs        []int32  `json:"ids"`
	IDsSpecial []int32  `json:"ids_special"`
	Tokens     []string `json:"tokens"`
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func readGolden(t testing.TB, path string) []goldenRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []goldenRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r goldenRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestGoldenIDs compares with ids from HF tokenizers 0.23.2 (see
// testdata/make_golden.js and make_golden_extra.js). Tolerance: none.
func TestGoldenIDs(t *testing.T) {
	mixed := readLines(t, "testdata/mixed.txt")
	withAdded := append(readLines(t, "testdata/added-lines.txt"), mixed...)
	for _, tc := range []struct {
		tok, golden string
		lines       []string
	}{
		{"testdata/wordpiece-fortunes.json", "testdata/golden-wordpiece.jsonl", mixed},
		{"testdata/bpe-fortunes.json", "testdata/golden-bpe.jsonl", mixed},
		// NFKC+Lowercase Sequence, Whitespace pre-tokenizer, char-level BPE
		// with ## prefix and [UNK], TemplateProcessing (make_golden_extra.js).
		{"testdata/bpe-nfkc-whitespace.json", "testdata/golden-bpe-nfkc-whitespace.jsonl", mixed},
		// Added tokens with single_word, lstrip, rstrip, normalized
		// (make_golden_added.js).
		{"testdata/added-wordpiece.json", "testdata/golden-added-wordpiece.jsonl", withAdded},
		{"testdata/added-bpe.json", "testdata/golden-added-bpe.jsonl", withAdded},
	} {
		t.Run(tc.tok, func(t *testing.T) {
			tok, err := LoadTokenizer(tc.tok)
			if err != nil {
				t.Fatal(err)
			}
			lines := tc.lines
			rows := readGolden(t, tc.golden)
			if len(rows) != len(lines) || len(rows) < 300 {
				t.Fatalf("%d golden rows for %d lines", len(rows), len(lines))
			}
			bad := 0
			for i, line := range lines {
				got := tok.Encode(line, false).IDs
				if !slices.Equal(got, rows[i].IDs) {
					bad++
					if bad <= 10 {
						toks := make([]string, len(got))
						for k, id := range got {
							toks[k] = tok.Token(id)
						}
						t.Errorf("line %d %q:\n got %v %q\nwant %v %q", i+1, line, got, toks, rows[i].IDs, rows[i].Tokens)
					}
					continue
				}
				if sp := tok.Encode(line, true).IDs; !slices.Equal(sp, rows[i].IDsSpecial) {
					bad++
					t.Errorf("line %d with special tokens: got %v want %v", i+1, sp, rows[i].IDsSpecial)
				}
				if fast := tok.AppendIDs(nil, line); !slices.Equal(fast, rows[i].IDs) {
					t.Errorf("line %d: AppendIDs %v differs from Encode", i+1, fast)
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d lines differ from HF tokenizers", bad, len(lines))
			}
		})
	}
}
