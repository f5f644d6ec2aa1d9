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
		src := &TarSource{bad: map[int]badEntry{}}
		if err := src.index(bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		for i, sp := range src.spans {
			if _, bad := src.bad[i]; bad {
				continue
			}
			if sp.end <= sp.start || int64(sp.end)*512 > int64(len(data))+511 {
				t.Fatalf("sample %d spans blocks [%d,%d) outside %d bytes", i, sp.start, sp.end, len(data))
			}
		}
	})
}
