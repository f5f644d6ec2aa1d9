package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/text"
)

const (
	wpJSON     = "../../text/testdata/wordpiece-fortunes.json"
	mixedLines = "../../text/testdata/mixed.txt"
	wpGolden   = "../../text/testdata/golden-wordpiece.jsonl"
)

func testEnv() (*cmdEnv, *bytes.Buffer, *bytes.Buffer) {
	var o, e bytes.Buffer
	return &cmdEnv{Stdout: &o, Stderr: &e}, &o, &e
}

// TestTokenizeMatchesHF: `sslpipe tokenize` writes, per line of mixed.txt,
// the ids HF tokenizers gave (golden file), with and without --special.
func TestTokenizeMatchesHF(t *testing.T) {
	var golden []struct {
		IDs        []int32 `json:"ids"`
		IDsSpecial []int32 `json:"ids_special"`
	}
	f, err := os.Open(wpGolden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			IDs        []int32 `json:"ids"`
			IDsSpecial []int32 `json:"ids_special"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		golden = append(golden, r)
	}
	for _, special := range []bool{false, true} {
		env, out, _ := testEnv()
		args := []string{"--tokenizer", wpJSON, "--in", mixedLines, "--workers", "2"}
		if special {
			args = append(args, "--special")
		}
		if err := run(context.Background(), env, append([]string{"tokenize"}, args...)); err != nil {
			t.Fatal(err)
		}
		rows := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(rows) != len(golden) {
			t.Fatalf("%d output lines, %d golden", len(rows), len(golden))
		}
		for i, row := range rows {
			var ids []int32
			if err := json.Unmarshal([]byte(row), &ids); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			want := golden[i].IDs
			if special {
				want = golden[i].IDsSpecial
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("line %d (special %v): %v, HF %v", i+1, special, ids, want)
			}
		}
	}
}

func TestTokenizeBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("ok line\nbad \xff line\nanother\n"), 0o644)
	env, _, stderr := testEnv()
	err := run(context.Background(), env, []string{"tokenize", "--tokenizer", wpJSON, "--in", in, "--max-errors", "0"})
	if !errors.Is(err, errTooManyDataErrors) || exitCode(err) != exitDataErrors || !strings.Contains(stderr.String(), "in.txt:2: invalid UTF-8") {
		t.Errorf("err %v, stderr %q", err, stderr)
	}
	for _, limit := range []string{"1", "-1", ""} { // "": the default, 100
		env, out, stderr := testEnv()
		args := []string{"tokenize", "--tokenizer", wpJSON, "--in", in}
		if limit != "" {
			args = append(args, "--max-errors", limit)
		}
		if err := run(context.Background(), env, args); err != nil {
			t.Fatal(limit, err)
		}
		if n := strings.Count(out.String(), "\n"); n != 2 || !strings.Contains(stderr.String(), "tokenize: skipped") || !strings.Contains(stderr.String(), "in.txt:2: invalid UTF-8") {
			t.Errorf("--max-errors %q: %d lines written, want 2; stderr %q", limit, n, stderr)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"model": `), 0o644)
	env, _, _ = testEnv()
	err = run(context.Background(), env, []string{"tokenize", "--tokenizer", bad, "--in", in})
	if !errors.Is(err, text.ErrMalformed) || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("malformed tokenizer: %v", err)
	}
	env, _, _ = testEnv()
	if err := run(context.Background(), env, []string{"tokenize", "--in", in}); exitCode(err) != exitUsage {
		t.Errorf("missing --tokenizer: %v", err)
	}
}

func TestBenchTokenize(t *testing.T) {
	env, out, _ := testEnv()
	err := run(context.Background(), env, []string{"bench", "tokenize", "--tokenizer", wpJSON, "--in", mixedLines, "--workers", "2", "--seconds", "0.2", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	var r benchTokenizeResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if r.MBPerS <= 0 || r.TokensPerS <= 0 || r.Passes < 1 || r.Lines != 321 || r.Workers != 2 {
		t.Errorf("%+v", r)
	}
	// bytes per token is a property of tokenizer and corpus, not of timing.
	if r.BytesPerTok < 2 || r.BytesPerTok > 5 {
		t.Errorf("bytes per token %.2f", r.BytesPerTok)
	}
	env, _, _ = testEnv()
	if err := run(context.Background(), env, []string{"bench", "tokenize", "--tokenizer", wpJSON}); exitCode(err) != exitUsage {
		t.Errorf("missing --in: %v", err)
	}
}
