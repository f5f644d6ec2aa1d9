package pipeline

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
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

// MaxOpenShards bounds the shard files a TarSource keeps open at once
// (default 64); the least recently used one is closed when another is
// needed, so the file descriptors in use do not grow with the shard count.
var MaxOpenShards = 64

// TarSource reads WebDataset tar shards without extracting them. Tar scans
// the member headers of every shard once (seeking over the data) and keeps
// a compact index: 12 bytes per sample plus its key (where its headers
// start and its last member ends, in 512-byte tar blocks) and the first
// sample of each shard, so its memory does not grow with the bytes of the dataset, only
// with its sample count. The source knows its length, seeks for resume and
// serves any sample by index with positioned reads (ReadAt), which are safe
// for concurrent use. Reading in source order streams each shard front to
// back.
//
// A truncated shard or a corrupt header ends that shard: the samples before
// it are kept, and the damaged one becomes a per-sample error naming the
// shard and offset. Close releases the open shard files.
type TarSource struct {
	shards []string
	first  []int            // first sample index of each shard, then the total
	spans  []tarSpan        // per sample
	keys   []byte           // every sample's key, concatenated
	keyEnd []uint32         // end of sample i's key in keys
	bad    map[int]badEntry // samples found damaged while indexing

	mu    sync.Mutex
	files []*openShard // by shard; nil when closed
	lru   []int        // open shards, least recently used first
}

// tarSpan is a sample's extent in its shard, in 512-byte blocks: its first
// header (extended headers included) to the end of its last member's
// padded data.
type tarSpan struct{ start, end uint32 }

// badEntry is a sample damaged in the index: its key (when known) and why.
type badEntry struct {
	key string
	err error
}

// openShard is an open shard file with the number of reads in flight.
type openShard struct {
	f      *os.File
	refs   int
	closed bool // evicted while in use: closed by the last release
}

// Tar indexes the given shard files, in the order given. A shard that cannot
// be opened is an error; damage inside a shard is per sample.
func Tar(shards ...string) (*TarSource, error) {
	t := &TarSource{shards: shards, files: make([]*openShard, len(shards)), bad: map[int]badEntry{}}
	for _, p := range shards {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("pipeline: tar: %w", err)
		}
		fi, err := f.Stat()
		t.first = append(t.first, len(t.spans))
		if err == nil {
			err = t.index(f, fi.Size())
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("pipeline: tar %s: %w", p, err)
		}
	}
	t.first = append(t.first, len(t.spans))
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

// maxShardBlocks is the largest shard the 32-bit block index addresses
// (2 TiB).
const maxShardBlocks = 1<<32 - 1

// index appends the samples of one shard to the index.
func (t *TarSource) index(f io.ReadSeeker, size int64) error {
	if size/512 > maxShardBlocks {
		return fmt.Errorf("%d bytes: shards above 2 TiB are not supported", size)
	}
	sc := &seekCounter{f: f, buf: make([]byte, 64<<10)}
	tr := tar.NewReader(sc)
	first := len(t.spans)
	var end int64 // end of the last entry's padded data: where the next headers begin
	var lastKey string
	var hdrStart int64
	markLast := func(err error) {
		last := len(t.spans) - 1
		if _, ok := t.bad[last]; !ok {
			t.bad[last] = badEntry{key: lastKey, err: err}
		}
	}
	for {
		hdrStart = end
		h, err := tr.Next()
		if err == io.EOF {
			// archive/tar accepts a stream cut at a block boundary as a clean
			// end; a complete shard has two zero blocks after the last member.
			if len(t.spans) > first && size < end+1024 {
				markLast(fmt.Errorf("tar: shard ends at byte %d without end-of-archive blocks: truncated, sample may be incomplete", size))
			}
			return nil
		}
		if err != nil {
			cerr := fmt.Errorf("tar: truncated or corrupt header at offset %d: %v", hdrStart, err)
			if len(t.spans) > first {
				if _, ok := t.bad[len(t.spans)-1]; !ok {
					// The damaged header may belong to the last sample: mark it.
					markLast(cerr)
					return nil
				}
			}
			t.bad[len(t.spans)] = badEntry{key: fmt.Sprintf("@%d", hdrStart), err: cerr}
			t.addSample(fmt.Sprintf("@%d", hdrStart), tarSpan{uint32(hdrStart / 512), uint32(hdrStart / 512)})
			return nil
		}
		off := sc.pos
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			if h.Size >= 0 && h.Size <= size {
				end = off + (h.Size+511)&^511
			}
			continue
		}
		key, _ := splitKey(h.Name)
		if len(t.spans) == first || lastKey != key {
			t.addSample(key, tarSpan{start: uint32(hdrStart / 512)})
			lastKey = key
		}
		cur := len(t.spans) - 1
		switch {
		case h.Size > MaxMemberSize:
			if _, ok := t.bad[cur]; !ok {
				t.bad[cur] = badEntry{key: key, err: fmt.Errorf("tar: member %s claims %d bytes (limit %d)", h.Name, h.Size, MaxMemberSize)}
			}
		case off+h.Size > size:
			t.bad[cur] = badEntry{key: key, err: fmt.Errorf("tar: member %s truncated: %d of %d bytes present", h.Name, max(size-off, 0), h.Size)}
			t.spans[cur].end = uint32((size + 511) / 512)
			return nil
		}
		end = off + (h.Size+511)&^511
		t.spans[cur].end = uint32(end / 512)
	}
}

// addSample appends a sample to the index.
func (t *TarSource) addSample(key string, sp tarSpan) {
	t.spans = append(t.spans, sp)
	t.keys = append(t.keys, key...)
	t.keyEnd = append(t.keyEnd, uint32(len(t.keys)))
}

// key is sample i's key.
func (t *TarSource) key(i int) string {
	lo := uint32(0)
	if i > 0 {
		lo = t.keyEnd[i-1]
	}
	return string(t.keys[lo:t.keyEnd[i]])
}

// Len returns the number of samples in all shards.
func (t *TarSource) Len() int { return len(t.spans) }

// shardOf returns the shard that holds sample i.
func (t *TarSource) shardOf(i int) int {
	return sort.Search(len(t.shards), func(s int) bool { return t.first[s+1] > i })
}

// Close closes the shard files opened by At and readers.
func (t *TarSource) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first error
	for i, o := range t.files {
		if o == nil {
			continue
		}
		if o.refs == 0 {
			if err := o.f.Close(); err != nil && first == nil {
				first = err
			}
		} else {
			o.closed = true
		}
		t.files[i] = nil
	}
	t.lru = nil
	return first
}

// acquire returns shard i's open file for a read; release ends the read.
// At most MaxOpenShards files are open (plus those still being read).
func (t *TarSource) acquire(i int) (*openShard, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if o := t.files[i]; o != nil {
		o.refs++
		t.touch(i)
		return o, nil
	}
	for len(t.lru) >= max(MaxOpenShards, 1) {
		old := t.lru[0]
		t.lru = t.lru[1:]
		if o := t.files[old]; o != nil {
			if o.refs == 0 {
				o.f.Close()
			} else {
				o.closed = true
			}
			t.files[old] = nil
		}
	}
	f, err := os.Open(t.shards[i])
	if err != nil {
		return nil, err
	}
	o := &openShard{f: f, refs: 1}
	t.files[i] = o
	t.lru = append(t.lru, i)
	return o, nil
}

func (t *TarSource) touch(i int) {
	for k, s := range t.lru {
		if s == i {
			copy(t.lru[k:], t.lru[k+1:])
			t.lru[len(t.lru)-1] = i
			return
		}
	}
}

func (t *TarSource) release(o *openShard) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o.refs--
	if o.refs == 0 && o.closed {
		o.f.Close()
	}
}

// OpenFiles is the number of shard files open now (for tests).
func (t *TarSource) OpenFiles() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, o := range t.files {
		if o != nil {
			n++
		}
	}
	return n
}

// At reads sample i.
func (t *TarSource) At(_ context.Context, i int) (Sample[TarSample], error) {
	if i < 0 || i >= len(t.spans) {
		return Sample[TarSample]{}, fmt.Errorf("pipeline: tar index %d out of range [0,%d)", i, len(t.spans))
	}
	s := t.ref(i)
	v, err := t.read(i)
	return With(s, v), err
}

// ref returns sample i's identity without reading it.
func (t *TarSource) ref(i int) Sample[TarRef] {
	shard := t.shards[t.shardOf(i)]
	key := t.key(i)
	return Sample[TarRef]{Index: i, Key: key, Origin: filepath.Base(shard), Value: TarRef{Key: key, Shard: shard, src: t, i: i}}
}

// read loads the members of sample i.
func (t *TarSource) read(i int) (TarSample, error) {
	si := t.shardOf(i)
	shard := t.shards[si]
	v := TarSample{Shard: shard, Key: t.key(i)}
	fail := func(err error) (TarSample, error) {
		return v, &SampleError{Index: i, Key: v.Key, Origin: filepath.Base(shard), Stage: "source", Err: err}
	}
	if b, ok := t.bad[i]; ok {
		return fail(b.err)
	}
	o, err := t.acquire(si)
	if err != nil {
		return v, fmt.Errorf("pipeline: tar: %w", err)
	}
	defer t.release(o)
	sp := t.spans[i]
	buf, err := readSpan(o.f, int64(sp.start)*512, int64(sp.end-sp.start)*512)
	if err != nil {
		return fail(fmt.Errorf("tar: read sample at block %d: %w", sp.start, err))
	}
	tr := tar.NewReader(bytes.NewReader(buf))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("tar: sample at block %d: %w", sp.start, err))
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			continue
		}
		key, ext := splitKey(h.Name)
		if v.Files == nil {
			v.Files = map[string][]byte{}
		}
		if key != v.Key {
			return fail(fmt.Errorf("tar: sample at block %d: member %s does not belong to key %s (shard changed since it was indexed?)", sp.start, h.Name, v.Key))
		}
		if h.Size > int64(len(buf)) {
			return fail(fmt.Errorf("tar: member %s claims %d bytes in a %d-byte sample (shard changed since it was indexed?)", h.Name, h.Size, len(buf)))
		}
		data := make([]byte, h.Size)
		if _, err := io.ReadFull(tr, data); err != nil {
			return fail(fmt.Errorf("tar: read member %s: %w", h.Name, err))
		}
		v.Files[ext] = data
	}
	if v.Files == nil {
		return fail(fmt.Errorf("tar: sample at block %d has no member", sp.start))
	}
	return v, nil
}

// readSpan reads size bytes at off of f. It allocates only after checking
// that the file still holds them: a shard that shrank or was replaced after
// Tar indexed it gives an error, not an allocation of the indexed size.
func readSpan(f *os.File, off, size int64) ([]byte, error) {
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
func (r *TarRefSource) Len() int { return len(r.t.spans) }

// At returns the reference of sample i.
func (r *TarRefSource) At(_ context.Context, i int) (Sample[TarRef], error) {
	if i < 0 || i >= len(r.t.spans) {
		return Sample[TarRef]{}, fmt.Errorf("pipeline: tar index %d out of range [0,%d)", i, len(r.t.spans))
	}
	s := r.t.ref(i)
	if b, ok := r.t.bad[i]; ok {
		return s, &SampleError{Index: i, Key: s.Key, Origin: s.Origin, Stage: "source", Err: b.err}
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
