// Command rssdata writes N images as WebDataset tar shards of PNG files
// (Fashion-MNIST's training images, repeated with a one-pixel shift per
// copy so that no two are equal), the raw input of the memory benchmark
// (benchmarks/train/rss.sh) that `sslpipe preprocess` then turns into a
// dataset of N images.
//
//	go run ./benchmarks/train/rssdata -n 200000 -out /tmp/raw
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/datasets"
)

func main() {
	n := flag.Int("n", 2000, "images")
	per := flag.Int("per-shard", 1000, "images per shard")
	out := flag.String("out", "", "output folder (required)")
	flag.Parse()
	if *out == "" || *n < 1 || *per < 1 {
		log.Fatal("rssdata: -out is required, -n and -per-shard must be positive")
	}
	set, err := datasets.FashionMNIST("", "train")
	if err != nil {
		log.Fatal(err)
	}
	g := set.Images
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	var tw *tar.Writer
	var f *os.File
	for i := 0; i < *n; i++ {
		if i%*per == 0 {
			if tw != nil {
				tw.Close()
				f.Close()
			}
			if f, err = os.Create(filepath.Join(*out, fmt.Sprintf("raw-%05d.tar", i / *per))); err != nil {
				log.Fatal(err)
			}
			tw = tar.NewWriter(f)
		}
		src, shift := g.Image(i%g.N), i/g.N
		img := image.NewGray(image.Rect(0, 0, g.W, g.H))
		for y := 0; y < g.H; y++ {
			for x := 0; x < g.W; x++ {
				img.Pix[y*g.W+x] = src[y*g.W+(x+shift)%g.W]
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			log.Fatal(err)
		}
		key := fmt.Sprintf("%07d", i)
		for _, m := range []struct {
			ext  string
			data []byte
		}{{"png", b.Bytes()}, {"cls", []byte(fmt.Sprint(set.Labels[i%g.N]))}} {
			if err := tw.WriteHeader(&tar.Header{Name: key + "." + m.ext, Size: int64(len(m.data)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
				log.Fatal(err)
			}
			tw.Write(m.data)
		}
	}
	tw.Close()
	f.Close()
}
