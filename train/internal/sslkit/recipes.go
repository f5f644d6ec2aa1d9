package sslkit

import (
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
)

// FashionMNISTNorm is Fashion-MNIST's pixel mean and std (BYOL's).
var FashionMNISTNorm = augment.Normalize{Mean: []float64{0.2860}, Std: []float64{0.3530}}

// FashionMNISTView is the CPU presets' view of a 28x28 gray image, BYOL's
// Fashion-MNIST view: a bilinear crop of scale (minScale, 1) resized to
// size, flip 0.5, brightness/contrast jitter 0.4 with p 0.8, no blur (too
// small), normalized with FashionMNISTNorm.
func FashionMNISTView(name string, size int, minScale float64) augment.View {
	return augment.View{
		Name: name, Size: size, Scale: [2]float64{minScale, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		Interp: augment.Bilinear, FlipP: 0.5, JitterP: 0.8, Jitter: augment.Jitter{Brightness: 0.4, Contrast: 0.4},
		Normalize: FashionMNISTNorm,
	}
}

// FashionMNISTPair is two such 28-pixel views, the second solarized with
// probability solarize (BYOL's asymmetry; 0 gives two views of one kind),
// one channel.
func FashionMNISTPair(name string, minScale, solarize float64) augment.Recipe {
	v1 := FashionMNISTView("view1", 28, minScale)
	v2 := FashionMNISTView("view2", 28, minScale)
	v2.SolarizeP = solarize
	return augment.Recipe{Name: name, Channels: 1, Views: []augment.View{v1, v2}}
}

// FashionMNISTMultiCrop is DINO's multi-crop sized for Fashion-MNIST: two
// 28-pixel global views of scale (globalMin, 1) (the second solarized
// with p 0.2) and nLocal local views of localSize pixels of scale
// (localScale[0], localScale[1]).
func FashionMNISTMultiCrop(name string, globalMin float64, nLocal, localSize int, localScale [2]float64) augment.Recipe {
	r := FashionMNISTPair(name, globalMin, 0.2)
	r.Views[0].Name, r.Views[1].Name = "global1", "global2"
	if nLocal > 0 {
		r.Views = append(r.Views, FashionMNISTLocal(nLocal, localSize, localScale))
	}
	return r
}

// FashionMNISTLocal is multi-crop's local view for Fashion-MNIST: n crops
// of size pixels and scale (scale[0], scale[1]), otherwise
// FashionMNISTView.
func FashionMNISTLocal(n, size int, scale [2]float64) augment.View {
	l := FashionMNISTView("local", size, scale[0])
	l.Scale, l.Count = scale, n
	return l
}

// CIFARNorm is CIFAR-10's channel mean and std (solo-learn's).
var CIFARNorm = augment.Normalize{Mean: []float64{0.4914, 0.4822, 0.4465}, Std: []float64{0.2470, 0.2435, 0.2616}}

// cifarView is solo-learn's CIFAR view: a bicubic crop of scale (0.08, 1)
// to 32 pixels, flip 0.5, color jitter j with p 0.8, grayscale 0.2.
func cifarView(name string, j augment.Jitter) augment.View {
	return augment.View{
		Name: name, Size: 32, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		Interp: augment.Bicubic, FlipP: 0.5, JitterP: 0.8, Jitter: j, GrayP: 0.2,
		BlurSigma: [2]float64{0.1, 2}, Normalize: CIFARNorm,
	}
}

// CIFARSymmetric is solo-learn's cifar/augmentations/symmetric.yaml (strong:
// jitter 0.8, 0.8, 0.8, 0.2) or symmetric_weak.yaml (0.4, 0.4, 0.4, 0.1):
// two views of one kind with blur p 0.5.
func CIFARSymmetric(strong bool) augment.Recipe {
	j, name := augment.Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}, "cifar-symmetric-weak"
	if strong {
		j, name = augment.Jitter{Brightness: 0.8, Contrast: 0.8, Saturation: 0.8, Hue: 0.2}, "cifar-symmetric"
	}
	v := cifarView("view", j)
	v.BlurP, v.Count = 0.5, 2
	return augment.Recipe{Name: name, Channels: 3, Views: []augment.View{v}}
}

// CIFARAsymmetric is solo-learn's cifar/augmentations/asymmetric.yaml:
// jitter (0.4, 0.4, 0.2, 0.1), no blur, the second view solarized with p
// 0.2.
func CIFARAsymmetric() augment.Recipe {
	j := augment.Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1}
	v1, v2 := cifarView("view1", j), cifarView("view2", j)
	v2.SolarizeP = 0.2
	return augment.Recipe{Name: "cifar-asymmetric", Channels: 3, Views: []augment.View{v1, v2}}
}

// FashionMNISTReproduce turns a method's fmnist-quick config into its
// fmnist-reproduce one, the recipe of the Fashion-MNIST comparison of the
// image methods (benchmarks/imgmethods/EXPERIMENTS.md): the ConvNet's 4x4
// pooled grid (2,048-d features; pilot simclr-p3), crops of scale 0.4-1 in
// every whole-image view (BYOL's fmnist-reproduce setting; DINO's local
// crops keep their scales), a 3,300-step
// cosine schedule with the given warm-up, checkpoints and the online kNN
// monitor every 500 steps. `sslpipe train --steps N` rescales the schedule
// to a CPU budget.
func FashionMNISTReproduce(c *train.Config, arch *nn.Arch, r *augment.Recipe, warmup int64) {
	arch.Pool = 4
	for i := range r.Views {
		if r.Views[i].Scale[1] == 1 {
			r.Views[i].Scale[0] = 0.4
		}
	}
	c.Schedule.Steps = 3300
	c.Schedule.WarmupSteps = warmup
	c.Checkpoint.Every = 500
	c.Monitor.Every = 500
}

// FashionMNISTMonitor is the CPU presets' online kNN probe: Fashion-MNIST
// (10,000 training and 2,000 test images, k 200, temperature 0.1), off
// until monitor.every is set.
func FashionMNISTMonitor() train.MonitorConfig {
	return train.MonitorConfig{Every: 0, Train: "fashion-mnist:train", Test: "fashion-mnist:test", NTrain: 10000, NTest: 2000, K: 200, T: 0.1}
}

// PretextCPU sets what the pretext comparison's CPU runs
// (benchmarks/pretext) share: batches of batch Fashion-MNIST training
// images on the CPU with one libtorch thread, steps steps of a cosine
// schedule after 50 warm-up steps, a log line every 50 steps, a
// checkpoint every 500 (keeping 2) and FashionMNISTMonitor. The model
// and the optimizer are the method's.
func PretextCPU(c *train.Config, batch int, steps int64) {
	c.Data.Spec = "fashion-mnist:train"
	c.Data.Batch = batch
	c.Device = "cpu"
	c.Threads = 1
	c.Schedule = train.ScheduleConfig{Steps: steps, WarmupSteps: 50, Kind: "cosine"}
	c.Log.Every = 50
	c.Checkpoint = train.CheckpointConfig{Every: 500, Keep: 2}
	c.Monitor = FashionMNISTMonitor()
}

// Smoke sets the run of a smoke preset (after the method's smallest
// network): batches of batch samples, 20 steps of a cosine schedule
// after 2 warm-up steps, a log line every 5 steps and a checkpoint every
// 10.
func Smoke(c *train.Config, batch int) {
	c.Data.Batch = batch
	c.Schedule = train.ScheduleConfig{Steps: 20, WarmupSteps: 2, Kind: "cosine"}
	c.Log.Every = 5
	c.Checkpoint.Every = 10
}
