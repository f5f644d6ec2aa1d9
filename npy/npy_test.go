package npy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// Files written by numpy.save (testdata/make_npy.py) must read back exactly,
// and writing the array again must reproduce numpy's bytes.
func TestReadNumpyFiles(t *testing.T) {
	cases := []struct {
		file string
		want Array
	}{
		{"f32_2x3.npy", Array{DType: Float32, Shape: []int{2, 3}, F32: []float32{0.5, -1.25, 3, 1e-8, 0, 65504}}},
		{"i16_5.npy", Array{DType: Int16, Shape: []int{5}, I16: []int16{-32768, -1, 0, 1, 32767}}},
		{"i32_2x2x2.npy", Array{DType: Int32, Shape: []int{2, 2, 2}, I32: []int32{-4, -3, -2, -1, 0, 1, 2, 3}}},
		{"i64_scalar.npy", Array{DType: Int64, Shape: []int{}, I64: []int64{-(1 << 40)}}},
		{"f32_0x4.npy", Array{DType: Float32, Shape: []int{0, 4}, F32: []float32{}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file)
			a, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*a, c.want) {
				t.Fatalf("got %+v, want %+v", *a, c.want)
			}
			var buf bytes.Buffer
			if err := Write(&buf, a); err != nil {
				t.Fatal(err)
			}
			orig, _ := os.ReadFile(path)
			if !bytes.Equal(buf.Bytes(), orig) {
				t.Fatalf("rewrite differs from numpy's bytes:\n%q\n%q", buf.Bytes(), orig)
			}
		})
	}
}

func TestRoundTripFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.npy")
	data := make([]float32, 7*39)
	for i := range data {
		data[i] = float32(i) * 0.25
	}
	if err := WriteFile(p, Float32Matrix(data, 7, 39)); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Shape, []int{7, 39}) || !reflect.DeepEqual(a.F32, data) {
		t.Fatalf("round trip mismatch: shape %v", a.Shape)
	}
}

func TestRejects(t *testing.T) {
	good, _ := os.ReadFile("testdata/f32_2x3.npy")
	huge := bytes.Replace(good, []byte("(2, 3)"), []byte("(99999, 99999)"), 1)
	trunc := good[:len(good)-3]
	bad := bytes.Replace(good, []byte("<f4"), []byte("<c8"), 1)
	for name, b := range map[string][]byte{"huge": huge, "trunc": trunc, "dtype": bad, "magic": []byte("NUMPYNUMPY")} {
		if _, err := Read(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	if err := Write(&bytes.Buffer{}, &Array{DType: Float32, Shape: []int{3}, F32: []float32{1}}); err == nil {
		t.Error("shape/data mismatch accepted")
	}
}

func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.npy")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if a.dataLen() != a.Len() {
			t.Fatalf("data %d != shape %v", a.dataLen(), a.Shape)
		}
	})
}

func ExampleWrite() {
	var buf bytes.Buffer
	_ = Write(&buf, Float32Matrix([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	a, _ := Read(&buf, -1)
	fmt.Println(a.DType, a.Shape, a.F32)
	// Output: float32 [2 3] [1 2 3 4 5 6]
}

func ExampleReadFile() {
	a, err := ReadFile("testdata/i16_5.npy") // written by numpy.save
	if err != nil {
		panic(err)
	}
	fmt.Println(a.DType, a.Shape, a.I16)
	// Output: int16 [5] [-32768 -1 0 1 32767]
}

// bytesAllocated returns the heap bytes f allocates.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A header claiming 55,000,000 x 39 float32 (8.6 GB) in front of a few
// hundred bytes fails as truncated without allocating the claim, whether
// the stream size is known (rejected before allocation) or not (the array
// grows as the data arrives).
func TestReadHugeHeaderAllocatesLittle(t *testing.T) {
	var buf bytes.Buffer
	buf.Write(header(Float32, []int{55_000_000, 39}))
	buf.Write(make([]byte, 300))
	b := buf.Bytes()
	for _, size := range []int64{int64(len(b)), -1} {
		var err error
		n := bytesAllocated(func() { _, err = Read(bytes.NewReader(b), size) })
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "55000000 39") {
			t.Errorf("size %d: err = %v, want ErrFormat naming the shape", size, err)
		}
		if n > 1<<20 {
			t.Errorf("size %d: allocated %d bytes for a %d-byte stream", size, n, len(b))
		}
	}
	// An honest array spanning several read chunks reads back exactly
	// whatever the size hint.
	data := make([]float32, 3*readChunk/4+5)
	for i := range data {
		data[i] = float32(i) - 0.5
	}
	good := &Array{DType: Float32, Shape: []int{len(data)}, F32: data}
	var gb bytes.Buffer
	if err := Write(&gb, good); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{int64(gb.Len()), -1} {
		a, err := Read(bytes.NewReader(gb.Bytes()), size)
		if err != nil || !reflect.DeepEqual(a.F32, good.F32) {
			t.Fatalf("size %d: %v", size, err)
		}
	}
}
