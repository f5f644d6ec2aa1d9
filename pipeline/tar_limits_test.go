package pipeline

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// writeShards writes n shards of per samples each (members <key>.txt
// holding the key) and returns their paths.
func writeShards(t *testing.T, n, per int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for s := 0; s < n; s++ {
		p := filepath.Join(dir, fmt.Sprintf("shard-%03d.tar", s))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(f)
		for i := 0; i < per; i++ {
			key := fmt.Sprintf("s%03d_%04d", s, i)
			for _, ext := range []string{"txt", "cls"} {
				body := []byte(key + "." + ext)
				tw.WriteHeader(&tar.Header{Name: key + "." + ext, Size: int64(len(body)), Mode: 0o644, Typeflag: tar.TypeReg})
				tw.Write(body)
			}
		}
		tw.Close()
		f.Close()
		paths = append(paths, p)
	}
	return paths
}

// TestTarOpenFilesBounded reads every sample of 40 shards from 4
// goroutines in a scattered order with MaxOpenShards 3: at most 3 shard
// files are ever open, and every sample reads back right.
func TestTarOpenFilesBounded(t *testing.T) {
	defer func(n int) { MaxOpenShards = n }(MaxOpenShards)
	MaxOpenShards = 3
	src, err := Tar(writeShards(t, 40, 5)...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Len() != 200 {
		t.Fatalf("Len %d", src.Len())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxOpen := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				i := (k*37 + g*11) % 200
				s, err := src.At(context.Background(), i)
				if err != nil {
					t.Error(err)
					return
				}
				want := fmt.Sprintf("s%03d_%04d", i/5, i%5)
				if s.Key != want || string(s.Value.Files["txt"]) != want+".txt" || string(s.Value.Files["cls"]) != want+".cls" {
					t.Errorf("sample %d: key %s files %q", i, s.Key, s.Value.Files)
					return
				}
				mu.Lock()
				maxOpen = max(maxOpen, src.OpenFiles())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if maxOpen > 3 {
		t.Errorf("%d shard files open at once, limit 3", maxOpen)
	}
	if err := src.Close(); err != nil || src.OpenFiles() != 0 {
		t.Errorf("close: %v, %d open", err, src.OpenFiles())
	}
}

// TestTarIndexIsCompact: the index holds a fixed number of bytes per
// sample (spans, key offsets) plus the key bytes, whatever the members'
// sizes.
func TestTarIndexIsCompact(t *testing.T) {
	src, err := Tar(writeShards(t, 10, 100)...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	perSample := float64(cap(src.spans)*8+cap(src.keyEnd)*4+cap(src.keys)) / float64(src.Len())
	if perSample > 2*(8+4+9) { // 9-byte keys; slices grow by at most 2x
		t.Errorf("index holds %.1f bytes per sample", perSample)
	}
}
