// Package transformer is the Transformer encoder shared by sslpipe's speech
// (and data2vec) models and the Vision Transformer of the image methods,
// with their parameters and AdamW, built on the op layer of package
// train/op (Tape, Catch, LockThread, ...).
//
// Params holds named parameters with deterministic Go-side initialization
// and safetensors import/export (train.STensor). Params and Encoders are
// not safe for concurrent use; run them on one locked OS thread
// (op.LockThread).
//
// # Encoder
//
//	p := transformer.NewParams(seed, gotch.CPU)
//	enc, err := transformer.New(p, "encoder.", transformer.Config{Dim: 256, Layers: 4, Heads: 4, FFN: 1024,
//		PosConvKernel: 32, PosConvGroups: 16})
//	var tp op.Tape
//	defer tp.Drop()
//	out := enc.Forward(&tp, x, transformer.Options{Train: true, Keep: true}) // x: B x T x 256
//	// out.Final, out.Blocks[i] (each block's output), out.FFN[i] (feed-forward
//	// output before the block's last residual: data2vec's targets)
//
// Blocks are post-LN (HuBERT/wav2vec 2.0 base) or pre-LN (LayerNormFirst);
// the convolutional relative positional embedding is wav2vec 2.0's.
// Parameter names follow torchaudio 0.13.
//
// # Vision Transformer
//
//	cfg, _ := transformer.ViTPreset("vit-small", 224, 3) // patch 16
//	vit, err := transformer.NewViT(p, "backbone.", cfg)
//	cls := vit.Forward(&tp, images, true)     // B x 384 (CLS after the final norm)
//	tok := vit.Tokens(&tp, localCrops, true)  // B x (1 + 6·6) x 384 at 96 px
//
// Pre-LN blocks with a fused qkv projection, a CLS token and a learnable
// position embedding interpolated bicubically for other input sizes
// (DINO's interpolate_pos_encoding); parameter names are timm's and
// DINO's VisionTransformer.
package transformer
