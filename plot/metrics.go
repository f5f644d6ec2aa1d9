package plot

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// ReadJSONL reads a metrics file of one JSON object per line (such as a
// run folder's metrics.jsonl) and returns one series per key in ys,
// against the numeric field x (e.g. "step"). A line that lacks a key, or
// whose value is null or not a number, contributes no point to that series
// (so an evaluation metric logged every N steps gives a sparser series).
// Blank lines are skipped; a line that is not valid JSON is an error naming
// the file and line. Missing keys give empty series.
func ReadJSONL(path, x string, ys ...string) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	defer f.Close()
	out := make([]Series, len(ys))
	for i, y := range ys {
		out[i].Name = y
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("plot: %s:%d: %v", path, line, err)
		}
		xv, ok := num(m[x])
		if !ok {
			continue
		}
		for i, y := range ys {
			if yv, ok := num(m[y]); ok {
				out[i].X = append(out[i].X, xv)
				out[i].Y = append(out[i].Y, yv)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("plot: %s: %w", path, err)
	}
	return out, nil
}

func num(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case string: // "NaN", "Inf" as some writers encode them
		switch t {
		case "NaN", "nan":
			return math.NaN(), true
		case "Inf", "+Inf", "inf":
			return math.Inf(1), true
		case "-Inf", "-inf":
			return math.Inf(-1), true
		}
	}
	return 0, false
}
