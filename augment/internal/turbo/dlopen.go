//go:build linux && (amd64 || arm64) && !augment_noturbo

package turbo

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Open loads the TurboJPEG library at path (a file name is searched for
// as dlopen does) and resolves the functions Decode and Header call. It
// fails, leaving nothing loaded, when the library or one of the functions
// is missing. tjGetErrorCode is required too although it is not called:
// it came with libjpeg-turbo 2.0, the first release that honours
// TJFLAG_STOPONWARNING, so older libraries are refused.
func Open(path string) (*Lib, error) {
	dl, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("turbo: %w", err)
	}
	l := &Lib{path: path, handles: make(chan *handle, 64)}
	for _, s := range []struct {
		name string
		p    *uintptr
	}{
		{"tjInitDecompress", &l.initDecompress},
		{"tjDecompressHeader3", &l.decompressHeader3},
		{"tjDecompress2", &l.decompress2},
		{"tjDestroy", &l.destroy},
		{"tjGetErrorCode", new(uintptr)},
	} {
		if *s.p, err = purego.Dlsym(dl, s.name); err != nil {
			purego.Dlclose(dl)
			return nil, fmt.Errorf("turbo: %s: %w (libjpeg-turbo 2.0 or later needed)", path, err)
		}
	}
	l.decompressToYUVPlanes, _ = purego.Dlsym(dl, "tjDecompressToYUVPlanes")
	return l, nil
}

// The C ints returned are read from the low 32 bits of the result
// register; the upper bits are undefined.

func (l *Lib) newHandle() uintptr {
	r, _, _ := purego.SyscallN(l.initDecompress)
	return r
}

func (l *Lib) destroyHandle(h uintptr) { purego.SyscallN(l.destroy, h) }

func (l *Lib) header(hd *handle, data []byte) bool {
	r, _, _ := purego.SyscallN(l.decompressHeader3, hd.h,
		uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)),
		uintptr(unsafe.Pointer(&hd.out[0])), uintptr(unsafe.Pointer(&hd.out[1])),
		uintptr(unsafe.Pointer(&hd.out[2])), uintptr(unsafe.Pointer(&hd.out[3])))
	runtime.KeepAlive(data)
	runtime.KeepAlive(hd)
	return int32(r) == 0
}

func (l *Lib) decode(hd *handle, dst, data []byte, w, h, pf, flags int) bool {
	r, _, _ := purego.SyscallN(l.decompress2, hd.h,
		uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)),
		uintptr(unsafe.Pointer(&dst[0])), uintptr(w), 0, uintptr(h), uintptr(pf), uintptr(flags))
	runtime.KeepAlive(data)
	runtime.KeepAlive(dst)
	return int32(r) == 0
}

func (l *Lib) decodePlanes(hd *handle, planes *[3][]byte, data []byte, w, h, flags int) bool {
	// An array of three C pointers; the planes stay reachable (and Go's
	// heap does not move) until the call returns.
	ptrs := [3]uintptr{
		uintptr(unsafe.Pointer(&planes[0][0])), uintptr(unsafe.Pointer(&planes[1][0])), uintptr(unsafe.Pointer(&planes[2][0])),
	}
	r, _, _ := purego.SyscallN(l.decompressToYUVPlanes, hd.h,
		uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)),
		uintptr(unsafe.Pointer(&ptrs[0])), uintptr(w), 0, uintptr(h), uintptr(flags))
	runtime.KeepAlive(data)
	runtime.KeepAlive(planes)
	runtime.KeepAlive(&ptrs)
	return int32(r) == 0
}
