//go:build !amd64 || purego

package augment

func vertRowFast(dst, src []uint8, stride int, k []int32) int { return 0 }

func horizRowFast(out, row []uint8, cf *coeffs) bool { return false }
