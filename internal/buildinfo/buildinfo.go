// Package buildinfo holds the version of sslpipe and the pinned versions of
// the native pieces it builds against. It is the one place they are written.
package buildinfo

// Version is the sslpipe release version.
const Version = "0.1.0-dev"

// GotchVersion is the github.com/sugarme/gotch module version whose C API
// the shim library is built from. It must match go.mod.
const GotchVersion = "v0.9.1"
