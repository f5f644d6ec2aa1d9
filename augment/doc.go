// Package augment implements torchvision-compatible image augmentations and
// the view recipes of multi-view self-supervised learning (BYOL, SimCLR,
// SimSiam, DINO multi-crop) plus patch masks for masked image modelling.
//
// Images are 8-bit, interleaved, 1 or 3 channels (type Image). Every
// operation is a pure function of its inputs and, where random, of an
// explicit *rand.Rand: nothing reads a global RNG or the clock. The
// semantics follow torchvision 0.14 applied to PIL images, which is what
// the reference SSL code bases (solo-learn, DINO, BYOL ports) run:
//
//   - Resize and ResizedCrop reproduce Pillow's antialiased resampling
//     bit for bit (same coefficients, same 22-bit fixed point, horizontal
//     pass first);
//   - AdjustBrightness, AdjustContrast, AdjustSaturation reproduce
//     PIL.ImageEnhance (Image.blend with float32 alpha, truncation);
//     AdjustHue reproduces torchvision's PIL path (HSV with a uint8 hue
//     shift that wraps);
//   - GaussianBlur reproduces torchvision's tensor gaussian_blur (the op
//     torchvision applies to PIL images too): float kernel from the
//     kernel size and sigma, reflect padding, rounding back to uint8. It
//     runs separably, which is mathematically the same as torchvision's
//     2-D convolution, and drops kernel taps below 1e-7;
//   - random parameters are drawn exactly as the torchvision transforms do
//     (RandomResizedCropParams with its 10 attempts and ratio-clamped
//     central fallback, ColorJitterParams with its random op order), from
//     the given *rand.Rand instead of torch's generator.
//
// Decoding: Decode reads JPEG and PNG. JPEGs are decoded with
// libjpeg-turbo, the library Pillow uses, giving PIL's pixels exactly,
// whenever libturbojpeg.so.0 (libjpeg-turbo 2.0 or later) is on the
// machine: it is loaded at run time, without cgo, so that the same binary
// runs, with Go's image/jpeg instead, where the library is absent.
// JPEGDecoder says which decoder was chosen at start-up; DecoderEnv
// forces image/jpeg.
//
// Ownership: an operation writes into a destination Image that it resizes
// as needed (Image.Reset) and never retains its inputs. A Scratch holds the
// temporary buffers of one goroutine; it must not be shared between
// goroutines. Everything else is safe for concurrent use. No function in
// this package starts goroutines: parallelism belongs to the caller (one
// level, per sample across workers).
package augment
