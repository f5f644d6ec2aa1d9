package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
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

// npyHeader is a version 1.0 .npy header for a float32 array of shape dims.
func npyHeader(dims string) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims)
	for (10+len(dict)+1)%64 != 0 {
		dict += " "
	}
	dict += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)), byte(len(dict)>>8))
	return append(b, dict...)
}

// HugeKMeansFile writes a k-means codebook of a few hundred bytes whose
// metadata and .npy header claim 55,000,000 x 39 float32 centroids (8.6 GB).
func hugeKMeansFile(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(kmeansMagic)
	b.WriteString(`{"feature_type":"mfcc+deltas","dim":39,"k":55000000,"label_rate":100}` + "\n")
	b.Write(npyHeader("55000000, 39"))
	b.Write(make([]byte, 200))
	p := filepath.Join(t.TempDir(), "huge.km")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// LoadKMeans checks the centroids' header against the bytes left in the
// file before allocating them.
func TestLoadKMeansHugeHeaderAllocatesLittle(t *testing.T) {
	p := hugeKMeansFile(t)
	var err error
	n := bytesAllocated(func() { _, err = LoadKMeans(p) })
	if !errors.Is(err, ErrKMeans) || !strings.Contains(err.Error(), "huge.km") || !strings.Contains(err.Error(), "55000000 39") {
		t.Errorf("err = %v, want ErrKMeans naming the file and the claimed shape", err)
	}
	if n > 1<<20 {
		t.Errorf("allocated %d bytes for a file of a few hundred bytes", n)
	}
}

// A WAV stream of unknown size whose data chunk claims 3.75 GiB fails as
// truncated without allocating 2^30 samples.
func TestDecoderUnknownSizeHugeHeaderAllocatesLittle(t *testing.T) {
	frames := make([][]float64, 100)
	for i := range frames {
		frames[i] = []float64{float64(i%20)/20 - 0.5}
	}
	b := makeWAV(1, 16, 16000, frames, false)
	i := bytes.LastIndex(b, []byte("data"))
	binary.LittleEndian.PutUint32(b[4:], 0xFFFFFFF8)   // RIFF size
	binary.LittleEndian.PutUint32(b[i+4:], 0xF0000000) // data chunk: 3.75 GiB
	var err error
	var got []float32
	n := bytesAllocated(func() {
		var d *Decoder
		if d, err = NewDecoder(io.MultiReader(bytes.NewReader(b)), -1, "huge.wav"); err == nil {
			got, err = d.ReadAll(nil)
		}
	})
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "huge.wav") || got != nil {
		t.Errorf("err = %v, want ErrTruncated naming the file", err)
	}
	if n > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte stream", n, len(b))
	}
	// An honest stream of several read buffers decodes to the same samples
	// whether its size is known or not.
	long := make([][]float64, 40001)
	for i := range long {
		long[i] = []float64{float64(i%200)/200 - 0.5, float64(i%7) / 7}
	}
	wav := makeWAV(1, 16, 16000, long, false)
	want, _, err := decodeAll(wav, true)
	if err != nil || len(want) != len(long) {
		t.Fatalf("known size: %d samples, %v", len(want), err)
	}
	got, _, err = decodeAll(wav, false)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("unknown size: %d samples, %v", len(got), err)
	}
}

func decodeAll(b []byte, sized bool) ([]float32, Info, error) {
	size := int64(-1)
	if sized {
		size = int64(len(b))
	}
	d, err := NewDecoder(io.MultiReader(bytes.NewReader(b)), size, "x.wav")
	if err != nil {
		return nil, Info{}, err
	}
	out, err := d.ReadAll(nil)
	return out, d.Info(), err
}
