//go:build !(linux && cgo)

package train

func blasThreads(int) int { return -1 }
