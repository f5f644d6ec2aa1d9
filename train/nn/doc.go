// Package nn holds the model building blocks every sslpipe method shares:
// one parameter set (Params, with trainable tensors and buffers such as
// BatchNorm running statistics), layers (Conv2d, BatchNorm, Linear, the
// projector/predictor MLP), image backbones (the small ConvNet and
// ResNet-18 with torchvision's parameter names, selected by an Arch), the
// optimizers (SGD, LARS and AdamW as PyTorch 1.13 defines them, with
// multi-tensor updates where the shim has them) and the EMA teacher
// update.
//
// Everything runs on the op layer of package train/op. Tensors built here
// belong to their Params (freed by Params.Free); a layer's forward pass
// puts its temporaries on the op.Tape it is given. Params, layers and
// optimizers are not safe for concurrent use: run them on one locked OS
// thread (op.LockThread). Initial values are drawn by a Go RNG seeded by
// the caller, so the same seed gives the same weights on every device.
//
// # Parameters
//
//	p := nn.NewParams(seed, gotch.CPU)
//	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "resnet18-cifar", InChannels: 3})
//	head := nn.NewMLP(p, "projector", bb.Dim(), 4096, 256)
//	var tp op.Tape
//	defer tp.Drop()
//	z := head.Forward(&tp, bb.Forward(&tp, x, true), true)
//
// Parameter names follow PyTorch (torchvision's ResNet names, nn.Sequential
// indices for heads), so Params.Tensors exports weights that load into the
// equivalent torch.nn module with load_state_dict.
package nn
