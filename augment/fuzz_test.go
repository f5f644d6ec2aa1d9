package augment

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, seeded with every JPEG and
// PNG under testdata. Decode must return an image or an error, never
// panic, and never return an image larger than MaxPixels.
func FuzzDecode(f *testing.F) {
	for _, pat := range []string{"testdata/*.jpg", "testdata/*.png", "testdata/golden/*.png"} {
		files, _ := filepath.Glob(pat)
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxPix = 1 << 20
		m, err := Decode("fuzz", data, DecodeOptions{MaxPixels: maxPix})
		if err != nil {
			if m != nil {
				t.Fatal("image and error")
			}
			return
		}
		if m.W*m.H > maxPix || len(m.Pix) != m.W*m.H*m.C {
			t.Fatalf("bad image %dx%dx%d len %d", m.W, m.H, m.C, len(m.Pix))
		}
		// Every decoded image must go through a recipe.
		rec := BYOL(8, true)
		rec.Apply(nil, m, Key{}, nil)
	})
}
