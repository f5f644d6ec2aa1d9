package preprocess

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
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

// oneWAV writes a folder holding one second of 16 kHz audio.
func oneWAV(t *testing.T) string {
	dir := t.TempDir()
	x := make([]float64, 16000)
	for i := range x {
		x[i] = 0.3 * math.Sin(float64(i)/7)
	}
	writeFile(t, filepath.Join(dir, "a.wav"), wavPCM16(16000, 1, x))
	return dir
}

// Non-finite numbers are invalid options (ErrOptions, a usage error on the
// command line), never a panic when the manifest is encoded.
func TestOptionsRejectNonFinite(t *testing.T) {
	in := oneWAV(t)
	nan, inf := math.NaN(), math.Inf(1)
	for name, o := range map[string]Options{
		"kmeans-fraction NaN":  {Features: "mfcc", KMeans: 4, KMeansFraction: nan},
		"kmeans-fraction +Inf": {Features: "mfcc", KMeans: 4, KMeansFraction: inf},
		"max-seconds +Inf":     {MaxSeconds: inf},
		"max-seconds NaN":      {MaxSeconds: nan},
		"max-seconds -Inf":     {MaxSeconds: math.Inf(-1)},
	} {
		t.Run(name, func(t *testing.T) {
			o.Modality, o.In, o.Out, o.Workers = Audio, in, t.TempDir(), 1
			_, err := Run(context.Background(), o)
			flag := strings.Fields(name)[0]
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "--"+flag) {
				t.Fatalf("err = %v, want ErrOptions naming --%s", err, flag)
			}
		})
	}
}

// marshal reports what JSON cannot hold as an error.
func TestMarshalNonFiniteIsError(t *testing.T) {
	if _, err := marshal(Options{MaxSeconds: math.Inf(1)}); err == nil {
		t.Fatal("no error for +Inf")
	}
	if _, err := writeJSONAtomic(filepath.Join(t.TempDir(), "m.json"), map[string]float64{"x": math.NaN()}); err == nil {
		t.Fatal("no error for NaN")
	}
}

// --kmeans-from with a codebook of a few hundred bytes whose centroid
// header claims 55,000,000 x 39 float32 (8.6 GB) is an options error
// naming the file, and costs no more than the file's size.
func TestKMeansFromHugeHeaderAllocatesLittle(t *testing.T) {
	in := oneWAV(t)
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (55000000, 39), }"
	for (10+len(dict)+1)%64 != 0 {
		dict += " "
	}
	dict += "\n"
	km := "SSLPIPE-KMEANS/1\n" + `{"feature_type":"mfcc+deltas","dim":39,"k":55000000,"label_rate":100}` + "\n" +
		"\x93NUMPY\x01\x00" + string([]byte{byte(len(dict)), byte(len(dict) >> 8)}) + dict + strings.Repeat("\x00", 200)
	p := filepath.Join(t.TempDir(), "huge.km")
	writeFile(t, p, []byte(km))
	o := Options{Modality: Audio, In: in, Out: t.TempDir(), Features: "mfcc", Deltas: true, KMeansFrom: p, Workers: 1}
	var err error
	n := bytesAllocated(func() { _, err = Run(context.Background(), o) })
	if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "huge.km") {
		t.Errorf("err = %v, want an options error naming huge.km", err)
	}
	if n > 16<<20 {
		t.Errorf("allocated %d bytes", n)
	}
}

// An input tar member is read only if the tar still holds its bytes: a
// tar cut short after ScanTar located a 256 MiB member gives an error
// naming the member, not an allocation of 256 MiB.
func TestTarMemberReadBoundedByFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	if err := tar.NewWriter(f).WriteHeader(&tar.Header{Name: "x/000001.wav", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	f.Truncate(512 + size + 1024) // sparse data and end blocks
	f.Seek(0, io.SeekStart)
	entries := ScanTar(f, 512+size+1024)
	f.Close()
	if len(entries) != 1 || entries[0].Err != nil || len(entries[0].Members) != 1 {
		t.Fatalf("entries %+v", entries)
	}
	if err := os.Truncate(p, 4096); err != nil {
		t.Fatal(err)
	}
	in := input{Path: p, Member: &entries[0].Members[0]}
	n := bytesAllocated(func() { _, err = in.read() })
	if err == nil || !strings.Contains(err.Error(), "x/000001.wav") || !strings.Contains(err.Error(), fmt.Sprint(4096)) {
		t.Errorf("err = %v, want an error naming the member and the tar's size", err)
	}
	if n > 1<<20 {
		t.Errorf("allocated %d bytes", n)
	}
}
