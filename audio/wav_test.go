package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	gowav "github.com/go-audio/wav"
)

// makeWAV encodes frames[i][c] (values in [-1, 1]) as a WAV file. tag is 1
// (PCM) or 3 (float); extensible wraps the format in WAVE_FORMAT_EXTENSIBLE.
func makeWAV(tag, bits, rate int, frames [][]float64, extensible bool) []byte {
	ch := len(frames[0])
	var data bytes.Buffer
	for _, fr := range frames {
		for _, v := range fr {
			switch {
			case tag == 3 && bits == 32:
				binary.Write(&data, binary.LittleEndian, math.Float32bits(float32(v)))
			case tag == 3 && bits == 64:
				binary.Write(&data, binary.LittleEndian, math.Float64bits(v))
			case bits == 8:
				data.WriteByte(byte(int(math.Round(v*127)) + 128))
			case bits == 16:
				binary.Write(&data, binary.LittleEndian, int16(math.Round(v*32767)))
			case bits == 24:
				x := int32(math.Round(v * 8388607))
				data.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
			case bits == 32:
				binary.Write(&data, binary.LittleEndian, int32(math.Round(v*2147483647)))
			}
		}
	}
	var fmtc bytes.Buffer
	ftag := tag
	if extensible {
		ftag = 0xFFFE
	}
	binary.Write(&fmtc, binary.LittleEndian, uint16(ftag))
	binary.Write(&fmtc, binary.LittleEndian, uint16(ch))
	binary.Write(&fmtc, binary.LittleEndian, uint32(rate))
	binary.Write(&fmtc, binary.LittleEndian, uint32(rate*ch*bits/8))
	binary.Write(&fmtc, binary.LittleEndian, uint16(ch*bits/8))
	binary.Write(&fmtc, binary.LittleEndian, uint16(bits))
	if extensible {
		binary.Write(&fmtc, binary.LittleEndian, uint16(22))
		binary.Write(&fmtc, binary.LittleEndian, uint16(bits))
		binary.Write(&fmtc, binary.LittleEndian, uint32(0))
		binary.Write(&fmtc, binary.LittleEndian, uint16(tag))
		fmtc.Write([]byte("\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"))
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	list := []byte("INFOISFT\x03\x00\x00\x00go\x00\x00") // odd-sized sub-chunk, padded
	total := 4 + 8 + fmtc.Len() + 8 + len(list) + 8 + data.Len()
	binary.Write(&out, binary.LittleEndian, uint32(total))
	out.WriteString("WAVEfmt ")
	binary.Write(&out, binary.LittleEndian, uint32(fmtc.Len()))
	out.Write(fmtc.Bytes())
	out.WriteString("LIST")
	binary.Write(&out, binary.LittleEndian, uint32(len(list)))
	out.Write(list)
	out.WriteString("data")
	binary.Write(&out, binary.LittleEndian, uint32(data.Len()))
	out.Write(data.Bytes())
	return out.Bytes()
}

func decodeBytes(b []byte) ([]float32, Info, error) {
	d, err := NewDecoder(bytes.NewReader(b), int64(len(b)), "mem.wav")
	if err != nil {
		return nil, Info{}, err
	}
	s, err := d.ReadAll(nil)
	return s, d.Info(), err
}

func TestDecodeFormats(t *testing.T) {
	frames := make([][]float64, 1001) // odd length, crosses no buffer boundary
	for i := range frames {
		l := 0.8 * math.Sin(float64(i)*0.05)
		r := -0.5 * math.Cos(float64(i)*0.021)
		frames[i] = []float64{l, r, 0.25}
	}
	for _, c := range []struct {
		tag, bits int
		tol       float64
		ext       bool
	}{
		{1, 8, 2.0 / 100, false}, {1, 16, 1e-4, false}, {1, 24, 1e-6, false}, {1, 32, 1e-7, false},
		{3, 32, 1e-7, false}, {3, 64, 1e-7, false}, {1, 16, 1e-4, true}, {3, 32, 1e-7, true},
	} {
		for _, ch := range []int{1, 2, 3} {
			name := fmt.Sprintf("tag%d_%dbit_%dch_ext%v", c.tag, c.bits, ch, c.ext)
			t.Run(name, func(t *testing.T) {
				in := make([][]float64, len(frames))
				for i := range frames {
					in[i] = frames[i][:ch]
				}
				got, info, err := decodeBytes(makeWAV(c.tag, c.bits, 22050, in, c.ext))
				if err != nil {
					t.Fatal(err)
				}
				if info.Channels != ch || info.SampleRate != 22050 || info.Frames != int64(len(frames)) || len(got) != len(frames) {
					t.Fatalf("info %+v, %d samples", info, len(got))
				}
				for i, fr := range in {
					var want float64
					for _, v := range fr {
						want += v
					}
					want /= float64(ch)
					if math.Abs(float64(got[i])-want) > c.tol {
						t.Fatalf("sample %d: %v, want %v", i, got[i], want)
					}
				}
			})
		}
	}
}

// Our decoder agrees bit-for-bit with go-audio/wav on the espeak-ng files.
func TestDecodeMatchesGoAudio(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.wav")
	if len(files) == 0 {
		t.Fatal("no testdata wavs")
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		buf, err := gowav.NewDecoder(f).FullPCMBuffer()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, info, err := ReadWAV(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if info.SampleRate != buf.Format.SampleRate || len(got) != len(buf.Data) {
			t.Fatalf("%s: %d Hz %d samples, go-audio %d Hz %d samples", p, info.SampleRate, len(got), buf.Format.SampleRate, len(buf.Data))
		}
		for i, v := range buf.Data {
			if got[i] != float32(v)/32768 {
				t.Fatalf("%s sample %d: %v vs go-audio %d/32768", p, i, got[i], v)
			}
		}
	}
}

func TestDecodeSelectChannel(t *testing.T) {
	frames := [][]float64{{0.5, -0.25, 0.125}, {-1, 0.75, 0}}
	for _, c := range []struct{ tag, bits int }{{1, 8}, {1, 16}, {1, 24}, {1, 32}, {3, 32}, {3, 64}} {
		b := makeWAV(c.tag, c.bits, 8000, frames, false)
		for ch := 0; ch < 3; ch++ {
			d, err := NewDecoder(bytes.NewReader(b), int64(len(b)), "sel.wav")
			if err != nil {
				t.Fatal(err)
			}
			if err := d.SetChannel(ch); err != nil {
				t.Fatal(err)
			}
			got, err := d.ReadAll(nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range frames {
				if math.Abs(float64(got[i])-frames[i][ch]) > 0.02 {
					t.Fatalf("tag %d %d-bit channel %d frame %d: %v, want %v", c.tag, c.bits, ch, i, got[i], frames[i][ch])
				}
			}
		}
		d, _ := NewDecoder(bytes.NewReader(b), int64(len(b)), "sel.wav")
		if err := d.SetChannel(3); err == nil {
			t.Fatal("channel 3 of 3 accepted")
		}
	}
}

func TestDecodeStreamingSmallReads(t *testing.T) {
	want, _, err := ReadWAV("testdata/utt3.wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("testdata/utt3.wav")
	d, err := NewDecoder(bytes.NewReader(b), -1, "utt3.wav")
	if err != nil {
		t.Fatal(err)
	}
	var got []float32
	buf := make([]float32, 37)
	for {
		n, err := d.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d samples streamed, %d at once", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d differs", i)
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	good := makeWAV(1, 16, 16000, [][]float64{{0.1}, {0.2}, {0.3}, {0.4}}, false)
	set := func(b []byte, off int, v uint32, n int) []byte {
		c := append([]byte(nil), b...)
		if n == 2 {
			binary.LittleEndian.PutUint16(c[off:], uint16(v))
		} else {
			binary.LittleEndian.PutUint32(c[off:], v)
		}
		return c
	}
	dataSizeOff := len(good) - 8 - 4
	nan := makeWAV(3, 32, 16000, [][]float64{{0.1}, {math.NaN()}}, false)
	inf := makeWAV(3, 32, 16000, [][]float64{{math.Inf(1)}}, false)
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty file", nil, ErrInvalid},
		{"not riff", []byte("RIFX0000WAVEfmt "), ErrUnsupported},
		{"garbage", []byte("hello world, this is not audio"), ErrInvalid},
		{"truncated data", good[:len(good)-3], ErrTruncated},
		{"riff size too big", set(good, 4, 1<<30, 4), ErrTruncated},
		{"data claims 2^32", set(set(good, 4, 0xFFFFFFF0, 4), dataSizeOff, 0xFFFFFFF0, 4), ErrTruncated},
		{"zero channels", set(good, 22, 0, 2), ErrInvalid},
		{"absurd rate", set(good, 24, 4000000000, 4), ErrInvalid},
		{"zero rate", set(good, 24, 0, 4), ErrInvalid},
		{"mulaw", set(good, 20, 7, 2), ErrUnsupported},
		{"12-bit", set(set(good, 34, 12, 2), 32, 2, 2), ErrUnsupported},
		{"bad block align", set(good, 32, 3, 2), ErrInvalid},
		{"no data chunk", set(good[:36], 4, 28, 4), ErrInvalid},
		{"nan", nan, ErrNonFinite},
		{"inf", inf, ErrNonFinite},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := decodeBytes(c.b)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err != nil && !bytes.Contains([]byte(err.Error()), []byte("mem.wav")) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
	// Empty audio: a valid header with no samples is zero samples and zero frames.
	empty := makeWAV(1, 16, 16000, [][]float64{{0}}, false)
	empty = set(empty[:len(empty)-2], dataSizeOff-2+2, 0, 4)
	empty = set(empty, 4, uint32(len(empty)-8), 4)
	s, _, err := decodeBytes(empty)
	if err != nil || len(s) != 0 {
		t.Fatalf("empty audio: %d samples, err %v", len(s), err)
	}
	ex, _ := NewExtractor(DefaultOptions(MFCC))
	m, err := ex.Compute(Matrix{}, s, nil)
	if err != nil || m.Rows != 0 {
		t.Fatalf("empty audio gives %d frames, err %v", m.Rows, err)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.wav")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b[:min(len(b), 600)])
	}
	f.Add(makeWAV(3, 32, 8000, [][]float64{{0.5, -0.5}, {1, 0}}, true))
	f.Add(makeWAV(1, 24, 44100, [][]float64{{0.5}, {-1}}, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, info, err := decodeBytes(b)
		if err != nil {
			return
		}
		if int64(len(s)) != info.Frames || info.Channels < 1 || info.SampleRate < MinSampleRate {
			t.Fatalf("inconsistent result: %d samples, %+v", len(s), info)
		}
		if info.DataOffset+info.Frames*int64(info.Channels*info.BitsPerSample/8) > int64(len(b)) {
			t.Fatalf("decoded more than the input holds")
		}
		for _, v := range s {
			if v != v || info.Format == PCM && (v > 1 || v < -1) {
				t.Fatalf("sample %v out of range", v)
			}
		}
	})
}
