package hubert

import (
	"bufio"
	"encoding/json"
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
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// SampleRate is the only rate the models take.
const SampleRate = 16000

// ErrData is wrapped by every error about the speech data or its labels
// (a file shorter than the receptive field, a silent file, a label file
// for other audio, a k-means file for another feature type); the message
// names the file.
var ErrData = errors.New("hubert: bad data")

// Splits lists the WAV files of a pretraining folder, relative to root and
// sorted: root/train/** and root/valid/** when root/train exists (the
// speechdata layout), else every WAV under root is train.
func Splits(root string) (train, valid []string, err error) {
	list := func(dir string) ([]string, error) {
		var out []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".wav") {
				r, _ := filepath.Rel(root, p)
				out = append(out, filepath.ToSlash(r))
			}
			return nil
		})
		slices.Sort(out)
		return out, err
	}
	if st, e := os.Stat(filepath.Join(root, "train")); e == nil && st.IsDir() {
		if train, err = list(filepath.Join(root, "train")); err != nil {
			return nil, nil, fmt.Errorf("hubert: %w", err)
		}
		if _, e := os.Stat(filepath.Join(root, "valid")); e == nil {
			if valid, err = list(filepath.Join(root, "valid")); err != nil {
				return nil, nil, fmt.Errorf("hubert: %w", err)
			}
		}
	} else if train, err = list(root); err != nil {
		return nil, nil, fmt.Errorf("hubert: %w", err)
	}
	if len(train) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no .wav files", ErrData, root)
	}
	return train, valid, nil
}

// LoadWave reads a 16 kHz WAV (first channel) and rejects audio the CNN
// cannot use: another sample rate, fewer samples than minSamples (the
// receptive field), or silence (peak below 1e-4).
func LoadWave(path string, minSamples int) ([]float32, error) {
	x, info, err := audio.ReadWAV(path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	if info.SampleRate != SampleRate {
		return nil, fmt.Errorf("%w: %s: sample rate %d Hz, want %d (resample first, e.g. sslpipe features handles it)", ErrData, path, info.SampleRate, SampleRate)
	}
	if len(x) < minSamples {
		return nil, fmt.Errorf("%w: %s: %d samples (%.3f s) is shorter than the CNN's receptive field of %d samples", ErrData, path, len(x), float64(len(x))/SampleRate, minSamples)
	}
	var peak float64
	for _, v := range x {
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	if peak < 1e-4 {
		return nil, fmt.Errorf("%w: %s: silent (peak amplitude %.2g)", ErrData, path, peak)
	}
	return x, nil
}

// LabelsMeta is labels.json in a labels folder.
type LabelsMeta struct {
	K           int      `json:"k"`
	LabelRate   float64  `json:"label_rate"`   // labels per second (100 for MFCC, 50 for model layers)
	FeatureType string   `json:"feature_type"` // "mfcc+deltas" or "hubert:<run>:layer<L>"
	Data        string   `json:"data"`         // pretraining folder the labels describe
	KMeans      string   `json:"kmeans"`       // codebook file (in the folder)
	Splits      []string `json:"splits"`
	Utterances  int      `json:"utterances"`
	Frames      int64    `json:"frames"`
	Inertia     float64  `json:"inertia"`
	Seconds     float64  `json:"seconds"`
}

// A labels folder (written by WriteLabels, read by ReadLabels) holds
//
//	labels.json      LabelsMeta
//	<split>.km       one line per utterance: path TAB space-separated labels
//	dict.km.txt      "<label> <count>" for every label 0..k-1 (fairseq's dictionary)
//	kmeans.bin       the codebook (audio.KMeans.Save)

// WriteLabels writes a labels folder.
func WriteLabels(dir string, meta LabelsMeta, km *audio.KMeans, splits map[string]map[string][]int32) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hubert: %w", err)
	}
	counts := make([]int64, meta.K)
	meta.Splits = nil
	meta.Utterances, meta.Frames = 0, 0
	for split, utts := range splits {
		meta.Splits = append(meta.Splits, split)
		var b strings.Builder
		keys := make([]string, 0, len(utts))
		for k := range utts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString(k)
			b.WriteByte('\t')
			for i, l := range utts[k] {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(strconv.Itoa(int(l)))
				counts[l]++
			}
			b.WriteByte('\n')
			meta.Utterances++
			meta.Frames += int64(len(utts[k]))
		}
		if err := os.WriteFile(filepath.Join(dir, split+".km"), []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("hubert: %w", err)
		}
	}
	slices.Sort(meta.Splits)
	var d strings.Builder
	for i, c := range counts {
		fmt.Fprintf(&d, "%d %d\n", i, c)
	}
	if err := os.WriteFile(filepath.Join(dir, "dict.km.txt"), []byte(d.String()), 0o644); err != nil {
		return fmt.Errorf("hubert: %w", err)
	}
	meta.KMeans = "kmeans.bin"
	if err := km.Save(filepath.Join(dir, meta.KMeans)); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(meta, "", "  ")
	return os.WriteFile(filepath.Join(dir, "labels.json"), append(js, '\n'), 0o644)
}

// ReadLabelsMeta reads and checks labels.json and dict.km.txt: k >= 2, a
// positive label rate, and a dictionary of exactly the labels 0..k-1 (one
// dictionary: a folder mixing codebooks is rejected).
func ReadLabelsMeta(dir string) (*LabelsMeta, error) {
	p := filepath.Join(dir, "labels.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	var m LabelsMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrData, p, err)
	}
	if m.K < 2 || !(m.LabelRate > 0) {
		return nil, fmt.Errorf("%w: %s: k %d and label rate %v must be >= 2 and > 0", ErrData, p, m.K, m.LabelRate)
	}
	dp := filepath.Join(dir, "dict.km.txt")
	f, err := os.Open(dp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if l, err := strconv.Atoi(fields[0]); err != nil || l != n {
			return nil, fmt.Errorf("%w: %s: line %d is %q, want label %d: the dictionary must list 0..k-1 once", ErrData, dp, n+1, sc.Text(), n)
		}
		n++
	}
	if n != m.K {
		return nil, fmt.Errorf("%w: %s has %d labels but %s says k = %d", ErrData, dp, n, p, m.K)
	}
	return &m, sc.Err()
}

// ReadSplitLabels reads <split>.km of a labels folder: path -> labels. Every
// label must be in [0, k); the first bad line is an error naming file:line.
func ReadSplitLabels(dir, split string, k int) (map[string][]int32, error) {
	p := filepath.Join(dir, split+".km")
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	defer f.Close()
	out := map[string][]int32{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		path, rest, ok := strings.Cut(sc.Text(), "\t")
		if !ok || path == "" {
			return nil, fmt.Errorf("%w: %s:%d: want path TAB labels", ErrData, p, line)
		}
		fields := strings.Fields(rest)
		ls := make([]int32, len(fields))
		for i, s := range fields {
			v, err := strconv.Atoi(s)
			if err != nil || v < 0 || v >= k {
				return nil, fmt.Errorf("%w: %s:%d: label %q outside the dictionary [0, %d)", ErrData, p, line, s, k)
			}
			ls[i] = int32(v)
		}
		if _, dup := out[path]; dup {
			return nil, fmt.Errorf("%w: %s:%d: %s listed twice", ErrData, p, line, path)
		}
		out[path] = ls
	}
	return out, sc.Err()
}

// Utterance is one pretraining example in memory.
type Utterance struct {
	Path   string    // relative to the data folder
	Wave   []float32 // 16 kHz samples
	Labels []int32   // one per CNN frame (50 Hz), aligned with audio.AlignLabels
}

// Corpus is a pretraining set with its frame labels.
type Corpus struct {
	Root         string
	Meta         LabelsMeta
	Train, Valid []Utterance
	Seconds      float64 // of train audio
}

// LoadCorpus reads the WAVs of a pretraining folder and the labels folder
// that describes them, validating everything before training starts: the
// dictionary (ReadLabelsMeta) has k entries (k = 0 accepts the folder's),
// the labels were made from this folder, every WAV has labels whose
// duration matches the audio (audio.AlignLabels, 0.1 s tolerance) and
// that lie in the dictionary, and every file passes LoadWave. Errors wrap
// ErrData and name the file.
func LoadCorpus(root, labelsDir string, cnn wavenc.Config, k int) (*Corpus, error) {
	meta, err := ReadLabelsMeta(labelsDir)
	if err != nil {
		return nil, err
	}
	if k != 0 && meta.K != k {
		return nil, fmt.Errorf("%w: %s has k = %d labels but the model predicts %d classes (num_classes)", ErrData, filepath.Join(labelsDir, "labels.json"), meta.K, k)
	}
	trainFiles, validFiles, err := Splits(root)
	if err != nil {
		return nil, err
	}
	c := &Corpus{Root: root, Meta: *meta}
	stack := cnn.Stack()
	rf := cnn.ReceptiveField()
	load := func(split string, files []string) ([]Utterance, error) {
		if len(files) == 0 {
			return nil, nil
		}
		labels, err := ReadSplitLabels(labelsDir, split, meta.K)
		if err != nil {
			return nil, err
		}
		if len(labels) != len(files) {
			return nil, fmt.Errorf("%w: %s lists %d utterances but %s has %d %s files: labels made for other data?", ErrData,
				filepath.Join(labelsDir, split+".km"), len(labels), root, len(files), split)
		}
		out := make([]Utterance, 0, len(files))
		for _, f := range files {
			ls, ok := labels[f]
			if !ok {
				return nil, fmt.Errorf("%w: %s has no labels for %s", ErrData, filepath.Join(labelsDir, split+".km"), f)
			}
			p := filepath.Join(root, filepath.FromSlash(f))
			w, err := LoadWave(p, rf)
			if err != nil {
				return nil, err
			}
			al, err := audio.AlignLabels(ls, meta.LabelRate, len(w), SampleRate, stack, meta.K)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: labels in %s: %v", ErrData, p, filepath.Join(labelsDir, split+".km"), err)
			}
			if len(al) == 0 {
				return nil, fmt.Errorf("%w: %s: no frames", ErrData, p)
			}
			out = append(out, Utterance{Path: f, Wave: w, Labels: al})
		}
		return out, nil
	}
	if c.Train, err = load("train", trainFiles); err != nil {
		return nil, err
	}
	if c.Valid, err = load("valid", validFiles); err != nil {
		return nil, err
	}
	for _, u := range c.Train {
		c.Seconds += float64(len(u.Wave)) / SampleRate
	}
	return c, nil
}
