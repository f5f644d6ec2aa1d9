package datasets

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/sslpipe/sslpipe/augment"
)

// LoadImages decodes the image files named by s.Keys (JPEG or PNG), resizes
// each to exactly size x size (bilinear, antialiased; the aspect ratio is
// not kept) with the given channels (1 gray, 3 RGB) and returns them as an
// in-memory stack, ready for raw-pixel baselines or an encoder. It uses
// workers goroutines (GOMAXPROCS if <= 0). The first file that fails to
// decode is an error naming it. A set that already has Images of that size
// and channel count is returned unchanged.
func LoadImages(s *Set, size, channels, workers int) (*Images, error) {
	if size <= 0 || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("datasets: LoadImages: bad size %d or channels %d", size, channels)
	}
	if g := s.Images; g != nil {
		if g.H == size && g.W == size && g.C == channels {
			return g, nil
		}
		return nil, fmt.Errorf("datasets: %s: in-memory images are %dx%dx%d, want %dx%dx%d", s.Name, g.H, g.W, g.C, size, size, channels)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := &Images{N: s.Len(), H: size, W: size, C: channels}
	out.Pix = make([]uint8, out.N*out.Size())
	errs := make([]error, out.N)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc augment.Scratch
			dst := &augment.Image{}
			for i := range next {
				m, err := augment.DecodeFile(s.Keys[i], augment.DecodeOptions{Channels: channels})
				if err != nil {
					errs[i] = err
					continue
				}
				dst.Reset(size, size, channels)
				augment.Resize(dst, m, size, size, augment.Bilinear, &sc)
				copy(out.Image(i), dst.Pix)
			}
		}()
	}
	for i := range out.N {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("datasets: %w", err)
		}
	}
	return out, nil
}
