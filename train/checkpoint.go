package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sslpipe/sslpipe/pipeline"
)

// ErrBadCheckpoint is wrapped by every error about a checkpoint that is
// truncated, corrupt, or made by a different configuration.
var ErrBadCheckpoint = errors.New("bad checkpoint")

// ErrNoCheckpoint means a run folder holds no checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// checkpointFormat is the version of State's layout.
const checkpointFormat = 1

// State is the JSON metadata of a checkpoint (safetensors "__metadata__"
// key "sslpipe").
type State struct {
	Format int    `json:"format"`
	Method string `json:"method"`
	Batch  int    `json:"batch"`
	Seed   uint64 `json:"seed"`
	World  int    `json:"world,omitempty"` // data-parallel processes (0 or 1: one)
	// Step is the number of optimizer steps taken (skipped ones included).
	Step       int64 `json:"step"`
	OptSteps   int64 `json:"opt_steps"` // updates applied (AdamW's t)
	NaNSkipped int64 `json:"nan_skipped"`
	// BadSamples is the number of samples skipped as unreadable so far.
	BadSamples int `json:"bad_samples,omitempty"`
	// Pipeline is the data position after the last consumed batch.
	Pipeline *pipeline.State `json:"pipeline"`
	// RNG: every random draw comes from streams keyed by (seed, epoch,
	// sample index, view) or by (seed, step), so the seed is the whole
	// RNG state.
	RNG string  `json:"rng"`
	LR  float64 `json:"lr"`
	// Extra holds method values (a schedule position, an EMA decay).
	Extra map[string]float64 `json:"extra,omitempty"`
	// Config is the fingerprint of the run's configuration: a resume with
	// another one is refused with the lines that differ.
	Config string `json:"config,omitempty"`
	SHA256 string `json:"sha256"` // of the tensor data section
}

var ckptName = regexp.MustCompile(`^step-(\d{8,})\.ckpt$`)

// CheckpointPath is RUN_DIR/checkpoints/step-%08d.ckpt.
func CheckpointPath(dir string, step int64) string {
	return filepath.Join(dir, "checkpoints", fmt.Sprintf("step-%08d.ckpt", step))
}

// RankStatePath is the file beside checkpoint ckpt that holds rank's
// own data position in a data-parallel run (ranks other than 0 skip bad
// samples on their own, so their positions differ from rank 0's).
func RankStatePath(ckpt string, rank int) string {
	return strings.TrimSuffix(ckpt, ".ckpt") + fmt.Sprintf(".rank%d.json", rank)
}

// Checkpoints lists a run folder's checkpoints, oldest first.
func Checkpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "checkpoints"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("train: %w", err)
	}
	type ck struct {
		step int64
		path string
	}
	var cs []ck
	for _, e := range ents {
		m := ckptName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		s, _ := strconv.ParseInt(m[1], 10, 64)
		cs = append(cs, ck{s, filepath.Join(dir, "checkpoints", e.Name())})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].step < cs[j].step })
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.path
	}
	return out, nil
}

// LatestCheckpoint returns the newest checkpoint of a run folder or an
// error wrapping ErrNoCheckpoint.
func LatestCheckpoint(dir string) (string, error) {
	cs, err := Checkpoints(dir)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("train: %s: %w", dir, ErrNoCheckpoint)
	}
	return cs[len(cs)-1], nil
}

// encodeCheckpoint serializes tensors and state (with its SHA-256 filled
// in) into a safetensors file image.
func encodeCheckpoint(tensors map[string]STensor, st State) ([]byte, error) {
	var body bytes.Buffer
	if err := WriteSafetensors(&body, tensors, nil); err != nil {
		return nil, err
	}
	// The data section is what follows the header of the tensor-only encoding.
	b := body.Bytes()
	hl := int(uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24)
	sum := sha256.Sum256(b[8+hl:])
	st.SHA256 = hex.EncodeToString(sum[:])
	st.Format = checkpointFormat
	mj, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := WriteSafetensors(&out, tensors, map[string]string{"sslpipe": string(mj), "format": "pt"}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeAtomic writes data to path through a temp file in the same folder:
// write, fsync, rename, fsync the folder. A crash leaves either the old
// state or the new file, never a partial one under the final name.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("train: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("train: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// pruneCheckpoints deletes all but the newest keep checkpoints.
func pruneCheckpoints(dir string, keep int) error {
	cs, err := Checkpoints(dir)
	if err != nil {
		return err
	}
	for len(cs) > keep {
		if err := os.Remove(cs[0]); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		ranks, _ := filepath.Glob(strings.TrimSuffix(cs[0], ".ckpt") + ".rank*.json")
		for _, f := range ranks {
			os.Remove(f)
		}
		cs = cs[1:]
	}
	return nil
}

// ReadCheckpoint reads and verifies a checkpoint file: safetensors
// structure, metadata, and the SHA-256 of the tensor data.
func ReadCheckpoint(path string) (map[string]STensor, *State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("train: %w", err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("train: checkpoint %s: %w: %s", path, ErrBadCheckpoint, fmt.Sprintf(format, a...))
	}
	tensors, meta, err := ParseSafetensors(data)
	if err != nil {
		return nil, nil, bad("%v", err)
	}
	mj, ok := meta["sslpipe"]
	if !ok {
		return nil, nil, bad("no sslpipe metadata (not an sslpipe checkpoint)")
	}
	var st State
	if err := json.Unmarshal([]byte(mj), &st); err != nil {
		return nil, nil, bad("metadata: %v", err)
	}
	if st.Format != checkpointFormat {
		return nil, nil, bad("format %d, this sslpipe reads %d", st.Format, checkpointFormat)
	}
	// The checksum covers the data section, which ParseSafetensors has
	// checked is tiled exactly by the tensors: hash the file's own bytes
	// rather than a re-encoded copy of every tensor.
	hl := binary.LittleEndian.Uint64(data)
	sum := sha256.Sum256(data[8+hl:])
	if hex.EncodeToString(sum[:]) != st.SHA256 {
		return nil, nil, bad("tensor data checksum mismatch (file corrupt)")
	}
	return tensors, &st, nil
}
