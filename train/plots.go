package train

import (
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/plot"
)

// WritePlots renders RUN_DIR/metrics.jsonl into RUN_DIR/plots/: loss.png
// (training loss), knn.png (online kNN top-1, when the monitor ran),
// collapse.png (emb_std) and schedule.png (lr and tau). Run calls it at
// every checkpoint and at the end.
func WritePlots(runDir string) error {
	metrics := filepath.Join(runDir, "metrics.jsonl")
	dir := filepath.Join(runDir, "plots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	charts := []struct {
		file, title, ylabel string
		keys                []string
		ymin, ymax          float64
	}{
		{"loss.png", "BYOL loss", "loss", []string{"loss"}, 0, 0},
		{"knn.png", "online kNN top-1 (teacher backbone)", "top-1", []string{"knn_top1"}, 0, 1},
		{"collapse.png", "per-dimension std of normalized embeddings", "std", []string{"emb_std"}, 0, 0},
		{"schedule.png", "schedules", "value", []string{"lr", "tau"}, 0, 0},
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
		ch := plot.Chart{Title: c.title, XLabel: "step", YLabel: c.ylabel, Series: series, YMin: c.ymin, YMax: c.ymax}
		if err := ch.WritePNG(filepath.Join(dir, c.file)); err != nil {
			return err
		}
	}
	return nil
}
