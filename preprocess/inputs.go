package preprocess

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/pipeline"
)

// input is one image or audio input, listed before any processing.
type input struct {
	Index    int
	Name     string // how errors name it: relative path, "list.csv:12: path" or "a.tar:key"
	Path     string // file to read (the tar file for tar members)
	Member   *TarMember
	Label    string
	HasLabel bool
	Class    string // .cls content once classes are assigned ("" = no label)
	Err      error  // rejected while listing (bad manifest line, unsafe tar member)
	Size     int64  // file or member size; -1 if unknown (recorded in the input digest)
	// Encoded, for built-in sets, returns the input's bytes (a PNG).
	Encoded func() ([]byte, error)
}

// MaxInputFile bounds the size of one input file (1 GiB); larger files are
// rejected without being read.
const MaxInputFile = 1 << 30

// read returns the input's bytes.
func (in *input) read() ([]byte, error) {
	if in.Encoded != nil {
		return in.Encoded()
	}
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if in.Member != nil {
		// The member was located by ScanTar; allocate only once the tar
		// still holds its bytes (it may have shrunk or been replaced since).
		m := in.Member
		if m.Size < 0 || m.Size > MaxInputMember || m.Offset < 0 || m.Offset+m.Size > fi.Size() {
			return nil, fmt.Errorf("read tar member %s: %d bytes at offset %d, but the tar has %d bytes", m.Name, m.Size, m.Offset, fi.Size())
		}
		buf := make([]byte, m.Size)
		if _, err := f.ReadAt(buf, m.Offset); err != nil {
			return nil, fmt.Errorf("read tar member %s: %w", m.Name, err)
		}
		return buf, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > MaxInputFile {
		return nil, fmt.Errorf("file size %d exceeds limit %d", fi.Size(), MaxInputFile)
	}
	buf := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return buf, nil
}

// mediaExts are the file extensions (and tar fields) taken as inputs.
func mediaExts(modality string) []string {
	if modality == Audio {
		return []string{"wav"}
	}
	return []string{"jpg", "jpeg", "png"}
}

// listInputs enumerates the image or audio inputs of o.In in a stable
// order and assigns .cls contents. It returns the class names when labels
// are not all integers.
func listInputs(ctx context.Context, o *Options) ([]input, []string, error) {
	if split, dir, ok := datasets.IsFashionMNISTSpec(o.In); ok {
		ins, err := listFashionMNIST(o, split, dir)
		if err != nil {
			return nil, nil, err
		}
		for i := range ins {
			ins[i].Index = i
		}
		return ins, assignClasses(ins), nil
	}
	st, err := os.Stat(o.In)
	isGlob := err != nil && strings.ContainsAny(o.In, "*?[")
	if err != nil && !isGlob {
		return nil, nil, fmt.Errorf("preprocess: --in: %w", err)
	}
	var ins []input
	ext := strings.ToLower(filepath.Ext(o.In))
	switch {
	case isGlob || ext == ".tar":
		if o.LabelsFromDirs {
			return nil, nil, optErr("--labels-from-dirs needs a folder input")
		}
		ins, err = listTars(o)
	case st.IsDir():
		if o.LabelColumn != "" || o.PathColumn != "" {
			return nil, nil, optErr("--label-column and --path-column need a CSV/JSONL manifest input")
		}
		ins, err = listFolder(ctx, o)
	case ext == ".csv" || ext == ".tsv" || ext == ".jsonl" || ext == ".ndjson" || ext == ".json":
		if o.LabelsFromDirs {
			return nil, nil, optErr("--labels-from-dirs needs a folder input")
		}
		ins, err = listManifest(ctx, o)
	case ext == ".txt" || ext == ".lst" || ext == ".list":
		if o.LabelsFromDirs {
			return nil, nil, optErr("--labels-from-dirs needs a folder input")
		}
		ins, err = listFileList(o)
	default:
		return nil, nil, optErr("--in %s: want a folder, a file list (.txt/.lst), a manifest (.csv/.tsv/.jsonl) or tar shards (.tar or a glob)", o.In)
	}
	if err != nil {
		return nil, nil, err
	}
	for i := range ins {
		ins[i].Index = i
	}
	classes := assignClasses(ins)
	return ins, classes, nil
}

func listFolder(ctx context.Context, o *Options) ([]input, error) {
	src, err := pipeline.Folder(o.In, mediaExts(o.Modality)...)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	return fromFileSource(ctx, src, o.LabelsFromDirs)
}

func listManifest(ctx context.Context, o *Options) ([]input, error) {
	src, err := pipeline.Manifest(o.In, pipeline.ManifestOptions{PathColumn: o.PathColumn, LabelColumn: o.LabelColumn})
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	return fromFileSource(ctx, src, true)
}

func fromFileSource(ctx context.Context, src *pipeline.FileSource, labels bool) ([]input, error) {
	ins := make([]input, src.Len())
	for i := range ins {
		s, err := src.At(ctx, i)
		in := input{Name: s.Key, Path: s.Value.Path, Size: -1}
		if s.Origin != "" {
			in.Name = s.Origin + ": " + s.Key
		}
		if err != nil {
			var se *pipeline.SampleError
			if !errors.As(err, &se) {
				return nil, fmt.Errorf("preprocess: %w", err)
			}
			in.Err = fmt.Errorf("%w: %w", errManifestLine, se.Err)
		} else if fi, err := os.Stat(in.Path); err == nil {
			in.Size = fi.Size()
		}
		if labels && s.Value.Label != "" {
			in.Label, in.HasLabel = s.Value.Label, true
		}
		ins[i] = in
	}
	return ins, nil
}

// listFileList reads one path per line; blank lines and lines starting with
// # are skipped; relative paths are resolved against the list's folder.
func listFileList(o *Options) ([]input, error) {
	f, err := os.Open(o.In)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	defer f.Close()
	dir := filepath.Dir(o.In)
	var ins []input
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		p := t
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, filepath.FromSlash(p))
		}
		in := input{Name: fmt.Sprintf("%s:%d: %s", filepath.Base(o.In), line, t), Path: p, Size: -1}
		if fi, err := os.Stat(p); err == nil {
			in.Size = fi.Size()
		}
		ins = append(ins, in)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("preprocess: %s: %w", o.In, err)
	}
	return ins, nil
}

// listTars scans input tar shards (never extracting them) and takes from
// each WebDataset sample its media member and its cls member.
func listTars(o *Options) ([]input, error) {
	paths := []string{o.In}
	if strings.ContainsAny(o.In, "*?[") {
		m, err := filepath.Glob(o.In)
		if err != nil {
			return nil, optErr("--in %s: %v", o.In, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("preprocess: --in: no file matches %s", o.In)
		}
		slices.Sort(m)
		paths = m
	}
	want := mediaExts(o.Modality)
	var ins []input
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("preprocess: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("preprocess: %w", err)
		}
		entries := ScanTar(f, fi.Size())
		base := filepath.Base(p)
		for _, e := range entries {
			in := input{Name: base + ":" + e.Key, Path: p, Err: e.Err, Size: -1}
			if e.Err == nil {
				var media, cls *TarMember
				for k := range e.Members {
					m := &e.Members[k]
					if slices.Contains(want, strings.ToLower(m.Field)) && media == nil {
						media = m
					}
					if m.Field == "cls" && cls == nil {
						cls = m
					}
				}
				switch {
				case media == nil:
					in.Err = fmt.Errorf("%w: no %s member in sample %q", errMissingMember, strings.Join(want, "/"), e.Key)
				default:
					in.Member, in.Size = media, media.Size
					in.Name = base + ":" + media.Name
				}
				if cls != nil && cls.Size <= 64 {
					b := make([]byte, cls.Size)
					if _, err := f.ReadAt(b, cls.Offset); err == nil {
						in.Label, in.HasLabel = strings.TrimSpace(string(b)), true
					}
				}
			}
			ins = append(ins, in)
		}
		f.Close()
	}
	return ins, nil
}

// assignClasses fills Class for labelled inputs: the integer label itself
// when all labels are integers, otherwise the index in the sorted names.
func assignClasses(ins []input) []string {
	allInt, any := true, false
	names := map[string]bool{}
	for _, in := range ins {
		if !in.HasLabel || in.Err != nil {
			continue
		}
		any = true
		names[in.Label] = true
		if _, err := strconv.Atoi(in.Label); err != nil {
			allInt = false
		}
	}
	if !any {
		return nil
	}
	var classes []string
	idx := map[string]int{}
	if !allInt {
		for n := range names {
			classes = append(classes, n)
		}
		slices.Sort(classes)
		for i, n := range classes {
			idx[n] = i
		}
	}
	for i := range ins {
		in := &ins[i]
		if in.Err != nil {
			continue
		}
		if !in.HasLabel {
			in.Err = fmt.Errorf("%w: no label, while other inputs are labelled", errLabel)
			continue
		}
		if allInt {
			v, _ := strconv.Atoi(in.Label)
			in.Class = strconv.Itoa(v)
		} else {
			in.Class = strconv.Itoa(idx[in.Label])
		}
	}
	return classes
}

// inputsDigest is a sha256 over the listing: names, paths, sizes, labels and
// listing errors, so that resume notices added, removed or resized inputs.
func inputsDigest(ins []input) string {
	h := sha256.New()
	for _, in := range ins {
		errs := ""
		if in.Err != nil {
			errs = in.Err.Error()
		}
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00%d\x00%s\x00%s\n", in.Index, in.Name, in.Path, in.Size, in.Class, errs)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// listFashionMNIST lists a built-in Fashion-MNIST split as inputs whose
// bytes are each image encoded as PNG (lossless: the shards hold the
// original pixels), labelled with datasets.FashionMNISTFolderNames (which
// sort in label order, so .cls holds the original label).
func listFashionMNIST(o *Options, split, dir string) ([]input, error) {
	if o.Modality != Image {
		return nil, optErr("--in %s is an image set; use --modality image", o.In)
	}
	if o.LabelsFromDirs || o.LabelColumn != "" || o.PathColumn != "" {
		return nil, optErr("--in %s brings its own labels; drop --labels-from-dirs and the column flags", o.In)
	}
	set, err := datasets.FashionMNIST(dir, split)
	if err != nil {
		return nil, fmt.Errorf("preprocess: --in: %w", err)
	}
	g := set.Images
	ins := make([]input, g.N)
	for i := range ins {
		ins[i] = input{Name: fmt.Sprintf("fashion-mnist:%s/%05d", split, i), Label: datasets.FashionMNISTFolderNames[set.Labels[i]], HasLabel: true, Size: -1,
			Encoded: func() ([]byte, error) {
				var b bytes.Buffer
				img := &image.Gray{Pix: g.Image(i), Stride: g.W, Rect: image.Rect(0, 0, g.W, g.H)}
				if err := png.Encode(&b, img); err != nil {
					return nil, err
				}
				return b.Bytes(), nil
			}}
	}
	return ins, nil
}
