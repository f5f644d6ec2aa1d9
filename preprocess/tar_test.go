package preprocess

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type tarItem struct {
	name, link string
	typ        byte
	data       []byte
}

func makeTar(t testing.TB, items []tarItem) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, it := range items {
		h := &tar.Header{Name: it.name, Linkname: it.link, Typeflag: it.typ, Mode: 0o644, Size: int64(len(it.data))}
		if it.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if it.typ == tar.TypeReg {
			tw.Write(it.data)
		}
	}
	tw.Close()
	return buf.Bytes()
}

// listFiles returns every path under root (relative), for before/after
// comparisons.
func listFiles(t testing.TB, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			r, _ := filepath.Rel(root, p)
			out = append(out, r)
		}
		return nil
	})
	return out
}

func TestMaliciousTarCannotEscape(t *testing.T) {
	sandbox := t.TempDir()
	in := filepath.Join(sandbox, "in")
	out := filepath.Join(sandbox, "work", "out")
	r := newRand(3)
	good := func() []byte { return encodeImage(t, genImage(r, 21, 19, false), false) }
	abs := filepath.Join(sandbox, "abs-escape.jpg")
	items := []tarItem{
		{name: "000001.jpg", typ: tar.TypeReg, data: good()},
		{name: "000001.cls", typ: tar.TypeReg, data: []byte("4")},
		{name: "../escape.jpg", typ: tar.TypeReg, data: good()},
		{name: "../../work/escape2.jpg", typ: tar.TypeReg, data: good()},
		{name: abs, typ: tar.TypeReg, data: good()},
		{name: "link.jpg", typ: tar.TypeSymlink, link: "/etc/passwd"},
		{name: "dirlink", typ: tar.TypeSymlink, link: sandbox},
		{name: "dirlink/through.jpg", typ: tar.TypeReg, data: good()},
		{name: "hard.jpg", typ: tar.TypeLink, link: "000001.jpg"},
		{name: "dev.jpg", typ: tar.TypeChar},
		{name: "sub/./x.jpg", typ: tar.TypeReg, data: good()},
		{name: "000002.jpg", typ: tar.TypeReg, data: good()},
		{name: "000002.cls", typ: tar.TypeReg, data: []byte("1")},
	}
	writeFile(t, filepath.Join(in, "evil.tar"), makeTar(t, items))
	before := listFiles(t, sandbox)
	sum, err := Run(context.Background(), Options{Modality: Image, In: filepath.Join(in, "evil.tar"), Out: out, MaxErrors: -1})
	if err != nil {
		t.Fatal(err)
	}
	after := listFiles(t, sandbox)
	for _, p := range after {
		if !slices.Contains(before, p) && !strings.HasPrefix(p, filepath.Join("work", "out")) && p != "work" {
			t.Errorf("file created outside the output folder: %s", p)
		}
	}
	for _, p := range []string{filepath.Join(sandbox, "escape.jpg"), filepath.Join(sandbox, "work", "escape2.jpg"), abs} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
	if sum.Samples != 2 {
		t.Errorf("%d samples written, want 2", sum.Samples)
	}
	errs := readErrors(t, out)
	reasons := map[string]string{}
	for _, e := range errs {
		reasons[strings.TrimPrefix(e.Path, "evil.tar:")] = e.Kind + ": " + e.Reason
	}
	for name, want := range map[string]string{
		"../escape.jpg":          ".. element",
		"../../work/escape2.jpg": ".. element",
		abs:                      "absolute name",
		"link.jpg":               "symlink",
		"dirlink":                "symlink",
		"hard.jpg":               "hard link",
		"dev.jpg":                "not a regular file",
		"sub/./x.jpg":            ". element",
		"dirlink/through.jpg":    "runs through the symlink",
	} {
		got, ok := reasons[name]
		if !ok {
			t.Errorf("%s not in errors.jsonl (have %v)", name, reasons)
			continue
		}
		if !strings.HasPrefix(got, "unsafe-tar-member: ") || !strings.Contains(got, want) {
			t.Errorf("%s: reason %q, want unsafe-tar-member mentioning %q", name, got, want)
		}
	}
	// Labels come from the cls members.
	samples := readBack(t, out)
	if string(samples[0].Files["cls"]) != "4" || string(samples[len(samples)-1].Files["cls"]) != "1" {
		t.Errorf("labels not carried from cls members")
	}
	// Output member names are built from indices, never from input names.
	for _, s := range samples {
		if err := CheckMemberName(s.Key); err != nil || strings.Contains(s.Key, "/") {
			t.Errorf("output key %q", s.Key)
		}
	}
}

func TestCheckMemberName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"a.jpg", true}, {"dir/a.jpg", true}, {"dir/", true}, {"a..b.jpg", true},
		{"", false}, {"/a", false}, {"../a", false}, {"a/../b", false}, {"a/..", false},
		{"./a", false}, {"a//b", false}, {"a\\b", false}, {"C:x", false}, {"a\x00b", false}, {"a\nb", false},
	} {
		if err := CheckMemberName(c.name); (err == nil) != c.ok {
			t.Errorf("CheckMemberName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestScanTarTruncated(t *testing.T) {
	data := makeTar(t, []tarItem{
		{name: "a.jpg", typ: tar.TypeReg, data: bytes.Repeat([]byte{1}, 3000)},
		{name: "b.jpg", typ: tar.TypeReg, data: bytes.Repeat([]byte{2}, 3000)},
	})
	for _, cut := range []int{len(data) - 1500, 3600, 3500, 700, 100} {
		es := ScanTar(bytes.NewReader(data[:cut]), int64(cut))
		if len(es) == 0 || es[len(es)-1].Err == nil {
			t.Errorf("cut at %d: last entry has no error: %+v", cut, es)
		}
		for _, e := range es[:len(es)-1] {
			if e.Err != nil {
				t.Errorf("cut at %d: %v before the damage", cut, e.Err)
			}
		}
	}
	es := ScanTar(bytes.NewReader(data), int64(len(data)))
	if len(es) != 2 || es[1].Members[0].Offset != 512*3+3072-512 && es[1].Members[0].Offset != 512+3072+512 {
		t.Errorf("entries %+v", es)
	}
	if got := data[es[1].Members[0].Offset]; got != 2 {
		t.Errorf("member offset points at %d, want b's data", got)
	}
}

// FuzzScanTar: whatever the bytes, ScanTar does not panic, every member it
// accepts has a safe name and lies within the input, and keys group
// consecutive members.
func FuzzScanTar(f *testing.F) {
	f.Add(makeTar(f, []tarItem{{name: "000001.jpg", typ: tar.TypeReg, data: []byte("xx")}, {name: "000001.cls", typ: tar.TypeReg, data: []byte("1")}}))
	f.Add(makeTar(f, []tarItem{{name: "../x.jpg", typ: tar.TypeReg, data: []byte("x")}, {name: "l", typ: tar.TypeSymlink, link: "/"}}))
	f.Add(makeTar(f, []tarItem{{name: strings.Repeat("d/", 60) + "long.wav", typ: tar.TypeReg, data: []byte("RIFF")}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		es := ScanTar(bytes.NewReader(data), int64(len(data)))
		for _, e := range es {
			if e.Err != nil {
				if len(e.Members) != 0 {
					t.Fatalf("rejected entry %q carries members", e.Key)
				}
				continue
			}
			for _, m := range e.Members {
				if err := CheckMemberName(m.Name); err != nil {
					t.Fatalf("accepted unsafe member: %v", err)
				}
				if m.Offset < 0 || m.Size < 0 || m.Offset+m.Size > int64(len(data)) {
					t.Fatalf("member %q at %d+%d outside %d bytes", m.Name, m.Offset, m.Size, len(data))
				}
				if m.Key != e.Key {
					t.Fatalf("member %q key %q in entry %q", m.Name, m.Key, e.Key)
				}
			}
		}
	})
}
