package datasets

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// WriteFolder writes an in-memory image set as a labelled folder of PNG
// files, dir/<class folder>/<index>.png, with at most perClass images per
// class (all if perClass <= 0), taken in order. folderNames names the class
// folders (FashionMNISTFolderNames for Fashion-MNIST; nil: the class names,
// which must then be valid file names). It returns the number of files
// written. Existing files are overwritten.
func WriteFolder(s *Set, dir string, perClass int, folderNames []string) (int, error) {
	if s.Images == nil {
		return 0, fmt.Errorf("datasets: %s: WriteFolder needs an in-memory image set", s.Name)
	}
	if folderNames == nil {
		folderNames = s.Classes
	}
	if len(folderNames) != len(s.Classes) {
		return 0, fmt.Errorf("datasets: %s: %d folder names for %d classes", s.Name, len(folderNames), len(s.Classes))
	}
	for _, name := range folderNames {
		if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
			return 0, fmt.Errorf("datasets: class folder name %q is not a plain file name", name)
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return 0, fmt.Errorf("datasets: %w", err)
		}
	}
	g := s.Images
	count := make([]int, len(s.Classes))
	written := 0
	for i, l := range s.Labels {
		if perClass > 0 && count[l] >= perClass {
			continue
		}
		count[l]++
		var m image.Image
		if g.C == 1 {
			m = &image.Gray{Pix: g.Image(i), Stride: g.W, Rect: image.Rect(0, 0, g.W, g.H)}
		} else {
			rgba := image.NewNRGBA(image.Rect(0, 0, g.W, g.H))
			for p, q := 0, 0; q < len(g.Image(i)); p, q = p+4, q+3 {
				copy(rgba.Pix[p:p+3], g.Image(i)[q:q+3])
				rgba.Pix[p+3] = 255
			}
			m = rgba
		}
		path := filepath.Join(dir, folderNames[l], fmt.Sprintf("%05d.png", i))
		if err := writePNG(path, m); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}

func writePNG(path string, m image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	w := bufio.NewWriter(f)
	if err := png.Encode(w, m); err != nil {
		f.Close()
		return fmt.Errorf("datasets: %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("datasets: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("datasets: %s: %w", path, err)
	}
	return nil
}
