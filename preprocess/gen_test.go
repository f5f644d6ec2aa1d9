package preprocess

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// genImage draws a deterministic w x h picture (gradients plus noise) with
// a non-zero origin, gray when gray is set.
func genImage(r *rand.Rand, w, h int, gray bool) image.Image {
	rect := image.Rect(3, 5, 3+w, 5+h)
	if gray {
		m := image.NewGray(rect)
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			for x := rect.Min.X; x < rect.Max.X; x++ {
				m.SetGray(x, y, color.Gray{uint8(x*7+y*3) ^ uint8(r.IntN(32))})
			}
		}
		return m
	}
	m := image.NewRGBA(rect)
	a, b := r.IntN(8)+1, r.IntN(8)+1
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			m.SetRGBA(x, y, color.RGBA{uint8(x * a), uint8(y * b), uint8((x+y)*3) ^ uint8(r.IntN(64)), 255})
		}
	}
	return m
}

func encodeImage(t testing.TB, m image.Image, asPNG bool) []byte {
	var buf bytes.Buffer
	var err error
	if asPNG {
		err = png.Encode(&buf, m)
	} else {
		err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 85})
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hugePNG returns a valid PNG signature and IHDR claiming w x h pixels
// (correct CRC), followed by nothing useful.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// imageCorpus writes n good images in class folders (odd sizes, JPEG and
// PNG, gray and RGB) plus the corrupt files named in bad, and returns the
// folder. Image i is class i%3.
func imageCorpus(t testing.TB, n int) (dir string, bad map[string]string) {
	dir = t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	classes := []string{"cat", "dog", "eel"}
	for i := 0; i < n; i++ {
		w, h := 17+r.IntN(90), 13+r.IntN(70)
		asPNG := i%4 == 1
		ext := ".jpg"
		if asPNG {
			ext = ".png"
		}
		m := genImage(r, w, h, i%5 == 2)
		writeFile(t, filepath.Join(dir, classes[i%3], "img"+itoa3(i)+ext), encodeImage(t, m, asPNG))
	}
	good := encodeImage(t, genImage(r, 40, 30, false), false)
	bad = map[string]string{
		"cat/bad-truncated.jpg": "truncated",
		"dog/bad-random.jpg":    "random bytes",
		"dog/bad-empty.png":     "empty",
		"eel/bad-huge.png":      "100000x100000 header",
	}
	writeFile(t, filepath.Join(dir, "cat/bad-truncated.jpg"), good[:len(good)/2])
	noise := make([]byte, 500)
	for i := range noise {
		noise[i] = byte(r.IntN(256))
	}
	writeFile(t, filepath.Join(dir, "dog/bad-random.jpg"), noise)
	writeFile(t, filepath.Join(dir, "dog/bad-empty.png"), nil)
	writeFile(t, filepath.Join(dir, "eel/bad-huge.png"), hugePNG(100000, 100000))
	return dir, bad
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e37)) }
