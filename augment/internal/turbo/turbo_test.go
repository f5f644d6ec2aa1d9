package turbo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// loaded returns the system library or skips: machines without
// libturbojpeg.so.0 (and augment_noturbo builds) test the fallback only.
func loaded(t *testing.T) *Lib {
	t.Helper()
	l, err := Load()
	if err != nil {
		t.Skipf("libturbojpeg not loaded: %v", err)
	}
	return l
}

func TestOpenMissing(t *testing.T) {
	for _, p := range []string{"libturbojpeg-does-not-exist.so.0", filepath.Join(t.TempDir(), "none.so")} {
		l, err := Open(p)
		if err == nil || l != nil {
			t.Fatalf("Open(%q) = %v, %v; want an error", p, l, err)
		}
	}
	// A library that loads but is not TurboJPEG is refused too.
	if _, err := Open("libc.so.6"); err == nil {
		t.Fatal("libc accepted as TurboJPEG")
	}
	// A nil *Lib (what callers hold when Open failed) decodes nothing.
	var l *Lib
	if _, _, _, ok := l.Header([]byte{0xff, 0xd8}); ok {
		t.Fatal("nil Lib read a header")
	}
	if l.Decode(make([]byte, 3), []byte{0xff, 0xd8}, 1, 1, 3) {
		t.Fatal("nil Lib decoded")
	}
}

func TestDecode(t *testing.T) {
	l := loaded(t)
	data, err := os.ReadFile("../../testdata/orient_1.jpg")
	if err != nil {
		t.Fatal(err)
	}
	w, h, gray, ok := l.Header(data)
	if !ok || w != 40 || h != 24 || gray {
		t.Fatalf("header %dx%d gray %v ok %v", w, h, gray, ok)
	}
	dst := make([]byte, w*h*3)
	if !l.Decode(dst, data, w, h, 3) {
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
	if l.Decode(dst, data[:len(data)/2], w, h, 3) {
		t.Fatal("truncated JPEG decoded without error")
	}
	if l.Decode(dst[:len(dst)-1], data, w, h, 3) || l.Decode(dst, data, w, h, 4) {
		t.Fatal("short buffer or 4 channels accepted")
	}
	if _, _, _, ok := l.Header([]byte("not a jpeg")); ok {
		t.Fatal("garbage header accepted")
	}
	if _, _, _, ok := l.Header(nil); ok {
		t.Fatal("empty header accepted")
	}
	gdata, err := os.ReadFile("../../testdata/gray.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if w, h, gray, ok := l.Header(gdata); !ok || !gray || w != 40 || h != 24 {
		t.Fatalf("gray.jpg header %dx%d gray %v ok %v", w, h, gray, ok)
	}
	cmyk, err := os.ReadFile("../../testdata/cmyk.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := l.Header(cmyk); ok {
		t.Fatal("CMYK should be left to image/jpeg")
	}
}

// TestConcurrent decodes from many goroutines at once (more than the free
// list holds) and checks every result against a serial decode; run it
// with -race.
func TestConcurrent(t *testing.T) {
	l := loaded(t)
	data, err := os.ReadFile("../../testdata/plain_420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	w, h, _, _ := l.Header(data)
	want := make([]byte, w*h*3)
	if !l.Decode(want, data, w, h, 3) {
		t.Fatal("decode failed")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]byte, len(want))
			for i := 0; i < 5; i++ {
				if !l.Decode(got, data, w, h, 3) || !bytes.Equal(got, want) {
					errs <- errors.New("concurrent decode differs")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
