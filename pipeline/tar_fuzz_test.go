package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTarIndex indexes arbitrary bytes as a shard (in memory, so that the
// fuzzer spends its time in the parser): it must not panic, and every
// member it accepts must lie inside the data.
func FuzzTarIndex(f *testing.F) {
	for _, name := range []string{"shard-000.tar", "shard-001.tar", "truncated.tar"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := indexTar(nil, 0, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.err != nil {
				continue
			}
			if len(e.members) == 0 {
				t.Fatalf("sample %q without members", e.key)
			}
			for _, m := range e.members {
				if m.off < 0 || m.size < 0 || m.off+m.size > int64(len(data)) || m.off%512 != 0 {
					t.Fatalf("member %s.%s at [%d,+%d) outside %d bytes", e.key, m.ext, m.off, m.size, len(data))
				}
			}
		}
	})
}
