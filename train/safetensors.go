package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/sslpipe/sslpipe/train/op"
)

// STensor is one tensor of a safetensors file: float32 (F32) or int64
// (I64) data, little-endian, row-major.
type STensor struct {
	Shape []int64
	F32   []float32
	I64   []int64
}

// maxSafetensorsHeader bounds the JSON header read from a file.
const maxSafetensorsHeader = 64 << 20

type stEntry struct {
	Dtype   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// WriteSafetensors writes tensors (sorted by name) and string metadata in
// the safetensors format (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length, JSON header, raw data.
func WriteSafetensors(w io.Writer, tensors map[string]STensor, meta map[string]string) error {
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, n := range names {
		t := tensors[n]
		e := stEntry{Shape: t.Shape}
		if e.Shape == nil {
			e.Shape = []int64{}
		}
		var size int64
		if t.I64 != nil {
			e.Dtype, size = "I64", int64(len(t.I64))*8
		} else {
			e.Dtype, size = "F32", int64(len(t.F32))*4
		}
		if op.Numel(t.Shape) != size/map[bool]int64{true: 8, false: 4}[t.I64 != nil] {
			return fmt.Errorf("train: safetensors: %s: shape %v does not match %d bytes", n, t.Shape, size)
		}
		e.Offsets = [2]int64{off, off + size}
		off += size
		header[n] = e
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	for _, n := range names {
		t := tensors[n]
		var buf []byte
		if t.I64 != nil {
			buf = make([]byte, 8*len(t.I64))
			for i, v := range t.I64 {
				binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
			}
		} else {
			buf = make([]byte, 4*len(t.F32))
			for i, v := range t.F32 {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// ErrBadSafetensors reports a malformed safetensors file.
var ErrBadSafetensors = errors.New("malformed safetensors data")

// ParseSafetensors decodes a whole safetensors file held in data. Only F32
// and I64 tensors are supported. As the format requires, the tensors'
// data_offsets must tile the data section exactly (no overlap, no gap, no
// trailing bytes): what is allocated for the tensors is then at most the
// size of data, whatever the header claims.
func ParseSafetensors(data []byte) (map[string]STensor, map[string]string, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSafetensors, fmt.Sprintf(format, a...))
	}
	if len(data) < 8 {
		return nil, nil, bad("%d bytes, shorter than the header length", len(data))
	}
	hl := binary.LittleEndian.Uint64(data)
	if hl > maxSafetensorsHeader || hl > uint64(len(data)-8) {
		return nil, nil, bad("header length %d exceeds the file (%d bytes)", hl, len(data))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hl], &raw); err != nil {
		return nil, nil, bad("header: %v", err)
	}
	body := data[8+hl:]
	var meta map[string]string
	type entry struct {
		name string
		stEntry
		n, esz int64
	}
	entries := make([]entry, 0, len(raw))
	for name, r := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(r, &meta); err != nil {
				return nil, nil, bad("metadata: %v", err)
			}
			continue
		}
		e := entry{name: name}
		if err := json.Unmarshal(r, &e.stEntry); err != nil {
			return nil, nil, bad("%s: %v", name, err)
		}
		e.n = 1
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && e.n > math.MaxInt32/d) {
				return nil, nil, bad("%s: shape %v", name, e.Shape)
			}
			e.n *= d
		}
		e.esz = map[string]int64{"F32": 4, "I64": 8}[e.Dtype]
		if e.esz == 0 {
			return nil, nil, bad("%s: dtype %s not supported (F32, I64)", name, e.Dtype)
		}
		a, b := e.Offsets[0], e.Offsets[1]
		if a < 0 || b < a || b > int64(len(body)) || b-a != e.n*e.esz {
			return nil, nil, bad("%s: offsets %v do not fit shape %v and %d data bytes", name, e.Offsets, e.Shape, len(body))
		}
		entries = append(entries, e)
	}
	// The data regions, in file order, must follow each other exactly: two
	// tensors claiming the same bytes would multiply the allocation.
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Offsets[0] != entries[j].Offsets[0] {
			return entries[i].Offsets[0] < entries[j].Offsets[0]
		}
		return entries[i].Offsets[1] < entries[j].Offsets[1]
	})
	var end int64
	for _, e := range entries {
		if e.Offsets[0] != end {
			return nil, nil, bad("%s: offsets %v overlap or leave a gap after byte %d of the data", e.name, e.Offsets, end)
		}
		end = e.Offsets[1]
	}
	if end != int64(len(body)) {
		return nil, nil, bad("tensors cover %d of the %d data bytes", end, len(body))
	}
	out := make(map[string]STensor, len(entries))
	for _, e := range entries {
		t := STensor{Shape: e.Shape}
		seg := body[e.Offsets[0]:e.Offsets[1]]
		if e.esz == 4 {
			t.F32 = make([]float32, e.n)
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(seg[4*i:]))
			}
		} else {
			t.I64 = make([]int64, e.n)
			for i := range t.I64 {
				t.I64[i] = int64(binary.LittleEndian.Uint64(seg[8*i:]))
			}
		}
		out[e.name] = t
	}
	return out, meta, nil
}

// WriteSafetensorsFile writes tensors and metadata to path atomically: a
// temp file in the same folder, fsync, rename (readers see the old file or
// the new one, never a partial one).
func WriteSafetensorsFile(path string, tensors map[string]STensor, meta map[string]string) error {
	var b bytes.Buffer
	if err := WriteSafetensors(&b, tensors, meta); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}
