package preprocess

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"

	"github.com/sslpipe/sslpipe/internal/buildinfo"
	"github.com/sslpipe/sslpipe/pipeline"
)

// FormatVersion names the layout of manifest.json and the shards.
const FormatVersion = "sslpipe-preprocess/1"

// Manifest is the content of DIR/manifest.json (and, with Part set, of a
// part manifest DIR/part-0000i-of-0000n.json). It holds nothing that varies
// between runs of the same command on the same inputs: no times, no host
// names, no output path.
type Manifest struct {
	Format      string   `json:"format"`
	Versions    Versions `json:"versions"`
	Options     Options  `json:"options"`
	Fingerprint string   `json:"fingerprint"` // sha256 of the options, the versions and the input listing
	InputsSHA   string   `json:"inputs_sha256"`
	Inputs      int      `json:"inputs"`   // inputs listed (documents for text)
	Samples     int      `json:"samples"`  // samples written
	Rejected    int      `json:"rejected"` // inputs rejected (errors.jsonl lines)
	ShardCount  int      `json:"shard_count"`
	// Fields are the member extensions of every sample, in member order.
	Fields []string `json:"fields"`
	// Classes maps .cls indices to label names when labels are not integers.
	Classes   []string     `json:"classes,omitempty"`
	Meta      *Meta        `json:"meta,omitempty"`
	Artifacts []Artifact   `json:"artifacts,omitempty"`
	Shards    []ShardInfo  `json:"shards"`
	ErrorsSHA string       `json:"errors_sha256,omitempty"`
	Part      *PartInfo    `json:"part,omitempty"`   // part manifests only
	Errors    []ErrorEntry `json:"errors,omitempty"` // part manifests only; manifest.json has errors.jsonl
}

// Versions are the versions of the code that made a dataset. Arch is part
// of it because floating-point features may round differently where the
// compiler fuses multiply-adds (arm64, not amd64): parts made on different
// architectures are not mixed.
type Versions struct {
	Sslpipe string `json:"sslpipe"`
	Go      string `json:"go"`
	Arch    string `json:"arch"`
}

func currentVersions() Versions {
	return Versions{Sslpipe: buildinfo.Version, Go: runtime.Version(), Arch: runtime.GOARCH}
}

// Meta describes the arrays in the samples.
type Meta struct {
	// audio
	SampleRate   int     `json:"sample_rate,omitempty"`
	WaveDType    string  `json:"wave_dtype,omitempty"`
	FeatureDim   int     `json:"feature_dim,omitempty"`
	FeatureRate  int     `json:"feature_rate,omitempty"` // frames per second
	LabelRate    int     `json:"label_rate,omitempty"`
	KMeansK      int     `json:"kmeans_k,omitempty"`
	AudioSeconds float64 `json:"audio_seconds,omitempty"`
	// text
	SeqLen    int    `json:"seq_len,omitempty"`
	VocabSize int    `json:"vocab_size,omitempty"`
	PadID     *int32 `json:"pad_id,omitempty"`
	Tokens    int64  `json:"tokens,omitempty"`
	TextBytes int64  `json:"text_bytes,omitempty"`
	// image
	ImageFormat string `json:"image_format,omitempty"`
}

// Artifact is a file the dataset depends on (a trained tokenizer, k-means
// centroids), stored in the output folder.
type Artifact struct {
	Kind   string `json:"kind"` // "tokenizer", "kmeans"
	Path   string `json:"path"` // relative to the output folder
	SHA256 string `json:"sha256"`
}

// ShardInfo describes one finished shard.
type ShardInfo struct {
	Name       string `json:"name"` // shard-000000.tar
	Index      int    `json:"index"`
	FirstInput int    `json:"first_input"`
	Inputs     int    `json:"inputs"`
	Samples    int    `json:"samples"`
	Rejected   int    `json:"rejected"`
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256"`
	// Extra, per modality: audio seconds written, text tokens and bytes.
	AudioSeconds float64 `json:"audio_seconds,omitempty"`
	Tokens       int64   `json:"tokens,omitempty"`
	TextBytes    int64   `json:"text_bytes,omitempty"`
}

// PartInfo identifies a part manifest.
type PartInfo struct {
	Index  int   `json:"index"`
	Count  int   `json:"count"`
	Shards []int `json:"shards"` // shard indices this part wrote
}

// ErrorEntry is one line of errors.jsonl: a rejected input.
type ErrorEntry struct {
	Input  int    `json:"input"`  // input index (listing order)
	Path   string `json:"path"`   // file, manifest line or tar member the input came from
	Kind   string `json:"kind"`   // short class: unreadable, decode, too-large, unsafe-tar-member, manifest, text, audio, panic
	Reason string `json:"reason"` // the full error
	Shard  string `json:"shard"`  // shard the input belonged to
}

// shardRecord is the completion record of one shard, DIR/.sslpipe/<shard>.json.
type shardRecord struct {
	Fingerprint string       `json:"fingerprint"`
	Shard       ShardInfo    `json:"shard"`
	Errors      []ErrorEntry `json:"errors"`
}

const stateDir = ".sslpipe"

// ShardName is the file name of shard j.
func ShardName(j int) string { return fmt.Sprintf("shard-%06d.tar", j) }

var shardNameRE = regexp.MustCompile(`^shard-[0-9]{6,}\.tar$`)
var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// PartManifestName is the file name of part i of n.
func PartManifestName(i, n int) string { return fmt.Sprintf("part-%05d-of-%05d.json", i, n) }

// marshal renders v as indented JSON with a final newline. It fails only
// on values JSON cannot hold (a NaN or infinite float that validation let
// through); the error is returned, never a panic.
func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("preprocess: encoding %T as JSON: %w", v, err)
	}
	return append(b, '\n'), nil
}

// writeJSONAtomic writes marshal(v) to path atomically and returns its sha256.
func writeJSONAtomic(path string, v any) (string, error) {
	b, err := marshal(v)
	if err != nil {
		return "", err
	}
	return writeFileAtomic(path, b)
}

// ErrManifest is wrapped by errors about a manifest that cannot be used.
var ErrManifest = errors.New("preprocess: bad manifest")

// ParseManifest decodes and validates a manifest (or part manifest): known
// format, shard names of the form shard-NNNNNN.tar and indices consistent
// with them, sha256 values in hex, counts that add up, artifact paths that
// stay inside the folder. name is used in errors.
func ParseManifest(data []byte, name string) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, name, err)
	}
	bad := func(format string, a ...any) (*Manifest, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrManifest, name, fmt.Sprintf(format, a...))
	}
	if m.Format != FormatVersion {
		return bad("format %q, want %q", m.Format, FormatVersion)
	}
	if !hexRE.MatchString(m.Fingerprint) {
		return bad("fingerprint %q is not a sha256", m.Fingerprint)
	}
	if m.Options.ShardSize < 1 {
		return bad("shard_size %d", m.Options.ShardSize)
	}
	if m.ShardCount < 0 || m.ShardCount > 1<<24 {
		return bad("shard_count %d", m.ShardCount)
	}
	samples, rejected := 0, 0
	seen := map[int]bool{}
	for _, s := range m.Shards {
		if !shardNameRE.MatchString(s.Name) || s.Name != ShardName(s.Index) {
			return bad("shard name %q does not match index %d", s.Name, s.Index)
		}
		if s.Index < 0 || s.Index >= m.ShardCount || seen[s.Index] {
			return bad("shard index %d out of range or repeated", s.Index)
		}
		seen[s.Index] = true
		if !hexRE.MatchString(s.SHA256) {
			return bad("%s: sha256 %q", s.Name, s.SHA256)
		}
		if s.Samples < 0 || s.Rejected < 0 || s.Inputs < 0 || s.Bytes < 0 {
			return bad("%s: negative count", s.Name)
		}
		samples += s.Samples
		rejected += s.Rejected
	}
	if m.Part == nil {
		if len(m.Shards) != m.ShardCount {
			return bad("%d shards listed, shard_count %d", len(m.Shards), m.ShardCount)
		}
		if samples != m.Samples || rejected != m.Rejected {
			return bad("shards hold %d samples and %d rejected, totals say %d and %d", samples, rejected, m.Samples, m.Rejected)
		}
	} else if m.Part.Count < 1 || m.Part.Index < 0 || m.Part.Index >= m.Part.Count {
		return bad("part %d of %d", m.Part.Index, m.Part.Count)
	}
	for _, a := range m.Artifacts {
		if err := CheckMemberName(a.Path); err != nil || filepath.Base(a.Path) != a.Path {
			return bad("artifact path %q must be a plain file name", a.Path)
		}
		if !hexRE.MatchString(a.SHA256) {
			return bad("artifact %s: sha256 %q", a.Path, a.SHA256)
		}
	}
	return &m, nil
}

// ReadManifest reads and validates DIR/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, "manifest.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	return ParseManifest(data, p)
}

// Shards returns the paths of a finished dataset's shards in order, read
// from DIR/manifest.json, for pipeline.Tar:
//
//	paths, err := preprocess.Shards(dir)
//	src, err := pipeline.Tar(paths...)
//
// With verify it also checks each shard's size and sha256 against the
// manifest (a full read of the dataset).
func Shards(dir string, verify bool) ([]string, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(m.Shards))
	for i, s := range m.Shards {
		p := filepath.Join(dir, s.Name)
		if verify {
			sum, n, err := fileSHA256(p)
			if err != nil {
				return nil, fmt.Errorf("preprocess: %w", err)
			}
			if sum != s.SHA256 || n != s.Bytes {
				return nil, fmt.Errorf("preprocess: %s: sha256 %s (%d bytes), manifest says %s (%d bytes)", p, sum, n, s.SHA256, s.Bytes)
			}
		}
		out[i] = p
	}
	return out, nil
}

// Open reads DIR/manifest.json and returns it with a pipeline source over
// the dataset's shards, in order (verify also checks every shard's sha256
// first). The trainer streams it like any pipeline.Source; Close the source
// when done. Each sample's Files are keyed by the manifest's Fields.
func Open(dir string, verify bool) (*Manifest, *pipeline.TarSource, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, nil, err
	}
	paths, err := Shards(dir, verify)
	if err != nil {
		return nil, nil, err
	}
	src, err := pipeline.Tar(paths...)
	if err != nil {
		return nil, nil, err
	}
	return m, src, nil
}
