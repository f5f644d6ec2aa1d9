package summary_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/eval/summary"
)

func ExampleUpdate() {
	dir, _ := os.MkdirTemp("", "summary")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "summary.json")
	summary.Update(path, summary.Result{Modality: "image", Method: "byol", Probe: "knn",
		Trained: 0.87, RandomInit: 0.80, Baseline: 0.855, BaselineKind: "raw pixels", TrainSeconds: 420, Device: "cpu"})
	f, _ := summary.Update(path, summary.Result{Modality: "image", Method: "byol", Probe: "knn",
		Trained: 0.88, RandomInit: 0.80, Baseline: 0.855, BaselineKind: "raw pixels", TrainSeconds: 600, Device: "cpu"})
	fmt.Print(f.Markdown())
	// Output:
	// | modality | method | probe | trained | random init | baseline | baseline kind | train time | device |
	// |---|---|---|---:|---:|---:|---|---|---|
	// | image | byol | knn | 88.00% | 80.00% | 85.50% | raw pixels | 10.0 min | cpu |
}
