package pipeline_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

// bytesAllocated returns the heap bytes f allocates.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// sparseTar writes a valid tar whose one member, name, holds size zero
// bytes, as a sparse file (nothing is written for the data).
func sparseTar(t *testing.T, path, name string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	// Header block, data padded to 512, two zero end blocks.
	if err := f.Truncate(512 + (size+511)&^511 + 1024); err != nil {
		t.Fatal(err)
	}
}

// A member is read only if the shard still holds its bytes: a shard cut
// short after Tar indexed a 256 MiB member gives a per-sample error naming
// the member, without allocating the 256 MiB.
func TestTarMemberReadBoundedByFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.tar")
	sparseTar(t, p, "000001.bin", 256<<20)
	src, err := pipeline.Tar(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Len() != 1 {
		t.Fatalf("%d samples", src.Len())
	}
	if err := os.Truncate(p, 4096); err != nil {
		t.Fatal(err)
	}
	n := bytesAllocated(func() { _, err = src.At(context.Background(), 0) })
	var se *pipeline.SampleError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "000001") || !strings.Contains(err.Error(), "now has 4096 bytes") {
		t.Errorf("err = %v, want a sample error naming the sample", err)
	}
	if n > 1<<20 {
		t.Errorf("allocated %d bytes reading a 4096-byte shard", n)
	}
	// Through TarRefs (reads on Map workers) the same.
	ref, err := src.Refs().At(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	n = bytesAllocated(func() { _, err = pipeline.ReadTar(context.Background(), ref) })
	if !errors.As(err, &se) || n > 1<<20 {
		t.Errorf("ReadTar: err = %v, %d bytes allocated", err, n)
	}
}
