package datasets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Golden values for the Debian files, computed with
//
//	/usr/bin/python3 -c "import gzip,numpy as np,hashlib; x=np.frombuffer(gzip.open('.../train-images-idx3-ubyte.gz').read()[16:],np.uint8); print(int(x.astype(np.int64).sum()), hashlib.sha256(x.tobytes()).hexdigest()[:16])"
//
// (and the same for t10k and the label files).
var fashionGolden = []struct {
	split      string
	n          int
	pixelSum   int64
	sha16      string
	firstTen   []int
	perClass   int
	keyExample string
}{
	{"train", 60000, 3431114169, "2e487a6c89124f78", []int{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, 6000, "fashion-mnist:train/00042"},
	{"test", 10000, 573469082, "c867c93ff9536059", []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, 1000, "fashion-mnist:test/00042"},
}

func needFashion(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(FashionMNISTDir(), "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
}

func TestFashionMNISTRealFiles(t *testing.T) {
	needFashion(t)
	for _, g := range fashionGolden {
		if testing.Short() && g.split == "train" {
			continue
		}
		t.Run(g.split, func(t *testing.T) {
			s, err := FashionMNIST("", g.split)
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != g.n || s.Images.N != g.n || s.Images.H != 28 || s.Images.W != 28 || s.Images.C != 1 {
				t.Fatalf("got %d labels, images %+v", s.Len(), *s.Images)
			}
			var sum int64
			for _, p := range s.Images.Pix {
				sum += int64(p)
			}
			h := sha256.Sum256(s.Images.Pix)
			if sum != g.pixelSum || hex.EncodeToString(h[:8]) != g.sha16 {
				t.Errorf("pixel sum %d sha %x, want %d %s", sum, h[:8], g.pixelSum, g.sha16)
			}
			if !slices.Equal(s.Labels[:10], g.firstTen) {
				t.Errorf("first labels %v, want %v", s.Labels[:10], g.firstTen)
			}
			for c, n := range s.ClassCounts() {
				if n != g.perClass {
					t.Errorf("class %d has %d examples, want %d", c, n, g.perClass)
				}
			}
			if s.Keys[42] != g.keyExample {
				t.Errorf("key %q, want %q", s.Keys[42], g.keyExample)
			}
		})
	}
}

func TestFashionMNISTErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := FashionMNIST(dir, "valid"); err == nil || !strings.Contains(err.Error(), "unknown split") {
		t.Errorf("bad split: %v", err)
	}
	if _, err := FashionMNIST(dir, "test"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing files: %v", err)
	}
	// Images and labels that disagree in count.
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), []int{2, 28, 28}, make([]byte, 2*28*28))
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), []int{3}, []byte{1, 2, 3})
	_, err := FashionMNIST(dir, "test")
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte has 3 labels") {
		t.Errorf("count mismatch: %v", err)
	}
	// A label out of range names the file and the example.
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), []int{2}, []byte{1, 10})
	if _, err = FashionMNIST(dir, "test"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "label 10 of example 1") {
		t.Errorf("bad label: %v", err)
	}
	// Wrong image size.
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte"), []int{2, 28, 27}, make([]byte, 2*28*27))
	if _, err = FashionMNIST(dir, "test"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "want [N 28 28]") {
		t.Errorf("bad shape: %v", err)
	}
	// The gzip file wins over the raw one when both exist, and is read.
	writeIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), []int{2, 28, 28}, bytes.Repeat([]byte{7}, 2*28*28))
	writeIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte"), []int{2}, []byte{4, 5})
	s, err := FashionMNIST(dir, "test")
	if err != nil || s.Images.Pix[100] != 7 || !slices.Equal(s.Labels, []int{4, 5}) {
		t.Errorf("gzip dir: %v", err)
	}
	t.Setenv("SSLPIPE_FASHION_MNIST", dir)
	if s, err := Open("fashion-mnist:test"); err != nil || s.Len() != 2 {
		t.Errorf("env override: %v", err)
	}
}

func encodeIDX(dims []int, data []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func writeIDX(t *testing.T, path string, dims []int, data []byte) {
	t.Helper()
	b := encodeIDX(dims, data)
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeIDXFixtures(t *testing.T) {
	img, err := ReadIDX("testdata/tiny-images-idx3-ubyte")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(img.Dims, []int{3, 2, 5}) || len(img.Data) != 30 {
		t.Fatalf("dims %v len %d", img.Dims, len(img.Data))
	}
	for i, v := range img.Data {
		if int(v) != i*7%256 {
			t.Fatalf("element %d = %d, want %d", i, v, i*7%256)
		}
	}
	lab, err := ReadIDX("testdata/tiny-labels-idx1-ubyte.gz")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lab.Dims, []int{3}) || !bytes.Equal(lab.Data, []byte{9, 0, 3}) {
		t.Fatalf("labels %v %v", lab.Dims, lab.Data)
	}
}

func TestDecodeIDXErrors(t *testing.T) {
	ok := encodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	huge := encodeIDX([]int{1 << 16, 1 << 16}, nil)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(ok[:len(ok)-1])
	zw.Close()
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "reading IDX magic"},
		{"magic", "\x01\x00\x08\x01", "not an IDX file"},
		{"type", "\x00\x00\x0d\x01", "element type 0x0d unsupported"},
		{"ndim0", "\x00\x00\x08\x00", "declares 0 dimensions"},
		{"ndim5", "\x00\x00\x08\x05", "declares 5 dimensions"},
		{"shortdims", "\x00\x00\x08\x02\x00\x00\x00\x02", "reading IDX dimension 1"},
		{"zerodim", "\x00\x00\x08\x01\x00\x00\x00\x00", "dimension 0 is zero"},
		{"huge", string(huge), "more than 2147483648 elements"},
		{"truncated", string(ok[:len(ok)-2]), "header declares 6 bytes of data, file has 4"},
		{"trailing", string(ok) + "x", "trailing data"},
		{"gztruncated", gz.String(), "file has 5"},
		{"badgzip", "\x1f\x8b\x00", "gzip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeIDX(strings.NewReader(c.in), "some/file.idx")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "some/file.idx") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want ErrFormat naming the file and containing %q", err, c.want)
			}
		})
	}
	if _, err := ReadIDX("testdata/does-not-exist"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzDecodeIDX(f *testing.F) {
	for _, name := range []string{"tiny-images-idx3-ubyte", "tiny-labels-idx1-ubyte.gz"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(encodeIDX([]int{1 << 15, 1 << 15}, []byte{1}))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeIDX(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		n := 1
		for _, d := range m.Dims {
			if d <= 0 {
				t.Fatalf("dims %v", m.Dims)
			}
			n *= d
		}
		if n != len(m.Data) {
			t.Fatalf("dims %v but %d bytes", m.Dims, len(m.Data))
		}
		// A raw (not gzip) input decodes to itself.
		if len(in) > 1 && !(in[0] == 0x1f && in[1] == 0x8b) && !bytes.Equal(encodeIDX(m.Dims, m.Data), in) {
			t.Fatalf("re-encoding differs from input")
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFolder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"dog/b.png", "cat/a.png", "cat/deep/c.png", "dog/notes.txt", ".hidden/x.png", "bird/z.PNG"} {
		writeFile(t, filepath.Join(root, p), "x")
	}
	s, err := Folder(root, ".png")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"bird", "cat", "dog"}) {
		t.Errorf("classes %v", s.Classes)
	}
	var rel []string
	for _, k := range s.Keys {
		r, _ := filepath.Rel(root, k)
		rel = append(rel, filepath.ToSlash(r))
	}
	if !slices.Equal(rel, []string{"bird/z.PNG", "cat/a.png", "cat/deep/c.png", "dog/b.png"}) {
		t.Errorf("keys %v", rel)
	}
	if !slices.Equal(s.Labels, []int{0, 1, 1, 2}) {
		t.Errorf("labels %v", s.Labels)
	}
	writeFile(t, filepath.Join(root, "stray.png"), "x")
	if _, err := Folder(root, "png"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "stray.png") {
		t.Errorf("file in root: %v", err)
	}
	if _, err := Folder(t.TempDir()); !errors.Is(err, ErrFormat) {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := Folder(filepath.Join(root, "nope")); err == nil {
		t.Error("missing folder: no error")
	}
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "m.csv"), "label,path,voice\n10,a.wav,x\n2,sub/b.wav,y\n10,/abs/c.wav,z\n")
	s, err := Manifest(filepath.Join(dir, "m.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"2", "10"}) || !slices.Equal(s.Labels, []int{1, 0, 1}) {
		t.Errorf("classes %v labels %v (integer labels sort numerically)", s.Classes, s.Labels)
	}
	if !slices.Equal(s.Keys, []string{filepath.Join(dir, "a.wav"), filepath.Join(dir, "sub/b.wav"), "/abs/c.wav"}) {
		t.Errorf("keys %v", s.Keys)
	}
	writeFile(t, filepath.Join(dir, "m.jsonl"), `{"path": "x.txt", "label": "love"}`+"\n\n"+`{"path": "y.txt", "label": "food"}`+"\n"+`{"path": "z.txt", "label": 3}`+"\n")
	s, err = Manifest(filepath.Join(dir, "m.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"3", "food", "love"}) || !slices.Equal(s.Labels, []int{2, 1, 0}) {
		t.Errorf("classes %v labels %v", s.Classes, s.Labels)
	}
	bad := []struct{ name, content, want string }{
		{"nolabel.csv", "path,label\na.wav,1\nb.wav,\n", "nolabel.csv:3"},
		{"nopath.jsonl", `{"path": "a", "label": 1}` + "\n" + `{"label": 2}` + "\n", "nopath.jsonl:2"},
		{"badjson.jsonl", `{"path": "a", "label": 1}` + "\n{oops\n", "badjson.jsonl:2"},
		{"empty.csv", "path,label\n", "lists no files"},
		{"nocol.csv", "file,label\na,1\n", `no "path" column`},
	}
	for _, b := range bad {
		writeFile(t, filepath.Join(dir, b.name), b.content)
		if _, err := Manifest(filepath.Join(dir, b.name)); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error %v, want one containing %q", b.name, err, b.want)
		}
	}
	if s, err := Open(filepath.Join(dir, "m.csv")); err != nil || s.Len() != 3 {
		t.Errorf("Open manifest: %v", err)
	}
}

func TestWriteFolderRoundTrip(t *testing.T) {
	needFashion(t)
	test, err := Open("fashion-mnist:test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := WriteFolder(test, dir, 3, FashionMNISTFolderNames)
	if err != nil || n != 30 {
		t.Fatalf("wrote %d: %v", n, err)
	}
	back, err := Open(dir, "png")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Classes, FashionMNISTFolderNames) || back.Len() != 30 {
		t.Fatalf("classes %v len %d", back.Classes, back.Len())
	}
	imgs, err := LoadImages(back, 28, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range back.Keys {
		var idx int
		if _, err := fmtSscan(filepath.Base(k), &idx); err != nil {
			t.Fatal(err)
		}
		if test.Labels[idx] != back.Labels[i] {
			t.Errorf("%s: label %d, want %d", k, back.Labels[i], test.Labels[idx])
		}
		if !bytes.Equal(imgs.Image(i), test.Images.Image(idx)) {
			t.Errorf("%s: pixels differ after PNG round trip", k)
		}
	}
	// Resizing to another size and to RGB works and keeps gray values gray.
	rgb, err := LoadImages(back.Head(2), 32, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	px := rgb.Image(1)
	if rgb.N != 2 || len(px) != 32*32*3 || px[3*500] != px[3*500+1] {
		t.Errorf("rgb load: N=%d len=%d", rgb.N, len(px))
	}
	// A corrupt file is an error naming it.
	writeFile(t, filepath.Join(dir, "1-trouser", "broken.png"), "not a png")
	back, _ = Open(dir, "png")
	if _, err := LoadImages(back, 28, 1, 2); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("corrupt image: %v", err)
	}
}

// BenchmarkFashionMNISTTest reads and validates the 10,000 test images and
// labels (gzip); reports decompressed MB/s.
func BenchmarkFashionMNISTTest(b *testing.B) {
	needFashion(b)
	b.ReportAllocs()
	b.SetBytes(10000*28*28 + 10000)
	for b.Loop() {
		if _, err := FashionMNIST("", "test"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAlignClasses(t *testing.T) {
	a := &Set{Classes: []string{"2", "10"}, Labels: []int{0, 1, 1}, Keys: []string{"x", "y", "z"}}
	b := &Set{Classes: []string{"1", "10"}, Labels: []int{1, 0}, Keys: []string{"u", "v"}}
	onlyA, onlyB := AlignClasses(a, b)
	if !slices.Equal(a.Classes, []string{"1", "2", "10"}) || !slices.Equal(b.Classes, a.Classes) {
		t.Fatalf("classes %v %v", a.Classes, b.Classes)
	}
	if !slices.Equal(a.Labels, []int{1, 2, 2}) || !slices.Equal(b.Labels, []int{2, 0}) {
		t.Errorf("labels %v %v", a.Labels, b.Labels)
	}
	if !slices.Equal(onlyA, []string{"2"}) || !slices.Equal(onlyB, []string{"1"}) {
		t.Errorf("only %v %v", onlyA, onlyB)
	}
	// Equal class lists (in any order a reader produced) stay untouched.
	c := &Set{Classes: FashionMNISTClasses, Labels: []int{9}}
	d := &Set{Classes: FashionMNISTClasses, Labels: []int{0}}
	if x, y := AlignClasses(c, d); x != nil || y != nil || c.Labels[0] != 9 || &c.Classes[0] != &FashionMNISTClasses[0] {
		t.Error("equal classes were remapped")
	}
}
