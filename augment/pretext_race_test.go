//go:build race

package augment

// raceEnabled skips the slowest single-goroutine computations under the
// race detector, which has nothing to find in them; `go test` without
// -race runs them.
const raceEnabled = true
