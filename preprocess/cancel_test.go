package preprocess

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestCancelLeavesNoGoroutineAndNoPartialShard(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir, _ := imageCorpus(t, 30)
	o := imageOpts(dir, t.TempDir())
	{
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int64
		testHookSample = func(int) {
			if n.Add(1) == 12 {
				cancel()
			}
		}
		_, err := Run(ctx, o)
		testHookSample = nil
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, err := os.Stat(filepath.Join(o.Out, "manifest.json")); err == nil {
			t.Fatal("cancelled run wrote a manifest")
		}
		if tmps, _ := filepath.Glob(filepath.Join(o.Out, ".*.tmp")); len(tmps) > 0 {
			t.Fatalf("temporary files left: %v", tmps)
		}
	}
}

func TestTextStreamClosedOnEveryPath(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir, _ := textCorpus(t, 120)
	o := textOpts(dir, t.TempDir())
	o.MaxErrors = 0 // the invalid UTF-8 line stops the run mid-stream
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrTooManyErrors) {
		t.Fatalf("err = %v", err)
	}
	o.MaxErrors = -1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}
