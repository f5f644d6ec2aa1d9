package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist package
// installs the files. The SSLPIPE_FASHION_MNIST environment variable
// overrides it in FashionMNISTDir.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses are the ten class names, indexed by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// FashionMNISTFolderNames are file-system-safe versions of
// FashionMNISTClasses, used by WriteFolder for Fashion-MNIST; they sort in
// label order so that a labelled folder read back keeps the labels.
var FashionMNISTFolderNames = []string{
	"0-tshirt-top", "1-trouser", "2-pullover", "3-dress", "4-coat",
	"5-sandal", "6-shirt", "7-sneaker", "8-bag", "9-ankle-boot",
}

// FashionMNISTDir returns $SSLPIPE_FASHION_MNIST if set, else
// DefaultFashionMNISTDir.
func FashionMNISTDir() string {
	if d := os.Getenv("SSLPIPE_FASHION_MNIST"); d != "" {
		return d
	}
	return DefaultFashionMNISTDir
}

// FashionMNIST reads split "train" (60,000 images) or "test" (10,000; "t10k"
// also accepted) from dir (FashionMNISTDir() if dir is ""), looking for
// <prefix>-images-idx3-ubyte[.gz] and <prefix>-labels-idx1-ubyte[.gz]. It
// checks that the images are N x 28 x 28, the labels N, the counts agree
// and every label is below 10. Keys are "fashion-mnist:<split>/<index>".
func FashionMNIST(dir, split string) (*Set, error) {
	if dir == "" {
		dir = FashionMNISTDir()
	}
	prefix := map[string]string{"train": "train", "test": "t10k", "t10k": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("datasets: fashion-mnist: unknown split %q (want train or test)", split)
	}
	imgPath, err := findIDX(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	labPath, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	img, err := ReadIDX(imgPath)
	if err != nil {
		return nil, err
	}
	if len(img.Dims) != 3 || img.Dims[1] != 28 || img.Dims[2] != 28 {
		return nil, fmt.Errorf("%w: %s: images have shape %v, want [N 28 28]", ErrFormat, imgPath, img.Dims)
	}
	lab, err := ReadIDX(labPath)
	if err != nil {
		return nil, err
	}
	if len(lab.Dims) != 1 {
		return nil, fmt.Errorf("%w: %s: labels have shape %v, want [N]", ErrFormat, labPath, lab.Dims)
	}
	if lab.Dims[0] != img.Dims[0] {
		return nil, fmt.Errorf("%w: %s has %d labels but %s has %d images", ErrFormat, labPath, lab.Dims[0], imgPath, img.Dims[0])
	}
	n := img.Dims[0]
	s := &Set{
		Name:    "fashion-mnist:" + map[string]string{"train": "train", "t10k": "test"}[prefix],
		Keys:    make([]string, n),
		Labels:  make([]int, n),
		Classes: FashionMNISTClasses,
		Images:  &Images{N: n, H: 28, W: 28, C: 1, Pix: img.Data},
	}
	for i, l := range lab.Data {
		if int(l) >= len(FashionMNISTClasses) {
			return nil, fmt.Errorf("%w: %s: label %d of example %d is not a Fashion-MNIST class (0-9)", ErrFormat, labPath, l, i)
		}
		s.Labels[i] = int(l)
		s.Keys[i] = fmt.Sprintf("%s/%05d", s.Name, i)
	}
	return s, nil
}

func findIDX(dir, base string) (string, error) {
	for _, p := range []string{base + ".gz", base} {
		full := filepath.Join(dir, p)
		if _, err := os.Stat(full); err == nil {
			return full, nil
		}
	}
	return "", fmt.Errorf("datasets: %s.gz not found in %s (install Debian's dataset-fashion-mnist or set SSLPIPE_FASHION_MNIST): %w", base, dir, os.ErrNotExist)
}

// IsFashionMNISTSpec reports whether spec names the built-in set
// ("fashion-mnist:train", "fashion-mnist:test", or
// "fashion-mnist:train@DIR" to read from DIR) and returns the split and
// directory.
func IsFashionMNISTSpec(spec string) (split, dir string, ok bool) {
	rest, ok := strings.CutPrefix(spec, "fashion-mnist:")
	if !ok {
		return "", "", false
	}
	split, dir, _ = strings.Cut(rest, "@")
	return split, dir, true
}
