//go:build !(linux && (amd64 || arm64)) || augment_noturbo

package turbo

// Open always fails in this build (see the package comment).
func Open(path string) (*Lib, error) { return nil, ErrNotBuilt }

func (l *Lib) newHandle() uintptr                                            { return 0 }
func (l *Lib) destroyHandle(h uintptr)                                       {}
func (l *Lib) header(hd *handle, data []byte) bool                           { return false }
func (l *Lib) decode(hd *handle, dst, data []byte, w, h, pf, flags int) bool { return false }
func (l *Lib) decodePlanes(hd *handle, planes *[3][]byte, data []byte, w, h, flags int) bool {
	return false
}
