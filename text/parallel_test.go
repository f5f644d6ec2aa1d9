package text

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestEncodeAllMatchesSequential(t *testing.T) {
	defer goleak.VerifyNone(t)
	tok, err := LoadTokenizer("testdata/bpe-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for range 5 { // > several blocks of 256
		lines = append(lines, readLines(t, "testdata/mixed.txt")...)
	}
	for _, workers := range []int{1, 3, 8} {
		got, err := tok.EncodeAll(context.Background(), lines, true, workers)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(lines) {
			t.Fatalf("%d results for %d lines", len(got), len(lines))
		}
		for i, l := range lines {
			if want := tok.Encode(l, true).IDs; !equal32(got[i], want) {
				t.Fatalf("workers %d, line %d: %v, sequential %v", workers, i, got[i], want)
			}
		}
	}
	if got, err := tok.EncodeAll(context.Background(), nil, true, 2); err != nil || len(got) != 0 {
		t.Errorf("no texts: %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tok.EncodeAll(ctx, lines, false, 4); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
