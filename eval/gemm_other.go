//go:build !amd64 || purego

package eval

// useAVX2 is false where the assembly kernel is not built.
const useAVX2 = false
