package data2vec

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/speechdata"
)

func tokCPU() gotch.Device { return gotch.CPU }

func fmtIndex(i int) string { return fmt.Sprintf("%05d", i) }

func writeWAV(path string, w []float32) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return speechdata.WriteWAV16(path, w, SampleRate)
}

func fakeImages(size int) *datasets.Images {
	return &datasets.Images{N: 1, H: size, W: size, C: 1, Pix: make([]uint8, size*size)}
}
