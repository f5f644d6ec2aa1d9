package hubert_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/hubert"
)

// A preset through the method registry, the frame rate of its CNN, and a
// randomly initialized model.
func Example() {
	cfg, err := train.PresetConfig("hubert", "cpu-small")
	if err != nil {
		panic(err)
	}
	mc := cfg.Model.(*hubert.ModelConfig)
	fmt.Printf("%d samples per frame, receptive field %d, %d frames for 1 s, labels at %g Hz\n",
		mc.CNN.Stack().Stride(), mc.CNN.ReceptiveField(), mc.CNN.Frames(16000), mc.LabelRate())
	m, err := hubert.NewModel(*mc, cfg.Seed, gotch.CPU)
	if err != nil {
		panic(err)
	}
	defer m.Free()
	fmt.Println(m.Params.Count(), "parameters;", m.Params.List()[0].Name)
	// Output:
	// 320 samples per frame, receptive field 400, 49 frames for 1 s, labels at 50 Hz
	// 312944 parameters; wav2vec2.feature_extractor.conv_layers.0.conv.weight
}

// Check validates one example against the model before it is batched:
// here 60 labels for 1 s of audio, which makes 49 CNN frames.
func ExampleCheck() {
	cfg, _ := train.PresetConfig("hubert", "smoke")
	mc := *cfg.Model.(*hubert.ModelConfig)
	_, err := hubert.Check(data.Example{Key: "000042", Wave: make([]float32, 16000), Rate: 16000, Labels: make([]int32, 60)}, mc)
	fmt.Println(err)
	// Output:
	// hubert: bad data: sample 000042: 60 labels at 50 Hz for 16000 samples (1.000 s), which make 49 CNN frames (tolerance 5 frames, 0.1 s): labels made for other audio?
}
