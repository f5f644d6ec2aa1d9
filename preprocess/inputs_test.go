package preprocess

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzInputManifest: a CSV, JSONL or file-list input of any content is
// listed without panicking; every listed input is rejected or has a path,
// and labelled inputs get a class consistent with the class names.
func FuzzInputManifest(f *testing.F) {
	f.Add([]byte("path,label\na.jpg,cat\nb.jpg,dog\n\"bad,\n"), 0)
	f.Add([]byte("{\"path\":\"a.wav\",\"label\":3}\n{bad json}\n{\"path\":7}\n"), 1)
	f.Add([]byte("# list\na.jpg\n\n/abs/b.png\n"), 2)
	f.Add([]byte("path\tlabel\nx.jpg\t-1\ny.jpg\n"), 3)
	exts := []string{".csv", ".jsonl", ".txt", ".tsv"}
	f.Fuzz(func(t *testing.T, data []byte, kind int) {
		if kind < 0 {
			kind = -kind
		}
		p := filepath.Join(t.TempDir(), "in"+exts[kind%len(exts)])
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		o := &Options{Modality: Image, In: p}
		ins, classes, err := listInputs(context.Background(), o)
		if err != nil {
			return // a manifest without a header or path column is refused as a whole
		}
		for i, in := range ins {
			if in.Index != i {
				t.Fatalf("input %d has index %d", i, in.Index)
			}
			if in.Err == nil && in.Path == "" {
				t.Fatalf("input %d has neither a path nor an error", i)
			}
			if in.Err == nil && in.Class != "" && classes != nil {
				c, err := strconv.Atoi(in.Class)
				if err != nil || c < 0 || c >= len(classes) || classes[c] != in.Label {
					t.Fatalf("input %d: class %q for label %q, classes %v", i, in.Class, in.Label, classes)
				}
			}
		}
		inputsDigest(ins)
	})
}
