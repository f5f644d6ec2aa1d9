package text

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
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

// BenchmarkEncodeAllWordPiece: all cores through EncodeAll (pipeline.Map,
// GOMAXPROCS workers), in input order.
func BenchmarkEncodeAllWordPiece(b *testing.B) {
	tok, err := LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		b.Fatal(err)
	}
	lines, nbytes := benchLines(b)
	b.SetBytes(int64(nbytes))
	b.ReportAllocs()
	tokens := 0
	b.ResetTimer()
	for range b.N {
		ids, err := tok.EncodeAll(context.Background(), lines, false, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range ids {
			tokens += len(r)
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkMLM: BERT masking of 128-token sequences.
func BenchmarkMLM(b *testing.B) {
	tok, err := LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		b.Fatal(err)
	}
	m, _ := NewMasker(tok, MaskOptions{})
	p, _ := NewPacker(PackOptionsFor(tok, 128, PackAcross))
	var seqs []Sequence
	for _, l := range readLines(b, "testdata/mixed.txt") {
		e := tok.Encode(l, false)
		seqs = append(seqs, p.Add(e.IDs, e.Words)...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s := seqs[i%len(seqs)]
		m.MLM(s.IDs, pipeline.SampleRand(1, 0, uint64(i), 0))
	}
	b.ReportMetric(float64(b.N)*128/b.Elapsed().Seconds(), "tokens/s")
}
