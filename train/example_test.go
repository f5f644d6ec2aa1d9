package train_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
)

func ExamplePreset() {
	cfg, err := train.Preset("byol", "fmnist-quick")
	if err != nil {
		panic(err)
	}
	cfg.Steps = 50 // override like a flag would
	fmt.Println(cfg.Arch.Name, cfg.Arch.Widths, cfg.Optim.Name, cfg.Batch, cfg.Steps, cfg.Tau.Kind, cfg.Tau.Base)
	// Output: convnet [16 32 64] adamw 256 50 cosine 0.99
}

func ExampleLRSchedule() {
	cfg, _ := train.Preset("byol", "default") // LARS 0.2 x batch/256
	s := cfg.LRSchedule()
	fmt.Printf("%.3g %.3g %.3g\n", s.At(0), s.At(cfg.WarmupSteps), s.At(cfg.Steps))
	// Output: 4e-05 0.2 0
}

func ExampleTauSchedule() {
	byol := train.TauSchedule{Kind: "cosine", Base: 0.996}
	d2v := train.TauSchedule{Kind: "linear", Base: 0.999, End: 0.9999, Steps: 30000}
	fmt.Printf("%.4f %.4f | %.5f %.5f\n", byol.At(0, 1000), byol.At(1000, 1000), d2v.At(15000, 0), d2v.At(60000, 0))
	// Output: 0.9960 1.0000 | 0.99945 0.99990
}
