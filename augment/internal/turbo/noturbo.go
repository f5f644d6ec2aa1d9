//go:build !cgo || augment_noturbo

package turbo

// Available reports whether this build decodes with libjpeg-turbo.
const Available = false

func Header(data []byte) (w, h int, gray, ok bool) { return 0, 0, false, false }

func Decode(dst []byte, data []byte, w, h, channels int) bool { return false }
