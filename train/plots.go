package train

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/sslpipe/sslpipe/plot"
)

// WritePlots renders RUN_DIR/metrics.jsonl into RUN_DIR/plots/: loss.png,
// lr.png (with tau or other schedules a method logs), throughput.png
// (samples/s), knn.png (the online monitor) and one chart per other
// metric a method logs (<name>.png). Run calls it at the end.
func WritePlots(runDir string) error {
	metrics := filepath.Join(runDir, "metrics.jsonl")
	dir := filepath.Join(runDir, "plots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keys, err := metricKeys(metrics)
	if err != nil {
		return err
	}
	type chart struct {
		file, title, ylabel string
		keys                []string
		ymin, ymax          float64
		logY                bool
	}
	charts := []chart{
		{"loss.png", "training loss", "loss", []string{"loss"}, 0, 0, false},
		{"lr.png", "schedules", "value", []string{"lr", "tau", "ema_decay"}, 0, 0, false},
		{"throughput.png", "throughput", "samples/s", []string{"samples_per_s"}, 0, 0, false},
		{"knn.png", "online kNN top-1", "top-1", []string{"knn_top1"}, 0, 1, false},
	}
	skip := map[string]bool{"step": true, "epoch": true, "elapsed_s": true, "rss_mb": true, "nan_skipped": true, "bad_samples": true,
		"step_ms": true, "data_wait_fraction": true}
	for _, c := range charts {
		for _, k := range c.keys {
			skip[k] = true
		}
	}
	for _, k := range keys {
		if !skip[k] {
			charts = append(charts, chart{k + ".png", k, k, []string{k}, 0, 0, false})
		}
	}
	for _, c := range charts {
		series, err := plot.ReadJSONL(metrics, "step", c.keys...)
		if err != nil {
			return err
		}
		n := 0
		for _, s := range series {
			n += len(s.X)
		}
		if n == 0 {
			continue
		}
		ch := plot.Chart{Title: c.title, XLabel: "step", YLabel: c.ylabel, Series: series, YMin: c.ymin, YMax: c.ymax, LogY: c.logY}
		if err := ch.WritePNG(filepath.Join(dir, c.file)); err != nil {
			return err
		}
	}
	return nil
}

// metricKeys lists the numeric keys of a metrics.jsonl, sorted.
func metricKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		for k, v := range m {
			if _, ok := v.(float64); ok {
				seen[k] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return slices.Clip(out), sc.Err()
}
