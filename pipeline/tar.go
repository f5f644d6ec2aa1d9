package pipeline

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// TarSample is one WebDataset sample: the consecutive members of a shard
// that share a key (the member name up to the first dot of its base name),
// e.g. 000123.jpg and 000123.cls form key "000123" with Files "jpg" and "cls".
type TarSample struct {
	Key   string
	Shard string            // shard path
	Files map[string][]byte // member contents by extension
}

// MaxMemberSize bounds a tar member's size (default 1 GiB): a member whose
// header claims more is a per-sample error, and nothing is allocated for it.
var MaxMemberSize int64 = 1 << 30

// TarSource reads WebDataset tar shards without extracting them. Tar scans
// the member headers of every shard once (seeking over the data), so the
// source knows its length, seeks for resume and serves any sample by index
// with positioned reads (ReadAt), which are safe for concurrent use.
// Reading in source order streams each shard front to back.
//
// A truncated shard or a corrupt header ends that shard: the samples before
// it are kept, and the damaged one becomes a per-sample error naming the
// shard and offset. Close releases the open shard files.
type TarSource struct {
	shards  []string
	entries []tarEntry

	mu    sync.Mutex
	files []*os.File
}

type tarEntry struct {
	shard   int
	key     string
	members []tarMember
	err     error
}

type tarMember struct {
	ext       string
	off, size int64
}

// Tar indexes the given shard files, in the order given. A shard that cannot
// be opened is an error; damage inside a shard is per sample.
func Tar(shards ...string) (*TarSource, error) {
	t := &TarSource{shards: shards, files: make([]*os.File, len(shards))}
	for i, p := range shards {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("pipeline: tar: %w", err)
		}
		fi, err := f.Stat()
		if err == nil {
			t.entries, err = indexTar(t.entries, i, f, fi.Size())
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("pipeline: tar %s: %w", p, err)
		}
	}
	return t, nil
}

// TarGlob is Tar over the files matching a filepath.Glob pattern, sorted.
func TarGlob(pattern string) (*TarSource, error) {
	m, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("pipeline: tar: %w", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("pipeline: tar: no shard matches %s", pattern)
	}
	return Tar(m...)
}

// splitKey splits a member name into WebDataset key and extension.
func splitKey(name string) (key, ext string) {
	dir, base := path.Split(name)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		return dir + base[:i], base[i+1:]
	}
	return name, ""
}

// seekCounter is a buffered io.ReadSeeker that knows its logical position;
// tar.Reader uses its Seek to skip member data.
type seekCounter struct {
	f       io.ReadSeeker
	buf     []byte
	r, w    int
	pos     int64 // logical position of buf[r]
	filePos int64
}

func (s *seekCounter) Read(p []byte) (int, error) {
	if s.r == s.w {
		if len(p) >= len(s.buf) {
			n, err := s.f.Read(p)
			s.pos += int64(n)
			s.filePos += int64(n)
			return n, err
		}
		n, err := s.f.Read(s.buf)
		s.filePos += int64(n)
		s.r, s.w = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	s.pos += int64(n)
	return n, nil
}

func (s *seekCounter) Seek(off int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = off
	case io.SeekCurrent:
		abs = s.pos + off
	default:
		end, err := s.f.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		s.filePos = end
		s.r, s.w = 0, 0
		abs = end + off
	}
	if abs < 0 {
		return 0, errors.New("negative position")
	}
	if d := abs - s.pos; d >= 0 && d <= int64(s.w-s.r) {
		s.r += int(d)
		s.pos = abs
		return abs, nil
	}
	if _, err := s.f.Seek(abs, io.SeekStart); err != nil {
		return 0, err
	}
	s.filePos, s.pos = abs, abs
	s.r, s.w = 0, 0
	return abs, nil
}

// indexTar appends the samples of one shard to entries.
func indexTar(entries []tarEntry, shard int, f io.ReadSeeker, size int64) ([]tarEntry, error) {
	sc := &seekCounter{f: f, buf: make([]byte, 64<<10)}
	tr := tar.NewReader(sc)
	first := len(entries)
	var end int64 // end of the last member's padded data
	for {
		hdrStart := sc.pos
		h, err := tr.Next()
		if err == io.EOF {
			// archive/tar accepts a stream cut at a block boundary as a clean
			// end; a complete shard has two zero blocks after the last member.
			if len(entries) > first && size < end+1024 {
				if last := &entries[len(entries)-1]; last.err == nil {
					last.err = fmt.Errorf("tar: shard ends at byte %d without end-of-archive blocks: truncated, sample may be incomplete", size)
				}
			}
			return entries, nil
		}
		if err != nil {
			key := fmt.Sprintf("@%d", hdrStart)
			if len(entries) > first {
				last := &entries[len(entries)-1]
				if last.err == nil {
					// The damaged header may belong to the last sample: mark it.
					last.err = fmt.Errorf("tar: truncated or corrupt header at offset %d: %v", hdrStart, err)
					return entries, nil
				}
			}
			entries = append(entries, tarEntry{shard: shard, key: key, err: fmt.Errorf("tar: truncated or corrupt header at offset %d: %v", hdrStart, err)})
			return entries, nil
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			continue
		}
		key, ext := splitKey(h.Name)
		off := sc.pos
		if len(entries) == first || entries[len(entries)-1].key != key {
			entries = append(entries, tarEntry{shard: shard, key: key})
		}
		e := &entries[len(entries)-1]
		switch {
		case h.Size > MaxMemberSize:
			e.err = fmt.Errorf("tar: member %s claims %d bytes (limit %d)", h.Name, h.Size, MaxMemberSize)
		case off+h.Size > size:
			e.err = fmt.Errorf("tar: member %s truncated: %d of %d bytes present", h.Name, max(size-off, 0), h.Size)
			return entries, nil
		}
		e.members = append(e.members, tarMember{ext: ext, off: off, size: h.Size})
		end = off + (h.Size+511)&^511
	}
}

// Len returns the number of samples in all shards.
func (t *TarSource) Len() int { return len(t.entries) }

// Close closes the shard files opened by At and readers.
func (t *TarSource) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first error
	for i, f := range t.files {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
			t.files[i] = nil
		}
	}
	return first
}

func (t *TarSource) file(i int) (*os.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.files[i] == nil {
		f, err := os.Open(t.shards[i])
		if err != nil {
			return nil, err
		}
		t.files[i] = f
	}
	return t.files[i], nil
}

// At reads sample i.
func (t *TarSource) At(_ context.Context, i int) (Sample[TarSample], error) {
	if i < 0 || i >= len(t.entries) {
		return Sample[TarSample]{}, fmt.Errorf("pipeline: tar index %d out of range [0,%d)", i, len(t.entries))
	}
	s := t.ref(i)
	v, err := t.read(i)
	return With(s, v), err
}

// ref returns sample i's identity without reading it.
func (t *TarSource) ref(i int) Sample[TarRef] {
	e := &t.entries[i]
	shard := t.shards[e.shard]
	return Sample[TarRef]{Index: i, Key: e.key, Origin: filepath.Base(shard), Value: TarRef{Key: e.key, Shard: shard, src: t, i: i}}
}

// read loads the members of sample i.
func (t *TarSource) read(i int) (TarSample, error) {
	e := &t.entries[i]
	shard := t.shards[e.shard]
	v := TarSample{Key: e.key, Shard: shard}
	fail := func(err error) (TarSample, error) {
		return v, &SampleError{Index: i, Key: e.key, Origin: filepath.Base(shard), Stage: "source", Err: err}
	}
	if e.err != nil {
		return fail(e.err)
	}
	f, err := t.file(e.shard)
	if err != nil {
		return v, fmt.Errorf("pipeline: tar: %w", err)
	}
	v.Files = make(map[string][]byte, len(e.members))
	for _, m := range e.members {
		buf, err := readMember(f, m.off, m.size)
		if err != nil {
			return fail(fmt.Errorf("tar: read member %s.%s: %w", e.key, m.ext, err))
		}
		v.Files[m.ext] = buf
	}
	return v, nil
}

// readMember reads size bytes at off of f. It allocates only after checking
// that the file still holds them: a shard that shrank or was replaced after
// Tar indexed it gives an error, not an allocation of the indexed size.
func readMember(f *os.File, off, size int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if off+size > fi.Size() {
		return nil, fmt.Errorf("%d bytes at offset %d, but the shard now has %d bytes (changed since it was indexed)", size, off, fi.Size())
	}
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}

// TarRef locates one sample of a TarSource without its contents.
type TarRef struct {
	Key, Shard string
	src        *TarSource
	i          int
}

// TarRefSource is a TarSource whose samples are TarRefs: reading it costs
// nothing, and ReadTar loads the members on a Map's workers, so that shard
// reads run in parallel (reading a TarSource directly happens serially, in
// the stage that pulls from the source). Damaged samples found by the index
// are per-sample errors here already.
type TarRefSource struct{ t *TarSource }

// Refs returns the TarRefSource of t.
func (t *TarSource) Refs() *TarRefSource { return &TarRefSource{t} }

// Len returns the number of samples.
func (r *TarRefSource) Len() int { return len(r.t.entries) }

// At returns the reference of sample i.
func (r *TarRefSource) At(_ context.Context, i int) (Sample[TarRef], error) {
	if i < 0 || i >= len(r.t.entries) {
		return Sample[TarRef]{}, fmt.Errorf("pipeline: tar index %d out of range [0,%d)", i, len(r.t.entries))
	}
	s := r.t.ref(i)
	if err := r.t.entries[i].err; err != nil {
		return s, &SampleError{Index: i, Key: s.Key, Origin: s.Origin, Stage: "source", Err: err}
	}
	return s, nil
}

// Open returns a reader at sample start.
func (r *TarRefSource) Open(ctx context.Context, start int) (Reader[TarRef], error) {
	return OpenAt[TarRef](ctx, r, start)
}

// ReadTar is a MapFunc that loads the members of a TarRef.
func ReadTar(_ context.Context, s Sample[TarRef]) (TarSample, error) {
	if s.Value.src == nil {
		return TarSample{}, errors.New("pipeline: ReadTar: TarRef not from a TarRefSource")
	}
	return s.Value.src.read(s.Value.i)
}

// Open returns a reader at sample start; it seeks using the index.
func (t *TarSource) Open(ctx context.Context, start int) (Reader[TarSample], error) {
	return OpenAt[TarSample](ctx, t, start)
}
