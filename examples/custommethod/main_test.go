package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/datasets"
)

// TestRun trains the example method for 2 x 5 steps with a resume between.
func TestRun(t *testing.T) {
	if _, err := os.Stat(datasets.FashionMNISTDir()); err != nil {
		t.Skip("Fashion-MNIST not installed:", err)
	}
	if err := run(context.Background(), filepath.Join(t.TempDir(), "run"), 5); err != nil {
		t.Fatal(err)
	}
}
