package datasets

import (
	"fmt"
	"strings"
)

// fmtSscan parses the example index from a "00042.png" file name.
func fmtSscan(name string, idx *int) (int, error) {
	return fmt.Sscanf(strings.TrimSuffix(name, ".png"), "%d", idx)
}
