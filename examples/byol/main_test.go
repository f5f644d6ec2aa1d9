package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleRuns(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), filepath.Join(t.TempDir(), "run"), 6, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "trained 6 steps") {
		t.Errorf("output:\n%s", out.String())
	}
	t.Log(out.String())
}
