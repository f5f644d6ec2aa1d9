//go:build !cgo

package main

// cgoBuild: the libtorch commands are handed to sslpipe-torch (an exec):
// the flag table skips them in this build.
const cgoBuild = false
