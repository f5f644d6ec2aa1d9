//go:build cgo

package main

// cgoBuild: the libtorch commands run in this test binary.
const cgoBuild = true
