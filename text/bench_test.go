package text

import (
	"os"
	"strings"
	"testing"
)

// benchLines are the short lines of the fortunes corpus (the corpus the HF
// side-by-side benchmark in benchmarks/text uses), or the golden lines when
// the fortunes package is not installed.
func benchLines(b *testing.B) ([]string, int) {
	b.Helper()
	var lines []string
	docs, err := ReadFortunes(FortunesDir)
	if err == nil {
		for _, d := range docs {
			for _, l := range strings.Split(d.Text, "\n") {
				if strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
			}
		}
	} else {
		data, err := os.ReadFile("testdata/mixed.txt")
		if err != nil {
			b.Fatal(err)
		}
		lines = strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return lines, n
}

func benchEncode(b *testing.B, path string) {
	tok, err := LoadTokenizer(path)
	if err != nil {
		b.Fatal(err)
	}
	lines, nbytes := benchLines(b)
	b.SetBytes(int64(nbytes))
	b.ReportAllocs()
	ids := make([]int32, 0, 1<<16)
	tokens := 0
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			ids = tok.AppendIDs(ids[:0], l)
			tokens += len(ids)
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeWordPiece: one goroutine, 8,000-token BERT WordPiece.
func BenchmarkEncodeWordPiece(b *testing.B) { benchEncode(b, "testdata/wordpiece-fortunes.json") }

// BenchmarkEncodeBPE: one goroutine, 8,000-token byte-level BPE.
func BenchmarkEncodeBPE(b *testing.B) { benchEncode(b, "testdata/bpe-fortunes.json") }
