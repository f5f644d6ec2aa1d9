package main

import (
	"context"
	"path/filepath"
	"testing"
)

// TestRun trains BYOL for a few steps on the procedural source with the
// erasing stage.
func TestRun(t *testing.T) {
	if err := run(context.Background(), filepath.Join(t.TempDir(), "run"), 6); err != nil {
		t.Fatal(err)
	}
}
