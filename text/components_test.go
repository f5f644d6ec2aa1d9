package text

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestGoldenComponents checks normalizers and pre-tokenizers one by one
// against HF tokenizers 0.23.2 on every line of mixed.txt
// (testdata/make_golden_components.js). Tolerance: none. ByteLevel pieces
// are compared after mapping bytes to GPT-2's printable runes, as HF
// returns them.
func TestGoldenComponents(t *testing.T) {
	lines := readLines(t, "testdata/mixed.txt")
	f, err := os.Open("testdata/golden-components.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	n := 0
	for sc.Scan() {
		var row struct {
			Type   string          `json:"type"`
			Config json.RawMessage `json:"config"`
			Out    json.RawMessage `json:"out"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		n++
		name := string(row.Config)
		bad := 0
		switch row.Type {
		case "normalizer":
			var want []string
			json.Unmarshal(row.Out, &want)
			nz, err := parseNormalizer(row.Config)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for i, l := range lines {
				if got := string(nz.appendNormalized(nil, l, nil)); got != want[i] && bad < 3 {
					bad++
					t.Errorf("%s line %d %q:\n got %q\nwant %q", name, i+1, l, got, want[i])
				}
			}
		case "pre_tokenizer":
			var want [][]string
			json.Unmarshal(row.Out, &want)
			pt, err := parsePreTokenizer(row.Config)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			bl := isByteLevel(pt)
			for i, l := range lines {
				got := pt.split(l, new(encodeScratch), nil)
				if bl {
					for k, p := range got {
						var m []rune
						for j := 0; j < len(p); j++ {
							m = append(m, byteToRune[p[j]])
						}
						got[k] = string(m)
					}
				}
				if !slices.Equal(got, want[i]) && bad < 3 {
					bad++
					t.Errorf("%s line %d %q:\n got %q\nwant %q", name, i+1, l, got, want[i])
				}
			}
		}
	}
	if n != 17 {
		t.Errorf("%d components in the golden file, want 17", n)
	}
}
