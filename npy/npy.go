// Package npy reads and writes NumPy .npy files (format versions 1.0, 2.0
// and 3.0 on read; 1.0 on write unless the header needs more room) holding
// little-endian float32, int16, int32 or int64 arrays in C order.
//
// The header is parsed and validated before the data is allocated: a header
// whose shape claims more elements than MaxElements, or more bytes than a
// sized input holds, is rejected with an error that names the file; from an
// input of unknown size the array grows as the data arrives, so allocation
// is always bounded by the bytes actually present.
package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// DType is the element type of an array.
type DType int

// Supported element types.
const (
	Float32 DType = iota + 1
	Int16
	Int32
	Int64
)

// descr returns the NumPy type string of t.
func (t DType) descr() string {
	switch t {
	case Float32:
		return "<f4"
	case Int16:
		return "<i2"
	case Int32:
		return "<i4"
	case Int64:
		return "<i8"
	}
	return ""
}

// Size is the size of one element in bytes.
func (t DType) Size() int {
	switch t {
	case Float32, Int32:
		return 4
	case Int16:
		return 2
	case Int64:
		return 8
	}
	return 0
}

func (t DType) String() string {
	switch t {
	case Float32:
		return "float32"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	}
	return "invalid"
}

// MaxElements bounds the element count a header may claim (2^31).
const MaxElements = 1 << 31

// ErrFormat is wrapped by every error about a malformed or unsupported file.
var ErrFormat = errors.New("npy: invalid or unsupported format")

// Array is an n-dimensional array in C (row-major) order. Exactly one of the
// data slices is set, the one matching DType.
type Array struct {
	DType DType
	Shape []int
	F32   []float32
	I16   []int16
	I32   []int32
	I64   []int64
}

// Len is the number of elements implied by Shape (1 for a 0-d array).
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

func (a *Array) dataLen() int {
	switch a.DType {
	case Float32:
		return len(a.F32)
	case Int16:
		return len(a.I16)
	case Int32:
		return len(a.I32)
	case Int64:
		return len(a.I64)
	}
	return -1
}

var magic = []byte("\x93NUMPY")

// header builds the padded header (magic through the final newline).
func header(t DType, shape []int) []byte {
	var sb strings.Builder
	sb.WriteString("{'descr': '")
	sb.WriteString(t.descr())
	sb.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		sb.WriteString(strconv.Itoa(d))
		if i < len(shape)-1 || len(shape) == 1 {
			sb.WriteString(",")
		}
		if i < len(shape)-1 {
			sb.WriteString(" ")
		}
	}
	sb.WriteString("), }")
	dict := sb.String()
	// Total header length (magic 6 + version 2 + len field + dict + '\n') is padded to 64.
	lenField := 2
	major := byte(1)
	if len(dict)+1+10 > math.MaxUint16 {
		lenField, major = 4, 2
	}
	pre := 6 + 2 + lenField
	total := pre + len(dict) + 1
	pad := (64 - total%64) % 64
	hlen := len(dict) + pad + 1
	out := make([]byte, 0, pre+hlen)
	out = append(out, magic...)
	out = append(out, major, 0)
	if lenField == 2 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
	}
	out = append(out, dict...)
	for i := 0; i < pad; i++ {
		out = append(out, ' ')
	}
	return append(out, '\n')
}

// Write writes a as a .npy stream.
func Write(w io.Writer, a *Array) error {
	if a.DType.Size() == 0 {
		return fmt.Errorf("%w: dtype %d", ErrFormat, a.DType)
	}
	for _, d := range a.Shape {
		if d < 0 {
			return fmt.Errorf("%w: negative dimension in shape %v", ErrFormat, a.Shape)
		}
	}
	if a.dataLen() != a.Len() {
		return fmt.Errorf("npy: shape %v needs %d elements, have %d", a.Shape, a.Len(), a.dataLen())
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.Write(header(a.DType, a.Shape)); err != nil {
		return err
	}
	var buf [8]byte
	switch a.DType {
	case Float32:
		for _, v := range a.F32 {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			bw.Write(buf[:4])
		}
	case Int16:
		for _, v := range a.I16 {
			binary.LittleEndian.PutUint16(buf[:], uint16(v))
			bw.Write(buf[:2])
		}
	case Int32:
		for _, v := range a.I32 {
			binary.LittleEndian.PutUint32(buf[:], uint32(v))
			bw.Write(buf[:4])
		}
	case Int64:
		for _, v := range a.I64 {
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			bw.Write(buf[:8])
		}
	}
	return bw.Flush()
}

// WriteFile writes a to path atomically (temp file, sync, rename).
func WriteFile(path string, a *Array) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := Write(f, a); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("npy: %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("npy: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("npy: %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// Float32Matrix is a convenience for a rows x cols float32 array over data.
func Float32Matrix(data []float32, rows, cols int) *Array {
	return &Array{DType: Float32, Shape: []int{rows, cols}, F32: data}
}

// Header is the parsed header of a .npy stream.
type Header struct {
	DType DType
	Shape []int
	// DataOffset is the byte offset of the first element.
	DataOffset int64
}

// ReadHeader parses and validates the header at the start of r.
func ReadHeader(r io.Reader) (*Header, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrFormat, err)
	}
	if string(pre[:6]) != string(magic) {
		return nil, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	var hlen int
	off := int64(8)
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short header", ErrFormat)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
		off += 2
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short header", ErrFormat)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		off += 4
	default:
		return nil, fmt.Errorf("%w: version %d.%d", ErrFormat, pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("%w: header length %d", ErrFormat, hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("%w: short header", ErrFormat)
	}
	h, err := parseDict(string(hb))
	if err != nil {
		return nil, err
	}
	h.DataOffset = off + int64(hlen)
	return h, nil
}

// parseDict parses the Python dict literal written by numpy.
func parseDict(s string) (*Header, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, fmt.Errorf("%w: header is not a dict", ErrFormat)
	}
	get := func(key string) (string, bool) {
		i := strings.Index(s, "'"+key+"'")
		if i < 0 {
			return "", false
		}
		rest := strings.TrimSpace(s[i+len(key)+2:])
		if !strings.HasPrefix(rest, ":") {
			return "", false
		}
		return strings.TrimSpace(rest[1:]), true
	}
	h := &Header{}
	d, ok := get("descr")
	if !ok || len(d) < 2 || (d[0] != '\'' && d[0] != '"') {
		return nil, fmt.Errorf("%w: missing descr", ErrFormat)
	}
	end := strings.IndexByte(d[1:], d[0])
	if end < 0 {
		return nil, fmt.Errorf("%w: bad descr", ErrFormat)
	}
	switch d[1 : 1+end] {
	case "<f4":
		h.DType = Float32
	case "<i2":
		h.DType = Int16
	case "<i4":
		h.DType = Int32
	case "<i8":
		h.DType = Int64
	default:
		return nil, fmt.Errorf("%w: dtype %s (want <f4, <i2, <i4 or <i8)", ErrFormat, d[1:1+end])
	}
	fo, ok := get("fortran_order")
	if !ok {
		return nil, fmt.Errorf("%w: missing fortran_order", ErrFormat)
	}
	if !strings.HasPrefix(fo, "False") {
		return nil, fmt.Errorf("%w: fortran_order arrays are not supported", ErrFormat)
	}
	sh, ok := get("shape")
	if !ok || !strings.HasPrefix(sh, "(") {
		return nil, fmt.Errorf("%w: missing shape", ErrFormat)
	}
	closeIdx := strings.IndexByte(sh, ')')
	if closeIdx < 0 {
		return nil, fmt.Errorf("%w: bad shape", ErrFormat)
	}
	total := int64(1)
	h.Shape = []int{}
	for _, f := range strings.Split(sh[1:closeIdx], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(f, "L"), 10, 64)
		if err != nil || n < 0 || n > MaxElements {
			return nil, fmt.Errorf("%w: bad dimension %q", ErrFormat, f)
		}
		total *= n
		if total > MaxElements {
			return nil, fmt.Errorf("%w: shape claims more than %d elements", ErrFormat, MaxElements)
		}
		h.Shape = append(h.Shape, int(n))
	}
	if len(h.Shape) > 32 {
		return nil, fmt.Errorf("%w: %d dimensions", ErrFormat, len(h.Shape))
	}
	return h, nil
}

// readChunk is the number of data bytes Read decodes at a time.
const readChunk = 64 << 10

// Read reads a whole array from r. size is the total stream size, or -1 if
// unknown. What Read allocates is bounded by the bytes actually present:
// with a known size, a header claiming more data than the stream holds is
// rejected before any allocation; with an unknown size the array grows as
// the data arrives, so a short stream whose header claims gigabytes fails
// at its end (ErrFormat, truncated data) having allocated about what it
// held. Read consumes exactly the header and the data bytes of r.
func Read(r io.Reader, size int64) (*Array, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	a := &Array{DType: h.DType, Shape: h.Shape}
	n := a.Len()
	sz := h.DType.Size()
	need := int64(n) * int64(sz)
	if size >= 0 && h.DataOffset+need > size {
		return nil, fmt.Errorf("%w: shape %v needs %d data bytes, stream has %d", ErrFormat, h.Shape, need, max(size-h.DataOffset, 0))
	}
	capacity := n // the size check above bounds it by the stream
	if size < 0 {
		capacity = min(n, readChunk/sz)
	}
	switch h.DType {
	case Float32:
		a.F32 = make([]float32, 0, capacity)
	case Int16:
		a.I16 = make([]int16, 0, capacity)
	case Int32:
		a.I32 = make([]int32, 0, capacity)
	case Int64:
		a.I64 = make([]int64, 0, capacity)
	}
	buf := make([]byte, min(need, readChunk))
	for done := int64(0); done < need; {
		b := buf[:min(need-done, int64(len(buf)))]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("%w: truncated data: %d of the %d bytes shape %v needs: %v", ErrFormat, done, need, h.Shape, err)
		}
		done += int64(len(b))
		switch h.DType {
		case Float32:
			for i := 0; i < len(b); i += 4 {
				a.F32 = append(a.F32, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
			}
		case Int16:
			for i := 0; i < len(b); i += 2 {
				a.I16 = append(a.I16, int16(binary.LittleEndian.Uint16(b[i:])))
			}
		case Int32:
			for i := 0; i < len(b); i += 4 {
				a.I32 = append(a.I32, int32(binary.LittleEndian.Uint32(b[i:])))
			}
		case Int64:
			for i := 0; i < len(b); i += 8 {
				a.I64 = append(a.I64, int64(binary.LittleEndian.Uint64(b[i:])))
			}
		}
	}
	return a, nil
}

// ReadFile reads the array stored at path; errors name the file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	a, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return a, nil
}
