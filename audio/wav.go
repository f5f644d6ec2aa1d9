package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// Errors returned (wrapped, with the file name) by the WAV decoder.
var (
	// ErrUnsupported: a valid RIFF/WAVE file in a format this package does
	// not decode (for example A-law, ADPCM, 12-bit PCM).
	ErrUnsupported = errors.New("unsupported format")
	// ErrInvalid: the bytes are not a well-formed WAV file (bad magic,
	// impossible header values, missing chunks).
	ErrInvalid = errors.New("invalid WAV")
	// ErrTruncated: the header claims more data than the file holds.
	ErrTruncated = errors.New("truncated WAV")
	// ErrNonFinite: a float WAV holds a NaN or infinite sample.
	ErrNonFinite = errors.New("non-finite sample")
)

// Limits applied to headers before anything is allocated.
const (
	MaxChannels   = 64
	MaxSampleRate = 768000
	MinSampleRate = 1000
)

// SampleFormat is the on-disk encoding of samples.
type SampleFormat int

// Sample formats.
const (
	PCM   SampleFormat = 1 // integer PCM: 8-bit unsigned, 16/24/32-bit signed
	Float SampleFormat = 3 // IEEE float, 32 or 64 bit
)

// Info describes a WAV file; it is read from the header alone.
type Info struct {
	Format        SampleFormat
	Channels      int
	SampleRate    int
	BitsPerSample int
	// Frames is the number of sample frames (samples per channel).
	Frames int64
	// DataOffset is the byte offset of the first sample.
	DataOffset int64
}

// Duration is the length of the audio in seconds.
func (i Info) Duration() float64 { return float64(i.Frames) / float64(i.SampleRate) }

// Decoder streams the samples of one WAV file, downmixed to mono by
// averaging the channels and scaled to [-1, 1) (integer PCM is divided by
// 2^(bits-1); 8-bit PCM is unsigned and centred on 128; float samples are
// passed through and rejected if NaN or infinite).
//
// A Decoder is not safe for concurrent use. It holds a read buffer of a
// fixed size and never retains the caller's slices.
type Decoder struct {
	info   Info
	name   string
	r      io.Reader
	left   int64 // frames not yet read
	done   int64 // frames read
	buf    []byte
	frameB int
	chSel  int  // -1: average all channels; otherwise the one channel kept
	sized  bool // the stream size was known: the header's frame count fits it
}

// readBufBytes is the size of the decoder's byte buffer.
const readBufBytes = 32 << 10

// NewDecoder parses and validates the header from r. size is the total
// number of bytes r will yield (the file size) or -1 if unknown; when known,
// a data chunk larger than the file is reported as ErrTruncated before any
// sample buffer is allocated. name is used in error messages.
func NewDecoder(r io.Reader, size int64, name string) (*Decoder, error) {
	info, err := readHeader(r, size)
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", name, err)
	}
	fb := info.Channels * info.BitsPerSample / 8
	return &Decoder{info: info, name: name, r: r, left: info.Frames, frameB: fb, chSel: -1, sized: size >= 0,
		buf: make([]byte, (readBufBytes/fb)*fb)}, nil
}

// SetChannel makes Read return channel c (0-based) alone instead of the
// average of all channels (torchaudio's channel option); c < 0 restores the
// average. It fails if the file has no channel c.
func (d *Decoder) SetChannel(c int) error {
	if c >= d.info.Channels {
		return fmt.Errorf("audio: %s: channel %d of a %d-channel file", d.name, c, d.info.Channels)
	}
	d.chSel = max(c, -1)
	return nil
}

// Info returns the header information.
func (d *Decoder) Info() Info { return d.info }

// Read decodes up to len(dst) mono samples into dst and returns the number
// decoded. It returns io.EOF (and n == 0) after the last sample; a file that
// ends before its header said it would gives ErrTruncated.
func (d *Decoder) Read(dst []float32) (int, error) {
	if d.left == 0 {
		return 0, io.EOF
	}
	want := int64(len(dst))
	if want > d.left {
		want = d.left
	}
	if max := int64(len(d.buf) / d.frameB); want > max {
		want = max
	}
	nb := int(want) * d.frameB
	if _, err := io.ReadFull(d.r, d.buf[:nb]); err != nil {
		return 0, fmt.Errorf("audio: %s: %w: data ends after %d of %d frames", d.name, ErrTruncated, d.done, d.info.Frames)
	}
	n := int(want)
	if err := d.convert(dst[:n], d.buf[:nb]); err != nil {
		return 0, err
	}
	d.left -= want
	d.done += want
	return n, nil
}

func (d *Decoder) convert(dst []float32, b []byte) error {
	ch := d.info.Channels
	inv := float32(1) / float32(ch)
	if d.chSel >= 0 {
		return d.convertChannel(dst, b)
	}
	switch {
	case d.info.Format == PCM && d.info.BitsPerSample == 16:
		if ch == 1 {
			for i := range dst {
				dst[i] = float32(int16(uint16(b[2*i])|uint16(b[2*i+1])<<8)) * (1.0 / 32768)
			}
			return nil
		}
		for i := range dst {
			var s int32
			for c := 0; c < ch; c++ {
				k := 2 * (i*ch + c)
				s += int32(int16(uint16(b[k]) | uint16(b[k+1])<<8))
			}
			dst[i] = float32(s) * (1.0 / 32768) * inv
		}
	case d.info.Format == PCM && d.info.BitsPerSample == 8:
		for i := range dst {
			var s int32
			for c := 0; c < ch; c++ {
				s += int32(b[i*ch+c]) - 128
			}
			dst[i] = float32(s) * (1.0 / 128) * inv
		}
	case d.info.Format == PCM && d.info.BitsPerSample == 24:
		for i := range dst {
			var s int64
			for c := 0; c < ch; c++ {
				k := 3 * (i*ch + c)
				v := int32(uint32(b[k])<<8|uint32(b[k+1])<<16|uint32(b[k+2])<<24) >> 8
				s += int64(v)
			}
			dst[i] = float32(float64(s) * (1.0 / 8388608) / float64(ch))
		}
	case d.info.Format == PCM && d.info.BitsPerSample == 32:
		for i := range dst {
			var s int64
			for c := 0; c < ch; c++ {
				s += int64(int32(binary.LittleEndian.Uint32(b[4*(i*ch+c):])))
			}
			dst[i] = float32(float64(s) * (1.0 / 2147483648) / float64(ch))
		}
	case d.info.Format == Float && d.info.BitsPerSample == 32:
		for i := range dst {
			var s float32
			for c := 0; c < ch; c++ {
				v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i*ch+c):]))
				if v-v != 0 { // NaN or ±Inf
					return fmt.Errorf("audio: %s: %w at frame %d", d.name, ErrNonFinite, d.done+int64(i))
				}
				s += v
			}
			dst[i] = s * inv
		}
	case d.info.Format == Float && d.info.BitsPerSample == 64:
		for i := range dst {
			var s float64
			for c := 0; c < ch; c++ {
				v := math.Float64frombits(binary.LittleEndian.Uint64(b[8*(i*ch+c):]))
				if v-v != 0 {
					return fmt.Errorf("audio: %s: %w at frame %d", d.name, ErrNonFinite, d.done+int64(i))
				}
				s += v
			}
			dst[i] = float32(s / float64(ch))
		}
	}
	return nil
}

// convertChannel decodes channel d.chSel of every frame.
func (d *Decoder) convertChannel(dst []float32, b []byte) error {
	bps := d.info.BitsPerSample / 8
	for i := range dst {
		k := i*d.frameB + d.chSel*bps
		var v float64
		switch {
		case d.info.Format == PCM && bps == 1:
			v = float64(int32(b[k])-128) / 128
		case d.info.Format == PCM && bps == 2:
			v = float64(int16(binary.LittleEndian.Uint16(b[k:]))) / 32768
		case d.info.Format == PCM && bps == 3:
			v = float64(int32(uint32(b[k])<<8|uint32(b[k+1])<<16|uint32(b[k+2])<<24)>>8) / 8388608
		case d.info.Format == PCM && bps == 4:
			v = float64(int32(binary.LittleEndian.Uint32(b[k:]))) / 2147483648
		case bps == 4:
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[k:])))
		default:
			v = math.Float64frombits(binary.LittleEndian.Uint64(b[k:]))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("audio: %s: %w at frame %d", d.name, ErrNonFinite, d.done+int64(i))
		}
		dst[i] = float32(v)
	}
	return nil
}

// ReadAll decodes the remaining samples into dst[:0] (grown as needed) and
// returns it. When the stream size was given to NewDecoder, the header's
// frame count has been checked against it and the slice is allocated once;
// otherwise it grows as the samples arrive, so a short stream whose header
// claims hours of audio fails with ErrTruncated having allocated about what
// it held.
func (d *Decoder) ReadAll(dst []float32) ([]float32, error) {
	need := int(d.left)
	if d.sized && cap(dst) < need {
		dst = make([]float32, 0, need)
	}
	dst = dst[:0]
	for len(dst) < need {
		if len(dst) == cap(dst) {
			// Double, starting at one read buffer: at most about twice
			// what has arrived is allocated.
			dst = slices.Grow(dst, min(need-len(dst), max(len(dst), len(d.buf)/d.frameB)))
		}
		n, err := d.Read(dst[len(dst):cap(dst)])
		if err != nil {
			return nil, err
		}
		dst = dst[:len(dst)+n]
	}
	return dst, nil
}

// readHeader parses RIFF/WAVE chunks up to the start of the data chunk.
func readHeader(r io.Reader, size int64) (Info, error) {
	var info Info
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return info, fmt.Errorf("%w: file shorter than a RIFF header", ErrInvalid)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		if string(hdr[0:4]) == "RIFX" || string(hdr[0:4]) == "RF64" {
			return info, fmt.Errorf("%w: %s container", ErrUnsupported, hdr[0:4])
		}
		return info, fmt.Errorf("%w: not a RIFF/WAVE file", ErrInvalid)
	}
	riff := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	if riff < 4 {
		return info, fmt.Errorf("%w: RIFF size %d", ErrInvalid, riff)
	}
	if size >= 0 && riff+8 > size {
		return info, fmt.Errorf("%w: RIFF size says %d bytes, file has %d", ErrTruncated, riff+8, size)
	}
	pos := int64(12)
	haveFmt := false
	var ch [8]byte
	for {
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if !haveFmt {
				return info, fmt.Errorf("%w: no fmt chunk", ErrInvalid)
			}
			return info, fmt.Errorf("%w: no data chunk", ErrInvalid)
		}
		pos += 8
		id := string(ch[0:4])
		n := int64(binary.LittleEndian.Uint32(ch[4:8]))
		if pos+n > riff+8 || (size >= 0 && pos+n > size) {
			limit := riff + 8
			if size >= 0 && size < limit {
				limit = size
			}
			return info, fmt.Errorf("%w: %q chunk claims %d bytes, only %d remain", ErrTruncated, id, n, limit-pos)
		}
		switch id {
		case "fmt ":
			if haveFmt {
				return info, fmt.Errorf("%w: two fmt chunks", ErrInvalid)
			}
			if n < 16 || n > 1024 {
				return info, fmt.Errorf("%w: fmt chunk of %d bytes", ErrInvalid, n)
			}
			b := make([]byte, n+n%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return info, fmt.Errorf("%w: fmt chunk", ErrTruncated)
			}
			pos += int64(len(b))
			if err := parseFmt(&info, b[:n]); err != nil {
				return info, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return info, fmt.Errorf("%w: data chunk before fmt chunk", ErrInvalid)
			}
			fb := int64(info.Channels * info.BitsPerSample / 8)
			if n%fb != 0 {
				// A trailing partial frame is ignored, as sox and soundfile do.
				n -= n % fb
			}
			info.Frames = n / fb
			info.DataOffset = pos
			return info, nil
		default:
			skip := n + n%2
			if _, err := io.CopyN(io.Discard, r, skip); err != nil {
				return info, fmt.Errorf("%w: %q chunk", ErrTruncated, id)
			}
			pos += skip
		}
	}
}

func parseFmt(info *Info, b []byte) error {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := int(binary.LittleEndian.Uint16(b[2:4]))
	rate := int64(binary.LittleEndian.Uint32(b[4:8]))
	align := int(binary.LittleEndian.Uint16(b[12:14]))
	bits := int(binary.LittleEndian.Uint16(b[14:16]))
	if tag == 0xFFFE { // WAVE_FORMAT_EXTENSIBLE: the real tag starts the sub-format GUID.
		if len(b) < 40 {
			return fmt.Errorf("%w: extensible fmt chunk of %d bytes", ErrInvalid, len(b))
		}
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	switch {
	case channels == 0:
		return fmt.Errorf("%w: zero channels", ErrInvalid)
	case channels > MaxChannels:
		return fmt.Errorf("%w: %d channels (max %d)", ErrInvalid, channels, MaxChannels)
	case rate < MinSampleRate || rate > MaxSampleRate:
		return fmt.Errorf("%w: sample rate %d Hz outside [%d, %d]", ErrInvalid, rate, MinSampleRate, MaxSampleRate)
	}
	switch {
	case tag == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32):
		info.Format = PCM
	case tag == 3 && (bits == 32 || bits == 64):
		info.Format = Float
	case tag == 1 || tag == 3:
		return fmt.Errorf("%w: %d-bit samples with format tag %d", ErrUnsupported, bits, tag)
	default:
		return fmt.Errorf("%w: format tag %#x (only PCM and IEEE float are decoded)", ErrUnsupported, tag)
	}
	if align != channels*bits/8 {
		return fmt.Errorf("%w: block align %d, want %d for %d channels of %d bits", ErrInvalid, align, channels*bits/8, channels, bits)
	}
	info.Channels, info.SampleRate, info.BitsPerSample = channels, int(rate), bits
	return nil
}

// DecodeConfig reads only the header of the WAV file at path.
func DecodeConfig(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("audio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("audio: %w", err)
	}
	info, err := readHeader(bufio.NewReader(f), st.Size())
	if err != nil {
		return info, fmt.Errorf("audio: %s: %w", path, err)
	}
	return info, nil
}

// ReadWAV decodes the whole WAV file at path to mono float32 samples in
// [-1, 1) and returns them with the header info. dst is reused if it has the
// capacity. A file with no samples gives an empty slice and no error.
func ReadWAV(path string, dst []float32) ([]float32, Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, fmt.Errorf("audio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, Info{}, fmt.Errorf("audio: %w", err)
	}
	d, err := NewDecoder(f, st.Size(), path)
	if err != nil {
		return nil, Info{}, err
	}
	out, err := d.ReadAll(dst)
	return out, d.info, err
}
