package eval

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine KNN, Neighbors, LinearProbe and MeanMFCC start is
// joined before they return.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
