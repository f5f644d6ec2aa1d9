// Command pipelinemem streams N images through decode + the BYOL two-view
// recipe (augment.BYOL(224, true)) with W workers and batches of B, and
// prints throughput and memory (VmRSS, VmHWM from /proc/self/status, Go
// heap) as it goes. It answers: does memory stay flat over an epoch, and
// what is the peak RSS?
//
// The images are synthetic photo-like JPEGs (smooth gradients, shapes and
// noise) of -w x -h pixels encoded at quality 90; K distinct ones are made
// up front and sample i is a fresh copy of image i mod K, as if read from a
// file, so every sample allocates and decodes its own bytes.
//
//	go run ./benchmarks/pipeline -n 100000 -workers 8
//	go run ./benchmarks/pipeline -scaling 1,2,4,8,16 -n 2000
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

// blobSource yields copies of a few encoded images.
type blobSource struct {
	blobs [][]byte
	n     int
}

func (s *blobSource) Len() int { return s.n }

func (s *blobSource) At(_ context.Context, i int) (pipeline.Sample[[]byte], error) {
	b := s.blobs[i%len(s.blobs)]
	return pipeline.Sample[[]byte]{Index: i, Key: fmt.Sprintf("img%07d.jpg", i), Value: append([]byte(nil), b...)}, nil
}

func (s *blobSource) Open(ctx context.Context, start int) (pipeline.Reader[[]byte], error) {
	return pipeline.OpenAt[[]byte](ctx, s, start)
}

func synth(r *rand.Rand, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c0 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	c1 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	cx, cy, rad := r.Float64()*float64(w), r.Float64()*float64(h), 30+r.Float64()*float64(h)/2
	for y := range h {
		for x := range w {
			t := (float64(x)/float64(w) + float64(y)/float64(h)) / 2
			var px [3]uint8
			in := (float64(x)-cx)*(float64(x)-cx)+(float64(y)-cy)*(float64(y)-cy) < rad*rad
			for c := range 3 {
				v := c0[c]*(1-t) + c1[c]*t + r.NormFloat64()*12
				if in {
					v = 255 - v
				}
				px[c] = uint8(min(max(v, 0), 255))
			}
			img.Set(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes()
}

type mem struct{ rss, hwm int64 }

func readMem() mem {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return mem{}
	}
	defer f.Close()
	var m mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fs[1], 10, 64)
		switch fs[0] {
		case "VmRSS:":
			m.rss = v << 10
		case "VmHWM:":
			m.hwm = v << 10
		}
	}
	return m
}

// views is one sample's output: two 224x224 RGB views.
type views []*augment.Image

func run(src *blobSource, workers, batch int, progress bool) (time.Duration, int, error) {
	recipe := augment.BYOL(224, true)
	scratch := sync.Pool{New: func() any { return new(augment.Scratch) }}
	decoded := sync.Pool{New: func() any { return new(augment.Image) }}
	viewPool := sync.Pool{New: func() any { return make(views, 0, 2) }}

	s := pipeline.From[[]byte](src, pipeline.Order{Seed: 1, Shuffle: true})
	aug := pipeline.Map(s, func(_ context.Context, x pipeline.Sample[[]byte]) (views, error) {
		img := decoded.Get().(*augment.Image)
		defer decoded.Put(img)
		if err := augment.DecodeInto(img, x.Key, x.Value, augment.DecodeOptions{Channels: 3}); err != nil {
			return nil, err
		}
		sc := scratch.Get().(*augment.Scratch)
		defer scratch.Put(sc)
		dst := viewPool.Get().(views)
		dst = recipe.Apply(dst[:0], img, augment.Key{Seed: x.Seed, Epoch: uint64(x.Epoch), Index: uint64(x.Index)}, sc)
		return dst, nil
	}, pipeline.MapOptions{Name: "decode+byol", Workers: workers})
	batches := pipeline.Prefetch(pipeline.Batches(aug, pipeline.BatchOptions{Size: batch}), 2)

	it, err := pipeline.Start(context.Background(), batches, pipeline.RunOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	t0 := time.Now()
	n := 0
	next := src.n / 10
	var ms runtime.MemStats
	for b, err := range it.All() {
		if err != nil {
			return 0, n, err
		}
		for _, x := range b.Value.Samples[:b.Value.Valid] {
			viewPool.Put(x.Value) // the consumer is done with the views
		}
		n += b.Value.Valid
		if progress && n >= next {
			next += src.n / 10
			m := readMem()
			runtime.ReadMemStats(&ms)
			el := time.Since(t0)
			fmt.Printf("%7d images %6.1fs %7.1f images/s %7.1f views/s  VmRSS %4d MB  VmHWM %4d MB  heap %4d MB\n",
				n, el.Seconds(), float64(n)/el.Seconds(), 2*float64(n)/el.Seconds(), m.rss>>20, m.hwm>>20, ms.HeapInuse>>20)
		}
	}
	el := time.Since(t0)
	if progress {
		for _, m := range it.Metrics() {
			fmt.Printf("  stage %-12s workers %2d in %7d out %7d busy %8.1fs wait-in %7.1fs wait-out %7.1fs\n",
				m.Name, m.Workers, m.In, m.Out, m.Busy.Seconds(), m.WaitIn.Seconds(), m.WaitOut.Seconds())
		}
	}
	return el, n, nil
}

func main() {
	n := flag.Int("n", 100000, "images to stream")
	k := flag.Int("k", 64, "distinct synthetic images")
	w := flag.Int("w", 500, "image width")
	h := flag.Int("h", 375, "image height")
	workers := flag.Int("workers", 8, "map workers")
	batch := flag.Int("batch", 64, "batch size")
	scaling := flag.String("scaling", "", "comma-separated worker counts: print a scaling table instead")
	flag.Parse()

	r := rand.New(rand.NewPCG(1, 2))
	src := &blobSource{n: *n}
	total := 0
	for range *k {
		b := synth(r, *w, *h)
		total += len(b)
		src.blobs = append(src.blobs, b)
	}
	fmt.Printf("GOMAXPROCS %d, %d synthetic %dx%d JPEGs (mean %d KB), %d images, batch %d\n",
		runtime.GOMAXPROCS(0), *k, *w, *h, total/(*k)>>10, *n, *batch)
	runtime.GC()
	m0 := readMem()
	fmt.Printf("before run: VmRSS %d MB, VmHWM %d MB\n", m0.rss>>20, m0.hwm>>20)

	if *scaling != "" {
		var base float64
		for _, f := range strings.Split(*scaling, ",") {
			wk, err := strconv.Atoi(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			el, got, err := run(src, wk, *batch, false)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			rate := float64(got) / el.Seconds()
			if base == 0 {
				base = rate
			}
			fmt.Printf("workers %2d: %6d images in %6.2fs = %7.1f images/s, %7.1f views/s, speedup %.2f\n", wk, got, el.Seconds(), rate, 2*rate, rate/base)
		}
		return
	}
	el, got, err := run(src, *workers, *batch, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	m := readMem()
	fmt.Printf("done: %d images in %.1fs (%.1f images/s, %.1f views/s), peak RSS (VmHWM) %d MB\n",
		got, el.Seconds(), float64(got)/el.Seconds(), 2*float64(got)/el.Seconds(), m.hwm>>20)
}
