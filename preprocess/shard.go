package preprocess

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Field is one member of a sample: <key>.<Name>.
type Field struct {
	Name string // e.g. "jpg", "cls", "wav.npy"
	Data []byte
}

// sampleOut is one sample to be written to a shard.
type sampleOut struct {
	Key    string
	Fields []Field
}

// epoch is the modification time of every member: fixed, so that shards
// are byte-identical whenever they are made.
var epoch = time.Unix(0, 0).UTC()

// outFile is what shard and record writers write to. The default is an
// *os.File; tests substitute one that fails like a full or read-only disk.
type outFile interface {
	io.Writer
	Sync() error
	Close() error
}

// createFile creates a file for writing; replaced in tests to inject faults.
var createFile = func(name string) (outFile, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

// atomicWriter writes a file under a hidden temporary name in the same
// folder and renames it to its final name on Commit, after a sync. Abort (or
// a failed Commit) removes the temporary file: the final name only ever
// holds complete files.
type atomicWriter struct {
	final, tmp string
	f          outFile
	bw         *bufio.Writer
	h          hash.Hash
	n          int64
	err        error
}

// tmpSeq makes temporary names unique within the process.
var tmpSeq atomic.Int64

// tmpName is a temporary name for final: hidden, in the same folder (so the
// rename is atomic), never matching shard-*.tar or manifest.json, and unique
// to this process and call, so that parts sharing a folder never write the
// same temporary file (they all write tokenizer.json or kmeans.model).
func tmpName(final string) string {
	return filepath.Join(filepath.Dir(final), fmt.Sprintf(".%s.%d-%d.tmp", filepath.Base(final), os.Getpid(), tmpSeq.Add(1)))
}

// removeStale deletes the temporary files a killed run left for final.
// Only for files with a single writer (a shard and its record belong to
// one part).
func removeStale(final string) {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".*.tmp"))
	for _, p := range old {
		os.Remove(p)
	}
}

func newAtomicWriter(final string) (*atomicWriter, error) {
	w := &atomicWriter{final: final, tmp: tmpName(final), h: sha256.New()}
	f, err := createFile(w.tmp)
	if err != nil {
		return nil, writeErr(final, err)
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, 1<<20)
	return w, nil
}

func (w *atomicWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		w.err = writeErr(w.final, err)
	}
	return n, w.err
}

// Commit flushes, syncs, closes and renames; it returns the sha256 (hex)
// and size of what was written.
func (w *atomicWriter) Commit() (string, int64, error) {
	err := w.err
	if err == nil {
		if e := w.bw.Flush(); e != nil {
			err = writeErr(w.final, e)
		}
	}
	if err == nil {
		if e := w.f.Sync(); e != nil {
			err = writeErr(w.final, e)
		}
	}
	if e := w.f.Close(); e != nil && err == nil {
		err = writeErr(w.final, e)
	}
	if err == nil {
		if e := os.Rename(w.tmp, w.final); e != nil {
			err = writeErr(w.final, e)
		}
	}
	if err != nil {
		os.Remove(w.tmp)
		return "", 0, err
	}
	syncDir(filepath.Dir(w.final))
	return hex.EncodeToString(w.h.Sum(nil)), w.n, nil
}

// Abort discards the temporary file.
func (w *atomicWriter) Abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ErrDiskFull and ErrReadOnly classify output failures (wrapped together
// with the system error) so that callers can tell the user what to do.
var (
	ErrDiskFull = errors.New("output disk full: free space and run the same command again to resume")
	ErrReadOnly = errors.New("output folder not writable")
)

// writeErr names the file and classifies disk-full and permission errors.
func writeErr(name string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("preprocess: writing %s: %w (%w)", name, err, ErrDiskFull)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("preprocess: writing %s: %w (%w)", name, err, ErrReadOnly)
	case strings.HasPrefix(err.Error(), "preprocess:"):
		return err
	}
	return fmt.Errorf("preprocess: writing %s: %w", name, err)
}

// shardWriter writes one WebDataset tar shard atomically.
type shardWriter struct {
	aw *atomicWriter
	tw *tar.Writer
}

func newShardWriter(final string) (*shardWriter, error) {
	removeStale(final)
	aw, err := newAtomicWriter(final)
	if err != nil {
		return nil, err
	}
	return &shardWriter{aw: aw, tw: tar.NewWriter(aw)}, nil
}

// Add appends the members of one sample, in the order of its fields.
func (s *shardWriter) Add(x sampleOut) error {
	for _, f := range x.Fields {
		name := x.Key + "." + f.Name
		if err := CheckMemberName(name); err != nil {
			return fmt.Errorf("preprocess: internal: output member %w", err)
		}
		h := &tar.Header{
			Typeflag: tar.TypeReg, Name: name, Size: int64(len(f.Data)), Mode: 0o644,
			ModTime: epoch, Format: tar.FormatUSTAR,
		}
		if err := s.tw.WriteHeader(h); err != nil {
			return s.fail(err)
		}
		if _, err := s.tw.Write(f.Data); err != nil {
			return s.fail(err)
		}
	}
	return nil
}

func (s *shardWriter) fail(err error) error {
	if s.aw.err != nil {
		return s.aw.err
	}
	return writeErr(s.aw.final, err)
}

// Commit ends the archive and renames it to its final name.
func (s *shardWriter) Commit() (string, int64, error) {
	if err := s.tw.Close(); err != nil {
		s.aw.Abort()
		return "", 0, s.fail(err)
	}
	return s.aw.Commit()
}

// Abort removes the partial shard.
func (s *shardWriter) Abort() { s.aw.Abort() }

// writeFileAtomic writes data to path through a temporary file.
func writeFileAtomic(path string, data []byte) (string, error) {
	w, err := newAtomicWriter(path)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return "", err
	}
	sum, _, err := w.Commit()
	return sum, err
}

// fileSHA256 returns the hex sha256 and size of the file at path.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
