package preprocess

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Modalities accepted by Options.Modality.
const (
	Image = "image"
	Audio = "audio"
	Text  = "text"
)

// ErrOptions is wrapped by errors about invalid or inconsistent options
// (the command line maps it to a usage error).
var ErrOptions = errors.New("preprocess: invalid options")

// ErrTooManyErrors is wrapped when more inputs were rejected than
// Options.MaxErrors allows; the shards finished so far are kept and the
// same command resumes after the inputs are fixed.
var ErrTooManyErrors = errors.New("preprocess: too many rejected inputs")

// ErrOtherDataset is wrapped when the output folder already holds shards
// made with other options or inputs.
var ErrOtherDataset = errors.New("preprocess: output folder holds a different dataset")

// Options configures Run. Fields tagged for JSON are the settings that
// determine the output; they are recorded in manifest.json and fingerprinted
// so that resume never mixes shards of different settings. The others
// (workers, progress, part) do not change a single output byte.
type Options struct {
	Modality string `json:"modality"`
	// In is a folder, a file list (.txt/.lst, one path per line; image and
	// audio), a CSV/TSV/JSONL manifest with a path column and optional label
	// column, a .tar shard or a glob of shards ("in/*.tar"). For text it is
	// a corpus file (.txt, .jsonl) or a folder of them.
	In string `json:"in"`
	// Out is the output folder (created if needed).
	Out string `json:"-"`

	// ShardSize is the number of inputs per shard (default 1000; text
	// 100000 documents). Shard j
	// holds the samples of inputs [j*ShardSize, (j+1)*ShardSize); rejected
	// inputs leave a shard short. For text an input is a document and a
	// shard holds the sequences packed from its documents.
	ShardSize int `json:"shard_size"`

	// Labels: LabelsFromDirs takes the first folder below In as the label
	// (folder input); LabelColumn names the manifest column ("label" by
	// default; a manifest without it is unlabelled). Labels are written as
	// <key>.cls: the integer itself when every label is an integer,
	// otherwise the index in the sorted list of names (manifest "classes").
	LabelsFromDirs bool   `json:"labels_from_dirs,omitempty"`
	PathColumn     string `json:"path_column,omitempty"`
	LabelColumn    string `json:"label_column,omitempty"`

	// Image
	MaxSide   int    `json:"max_side,omitempty"`   // resize so the shorter side is at most this (0: keep)
	Format    string `json:"format,omitempty"`     // "jpeg" (default) or "png"
	Quality   int    `json:"quality,omitempty"`    // JPEG quality 1-100 (default 90)
	Interp    string `json:"interp,omitempty"`     // resize filter: bilinear (default) or bicubic
	MaxPixels int    `json:"max_pixels,omitempty"` // reject images whose header declares more (default augment.DefaultMaxPixels)

	// Audio
	Rate           int     `json:"rate,omitempty"`     // output sample rate (default 16000)
	DType          string  `json:"dtype,omitempty"`    // waveform dtype: int16 (default) or float32
	Features       string  `json:"features,omitempty"` // "", "mfcc" or "fbank"
	Deltas         bool    `json:"deltas,omitempty"`   // append delta and delta-delta (window 5)
	KMeans         int     `json:"kmeans,omitempty"`   // fit k-means with K clusters on the features
	KMeansFraction float64 `json:"kmeans_fraction,omitempty"`
	KMeansFrom     string  `json:"kmeans_from,omitempty"` // centroids .npy from an earlier run
	KMeansFromSHA  string  `json:"kmeans_from_sha256,omitempty"`
	LabelRate      int     `json:"label_rate,omitempty"`  // model frame rate of the k-means labels, Hz (default 50)
	MaxSeconds     float64 `json:"max_seconds,omitempty"` // reject longer recordings (default 3600)

	// Text
	Tokenizer      string `json:"tokenizer,omitempty"`        // tokenizer.json path
	TokenizerSHA   string `json:"tokenizer_sha256,omitempty"` // filled by Run
	TrainTokenizer string `json:"train_tokenizer,omitempty"`  // "wordpiece" or "bpe"
	Vocab          int    `json:"vocab,omitempty"`
	SeqLen         int    `json:"seq_len,omitempty"` // default 128
	Pack           string `json:"pack,omitempty"`    // "across" (default) or "one"
	Split          string `json:"split,omitempty"`   // corpus documents: lines (default), blank, file
	UTF8           string `json:"utf8,omitempty"`    // invalid UTF-8: error (default, rejected), skip, replace

	// Seed keys every random choice (k-means subset and init).
	Seed uint64 `json:"seed"`

	// Run-time settings that do not change the output.
	Part, Parts int `json:"-"` // process shards j with j % Parts == Part
	// MaxErrors stops the run (ErrTooManyErrors) once more inputs than this
	// were rejected; < 0 means no limit. The zero value stops at the first
	// rejected input; the command line's default is 100.
	MaxErrors int `json:"-"`
	// Resume requires an earlier, interrupted run in Out; without it a run
	// resumes when it finds one and starts afresh otherwise.
	Resume  bool `json:"-"`
	Workers int  `json:"-"` // decode/encode goroutines (default GOMAXPROCS)
	// Progress, if set, receives progress lines every ProgressEvery (default
	// 2s); ProgressTTY redraws one line with a bar instead.
	Progress      io.Writer     `json:"-"`
	ProgressTTY   bool          `json:"-"`
	ProgressEvery time.Duration `json:"-"`
}

func (o *Options) defaults() {
	o.Modality = strings.ToLower(o.Modality)
	if o.ShardSize == 0 {
		o.ShardSize = 1000
		if o.Modality == Text {
			o.ShardSize = 100000 // documents are often single lines
		}
	}
	if o.Parts == 0 {
		o.Parts = 1
	}
	switch o.Modality {
	case Image:
		if o.Format == "" {
			o.Format = "jpeg"
		}
		if o.Format == "jpg" {
			o.Format = "jpeg"
		}
		if o.Format == "jpeg" && o.Quality == 0 {
			o.Quality = 90
		}
		if o.Interp == "" {
			o.Interp = "bilinear"
		}
	case Audio:
		if o.Rate == 0 {
			o.Rate = 16000
		}
		if o.DType == "" {
			o.DType = "int16"
		}
		if o.LabelRate == 0 && (o.KMeans > 0 || o.KMeansFrom != "") {
			o.LabelRate = 50
		}
		if o.KMeans > 0 && o.KMeansFraction == 0 {
			o.KMeansFraction = 0.1
		}
		if o.MaxSeconds == 0 {
			o.MaxSeconds = 3600
		}
	case Text:
		if o.SeqLen == 0 {
			o.SeqLen = 128
		}
		if o.Pack == "" {
			o.Pack = "across"
		}
		if o.Split == "" {
			o.Split = "lines"
		}
		if o.UTF8 == "" {
			o.UTF8 = "error"
		}
	}
}

func optErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, a...))
}

// validate checks o after defaults.
func (o *Options) validate() error {
	if o.In == "" {
		return optErr("--in is required")
	}
	if o.Out == "" {
		return optErr("--out is required")
	}
	if o.ShardSize < 1 {
		return optErr("shard size %d must be >= 1", o.ShardSize)
	}
	if o.Parts < 1 || o.Part < 0 || o.Part >= o.Parts {
		return optErr("--part %d --parts %d: need 0 <= part < parts", o.Part, o.Parts)
	}
	notFor := func(name string, set bool, modality string) error {
		if set {
			return optErr("%s does not apply to --modality %s", name, modality)
		}
		return nil
	}
	imageSet := o.MaxSide != 0 || o.Format != "" || o.Quality != 0 || o.Interp != "" || o.MaxPixels != 0
	audioSet := o.Features != "" || o.Deltas || o.KMeans != 0 || o.KMeansFrom != "" || o.KMeansFraction != 0 || o.DType != "" || o.Rate != 0 || o.LabelRate != 0 || o.MaxSeconds != 0
	textSet := o.Tokenizer != "" || o.TrainTokenizer != "" || o.Vocab != 0 || o.SeqLen != 0 || o.Pack != "" || o.Split != "" || o.UTF8 != ""
	switch o.Modality {
	case Image:
		if err := notFor("audio options", audioSet, o.Modality); err != nil {
			return err
		}
		if err := notFor("text options", textSet, o.Modality); err != nil {
			return err
		}
		if o.MaxSide < 0 {
			return optErr("--max-side %d must be >= 0", o.MaxSide)
		}
		switch o.Format {
		case "jpeg":
			if o.Quality < 1 || o.Quality > 100 {
				return optErr("--quality %d must be in 1..100", o.Quality)
			}
		case "png":
			if o.Quality != 0 {
				return optErr("--quality applies to JPEG only (PNG is lossless)")
			}
		default:
			return optErr("--format %q: want jpeg or png", o.Format)
		}
		if o.Interp != "bilinear" && o.Interp != "bicubic" {
			return optErr("--interp %q: want bilinear or bicubic", o.Interp)
		}
	case Audio:
		if err := notFor("image options", imageSet, o.Modality); err != nil {
			return err
		}
		if err := notFor("text options", textSet, o.Modality); err != nil {
			return err
		}
		if o.Rate < 1000 || o.Rate > 192000 {
			return optErr("--rate %d out of range 1000..192000", o.Rate)
		}
		if o.DType != "int16" && o.DType != "float32" {
			return optErr("--dtype %q: want int16 or float32", o.DType)
		}
		switch o.Features {
		case "", "mfcc", "fbank":
		default:
			return optErr("--features %q: want mfcc or fbank", o.Features)
		}
		if o.Deltas && o.Features == "" {
			return optErr("--deltas needs --features")
		}
		if o.KMeans != 0 && o.KMeansFrom != "" {
			return optErr("--kmeans and --kmeans-from are exclusive")
		}
		if o.KMeans < 0 || o.KMeans == 1 {
			return optErr("--kmeans %d must be >= 2", o.KMeans)
		}
		if (o.KMeans > 0 || o.KMeansFrom != "") && o.Features == "" {
			return optErr("--kmeans needs --features (HuBERT: --features mfcc --deltas)")
		}
		if !(o.KMeansFraction >= 0 && o.KMeansFraction <= 1) { // also NaN
			return optErr("--kmeans-fraction %g must be in (0, 1]", o.KMeansFraction)
		}
		if o.LabelRate < 0 || o.LabelRate > 100 || (o.LabelRate > 0 && 100%o.LabelRate != 0) {
			return optErr("--label-rate %d must divide the 100 Hz feature rate", o.LabelRate)
		}
		if !(o.MaxSeconds > 0) || math.IsInf(o.MaxSeconds, 0) { // also NaN
			return optErr("--max-seconds %g must be a finite number > 0", o.MaxSeconds)
		}
	case Text:
		if err := notFor("image options", imageSet, o.Modality); err != nil {
			return err
		}
		if err := notFor("audio options", audioSet, o.Modality); err != nil {
			return err
		}
		if o.LabelsFromDirs || o.LabelColumn != "" || o.PathColumn != "" {
			return optErr("labels are not supported for --modality text")
		}
		if (o.Tokenizer == "") == (o.TrainTokenizer == "") {
			return optErr("text needs exactly one of --tokenizer FILE or --train-tokenizer wordpiece|bpe")
		}
		if o.TrainTokenizer != "" {
			if o.TrainTokenizer != "wordpiece" && o.TrainTokenizer != "bpe" {
				return optErr("--train-tokenizer %q: want wordpiece or bpe", o.TrainTokenizer)
			}
			if o.Vocab < 100 {
				return optErr("--train-tokenizer needs --vocab N (N >= 100)")
			}
		} else if o.Vocab != 0 {
			return optErr("--vocab applies to --train-tokenizer only")
		}
		if o.SeqLen < 4 || o.SeqLen > 1<<16 {
			return optErr("--seq-len %d out of range 4..65536", o.SeqLen)
		}
		if o.Pack != "across" && o.Pack != "one" {
			return optErr("--pack %q: want across or one", o.Pack)
		}
	default:
		return optErr("--modality %q: want image, audio or text", o.Modality)
	}
	return nil
}
