package text

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type docOrErr struct {
	doc Document
	err error
}

func collect(t testing.TB, paths []string, o CorpusOptions) []docOrErr {
	t.Helper()
	var out []docOrErr
	for d, err := range Documents(context.Background(), paths, o) {
		out = append(out, docOrErr{d, err})
	}
	return out
}

func TestDocumentsSplitsAndFormats(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.txt":        "first line\r\nsecond line\n\n\nthird para\nstill third\n",
		"sub/b.jsonl":  "{\"text\": \"json one\", \"id\": 1}\n\n{\"text\": \"json two\"}\n",
		"sub/skip.csv": "not read",
		".hidden.txt":  "not read",
	})
	for _, tc := range []struct {
		split Split
		want  []string
	}{
		{SplitLines, []string{"first line", "second line", "third para", "still third", "json one", "json two"}},
		{SplitBlankLines, []string{"first line\nsecond line", "third para\nstill third", "json one", "json two"}},
		{SplitFile, []string{"first line\nsecond line\n\n\nthird para\nstill third", "json one", "json two"}},
	} {
		var got []string
		for _, r := range collect(t, []string{dir}, CorpusOptions{Split: tc.split}) {
			if r.err != nil {
				t.Fatalf("split %d: %v", tc.split, r.err)
			}
			got = append(got, r.doc.Text)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("split %d:\n got %q\nwant %q", tc.split, got, tc.want)
		}
	}
	r := collect(t, []string{dir}, CorpusOptions{Split: SplitBlankLines})
	if r[1].doc.Line != 5 || !strings.HasSuffix(r[1].doc.File, "a.txt") {
		t.Errorf("second paragraph at %s:%d, want a.txt:5", r[1].doc.File, r[1].doc.Line)
	}
}

func TestDocumentsBadInput(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"bad.txt":   "good\nbad \xff\xfe bytes\nnul \x00 here\nfine\n",
		"empty.txt": "",
		"long.txt":  "short\n" + strings.Repeat("x", 5000) + "\nafter\n",
		"j.jsonl":   "{\"text\": 3}\nnot json\n{\"other\": \"x\"}\n{\"text\": \"ok\"}\n",
	})
	o := CorpusOptions{MaxLineBytes: 1000}
	var msgs []string
	var texts []string
	for _, r := range collect(t, []string{dir}, o) {
		if r.err != nil {
			msgs = append(msgs, r.err.Error())
			continue
		}
		texts = append(texts, r.doc.Text)
	}
	wantErrs := []string{
		"bad.txt:2: invalid UTF-8",
		"bad.txt:3: NUL byte",
		"empty.txt: empty file",
		"j.jsonl:1: bad JSONL record: field \"text\" is not a string",
		"j.jsonl:2: bad JSONL record",
		"j.jsonl:3: bad JSONL record: no \"text\" field",
		"long.txt:2: line too long",
	}
	if len(msgs) != len(wantErrs) {
		t.Fatalf("errors %q", msgs)
	}
	for i, w := range wantErrs {
		if !strings.Contains(msgs[i], w) {
			t.Errorf("error %d = %q, want it to contain %q", i, msgs[i], w)
		}
	}
	if strings.Join(texts, "|") != "good|fine|ok|short|after" {
		t.Errorf("documents %q", texts)
	}
	var ce *CorpusError
	for d, err := range Documents(context.Background(), []string{filepath.Join(dir, "bad.txt")}, o) {
		if err != nil && (!errors.As(err, &ce) || !errors.Is(err, ErrInvalidUTF8)) {
			t.Errorf("error %v is not a *CorpusError wrapping ErrInvalidUTF8", err)
		}
		_ = d
		break
	}

	// Replace and skip policies.
	st := &CorpusStats{}
	var rep []string
	for _, r := range collect(t, []string{filepath.Join(dir, "bad.txt")}, CorpusOptions{UTF8: UTF8Replace, Stats: st}) {
		if r.err != nil {
			t.Fatal(r.err)
		}
		rep = append(rep, r.doc.Text)
	}
	if strings.Join(rep, "|") != "good|bad \uFFFD bytes|nul  here|fine" || st.Replaced != 2 {
		t.Errorf("replace: %q, stats %+v", rep, st)
	}
	st = &CorpusStats{}
	n := len(collect(t, []string{filepath.Join(dir, "bad.txt")}, CorpusOptions{UTF8: UTF8Skip, Stats: st}))
	if n != 2 || st.Skipped != 2 {
		t.Errorf("skip: %d documents, stats %+v", n, st)
	}
}

// A 50 MB single line is skipped with an error naming file and line while
// memory stays bounded by MaxLineBytes.
func TestDocumentsHugeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 50 MB file")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "huge.txt")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("before\n")
	chunk := strings.Repeat("y", 1<<20)
	for range 50 {
		f.WriteString(chunk)
	}
	f.WriteString("\nafter\n")
	f.Close()
	var got []string
	for _, r := range collect(t, []string{p}, CorpusOptions{}) {
		if r.err != nil {
			got = append(got, r.err.Error())
		} else {
			got = append(got, r.doc.Text)
		}
	}
	if len(got) != 3 || got[0] != "before" || !strings.Contains(got[1], "huge.txt:2: line too long") || got[2] != "after" {
		t.Errorf("%q", got)
	}
}

func TestDocumentsMissingPath(t *testing.T) {
	for _, err := range Documents(context.Background(), []string{"/nonexistent/x"}, CorpusOptions{}) {
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/x") {
			t.Errorf("error %v does not name the path", err)
		}
	}
}

func TestReadFortunes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"cats":     "Cats sleep.\n%\nCats\nsleep more.\n%\n",
		"cats.dat": "binary index",
		"dogs":     "Dogs bark.\n",
	})
	if err := os.Symlink(filepath.Join(dir, "cats"), filepath.Join(dir, "cats.u8")); err != nil {
		t.Fatal(err)
	}
	docs, err := ReadFortunes(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Category+":"+d.Text)
	}
	if strings.Join(got, "|") != "cats:Cats sleep.|cats:Cats\nsleep more.|dogs:Dogs bark." || docs[1].Line != 3 {
		t.Errorf("%q (line %d)", got, docs[1].Line)
	}
	if _, err := ReadFortunes(t.TempDir()); err == nil {
		t.Error("empty directory accepted")
	}
}

// TestReadFortunesDebian reads the installed corpus (package fortunes).
func TestReadFortunesDebian(t *testing.T) {
	docs, err := ReadFortunes(FortunesDir)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("Debian fortunes not installed")
	}
	if err != nil {
		t.Fatal(err)
	}
	cats := map[string]int{}
	for _, d := range docs {
		cats[d.Category]++
		if !utf8.ValidString(d.Text) || strings.Contains(d.Text, "\n%\n") {
			t.Fatalf("%s:%d: bad document %q", d.File, d.Line, d.Text)
		}
	}
	if len(cats) < 20 || len(docs) < 5000 {
		t.Errorf("%d documents in %d categories", len(docs), len(cats))
	}
	t.Logf("%d fortunes in %d categories", len(docs), len(cats))
}

func FuzzDocuments(f *testing.F) {
	for _, p := range []string{"testdata/mixed.txt", "testdata/hard-lines.txt"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 2000)], uint8(0))
	}
	f.Add([]byte("a\xff\x00\n\n{\"text\":\"\xc3\"}\r\n%\n"), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		dir, err := os.MkdirTemp("", "fuzzdocs")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		name := "f.txt"
		if mode&4 != 0 {
			name = "f.jsonl"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := CorpusOptions{Split: Split(mode % 3), UTF8: UTF8Policy((mode >> 3) % 3), MaxLineBytes: 64, MaxDocBytes: 256}
		for d, err := range Documents(context.Background(), []string{p}, o) {
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name the file", err)
				}
				continue
			}
			if !utf8.ValidString(d.Text) || strings.IndexByte(d.Text, 0) >= 0 {
				t.Errorf("document with invalid UTF-8 or NUL: %q", d.Text)
			}
			if len(d.Text) > 256 {
				t.Errorf("document of %d bytes exceeds MaxDocBytes", len(d.Text))
			}
		}
		if docs, err := ReadFortunes(dir); err == nil {
			for _, d := range docs {
				if !utf8.ValidString(d.Text) {
					t.Errorf("fortune with invalid UTF-8: %q", d.Text)
				}
			}
		}
	})
}

// TestSplitFortune: fortune files (no extension) in a folder, documents
// between "%" lines; the .dat index beside them is not read.
func TestSplitFortune(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "art"), []byte("First one\nline two\n%\nSecond\n%\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "art.dat"), []byte{0, 1, 2, 0xff}, 0o644)
	os.WriteFile(filepath.Join(dir, "food"), []byte("Third\r\n%\r\n"), 0o644)
	var got []string
	for d, err := range Documents(context.Background(), []string{dir}, CorpusOptions{Split: SplitFortune}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(d.File)+":"+strings.TrimSpace(d.Text))
	}
	want := []string{"art:First one\nline two", "art:Second", "food:Third"}
	if !slices.Equal(got, want) {
		t.Errorf("documents %q, want %q", got, want)
	}
	if s, err := ParseSplit("fortune"); err != nil || s != SplitFortune {
		t.Errorf("ParseSplit(fortune): %v %v", s, err)
	}
}
