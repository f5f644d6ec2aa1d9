package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	in := map[string]STensor{
		"a.weight": {Shape: []int64{2, 3}, F32: []float32{1, -2, 3.5, 0, 1e-30, 7}},
		"b":        {Shape: []int64{}, F32: []float32{42}},
		"n":        {Shape: []int64{2}, I64: []int64{-1, 1 << 40}},
	}
	var b bytes.Buffer
	if err := WriteSafetensors(&b, in, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	out, meta, err := ParseSafetensors(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) || meta["k"] != "v" {
		t.Errorf("round trip: %v %v", out, meta)
	}
}

func FuzzParseSafetensors(f *testing.F) {
	var b bytes.Buffer
	WriteSafetensors(&b, map[string]STensor{"x": {Shape: []int64{2}, F32: []float32{1, 2}}}, map[string]string{"m": "1"})
	f.Add(b.Bytes())
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := ParseSafetensors(data)
		if err != nil {
			if !errors.Is(err, ErrBadSafetensors) {
				t.Fatalf("error %v does not wrap ErrBadSafetensors", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteSafetensors(&out, ts, nil); err != nil {
			t.Fatal(err)
		}
	})
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

// rawSafetensors encodes a header listing entries (and meta as its
// __metadata__) followed by a data section of body zero bytes.
func rawSafetensors(entries map[string]stEntry, meta map[string]string, body int) []byte {
	header := map[string]any{}
	for k, e := range entries {
		header[k] = e
	}
	if meta != nil {
		header["__metadata__"] = meta
	}
	hj, _ := json.Marshal(header)
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	b = append(b, hj...)
	return append(b, make([]byte, body)...)
}

// overlappingSafetensors is a file of about 1 MiB whose header lists n
// tensors that all claim the same 1 MiB of data: decoding each would
// allocate n MiB.
func overlappingSafetensors(n int, meta map[string]string) []byte {
	const elems = 1 << 18
	entries := map[string]stEntry{}
	for i := range n {
		entries[fmt.Sprintf("t%04d", i)] = stEntry{Dtype: "F32", Shape: []int64{elems}, Offsets: [2]int64{0, 4 * elems}}
	}
	return rawSafetensors(entries, meta, 4*elems)
}

// Tensors must tile the data section: overlapping regions (which would
// multiply the allocation), gaps and trailing bytes are rejected, and the
// rejection allocates about the file's size, not the header's claim.
func TestParseSafetensorsRejectsOverlapAllocatesLittle(t *testing.T) {
	data := overlappingSafetensors(1000, nil)
	var err error
	n := bytesAllocated(func() { _, _, err = ParseSafetensors(data) })
	if !errors.Is(err, ErrBadSafetensors) || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("err = %v, want ErrBadSafetensors about overlapping offsets", err)
	}
	if n > 4*uint64(len(data)) {
		t.Errorf("allocated %d bytes for a %d-byte file", n, len(data))
	}
	f32 := func(a, b int64) stEntry {
		return stEntry{Dtype: "F32", Shape: []int64{(b - a) / 4}, Offsets: [2]int64{a, b}}
	}
	for name, c := range map[string]struct {
		entries map[string]stEntry
		body    int
		ok      bool
	}{
		"tiled":    {map[string]stEntry{"a": f32(0, 8), "b": f32(8, 16), "empty": f32(16, 16)}, 16, true},
		"overlap":  {map[string]stEntry{"a": f32(0, 8), "b": f32(4, 12)}, 12, false},
		"gap":      {map[string]stEntry{"a": f32(4, 12)}, 12, false},
		"trailing": {map[string]stEntry{"a": f32(0, 8)}, 12, false},
	} {
		_, _, err := ParseSafetensors(rawSafetensors(c.entries, nil, c.body))
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadSafetensors)) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
