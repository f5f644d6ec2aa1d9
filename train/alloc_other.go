//go:build !(linux && cgo)

package train

func tuneMalloc() bool { return false }
