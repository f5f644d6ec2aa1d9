package eval

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
)

// RawPixels returns the "raw pixels" baseline features of imgs: one row per
// image holding its H*W*C bytes scaled to [0, 1], in the images' layout.
func RawPixels(imgs *datasets.Images) *Matrix {
	m := NewMatrix(imgs.N, imgs.Size())
	for i, p := range imgs.Pix {
		m.Data[i] = float32(p) / 255
	}
	return m
}

// RawImagePixels is RawPixels for decoded images of any size: each is
// converted to channels (gray replicated, or color to gray with PIL's
// weights), resized to size x size (bilinear) when it differs, and
// flattened to HWC values in [0, 1].
func RawImagePixels(imgs []*augment.Image, size, channels int) (*Matrix, error) {
	if size <= 0 || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("eval: raw pixels: size %d and channels %d (want > 0 and 1 or 3)", size, channels)
	}
	d := size * size * channels
	m := NewMatrix(len(imgs), d)
	var s augment.Scratch
	for i, img := range imgs {
		if img == nil {
			return nil, fmt.Errorf("eval: raw pixels: example %d has no image", i)
		}
		c := img
		if c.C != channels {
			t := &augment.Image{}
			if channels == 3 {
				augment.GrayToRGB(t, c)
			} else {
				augment.ToGray(t, c)
			}
			c = t
		}
		if c.W != size || c.H != size {
			t := &augment.Image{}
			augment.Resize(t, c, size, size, augment.Bilinear, &s)
			c = t
		}
		row := m.Data[i*d : (i+1)*d]
		for j, p := range c.Pix[:d] {
			row[j] = float32(p) / 255
		}
	}
	return m, nil
}

// MeanRows mean-pools a rows x cols row-major block (frames or tokens) to
// one cols vector; zero rows give a zero vector. Use it to turn
// per-frame or per-token embeddings into one feature row per example.
func MeanRows(data []float32, rows, cols int) []float32 {
	out := make([]float32, cols)
	if rows == 0 {
		return out
	}
	acc := make([]float64, cols)
	for r := range rows {
		for c, v := range data[r*cols : (r+1)*cols] {
			acc[c] += float64(v)
		}
	}
	for c := range out {
		out[c] = float32(acc[c] / float64(rows))
	}
	return out
}

// MeanMFCCOptions configures MeanMFCC.
type MeanMFCCOptions struct {
	SampleRate int  // of the waves; default 16000
	Std        bool // append the per-coefficient standard deviation (26 values instead of 13)
	Workers    int  // <= 0: GOMAXPROCS
}

// MeanMFCC is the "mean MFCC" baseline for audio probes: the 13 Kaldi MFCCs
// (audio.DefaultOptions(audio.MFCC), as HuBERT's first targets use) of each
// wave averaged over its frames, optionally followed by their standard
// deviations. A wave shorter than one frame is an error naming its index.
func MeanMFCC(waves [][]float32, opt MeanMFCCOptions) (*Matrix, error) {
	o := audio.DefaultOptions(audio.MFCC)
	if opt.SampleRate > 0 {
		o.SampleRate = float64(opt.SampleRate)
	}
	ext, err := audio.NewExtractor(o)
	if err != nil {
		return nil, fmt.Errorf("eval: mean MFCC: %w", err)
	}
	d := ext.Dim()
	cols := d
	if opt.Std {
		cols *= 2
	}
	out := NewMatrix(len(waves), cols)
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, len(waves))
	var wg sync.WaitGroup
	per := (len(waves) + workers - 1) / max(workers, 1)
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(waves))
		if lo >= hi {
			break
		}
		e := ext.Clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m audio.Matrix
			for i := lo; i < hi; i++ {
				var err error
				m, err = e.Compute(m, waves[i], nil)
				if err != nil {
					errs[i] = err
					continue
				}
				if m.Rows == 0 {
					errs[i] = fmt.Errorf("%d samples is shorter than one MFCC frame", len(waves[i]))
					continue
				}
				row := out.Row(i)
				copy(row, MeanRows(m.Data, m.Rows, d))
				if opt.Std {
					for c := range d {
						mu := float64(row[c])
						var s float64
						for r := range m.Rows {
							x := float64(m.Data[r*d+c]) - mu
							s += x * x
						}
						row[d+c] = float32(math.Sqrt(s / float64(m.Rows)))
					}
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("eval: mean MFCC of wave %d: %w", i, err)
		}
	}
	return out, nil
}

// Words splits text into lower-case tokens of letters and digits (the
// default tokenization of the bag-of-words baseline); other characters
// separate tokens.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}

// TFIDF is a fitted bag-of-words vectorizer with scikit-learn's
// TfidfVectorizer defaults: raw term counts times the smoothed inverse
// document frequency idf(t) = ln((1+n)/(1+df(t))) + 1, each row L2
// normalized.
type TFIDF struct {
	Vocab map[string]int // term -> column
	Terms []string       // column -> term
	IDF   []float64      // per column

	sublinear bool
}

// TFIDFOptions configures FitTFIDF.
type TFIDFOptions struct {
	MinDF       int  // ignore terms in fewer documents (default 1)
	MaxFeatures int  // keep the most frequent terms by total count (ties: alphabetical); 0 keeps all
	Sublinear   bool // tf = 1 + ln(count) instead of count
}

// FitTFIDF learns the vocabulary and idf of docs (each a token list, for
// example from Words). Columns are ordered alphabetically by term.
func FitTFIDF(docs [][]string, opt TFIDFOptions) *TFIDF {
	df := map[string]int{}
	total := map[string]int{}
	for _, d := range docs {
		seen := map[string]bool{}
		for _, t := range d {
			total[t]++
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	var terms []string
	for t, n := range df {
		if n >= max(opt.MinDF, 1) {
			terms = append(terms, t)
		}
	}
	if opt.MaxFeatures > 0 && len(terms) > opt.MaxFeatures {
		sort.Slice(terms, func(i, j int) bool {
			if total[terms[i]] != total[terms[j]] {
				return total[terms[i]] > total[terms[j]]
			}
			return terms[i] < terms[j]
		})
		terms = terms[:opt.MaxFeatures]
	}
	sort.Strings(terms)
	v := &TFIDF{Vocab: make(map[string]int, len(terms)), Terms: terms, IDF: make([]float64, len(terms))}
	n := float64(len(docs))
	for i, t := range terms {
		v.Vocab[t] = i
		v.IDF[i] = math.Log((1+n)/(1+float64(df[t]))) + 1
	}
	v.sublinear = opt.Sublinear
	return v
}

// Transform returns one L2-normalized tf-idf row per document; terms
// outside the vocabulary are ignored (a document with none is a zero row).
func (v *TFIDF) Transform(docs [][]string) *Matrix {
	m := NewMatrix(len(docs), max(len(v.Terms), 1))
	for i, d := range docs {
		row := m.Row(i)
		counts := map[int]float64{}
		for _, t := range d {
			if c, ok := v.Vocab[t]; ok {
				counts[c]++
			}
		}
		var norm float64
		for c, n := range counts {
			if v.sublinear {
				n = 1 + math.Log(n)
			}
			x := n * v.IDF[c]
			counts[c] = x
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for c, x := range counts {
			row[c] = float32(x / norm)
		}
	}
	return m
}
