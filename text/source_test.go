package text

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
	"go.uber.org/goleak"
)

func TestCorpusSourcePipeline(t *testing.T) {
	defer goleak.VerifyNone(t)
	tok, err := LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, "testdata/mixed.txt")
	var sb strings.Builder
	for i, l := range lines {
		if i == 100 {
			sb.WriteString("bad \xff line\n")
		}
		sb.WriteString(l + "\n")
	}
	dir := writeFiles(t, map[string]string{"c.txt": sb.String()})
	src := NewCorpusSource([]string{dir}, CorpusOptions{})
	enc := pipeline.Map(pipeline.From[Document](src, pipeline.Order{}), EncodeFunc(tok, true), pipeline.MapOptions{Name: "tokenize", Workers: 3})

	// Without Skip the bad line stops the run with an error naming it.
	var got [][]int32
	var runErr error
	for s, err := range pipeline.All(context.Background(), enc, pipeline.RunOptions{}) {
		if err != nil {
			runErr = err
			break
		}
		got = append(got, s.Value.IDs)
	}
	if runErr == nil || !errors.Is(runErr, ErrInvalidUTF8) || !strings.Contains(runErr.Error(), filepath.Join(dir, "c.txt")+":101") {
		t.Fatalf("run error %v", runErr)
	}
	if len(got) != 100 {
		t.Errorf("%d documents before the bad line, want 100", len(got))
	}

	// With Skip, all good lines come through in order and equal sequential encoding.
	got = got[:0]
	for s, err := range pipeline.All(context.Background(), enc, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true, MaxErrors: 1}}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Value.IDs)
	}
	if len(got) != len(lines) {
		t.Fatalf("%d documents, want %d", len(got), len(lines))
	}
	for i, l := range lines {
		if !equal32(got[i], tok.Encode(l, true).IDs) {
			t.Fatalf("document %d differs from sequential encoding", i)
		}
	}

	// Resume from position 200 yields the same tail; early break leaks nothing.
	r, err := src.Open(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Next()
	r.Close()
	if err != nil || s.Index != 200 || s.Value.Text != lines[199] {
		t.Errorf("resume at 200: index %d %q, err %v; want %q", s.Index, s.Value.Text, err, lines[199])
	}
	for range pipeline.All(context.Background(), enc, pipeline.RunOptions{}) {
		break
	}
}
