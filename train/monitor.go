package train

import (
	"context"
	"fmt"

	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/train/data"
)

// knnMonitor is the online probe: a weighted kNN top-1 of the current
// encoder on held-out labelled subsets, loaded once.
type knnMonitor struct {
	cfg         MonitorConfig
	train, test []data.Example
	ytr, yte    []int
}

func (m *knnMonitor) load() error {
	get := func(spec string, n int) ([]data.Example, []int, error) {
		ds, err := data.Open(spec, data.Options{})
		if err != nil {
			return nil, nil, err
		}
		defer ds.Close()
		if !ds.Labelled {
			return nil, nil, fmt.Errorf("%s has no labels", spec)
		}
		ex, err := ds.Collect(context.Background(), n)
		if err != nil {
			return nil, nil, err
		}
		y := make([]int, len(ex))
		for i, e := range ex {
			y[i] = e.Class
		}
		return ex, y, nil
	}
	var err error
	if m.train, m.ytr, err = get(m.cfg.Train, m.cfg.NTrain); err != nil {
		return err
	}
	m.test, m.yte, err = get(m.cfg.Test, m.cfg.NTest)
	return err
}

func (m *knnMonitor) run(e Embedder) (float64, error) {
	if m.train == nil {
		if err := m.load(); err != nil {
			return 0, err
		}
	}
	return KNNTop1(e, m.train, m.test, m.ytr, m.yte, m.cfg.K, m.cfg.T)
}

// EmbedAll embeds examples in batches of batch.
func EmbedAll(e Embedder, ex []data.Example, batch int) (*eval.Matrix, error) {
	if batch <= 0 {
		batch = 256
	}
	var out *eval.Matrix
	for i := 0; i < len(ex); i += batch {
		vs, err := e.Embed(ex[i:min(len(ex), i+batch)])
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = &eval.Matrix{Cols: e.Dim(), Data: make([]float32, 0, len(ex)*e.Dim())}
		}
		for _, v := range vs {
			out.Data = append(out.Data, v...)
			out.Rows++
		}
	}
	if out == nil {
		out = &eval.Matrix{Cols: e.Dim()}
	}
	return out, nil
}

// KNNTop1 embeds train and test examples with e and returns the weighted
// kNN top-1 accuracy (k, t) of the test examples.
func KNNTop1(e Embedder, train, test []data.Example, ytr, yte []int, k int, t float64) (float64, error) {
	ftr, err := EmbedAll(e, train, 256)
	if err != nil {
		return 0, err
	}
	fte, err := EmbedAll(e, test, 256)
	if err != nil {
		return 0, err
	}
	pred, err := eval.KNN(ftr, ytr, fte, eval.KNNOptions{Settings: []eval.KNNSetting{{K: k, T: t}}})
	if err != nil {
		return 0, err
	}
	return eval.Accuracy(pred[0], yte), nil
}
