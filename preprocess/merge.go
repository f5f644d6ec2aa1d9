package preprocess

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// MergeOptions configures Merge.
type MergeOptions struct {
	// Dirs are the folders holding part manifests (part-*-of-*.json) and
	// their shards: one shared folder, or one folder per machine.
	Dirs []string
	// Out receives manifest.json and errors.jsonl; shards found in other
	// folders are copied into it (verified by sha256 while copying).
	// Default: Dirs[0].
	Out string
	// Verify checks the sha256 of every shard already in Out.
	Verify bool
}

// Merge combines the part manifests of a --part/--parts run into
// manifest.json and errors.jsonl. It checks that the parts come from the
// same options and inputs (equal fingerprints), that every part of the
// split is present exactly once and that every shard exists with its
// recorded size and sha256. The result is byte-identical to the manifest
// and errors.jsonl of a single-machine run.
func Merge(ctx context.Context, o MergeOptions) (*Manifest, error) {
	if len(o.Dirs) == 0 {
		return nil, fmt.Errorf("%w: merge needs at least one folder", ErrOptions)
	}
	if o.Out == "" {
		o.Out = o.Dirs[0]
	}
	type part struct {
		m   *Manifest
		dir string
	}
	var parts []part
	for _, d := range o.Dirs {
		ps, err := filepath.Glob(filepath.Join(d, "part-*-of-*.json"))
		if err != nil {
			return nil, fmt.Errorf("preprocess: merge: %w", err)
		}
		for _, p := range ps {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("preprocess: merge: %w", err)
			}
			m, err := ParseManifest(data, p)
			if err != nil {
				return nil, err
			}
			if m.Part == nil {
				return nil, fmt.Errorf("%w: %s is not a part manifest", ErrManifest, p)
			}
			if filepath.Base(p) != PartManifestName(m.Part.Index, m.Part.Count) {
				return nil, fmt.Errorf("%w: %s claims to be part %d of %d", ErrManifest, p, m.Part.Index, m.Part.Count)
			}
			parts = append(parts, part{m, d})
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("preprocess: merge: no part-*-of-*.json in %v", o.Dirs)
	}
	first := parts[0].m
	n := first.Part.Count
	have := make([]bool, n)
	for _, p := range parts {
		if p.m.Fingerprint != first.Fingerprint {
			return nil, fmt.Errorf("%w: %s holds part %d of a different run (fingerprint %.12s vs %.12s)", ErrOtherDataset, p.dir, p.m.Part.Index, p.m.Fingerprint, first.Fingerprint)
		}
		if p.m.Part.Count != n {
			return nil, fmt.Errorf("%w: parts of %d and of %d mixed", ErrManifest, n, p.m.Part.Count)
		}
		if have[p.m.Part.Index] {
			return nil, fmt.Errorf("%w: part %d found twice", ErrManifest, p.m.Part.Index)
		}
		have[p.m.Part.Index] = true
	}
	var missing []int
	for i, ok := range have {
		if !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("preprocess: merge: parts %v of %d are missing (not finished, or their folder not given)", missing, n)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, writeErr(o.Out, err)
	}
	m := *first
	m.Shards, m.Errors, m.Part = nil, nil, nil
	seen := map[int]bool{}
	for _, p := range parts {
		for _, s := range p.m.Shards {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if seen[s.Index] {
				return nil, fmt.Errorf("%w: shard %s listed by two parts", ErrManifest, s.Name)
			}
			seen[s.Index] = true
			if err := placeShard(p.dir, o.Out, s, o.Verify); err != nil {
				return nil, err
			}
			m.Shards = append(m.Shards, s)
		}
		m.Errors = append(m.Errors, p.m.Errors...)
		for _, a := range p.m.Artifacts {
			if err := placeArtifact(p.dir, o.Out, a); err != nil {
				return nil, err
			}
		}
	}
	if len(m.Shards) != m.ShardCount {
		return nil, fmt.Errorf("%w: parts list %d shards, the dataset has %d", ErrManifest, len(m.Shards), m.ShardCount)
	}
	slices.SortFunc(m.Shards, func(a, b ShardInfo) int { return a.Index - b.Index })
	if _, err := writeFinal(o.Out, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// placeShard makes sure shard s is in out with its recorded bytes: checked
// in place, or copied from dir through a temporary file and checked.
func placeShard(dir, out string, s ShardInfo, verify bool) error {
	src := filepath.Join(dir, s.Name)
	dst := filepath.Join(out, s.Name)
	if same(dir, out) {
		if !verify {
			fi, err := os.Stat(dst)
			if err != nil {
				return fmt.Errorf("preprocess: merge: %w", err)
			}
			if fi.Size() != s.Bytes {
				return fmt.Errorf("preprocess: merge: %s has %d bytes, its part manifest says %d", dst, fi.Size(), s.Bytes)
			}
			return nil
		}
		sum, n, err := fileSHA256(dst)
		if err != nil {
			return fmt.Errorf("preprocess: merge: %w", err)
		}
		if sum != s.SHA256 || n != s.Bytes {
			return fmt.Errorf("preprocess: merge: %s: sha256 %.12s (%d bytes), part manifest says %.12s (%d bytes)", dst, sum, n, s.SHA256, s.Bytes)
		}
		return nil
	}
	return copyVerified(src, dst, s.SHA256, s.Bytes)
}

func placeArtifact(dir, out string, a Artifact) error {
	if same(dir, out) {
		return nil
	}
	dst := filepath.Join(out, a.Path)
	if sum, _, err := fileSHA256(dst); err == nil && sum == a.SHA256 {
		return nil
	}
	return copyVerified(filepath.Join(dir, a.Path), dst, a.SHA256, -1)
}

func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// copyVerified copies src to dst atomically and checks the sha256 (and the
// size unless it is -1) on the way.
func copyVerified(src, dst, sha string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("preprocess: merge: %w", err)
	}
	defer f.Close()
	w, err := newAtomicWriter(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Abort()
		return writeErr(dst, err)
	}
	if got := fmt.Sprintf("%x", w.h.Sum(nil)); got != sha || (size >= 0 && w.n != size) {
		w.Abort()
		return fmt.Errorf("preprocess: merge: %s: sha256 %.12s (%d bytes), part manifest says %.12s", src, got, w.n, sha)
	}
	_, _, err = w.Commit()
	return err
}
