package hubert_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/hubert"
)

// A preset, the frame rate of its CNN, and a randomly initialized model.
func Example() {
	cfg, err := hubert.Preset("cpu-small")
	if err != nil {
		panic(err)
	}
	cnn := cfg.Model.CNN
	fmt.Printf("%d samples per frame, receptive field %d, %d frames for 1 s\n",
		cnn.Stack().Stride(), cnn.ReceptiveField(), cnn.Frames(16000))
	m, err := hubert.NewModel(cfg.Model, cfg.Seed, gotch.CPU)
	if err != nil {
		panic(err)
	}
	defer m.Free()
	fmt.Println(m.Params.Count(), "parameters;", m.Params.List()[0].Name)
	// Output:
	// 320 samples per frame, receptive field 400, 49 frames for 1 s
	// 312944 parameters; wav2vec2.feature_extractor.conv_layers.0.conv.weight
}
