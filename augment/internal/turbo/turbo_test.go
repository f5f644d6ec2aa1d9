package turbo

import (
	"os"
	"testing"
)

func TestDecode(t *testing.T) {
	if !Available {
		t.Skip("built without cgo")
	}
	data, err := os.ReadFile("../../testdata/orient_1.jpg")
	if err != nil {
		t.Fatal(err)
	}
	w, h, gray, ok := Header(data)
	if !ok || w != 40 || h != 24 || gray {
		t.Fatalf("header %dx%d gray %v ok %v", w, h, gray, ok)
	}
	dst := make([]byte, w*h*3)
	if !Decode(dst, data, w, h, 3) {
		t.Fatal("decode failed")
	}
	nonzero := 0
	for _, v := range dst {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < len(dst)/2 {
		t.Fatalf("decoded image mostly zero (%d of %d)", nonzero, len(dst))
	}
	if Decode(dst, data[:len(data)/2], w, h, 3) {
		t.Fatal("truncated JPEG decoded without error")
	}
	if _, _, _, ok := Header([]byte("not a jpeg")); ok {
		t.Fatal("garbage header accepted")
	}
	if _, _, _, ok := Header(nil); ok {
		t.Fatal("empty header accepted")
	}
	cmyk, err := os.ReadFile("../../testdata/cmyk.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := Header(cmyk); ok {
		t.Fatal("CMYK should be left to image/jpeg")
	}
}
