package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/text"
)

// Modalities.
const (
	Image = "image"
	Audio = "audio"
	Text  = "text"
)

// ErrSpec is wrapped by errors about a data spec that cannot be used (no
// such folder, no samples, an unknown modality); the command line maps it
// to a usage error.
var ErrSpec = errors.New("data: bad data spec")

// Example is one decoded sample. Only the fields of its modality are set.
// An Example handed to a pipeline stage belongs to that stage: it may keep
// or modify it.
type Example struct {
	Key    string // shard member key or file path
	Origin string // shard or folder it came from
	Image  *augment.Image
	Wave   []float32 // audio in [-1, 1] at Rate
	Rate   int
	Labels []int32 // audio: frame labels (k-means ids) at LabelRate
	Tokens []int32 // text: token ids
	Text   string  // raw text datasets: the document itself
	Class  int     // class index (-1: unlabelled)
}

// Options configures Open.
type Options struct {
	// Modality is image, audio or text; required only for a raw folder
	// whose files are of several kinds. A dataset that knows its own
	// modality refuses another one.
	Modality string
	// Channels of decoded images: 1 (gray), 3 (RGB) or 0 (keep gray gray,
	// everything else RGB).
	Channels int
	// Rate is the audio sample rate examples are resampled to (default
	// 16000).
	Rate int
	// Tokenizer is the tokenizer.json raw text folders are encoded with
	// (a preprocessed text dataset brings its own).
	Tokenizer string
	// SeqLen caps the tokens of a raw-text example (default 128).
	SeqLen int
	// Workers decode in parallel (0: GOMAXPROCS).
	Workers int
	// Labels is a frame-label set (LabelSet) joined to an audio dataset
	// by sample: its labels replace the dataset's own km.npy.
	Labels string
}

// Dataset is an opened data spec: its length, modality and a way to
// stream it. Close releases open shard files.
type Dataset struct {
	Spec     string
	Modality string
	// Kind is "preprocessed", "shards", "folder" or "builtin".
	Kind string
	// Manifest is the preprocess manifest (preprocessed datasets only).
	Manifest *preprocess.Manifest
	// Classes names the class indices when known.
	Classes []string
	// Fields are the member extensions of shard samples.
	Fields []string
	// Labelled is true when examples carry a Class.
	Labelled bool
	// LabelRate is the frame rate of audio Labels (Hz; 0: none) and
	// LabelK the number of label values (0: unknown).
	LabelRate, LabelK int
	// Tokenizer is the dataset's tokenizer (text; nil otherwise).
	Tokenizer *text.Tokenizer

	n       int
	workers int
	// ref names sample i (and fails for a sample known to be damaged);
	// read decodes it. Both are safe for concurrent use.
	ref   func(i int) (key, origin string, err error)
	read  func(ctx context.Context, i int) (Example, error)
	label func(ctx context.Context, i int) (int, error) // nil: decode to learn it
	close func() error
	// classOf maps a listed file to its class (folders, manifests).
	classOf func(pipeline.File) int
}

// Label returns sample i's class (-1: none) without decoding it where the
// dataset lists labels (folders, manifests, built-in sets); otherwise it
// reads the sample.
func (d *Dataset) Label(ctx context.Context, i int) (int, error) {
	if d.label != nil {
		return d.label(ctx, i)
	}
	ex, err := d.read(ctx, i)
	return ex.Class, err
}

// New makes a Dataset of n samples from a random-access decoder: read(i)
// returns sample i (safe for concurrent use). Library users build their
// own data sources this way; modality is image, audio or text.
func New(spec, modality string, n, workers int, read func(ctx context.Context, i int) (Example, error)) *Dataset {
	return &Dataset{Spec: spec, Modality: modality, Kind: "custom", n: n, workers: workers, read: read}
}

// indexSource is the sample indices of a Dataset as a pipeline source.
type indexSource struct{ d *Dataset }

func (s indexSource) Len() int { return s.d.n }

func (s indexSource) At(_ context.Context, i int) (pipeline.Sample[int], error) {
	if i < 0 || i >= s.d.n {
		return pipeline.Sample[int]{}, fmt.Errorf("data: index %d out of range [0,%d)", i, s.d.n)
	}
	smp := pipeline.Sample[int]{Index: i, Value: i}
	if s.d.ref != nil {
		var err error
		smp.Key, smp.Origin, err = s.d.ref(i)
		if err != nil {
			return smp, &pipeline.SampleError{Index: i, Key: smp.Key, Origin: smp.Origin, Stage: "source", Err: err}
		}
	}
	return smp, nil
}

func (s indexSource) Open(ctx context.Context, start int) (pipeline.Reader[int], error) {
	return pipeline.OpenAt[int](ctx, s, start)
}

// Stream visits the dataset in order o, decoding on the dataset's workers.
func (d *Dataset) Stream(o pipeline.Order) *pipeline.Stream[Example] {
	return d.decode(pipeline.From[int](indexSource{d}, o))
}

// Subset streams the samples idx, in that order, once.
func (d *Dataset) Subset(idx []int) *pipeline.Stream[Example] {
	return d.decode(pipeline.From[int](pipeline.Slice(idx), pipeline.Order{}))
}

func (d *Dataset) decode(s *pipeline.Stream[int]) *pipeline.Stream[Example] {
	return pipeline.Map(s, func(ctx context.Context, s pipeline.Sample[int]) (Example, error) {
		return d.read(ctx, s.Value)
	}, pipeline.MapOptions{Name: "decode", Workers: d.workers})
}

// Collect decodes n samples evenly strided over the dataset (all when n
// <= 0 or n >= Len), in index order: held-out sets for probes.
func (d *Dataset) Collect(ctx context.Context, n int) ([]Example, error) {
	if n <= 0 || n > d.n {
		n = d.n
	}
	stride := d.n / n
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i * stride
	}
	var out []Example
	for s, err := range pipeline.All(ctx, d.Subset(idx), pipeline.RunOptions{}) {
		if err != nil {
			return nil, err
		}
		out = append(out, s.Value)
	}
	return out, nil
}

// Len is the number of samples.
func (d *Dataset) Len() int { return d.n }

// Close releases the files the dataset holds open.
func (d *Dataset) Close() error {
	if d.close != nil {
		return d.close()
	}
	return nil
}

// Open resolves spec (see the package documentation).
func Open(spec string, o Options) (*Dataset, error) {
	if spec == "" {
		return nil, fmt.Errorf("%w: no data given (--data)", ErrSpec)
	}
	if o.Rate == 0 {
		o.Rate = 16000
	}
	if o.SeqLen == 0 {
		o.SeqLen = 128
	}
	var sel *selector
	if base, s, ok := strings.Cut(spec, "#"); ok {
		var err error
		if sel, err = parseSelector(s); err != nil {
			return nil, err
		}
		spec = base
	}
	o.Modality = strings.ToLower(o.Modality)
	switch o.Modality {
	case "", Image, Audio, Text:
	default:
		return nil, fmt.Errorf("%w: modality %q: want image, audio or text", ErrSpec, o.Modality)
	}
	var d *Dataset
	var err error
	if split, dir, ok := datasets.IsFashionMNISTSpec(spec); ok {
		d, err = openFashionMNIST(spec, split, dir, o)
	} else if strings.ContainsAny(spec, "*?[") || strings.HasSuffix(spec, ".tar") {
		d, err = openShards(spec, o)
	} else if isManifest(spec) {
		d, err = openManifest(spec, o)
	} else {
		st, serr := os.Stat(spec)
		switch {
		case serr != nil:
			return nil, fmt.Errorf("%w: %v", ErrSpec, serr)
		case !st.IsDir():
			return nil, fmt.Errorf("%w: %s is not a folder, a shard glob or fashion-mnist:SPLIT", ErrSpec, spec)
		}
		if _, merr := os.Stat(filepath.Join(spec, "manifest.json")); merr == nil {
			d, err = openPreprocessed(spec, o)
		} else {
			d, err = openFolder(spec, o)
		}
	}
	if err != nil {
		return nil, err
	}
	if o.Labels != "" {
		if d.Modality != Audio {
			d.Close()
			return nil, fmt.Errorf("%w: a label set joins audio data, %s holds %s", ErrSpec, spec, d.Modality)
		}
		if err := joinLabels(d, o.Labels); err != nil {
			d.Close()
			return nil, err
		}
	}
	if sel != nil {
		if err := applySelector(d, sel); err != nil {
			d.Close()
			return nil, err
		}
	}
	if o.Modality != "" && d.Modality != o.Modality {
		d.Close()
		return nil, fmt.Errorf("%w: %s holds %s data, not %s", ErrSpec, spec, d.Modality, o.Modality)
	}
	if d.n == 0 {
		d.Close()
		return nil, fmt.Errorf("%w: %s holds no samples", ErrSpec, spec)
	}
	return d, nil
}

// openFashionMNIST serves Debian's Fashion-MNIST (held in memory: it is
// a fixed 47 MB set).
func openFashionMNIST(spec, split, dir string, o Options) (*Dataset, error) {
	set, err := datasets.FashionMNIST(dir, split)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	g := set.Images
	ch := o.Channels
	if ch == 0 {
		ch = 1
	}
	// The class names are the ones `sslpipe preprocess --in fashion-mnist:*`
	// writes, so the built-in set and its shards probe against each other.
	d := &Dataset{Spec: spec, Modality: Image, Kind: "builtin", Classes: datasets.FashionMNISTFolderNames, Labelled: true, n: g.N, workers: o.Workers}
	d.read = func(_ context.Context, i int) (Example, error) {
		m := augment.NewImage(g.W, g.H, 1)
		copy(m.Pix, g.Image(i))
		if ch == 3 {
			m = gray3(m)
		}
		return Example{Key: fmt.Sprintf("%s/%d", split, i), Origin: "fashion-mnist", Image: m, Class: set.Labels[i]}, nil
	}
	d.label = func(_ context.Context, i int) (int, error) { return set.Labels[i], nil }
	return d, nil
}

func gray3(m *augment.Image) *augment.Image {
	out := augment.NewImage(m.W, m.H, 3)
	for i, v := range m.Pix {
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
	}
	return out
}

// openPreprocessed reads a preprocess output folder through its manifest.
func openPreprocessed(dir string, o Options) (*Dataset, error) {
	m, err := preprocess.ReadManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	paths, err := preprocess.Shards(dir, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	d, err := shardDataset(dir, paths, m.Options.Modality, m.Fields, o)
	if err != nil {
		return nil, err
	}
	d.Kind, d.Manifest, d.Classes = "preprocessed", m, m.Classes
	if m.Meta != nil && m.Meta.LabelRate > 0 && slices.Contains(m.Fields, "km.npy") {
		d.LabelRate, d.LabelK = m.Meta.LabelRate, m.Meta.KMeansK
	}
	if d.Modality == Text {
		for _, a := range m.Artifacts {
			if a.Kind == "tokenizer" {
				if d.Tokenizer, err = text.LoadTokenizer(filepath.Join(dir, a.Path)); err != nil {
					d.Close()
					return nil, fmt.Errorf("%w: %v", ErrSpec, err)
				}
			}
		}
		if d.Tokenizer == nil && m.Options.Tokenizer != "" {
			if d.Tokenizer, err = text.LoadTokenizer(m.Options.Tokenizer); err != nil {
				d.Close()
				return nil, fmt.Errorf("%w: %s: the dataset's tokenizer: %v", ErrSpec, dir, err)
			}
		}
	}
	return d, nil
}

// openShards reads a glob of shards (or one .tar) without a manifest.
func openShards(pattern string, o Options) (*Dataset, error) {
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSpec, pattern, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no shard matches %s", ErrSpec, pattern)
	}
	slices.Sort(paths)
	d, err := shardDataset(pattern, paths, "", nil, o)
	if err != nil {
		return nil, err
	}
	d.Kind = "shards"
	return d, nil
}

// shardDataset indexes the shards and infers the modality and fields
// from the first readable sample when they are not given.
func shardDataset(spec string, paths []string, modality string, fields []string, o Options) (*Dataset, error) {
	src, err := pipeline.Tar(paths...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	d := &Dataset{Spec: spec, Modality: modality, Fields: fields, n: src.Len(), close: src.Close}
	if len(d.Fields) == 0 {
		for i := 0; i < min(src.Len(), 16) && len(d.Fields) == 0; i++ {
			s, err := src.At(context.Background(), i)
			if err == nil {
				for ext := range s.Value.Files {
					d.Fields = append(d.Fields, ext)
				}
				slices.Sort(d.Fields)
			}
		}
	}
	if d.Modality == "" {
		d.Modality = modalityOfFields(d.Fields)
	}
	if d.Modality == "" && src.Len() > 0 {
		src.Close()
		return nil, fmt.Errorf("%w: %s: cannot tell the modality from the members %v (want an image, wav.npy or ids.npy member)", ErrSpec, spec, d.Fields)
	}
	d.Labelled = slices.Contains(d.Fields, "cls")
	if slices.Contains(d.Fields, "km.npy") {
		d.LabelRate = 50
	}
	dec := &decoder{o: o, modality: d.Modality}
	refs := src.Refs()
	d.workers = o.Workers
	d.ref = func(i int) (string, string, error) {
		s, err := refs.At(context.Background(), i)
		return s.Key, s.Origin, err
	}
	d.read = func(ctx context.Context, i int) (Example, error) {
		s, err := refs.At(ctx, i)
		if err != nil {
			return Example{}, err
		}
		ts, err := pipeline.ReadTar(ctx, s)
		if err != nil {
			return Example{}, err
		}
		return dec.member(ts)
	}
	d.label = func(ctx context.Context, i int) (int, error) {
		s, err := refs.At(ctx, i)
		if err != nil {
			return -1, err
		}
		ts, err := pipeline.ReadTar(ctx, s)
		if err != nil {
			return -1, err
		}
		return dec.class(ts)
	}
	return d, nil
}

func modalityOfFields(fields []string) string {
	for _, f := range fields {
		switch {
		case isImageExt(f):
			return Image
		case f == "wav.npy" || f == "wav" || f == "flac.npy":
			return Audio
		case f == "ids.npy":
			return Text
		}
	}
	return ""
}

func isImageExt(ext string) bool {
	switch strings.ToLower(ext) {
	case "jpg", "jpeg", "png":
		return true
	}
	return false
}

// decoder turns shard members and files into Examples.
type decoder struct {
	o        Options
	modality string
	tok      *text.Tokenizer
}

func (dc *decoder) member(ts pipeline.TarSample) (Example, error) {
	ex := Example{Key: ts.Key, Origin: filepath.Base(ts.Shard), Class: -1}
	c, err := dc.class(ts)
	if err != nil {
		return ex, err
	}
	ex.Class = c
	switch dc.modality {
	case Image:
		for ext, b := range ts.Files {
			if isImageExt(ext) {
				img, err := augment.Decode(ts.Key+"."+ext, b, augment.DecodeOptions{Channels: dc.o.Channels})
				if err != nil {
					return ex, err
				}
				ex.Image = img
				return ex, nil
			}
		}
		return ex, fmt.Errorf("data: %s: sample %s has no image member", ts.Shard, ts.Key)
	case Audio:
		b, ok := ts.Files["wav.npy"]
		if !ok {
			return ex, fmt.Errorf("data: %s: sample %s has no wav.npy member", ts.Shard, ts.Key)
		}
		w, err := readWave(b)
		if err != nil {
			return ex, fmt.Errorf("data: %s: %s.wav.npy: %w", ts.Shard, ts.Key, err)
		}
		ex.Wave, ex.Rate = w, dc.o.Rate
		if b, ok := ts.Files["km.npy"]; ok {
			a, err := npy.Read(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return ex, fmt.Errorf("data: %s: %s.km.npy: %w", ts.Shard, ts.Key, err)
			}
			if a.DType != npy.Int32 || len(a.Shape) != 1 {
				return ex, fmt.Errorf("data: %s: %s.km.npy: want a 1-d int32 array, got %v %v", ts.Shard, ts.Key, a.DType, a.Shape)
			}
			ex.Labels = a.I32
		}
		return ex, nil
	case Text:
		b, ok := ts.Files["ids.npy"]
		if !ok {
			return ex, fmt.Errorf("data: %s: sample %s has no ids.npy member", ts.Shard, ts.Key)
		}
		a, err := npy.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return ex, fmt.Errorf("data: %s: %s.ids.npy: %w", ts.Shard, ts.Key, err)
		}
		if a.DType != npy.Int32 || len(a.Shape) != 1 {
			return ex, fmt.Errorf("data: %s: %s.ids.npy: want a 1-d int32 array, got %v %v", ts.Shard, ts.Key, a.DType, a.Shape)
		}
		ex.Tokens = a.I32
		return ex, nil
	}
	return ex, fmt.Errorf("data: unknown modality %q", dc.modality)
}

// class parses a sample's .cls member (-1 when it has none).
func (dc *decoder) class(ts pipeline.TarSample) (int, error) {
	b, ok := ts.Files["cls"]
	if !ok {
		return -1, nil
	}
	c, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || c < 0 {
		return -1, fmt.Errorf("data: %s: member %s.cls: %q is not a class index", ts.Shard, ts.Key, b)
	}
	return c, nil
}

// readWave decodes a wav.npy member (int16 PCM or float32).
func readWave(b []byte) ([]float32, error) {
	a, err := npy.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	if len(a.Shape) != 1 {
		return nil, fmt.Errorf("want a 1-d waveform, got shape %v", a.Shape)
	}
	switch a.DType {
	case npy.Float32:
		return a.F32, nil
	case npy.Int16:
		w := make([]float32, len(a.I16))
		for i, v := range a.I16 {
			w[i] = float32(v) / 32767
		}
		return w, nil
	}
	return nil, fmt.Errorf("waveform dtype %v (want int16 or float32)", a.DType)
}

var (
	imageExts = []string{".jpg", ".jpeg", ".png"}
	audioExts = []string{".wav"}
	textExts  = []string{".txt", ".jsonl", ".text"}
)

// openFolder serves a raw folder, decoding each file as preprocess would.
func openFolder(dir string, o Options) (*Dataset, error) {
	mod := o.Modality
	if mod == "" {
		counts := map[string]int{}
		filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			ext := strings.ToLower(filepath.Ext(p))
			switch {
			case slices.Contains(imageExts, ext):
				counts[Image]++
			case slices.Contains(audioExts, ext):
				counts[Audio]++
			case slices.Contains(textExts, ext):
				counts[Text]++
			}
			return nil
		})
		if len(counts) > 1 {
			return nil, fmt.Errorf("%w: %s holds %d image, %d audio and %d text files: say which with --modality", ErrSpec, dir, counts[Image], counts[Audio], counts[Text])
		}
		for k := range counts {
			mod = k
		}
		if mod == "" {
			if isFortunes(dir) {
				mod = Text
			} else {
				return nil, fmt.Errorf("%w: %s holds no .jpg/.png images, .wav audio or .txt/.jsonl text", ErrSpec, dir)
			}
		}
	}
	if mod == Text {
		return openTextFolder(dir, o)
	}
	exts := imageExts
	if mod == Audio {
		exts = audioExts
	}
	src, err := pipeline.Folder(dir, exts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	d := fileDataset(dir, src, mod, o)
	if cl := src.Classes(); len(cl) > 0 {
		d.Classes, d.Labelled = cl, true
	}
	return d, nil
}

func isManifest(spec string) bool {
	switch strings.ToLower(filepath.Ext(spec)) {
	case ".csv", ".tsv", ".jsonl", ".ndjson":
		st, err := os.Stat(spec)
		return err == nil && !st.IsDir()
	}
	return false
}

// openManifest serves a CSV/TSV/JSONL file list (path and optional label
// columns, paths relative to the manifest) of images or WAVs, decoded on
// the fly; labels are class names, indexed in sorted order.
func openManifest(path string, o Options) (*Dataset, error) {
	src, err := pipeline.Manifest(path, pipeline.ManifestOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	mod := o.Modality
	names := map[string]bool{}
	for i := range src.Len() {
		s, err := src.At(context.Background(), i)
		if err != nil {
			continue
		}
		if s.Value.Label != "" {
			names[s.Value.Label] = true
		}
		if mod == "" {
			switch ext := strings.ToLower(filepath.Ext(s.Value.Path)); {
			case slices.Contains(imageExts, ext):
				mod = Image
			case slices.Contains(audioExts, ext):
				mod = Audio
			}
		}
	}
	if mod == "" {
		return nil, fmt.Errorf("%w: %s lists no .jpg/.png images or .wav files (say --modality)", ErrSpec, path)
	}
	d := fileDataset(path, src, mod, o)
	if len(names) > 0 {
		for n := range names {
			d.Classes = append(d.Classes, n)
		}
		slices.Sort(d.Classes)
		index := map[string]int{}
		for i, n := range d.Classes {
			index[n] = i
		}
		d.Labelled = true
		d.classOf = func(f pipeline.File) int {
			if c, ok := index[f.Label]; ok {
				return c
			}
			return -1
		}
	}
	return d, nil
}

// fileDataset serves the files of src (a folder or a manifest), decoding
// each as preprocess would.
func fileDataset(spec string, src *pipeline.FileSource, mod string, o Options) *Dataset {
	d := &Dataset{Spec: spec, Modality: mod, Kind: "folder", n: src.Len(), workers: o.Workers}
	d.classOf = func(f pipeline.File) int { return f.Class }
	resamplers := &resamplerCache{}
	d.ref = func(i int) (string, string, error) {
		s, err := src.At(context.Background(), i)
		return s.Key, spec, err
	}
	d.label = func(_ context.Context, i int) (int, error) {
		s, err := src.At(context.Background(), i)
		if err != nil {
			return -1, err
		}
		return d.classOf(s.Value), nil
	}
	d.read = func(ctx context.Context, i int) (Example, error) {
		s, err := src.At(ctx, i)
		if err != nil {
			return Example{}, err
		}
		b, err := pipeline.ReadFile(ctx, s)
		if err != nil {
			return Example{}, err
		}
		ex := Example{Key: s.Key, Origin: spec, Class: -1}
		if d.Labelled {
			ex.Class = d.classOf(s.Value)
		}
		if mod == Image {
			ex.Image, err = augment.Decode(b.Path, b.Data, augment.DecodeOptions{Channels: o.Channels})
			return ex, err
		}
		ex.Wave, err = decodeWAV(b.Path, b.Data, o.Rate, resamplers)
		ex.Rate = o.Rate
		return ex, err
	}
	return d
}

// decodeWAV decodes a WAV file and resamples it to rate, as preprocess
// does.
func decodeWAV(name string, data []byte, rate int, rc *resamplerCache) ([]float32, error) {
	dec, err := audio.NewDecoder(bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return nil, err
	}
	w, err := dec.ReadAll(nil)
	if err != nil {
		return nil, err
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("data: %s: no samples", name)
	}
	if sr := dec.Info().SampleRate; sr != rate {
		r, err := rc.get(sr, rate)
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", name, err)
		}
		w = r.Resample(w)
	}
	// Round through int16 as preprocess's default dtype does, so that a
	// folder and its preprocessed shards give the same examples.
	for i, v := range w {
		w[i] = float32(int16(math.Round(float64(max(-1, min(1, v))*32767)))) / 32767
	}
	return w, nil
}
