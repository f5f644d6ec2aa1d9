package preprocess

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrUnsafeMember is wrapped by the error of an input tar member that could
// escape a folder if extracted: an absolute name, a ".." element, a
// backslash or NUL, or a type other than a regular file or directory
// (symlink, hard link, device, FIFO).
var ErrUnsafeMember = errors.New("unsafe tar member")

// CheckMemberName reports whether name is safe as a relative path below a
// folder: not empty, not absolute, no "..", ".", or empty elements, no
// backslash (a separator on Windows), no NUL or control characters.
func CheckMemberName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrUnsafeMember)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: absolute name %q", ErrUnsafeMember, name)
	case strings.ContainsAny(name, "\\\x00"):
		return fmt.Errorf("%w: backslash or NUL in %q", ErrUnsafeMember, name)
	case len(name) >= 2 && name[1] == ':':
		return fmt.Errorf("%w: drive letter in %q", ErrUnsafeMember, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character in %q", ErrUnsafeMember, name)
		}
	}
	for _, el := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		switch el {
		case "..":
			return fmt.Errorf("%w: %q has a .. element", ErrUnsafeMember, name)
		case "", ".":
			return fmt.Errorf("%w: %q has an empty or . element", ErrUnsafeMember, name)
		}
	}
	return nil
}

// TarMember is one regular-file member of an input tar, located by offset.
type TarMember struct {
	Name         string // as stored, checked by CheckMemberName
	Key, Field   string // WebDataset key (name up to the first dot of the base name) and field (the rest)
	Offset, Size int64  // data position in the tar file
}

// TarEntry is one WebDataset sample of an input tar (its consecutive
// members sharing a key) or, with Err set, one rejected member or a damaged
// tail of the archive.
type TarEntry struct {
	Key     string
	Members []TarMember
	Err     error
}

// MaxInputMember bounds an input tar member (1 GiB).
const MaxInputMember = 1 << 30

// ScanTar reads the member headers of a tar stream of size bytes (seeking
// over the data when r is an io.Seeker) and groups regular files into
// WebDataset samples. Nothing is extracted or allocated for member data.
// Unsafe members (ErrUnsafeMember) and members larger than MaxInputMember
// become entries with Err set, in stream order; directories are skipped. A
// corrupt or truncated archive ends the scan with one final entry carrying
// the error; the entries before it are kept.
func ScanTar(r io.Reader, size int64) []TarEntry {
	cr := &countReader{r: r}
	var tr *tar.Reader
	if sk, ok := r.(io.Seeker); ok {
		if p, err := sk.Seek(0, io.SeekCurrent); err == nil {
			cr.n = p
			tr = tar.NewReader(&seekCountReader{cr, sk})
		}
	}
	if tr == nil {
		tr = tar.NewReader(cr)
	}
	var out []TarEntry
	links := map[string]bool{} // symlink member names: a later member below one is rejected
	for {
		start := cr.n
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, TarEntry{Key: fmt.Sprintf("@%d", start), Err: fmt.Errorf("tar: corrupt or truncated header at offset %d: %v", start, err)})
		}
		off := cr.n // tar.Reader has consumed the header(s): data starts here
		switch h.Typeflag {
		case tar.TypeDir:
			if err := CheckMemberName(h.Name); err != nil {
				out = append(out, TarEntry{Key: h.Name, Err: err})
			}
			continue
		case tar.TypeReg, tar.TypeRegA:
		case tar.TypeSymlink:
			links[strings.TrimSuffix(h.Name, "/")] = true
			out = append(out, TarEntry{Key: h.Name, Err: fmt.Errorf("%w: %q is a symlink to %q", ErrUnsafeMember, h.Name, h.Linkname)})
			continue
		case tar.TypeLink:
			out = append(out, TarEntry{Key: h.Name, Err: fmt.Errorf("%w: %q is a hard link to %q", ErrUnsafeMember, h.Name, h.Linkname)})
			continue
		case tar.TypeXGlobalHeader:
			continue
		default:
			out = append(out, TarEntry{Key: h.Name, Err: fmt.Errorf("%w: %q has type %q (not a regular file)", ErrUnsafeMember, h.Name, string(rune(h.Typeflag)))})
			continue
		}
		if err := CheckMemberName(h.Name); err != nil {
			out = append(out, TarEntry{Key: h.Name, Err: err})
			continue
		}
		if l := throughLink(h.Name, links); l != "" {
			out = append(out, TarEntry{Key: h.Name, Err: fmt.Errorf("%w: %q runs through the symlink member %q", ErrUnsafeMember, h.Name, l)})
			continue
		}
		if h.Size < 0 || h.Size > MaxInputMember {
			out = append(out, TarEntry{Key: h.Name, Err: fmt.Errorf("tar: member %q claims %d bytes (limit %d)", h.Name, h.Size, int64(MaxInputMember))})
			continue
		}
		if size >= 0 && off+h.Size > size {
			return append(out, TarEntry{Key: h.Name, Err: fmt.Errorf("tar: member %q truncated: %d of %d bytes present", h.Name, max(size-off, 0), h.Size)})
		}
		dir, base := path.Split(h.Name)
		key, field := dir+base, ""
		if i := strings.IndexByte(base, '.'); i >= 0 {
			key, field = dir+base[:i], base[i+1:]
		}
		m := TarMember{Name: h.Name, Key: key, Field: field, Offset: off, Size: h.Size}
		if n := len(out); n > 0 && out[n-1].Err == nil && out[n-1].Key == key {
			out[n-1].Members = append(out[n-1].Members, m)
		} else {
			out = append(out, TarEntry{Key: key, Members: []TarMember{m}})
		}
	}
}

// countReader counts the bytes consumed through it and forwards Seek when
// the underlying reader can, so that tar.Reader skips member data.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// seekCountReader is used when r is an io.Seeker (files): tar.Reader then
// seeks over data instead of reading it.
type seekCountReader struct {
	*countReader
	s io.Seeker
}

func (c *seekCountReader) Seek(off int64, whence int) (int64, error) {
	p, err := c.s.Seek(off, whence)
	if err == nil {
		c.n = p
	}
	return p, err
}

// throughLink returns the first parent folder of name that is a symlink
// member, or "".
func throughLink(name string, links map[string]bool) string {
	if len(links) == 0 {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && links[name[:i]] {
			return name[:i]
		}
	}
	return ""
}
