package preprocess

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/text"
)

// textCorpus writes a corpus folder: generated sentences in a.txt (with an
// invalid UTF-8 line and a NUL line) and, when the Debian fortunes are
// installed, a slice of them in b.txt. It returns the folder and the number
// of documents the corpus reader will yield (bad ones included).
func textCorpus(t testing.TB, lines int) (string, int) {
	dir := t.TempDir()
	r := newRand(11)
	words := strings.Fields("the a quick brown fox jumps over lazy dog data model learns from unlabeled text shards tokens pack sequence self supervised training resume kill rerun byte identical manifest")
	var a bytes.Buffer
	for i := 0; i < lines; i++ {
		n := 3 + r.IntN(25)
		for j := 0; j < n; j++ {
			if j > 0 {
				a.WriteByte(' ')
			}
			a.WriteString(words[r.IntN(len(words))])
		}
		if i%17 == 3 {
			fmt.Fprintf(&a, " %d.", i)
		}
		a.WriteByte('\n')
		if i == lines/2 {
			a.WriteString("bad \xff\xfe utf8 line\n")
			a.WriteString("nul \x00 byte\n")
		}
	}
	writeFile(t, filepath.Join(dir, "a.txt"), a.Bytes())
	docs := lines + 2
	if fs, err := text.ReadFortunes("/usr/share/games/fortunes"); err == nil && len(fs) > 0 {
		var b bytes.Buffer
		for _, d := range fs[:min(len(fs), 200)] {
			for _, l := range strings.Split(d.Text, "\n") {
				if strings.TrimSpace(l) != "" && !strings.ContainsRune(l, 0) {
					b.WriteString(l)
					b.WriteByte('\n')
					docs++
				}
			}
		}
		writeFile(t, filepath.Join(dir, "b.txt"), b.Bytes())
	}
	return dir, docs
}

func textOpts(in, out string) Options {
	return Options{Modality: Text, In: in, Out: out, TrainTokenizer: "wordpiece", Vocab: 400, SeqLen: 24, ShardSize: 60, MaxErrors: -1, Workers: 2}
}

func TestTextEndToEnd(t *testing.T) {
	dir, ndocs := textCorpus(t, 300)
	out := t.TempDir()
	sum, err := Run(context.Background(), textOpts(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Inputs != ndocs || sum.Rejected != 2 {
		t.Fatalf("summary %+v, want %d inputs, 2 rejected", sum, ndocs)
	}
	errs := readErrors(t, out)
	if len(errs) != 2 || !strings.Contains(errs[0].Reason, "invalid UTF-8") || !strings.HasSuffix(errs[0].Path, "a.txt:152") || !strings.Contains(errs[1].Reason, "NUL") {
		t.Fatalf("errors %+v", errs)
	}
	m, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Artifacts) != 1 || m.Artifacts[0].Path != "tokenizer.json" || m.Meta.SeqLen != 24 {
		t.Fatalf("manifest artifacts %+v meta %+v", m.Artifacts, m.Meta)
	}
	tok, err := text.LoadTokenizer(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() > 400 {
		t.Errorf("vocab %d > 400", tok.VocabSize())
	}
	// Independent check of every shard: the content tokens of its
	// sequences, in order, are the documents' tokens joined by [SEP].
	var docs []string
	for d, err := range text.Documents(context.Background(), []string{dir}, text.CorpusOptions{}) {
		if err != nil {
			docs = append(docs, "\x00bad")
			continue
		}
		docs = append(docs, d.Text)
	}
	sp := tok.Specials()
	byShard := map[string][]int32{}
	var order []string
	for _, s := range readBack(t, out) {
		a, err := npy.Read(bytes.NewReader(s.Files["ids.npy"]), int64(len(s.Files["ids.npy"])))
		if err != nil {
			t.Fatal(err)
		}
		if a.DType != npy.Int32 || !slices.Equal(a.Shape, []int{24}) {
			t.Fatalf("%s: %v %v", s.Key, a.DType, a.Shape)
		}
		if a.I32[0] != sp.Begin {
			t.Fatalf("%s does not start with [CLS]", s.Key)
		}
		shard := strings.Split(s.Key, "_")[0]
		if _, ok := byShard[shard]; !ok {
			order = append(order, shard)
		}
		for _, id := range a.I32[1:] {
			if id == sp.Pad {
				break
			}
			byShard[shard] = append(byShard[shard], id)
		}
	}
	if len(order) != (ndocs+59)/60 {
		t.Fatalf("%d shards with samples, want %d", len(order), (ndocs+59)/60)
	}
	for j, key := range order {
		var want []int32
		for _, d := range docs[j*60 : min(len(docs), (j+1)*60)] {
			if strings.HasPrefix(d, "\x00") {
				continue
			}
			if len(want) > 0 {
				want = append(want, sp.End)
			}
			want = append(want, tok.Encode(d, false).IDs...)
		}
		// Sequences end with [SEP] and documents are separated by it:
		// compare the other tokens exactly and count the separators.
		g2 := byShard[key]
		if !containsInOrder(g2, want, sp.End) {
			t.Errorf("shard %s: tokens do not match its documents", key)
		}
	}
	// Same command again in another folder with other workers: identical.
	o := textOpts(dir, t.TempDir())
	o.Workers = 1
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	sameTree(t, out, o.Out)
}

// containsInOrder reports whether got equals want once End tokens are
// ignored, and got has at least as many End tokens as want.
func containsInOrder(got, want []int32, end int32) bool {
	strip := func(x []int32) []int32 {
		var o []int32
		for _, v := range x {
			if v != end {
				o = append(o, v)
			}
		}
		return o
	}
	return slices.Equal(strip(got), strip(want)) && len(got)-len(strip(got)) >= len(want)-len(strip(want))
}

func TestTextGivenTokenizerAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir, _ := textCorpus(t, 400)
	tokPath, err := filepath.Abs("../text/testdata/bpe-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tokPath); err != nil {
		t.Skipf("text testdata tokenizer missing: %v", err)
	}
	o := Options{Modality: Text, In: dir, Tokenizer: tokPath, SeqLen: 32, ShardSize: 40, MaxErrors: -1, Workers: 2}
	o.Out = t.TempDir()
	ref := o.Out
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(ref, "tokenizer.json"))
	want, _ := os.ReadFile(tokPath)
	if !bytes.Equal(got, want) {
		t.Error("the given tokenizer was not copied byte for byte")
	}
	o.Out = t.TempDir()
	killMidway(t, o, 2)
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsKept < 2 || sum.ShardsWritten < 1 {
		t.Fatalf("kept %d, wrote %d", sum.ShardsKept, sum.ShardsWritten)
	}
	sameTree(t, ref, o.Out)
}

func TestTextPackOnePerSequence(t *testing.T) {
	dir, ndocs := textCorpus(t, 150)
	o := textOpts(dir, t.TempDir())
	o.Pack, o.SeqLen = "one", 64
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != ndocs-2 {
		t.Fatalf("%d sequences from %d good documents", sum.Samples, ndocs-2)
	}
	tok, err := text.LoadTokenizer(filepath.Join(o.Out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	sp := tok.Specials()
	for _, s := range readBack(t, o.Out)[:20] {
		ids := readNpy(t, s.Files["ids.npy"]).I32
		if ids[0] != sp.Begin || !slices.Contains(ids, sp.End) {
			t.Fatalf("%s: %v lacks [CLS] ... [SEP]", s.Key, ids)
		}
		end := slices.Index(ids, sp.End)
		for _, v := range ids[end+1:] {
			if v != sp.Pad {
				t.Fatalf("%s: token %d after [SEP] in one-document-per-sequence mode", s.Key, v)
			}
		}
	}
}
