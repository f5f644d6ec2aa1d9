package plot_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/plot"
)

func ExampleChart_WritePNG() {
	dir, _ := os.MkdirTemp("", "plot")
	defer os.RemoveAll(dir)
	c := &plot.Chart{
		Title: "kNN top-1 vs step", XLabel: "step", YLabel: "top-1", YMin: 0, YMax: 1,
		Series: []plot.Series{
			{Name: "trained", X: []float64{0, 500, 1000}, Y: []float64{0.70, 0.82, 0.86}},
			{Name: "raw pixels", X: []float64{0, 1000}, Y: []float64{0.855, 0.855}},
		},
	}
	err := c.WritePNG(filepath.Join(dir, "knn.png"))
	fmt.Println(err)
	// Output: <nil>
}
