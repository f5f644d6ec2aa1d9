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
	"github.com/sslpipe/sslpipe/train/op"
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
	Arch   Arch   `json:"arch"`
	Heads  Heads  `json:"heads"`
	Optim  string `json:"optim"`
	Batch  int    `json:"batch"`
	Seed   uint64 `json:"seed"`
	// Step is the number of optimizer steps taken (skipped ones included).
	Step       int64 `json:"step"`
	OptSteps   int64 `json:"opt_steps"` // updates applied (AdamW's t)
	NaNSkipped int64 `json:"nan_skipped"`
	// Pipeline is the data position after the last consumed batch.
	Pipeline *pipeline.State `json:"pipeline"`
	// RNG: every random draw comes from streams keyed by (seed, epoch,
	// sample index, view) or by the seed alone (initialization), so the
	// seed is the whole RNG state.
	RNG string  `json:"rng"`
	LR  float64 `json:"lr"`
	Tau float64 `json:"tau"`
	// Config is the fingerprint of a Loop run's configuration (methods
	// other than BYOL, whose config is checked field by field).
	Config string `json:"config,omitempty"`
	SHA256 string `json:"sha256"` // of the tensor data section
}

var ckptName = regexp.MustCompile(`^step-(\d{8,})\.ckpt$`)

// CheckpointPath is RUN_DIR/checkpoints/step-%08d.ckpt.
func CheckpointPath(dir string, step int64) string {
	return filepath.Join(dir, "checkpoints", fmt.Sprintf("step-%08d.ckpt", step))
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

// snapshot copies named module tensors into safetensors entries.
func snapshot(out map[string]STensor, prefix string, m *Module) {
	for _, v := range m.vars {
		out[prefix+v.Name] = STensor{Shape: append([]int64(nil), v.Shape...), F32: op.ToFloat32(v.t)}
	}
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

// checkCompatible rejects a checkpoint made by a different configuration.
func (st *State) checkCompatible(path string, c *Config) error {
	var diffs []string
	if st.Method != c.Method {
		diffs = append(diffs, fmt.Sprintf("method %s vs %s", st.Method, c.Method))
	}
	if fmt.Sprint(st.Arch) != fmt.Sprint(c.Arch) {
		diffs = append(diffs, fmt.Sprintf("arch %+v vs %+v", st.Arch, c.Arch))
	}
	if st.Heads != c.Heads {
		diffs = append(diffs, fmt.Sprintf("heads %+v vs %+v", st.Heads, c.Heads))
	}
	if st.Optim != c.Optim.Name {
		diffs = append(diffs, fmt.Sprintf("optimizer %s vs %s", st.Optim, c.Optim.Name))
	}
	if st.Batch != c.Batch || st.Seed != c.Seed {
		diffs = append(diffs, fmt.Sprintf("batch/seed %d/%d vs %d/%d", st.Batch, st.Seed, c.Batch, c.Seed))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("train: checkpoint %s: %w: made by a different configuration: %s", path, ErrBadCheckpoint, strings.Join(diffs, "; "))
	}
	return nil
}

// loadInto copies tensors named prefix+var name into m, checking that
// every var is present with the same shape.
func loadInto(path string, m *Module, prefix string, tensors map[string]STensor, only func(*Var) bool) (err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, v := range m.vars {
		if only != nil && !only(v) {
			continue
		}
		t, ok := tensors[prefix+v.Name]
		if !ok {
			return fmt.Errorf("train: checkpoint %s: %w: missing tensor %s", path, ErrBadCheckpoint, prefix+v.Name)
		}
		if fmt.Sprint(t.Shape) != fmt.Sprint(v.Shape) || t.F32 == nil {
			return fmt.Errorf("train: checkpoint %s: %w: tensor %s has shape %v, model wants %v", path, ErrBadCheckpoint, prefix+v.Name, t.Shape, v.Shape)
		}
		c, err := fromFloat32CPU(t.F32, t.Shape...)
		if err != nil {
			return err
		}
		op.CopyInPlace(v.t, c)
		op.Free(c)
	}
	return nil
}
