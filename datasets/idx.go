package datasets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrFormat is wrapped by every error about malformed input (a bad IDX
// header, a truncated file, an unlabelled manifest line).
var ErrFormat = errors.New("datasets: invalid input")

// MaxIDXElements bounds the number of elements an IDX header may declare
// (2^31). Larger claims are rejected before anything is allocated.
const MaxIDXElements = 1 << 31

// IDX is a decoded IDX array of unsigned bytes (type code 0x08), the
// format of the MNIST and Fashion-MNIST files.
type IDX struct {
	Dims []int  // e.g. [60000 28 28] for images, [60000] for labels
	Data []byte // row-major, len = product of Dims
}

// DecodeIDX parses an IDX stream of unsigned bytes. A gzip stream
// (magic 1f 8b) is decompressed transparently. name is used in errors.
// The header is validated before any data is read: the magic must be
// 0x00 0x00 0x08 ndim with 1 <= ndim <= 4, every dimension non-zero and
// the element count at most MaxIDXElements; the data must hold exactly that
// many bytes (missing bytes or trailing bytes are errors). Memory grows with
// the data actually read, so a short input with a huge header costs little.
func DecodeIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: gzip: %v", ErrFormat, name, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("%w: %s: reading IDX magic: %v", ErrFormat, name, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%w: %s: not an IDX file (magic % x)", ErrFormat, name, magic)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("%w: %s: IDX element type 0x%02x unsupported (only unsigned byte, 0x08)", ErrFormat, name, magic[2])
	}
	nd := int(magic[3])
	if nd < 1 || nd > 4 {
		return nil, fmt.Errorf("%w: %s: IDX header declares %d dimensions (want 1 to 4)", ErrFormat, name, nd)
	}
	dims := make([]int, nd)
	total := uint64(1)
	for i := range dims {
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: %s: reading IDX dimension %d: %v", ErrFormat, name, i, err)
		}
		d := binary.BigEndian.Uint32(b[:])
		if d == 0 {
			return nil, fmt.Errorf("%w: %s: IDX dimension %d is zero", ErrFormat, name, i)
		}
		total *= uint64(d)
		if total > MaxIDXElements {
			return nil, fmt.Errorf("%w: %s: IDX header declares more than %d elements", ErrFormat, name, uint64(MaxIDXElements))
		}
		dims[i] = int(d)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(br, int64(total)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading IDX data: %v", ErrFormat, name, err)
	}
	if uint64(n) < total {
		return nil, fmt.Errorf("%w: %s: truncated: header declares %d bytes of data, file has %d", ErrFormat, name, total, n)
	}
	if uint64(n) > total {
		return nil, fmt.Errorf("%w: %s: trailing data after the %d bytes the header declares", ErrFormat, name, total)
	}
	return &IDX{Dims: dims, Data: buf.Bytes()}, nil
}

// ReadIDX reads an IDX file (gzip-compressed or not). See DecodeIDX.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	return DecodeIDX(f, path)
}
