package train

import (
	"bytes"
	"errors"
	"reflect"
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
