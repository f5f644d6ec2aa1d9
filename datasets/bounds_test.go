package datasets

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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

// An IDX file of a few hundred bytes whose header declares 2^31 elements
// (the largest accepted) fails as truncated, plain or gzipped, having
// allocated about what the file holds: the data buffer grows as bytes
// arrive.
func TestReadIDXHugeHeaderAllocatesLittle(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"huge-idx3-ubyte", "huge-idx3-ubyte.gz"} {
		p := filepath.Join(dir, name)
		writeIDX(t, p, []int{1 << 15, 1 << 15, 2}, make([]byte, 300))
		var err error
		n := bytesAllocated(func() { _, err = ReadIDX(p) })
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "declares 2147483648 bytes of data, file has 300") {
			t.Errorf("%s: err = %v, want a truncation error naming the file", name, err)
		}
		if n > 1<<20 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
}
