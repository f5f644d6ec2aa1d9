package transformer_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/transformer"
)

// A ViT-Nano for 28-pixel images (patch 4, a 7 x 7 grid) embeds global
// crops and, with its position embedding interpolated, 12-pixel local
// crops.
func ExampleNewViT() {
	defer op.LockThread()()
	cfg, err := transformer.ViTPreset("vit-nano", 28, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := transformer.NewParams(1, gotch.CPU)
	defer p.Free()
	vit, err := transformer.NewViT(p, "backbone.", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = func() (err error) {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		global := tp.Float32(make([]float32, 2*28*28), gotch.CPU, 2, 1, 28, 28)
		local := tp.Float32(make([]float32, 2*12*12), gotch.CPU, 2, 1, 12, 12)
		fmt.Println("patch", cfg.Patch, "global", op.Shape(vit.Forward(&tp, global, false)),
			"local tokens", op.Shape(vit.Tokens(&tp, local, false)))
		return nil
	}()
	if err != nil {
		fmt.Println(err)
	}
	// Output: patch 4 global [2 128] local tokens [2 10 128]
}
