//go:build !amd64 || purego

package augment

func addSym(out, a, b []float32, k float32) { addSymGeneric(out, a, b, k) }
