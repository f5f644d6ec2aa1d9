package data2vec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/text"
)

// ErrData is wrapped by errors about unusable training data.
var ErrData = errors.New("data2vec: bad data")

// Fashion-MNIST pixel statistics used to normalize images (mean, std of
// pixel/255 over the training set).
const (
	GrayMean = 0.2860
	GrayStd  = 0.3530
)

// ReadTextDocs reads text training documents: a fortune(6) folder
// (text.ReadFortunes; Category set) or a plain file whose documents are
// separated by blank lines.
func ReadTextDocs(path string) ([]text.Document, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data2vec: %w", err)
	}
	if st.IsDir() {
		return text.ReadFortunes(path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data2vec: %w", err)
	}
	var docs []text.Document
	for i, p := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			docs = append(docs, text.Document{Text: p, File: path, Line: i})
		}
	}
	return docs, nil
}

// TrainTokenizer trains the WordPiece tokenizer text runs use (lower-case,
// BERT special tokens) on docs.
func TrainTokenizer(ctx context.Context, docs []text.Document, vocab int) (*text.Tokenizer, error) {
	t, err := text.NewTrainer(text.TrainOptions{Kind: "wordpiece", VocabSize: vocab})
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		t.Add(d.Text)
	}
	return t.Tokenizer(ctx)
}

// TextData is a token stream cut into training sequences: documents
// encoded with [CLS] ... [SEP], concatenated, and cut into windows of
// SeqLen tokens (fairseq's "complete"/"none" sample-break modes).
type TextData struct {
	Seqs   [][]int64
	masker *text.Masker
	mask   MaskConfig
}

// NewTextData tokenizes docs into seqLen-token sequences with the masker
// of mask (span: text.Masker.Span with mask.Prob, mask.Length; bert:
// text.Masker.MLM with mask.Prob).
func NewTextData(tok *text.Tokenizer, docs []text.Document, seqLen int, mask MaskConfig) (*TextData, error) {
	o := text.MaskOptions{Prob: mask.Prob, SpanProb: mask.Prob, SpanLength: mask.Length}
	if mask.Kind == "span" {
		o.Prob = 0.15
	}
	mk, err := text.NewMasker(tok, o)
	if err != nil {
		return nil, err
	}
	var stream []int64
	for _, d := range docs {
		for _, id := range tok.Encode(d.Text, true).IDs {
			stream = append(stream, int64(id))
		}
	}
	td := &TextData{masker: mk, mask: mask}
	for i := 0; i+seqLen <= len(stream); i += seqLen {
		td.Seqs = append(td.Seqs, stream[i:i+seqLen])
	}
	if len(td.Seqs) == 0 {
		return nil, fmt.Errorf("%w: %d tokens make no sequence of %d", ErrData, len(stream), seqLen)
	}
	return td, nil
}

// MaskText masks one sequence: the student's input and the positions in
// the loss.
func (td *TextData) MaskText(ids []int64, r *rand.Rand) (input []int64, mask []bool) {
	in := make([]int32, len(ids))
	for i, v := range ids {
		in[i] = int32(v)
	}
	var ms text.Masked
	if td.mask.Kind == "bert" {
		ms = td.masker.MLM(in, r)
	} else {
		ms = td.masker.Span(in, r)
	}
	input = make([]int64, len(ids))
	mask = make([]bool, len(ids))
	for i := range ids {
		input[i] = int64(ms.Inputs[i])
		mask[i] = ms.Labels[i] != text.IgnoreLabel
	}
	return input, mask
}

// Batch makes a text batch of sequences idx, masks drawn from r.
func (td *TextData) Batch(idx []int, r *rand.Rand) *Batch {
	T := len(td.Seqs[idx[0]])
	b := &Batch{B: len(idx), T: T, Train: true}
	for _, i := range idx {
		in, mk := td.MaskText(td.Seqs[i], r)
		b.IDs = append(b.IDs, td.Seqs[i]...)
		b.Input = append(b.Input, in...)
		b.Mask = append(b.Mask, mk...)
	}
	return b
}

// Patchify appends image i of imgs (8-bit, H x W x C interleaved, H = W =
// size) as normalized patches: (size/p)² rows of C·p·p values,
// channel-major within a patch.
func Patchify(dst []float32, pix []uint8, size, channels, p int) []float32 {
	g := size / p
	for py := 0; py < g; py++ {
		for px := 0; px < g; px++ {
			for c := 0; c < channels; c++ {
				for y := 0; y < p; y++ {
					for x := 0; x < p; x++ {
						v := pix[((py*p+y)*size+px*p+x)*channels+c]
						dst = append(dst, (float32(v)/255-GrayMean)/GrayStd)
					}
				}
			}
		}
	}
	return dst
}

// ImageData is a stack of square images.
type ImageData struct {
	Imgs *datasets.Images
	spec augment.MaskSpec
	cfg  ModelConfig
}

// LoadImages reads spec (fashion-mnist:train or a folder, via
// datasets.Open) at the model's image size and channels, first limit
// images (0: all), with labels when the set has them.
func LoadImages(spec string, cfg ModelConfig, limit int) (*datasets.Set, error) {
	s, err := datasets.Open(spec, ".png", ".jpg", ".jpeg")
	if err != nil {
		return nil, err
	}
	if limit > 0 && limit < s.Len() {
		s.Keys, s.Labels = s.Keys[:limit], s.Labels[:min(limit, len(s.Labels))]
		if s.Images != nil {
			im := *s.Images
			im.N = limit
			im.Pix = im.Pix[:limit*im.H*im.W*im.C]
			s.Images = &im
		}
	}
	if s.Images == nil || s.Images.H != cfg.ImageSize || s.Images.W != cfg.ImageSize || s.Images.C != cfg.Channels {
		im, err := datasets.LoadImages(s, cfg.ImageSize, cfg.Channels, 0)
		if err != nil {
			return nil, err
		}
		s.Images = im
	}
	return s, nil
}

// NewImageData prepares images for training with the block (or random)
// masks of cfg.Mask.
func NewImageData(imgs *datasets.Images, cfg ModelConfig) (*ImageData, error) {
	if imgs.H != cfg.ImageSize || imgs.W != cfg.ImageSize || imgs.C != cfg.Channels {
		return nil, fmt.Errorf("%w: images are %dx%dx%d, model wants %dx%dx%d", ErrData, imgs.H, imgs.W, imgs.C, cfg.ImageSize, cfg.ImageSize, cfg.Channels)
	}
	g := cfg.ImageSize / cfg.Patch
	spec := augment.MaskSpec{Kind: cfg.Mask.Kind, Rows: g, Cols: g, Ratio: cfg.Mask.Prob, MinPatches: cfg.Mask.MinPatches}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &ImageData{Imgs: imgs, spec: spec, cfg: cfg}, nil
}

// Spec is the patch-mask specification.
func (d *ImageData) Spec() augment.MaskSpec { return d.spec }

// Batch makes an image batch of images idx with masks drawn from r; with
// flip, each image is mirrored horizontally with probability 1/2.
func (d *ImageData) Batch(idx []int, r *rand.Rand, flip bool) *Batch {
	c := d.cfg
	n := c.ImageSize * c.ImageSize * c.Channels
	g := c.ImageSize / c.Patch
	b := &Batch{B: len(idx), T: g * g, Train: true}
	buf := make([]uint8, n)
	for _, i := range idx {
		pix := d.Imgs.Pix[i*n : (i+1)*n]
		if flip && r.IntN(2) == 1 {
			s, ch := c.ImageSize, c.Channels
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					copy(buf[(y*s+x)*ch:(y*s+x+1)*ch], pix[(y*s+s-1-x)*ch:(y*s+s-x)*ch])
				}
			}
			pix = buf
		}
		b.Patches = Patchify(b.Patches, pix, c.ImageSize, c.Channels, c.Patch)
		b.Mask = append(b.Mask, d.spec.Generate(r).Bits...)
	}
	return b
}

// ImageBatch makes an unmasked batch of images (evaluation).
func ImageBatch(imgs *datasets.Images, idx []int, cfg ModelConfig) *Batch {
	n := imgs.H * imgs.W * imgs.C
	g := cfg.ImageSize / cfg.Patch
	b := &Batch{B: len(idx), T: g * g}
	for _, i := range idx {
		b.Patches = Patchify(b.Patches, imgs.Pix[i*n:(i+1)*n], cfg.ImageSize, cfg.Channels, cfg.Patch)
	}
	b.Mask = make([]bool, b.B*b.T)
	return b
}

// SampleRate is the audio sample rate the CNN expects.
const SampleRate = 16000

// LoadWaves reads the 16 kHz WAVs under dir (its train/ sub-folder when
// there is one), sorted by path, first limit (0: all), skipping none: a
// file at another rate or shorter than minSamples is an error.
func LoadWaves(dir string, minSamples, limit int) ([][]float32, []string, error) {
	if st, err := os.Stat(filepath.Join(dir, "train")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "train")
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.EqualFold(filepath.Ext(p), ".wav") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("data2vec: %w", err)
	}
	slices.Sort(paths)
	if limit > 0 && limit < len(paths) {
		paths = paths[:limit]
	}
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no .wav files", ErrData, dir)
	}
	waves := make([][]float32, len(paths))
	for i, p := range paths {
		w, err := LoadWave(p, minSamples)
		if err != nil {
			return nil, nil, err
		}
		waves[i] = w
	}
	return waves, paths, nil
}

// LoadWave reads a 16 kHz WAV (first channel) of at least minSamples.
func LoadWave(path string, minSamples int) ([]float32, error) {
	x, info, err := audio.ReadWAV(path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	if info.SampleRate != SampleRate {
		return nil, fmt.Errorf("%w: %s: sample rate %d Hz, want %d", ErrData, path, info.SampleRate, SampleRate)
	}
	if len(x) < minSamples {
		return nil, fmt.Errorf("%w: %s: %d samples, fewer than the CNN's receptive field %d", ErrData, path, len(x), minSamples)
	}
	return x, nil
}

// AudioBatch crops waves[idx] to a common length (the shortest, at most
// maxSamples) at random offsets and draws span masks over the CNN frames
// (audio.SpanMaskBatch, every row the same count).
func AudioBatch(waves [][]float32, idx []int, cfg ModelConfig, r *rand.Rand) (*Batch, error) {
	L := cfg.MaxSamples
	for _, i := range idx {
		L = min(L, len(waves[i]))
	}
	T := cfg.CNN.Frames(L)
	if T <= 0 {
		return nil, fmt.Errorf("%w: crop of %d samples gives no frames", ErrData, L)
	}
	b := &Batch{B: len(idx), T: T, L: L, Train: true}
	rngs := make([]*rand.Rand, len(idx))
	lengths := make([]int, len(idx))
	for k, i := range idx {
		w := waves[i]
		off := 0
		if len(w) > L {
			off = r.IntN(len(w) - L + 1)
		}
		b.Wave = append(b.Wave, w[off:off+L]...)
		rngs[k] = rand.New(rand.NewPCG(r.Uint64(), r.Uint64()))
		lengths[k] = T
	}
	masks, err := audio.SpanMaskBatch(rngs, lengths, T, cfg.Mask.audioMask())
	if err != nil {
		return nil, err
	}
	for _, mk := range masks {
		b.Mask = append(b.Mask, mk...)
	}
	return b, nil
}
