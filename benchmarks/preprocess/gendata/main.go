// Command gendata writes the synthetic inputs of the preprocess benchmarks:
// photo-like JPEGs (smooth colour fields, edges and sensor noise, 500x375 by
// default, the size of the reference-fact decode figures), speech WAVs made
// with espeak-ng (22.05 kHz, resampled to 16 kHz by preprocess) and a text
// corpus (Debian fortunes repeated, or generated lines when they are not
// installed). Nothing is downloaded. Output is deterministic for a seed.
//
//	go run ./benchmarks/preprocess/gendata -kind image -n 400 -out /tmp/ppbench/img
//	go run ./benchmarks/preprocess/gendata -kind audio -n 60 -out /tmp/ppbench/wav
//	go run ./benchmarks/preprocess/gendata -kind text -mb 20 -out /tmp/ppbench/txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	kind := flag.String("kind", "image", "image, audio or text")
	n := flag.Int("n", 100, "files (image, audio)")
	mb := flag.Int("mb", 10, "megabytes of text (text)")
	w := flag.Int("w", 500, "image width")
	h := flag.Int("h", 375, "image height")
	out := flag.String("out", "", "output folder")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gendata: -out is required")
		os.Exit(2)
	}
	r := rand.New(rand.NewPCG(*seed, 7))
	var err error
	switch *kind {
	case "image":
		err = images(r, *out, *n, *w, *h)
	case "audio":
		err = speech(r, *out, *n)
	case "text":
		err = corpus(r, *out, *mb)
	default:
		err = fmt.Errorf("unknown -kind %q", *kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

func images(r *rand.Rand, out string, n, w, h int) error {
	for i := 0; i < n; i++ {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		type blob struct{ x, y, s, cr, cg, cb float64 }
		var bs []blob
		for k := 0; k < 6; k++ {
			bs = append(bs, blob{r.Float64() * float64(w), r.Float64() * float64(h), 30 + r.Float64()*150, r.Float64() * 255, r.Float64() * 255, r.Float64() * 255})
		}
		edge := r.Float64() * float64(w)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var cr, cg, cb, ws float64 = 0, 0, 0, 1e-9
				for _, b := range bs {
					d := math.Exp(-((float64(x)-b.x)*(float64(x)-b.x) + (float64(y)-b.y)*(float64(y)-b.y)) / (2 * b.s * b.s))
					cr, cg, cb, ws = cr+d*b.cr, cg+d*b.cg, cb+d*b.cb, ws+d
				}
				v := [3]float64{cr / ws, cg / ws, cb / ws}
				if float64(x) > edge+20*math.Sin(float64(y)/17) {
					v[0], v[2] = v[2], v[0]
				}
				for c := range v {
					v[c] = math.Max(0, math.Min(255, v[c]+r.NormFloat64()*6))
				}
				m.SetRGBA(x, y, color.RGBA{uint8(v[0]), uint8(v[1]), uint8(v[2]), 255})
			}
		}
		p := filepath.Join(out, fmt.Sprintf("class%d", i%10), fmt.Sprintf("img%05d.jpg", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := jpeg.Encode(f, m, &jpeg.Options{Quality: 90}); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

var words = strings.Fields("self supervised learning builds representations from unlabeled speech images and text " +
	"a hidden unit target comes from clustering acoustic features the encoder predicts masked frames " +
	"shards are written atomically and verified by checksum before a resumed run keeps them")

func speech(r *rand.Rand, out string, n int) error {
	espeak, err := exec.LookPath("espeak-ng")
	if err != nil {
		return fmt.Errorf("espeak-ng is needed for the audio benchmark: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		var sb strings.Builder
		for k := 0; k < 28; k++ { // about 10 s of speech
			sb.WriteString(words[r.IntN(len(words))])
			sb.WriteByte(' ')
		}
		p := filepath.Join(out, fmt.Sprintf("spk%d", i%4), fmt.Sprintf("utt%05d.wav", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		cmd := exec.Command(espeak, "-v", []string{"en", "en-us", "en+f3", "en+m3"}[i%4], "-w", p, sb.String())
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("espeak-ng: %v: %s", err, b)
		}
	}
	return nil
}

func corpus(r *rand.Rand, out string, mb int) error {
	var lines []string
	if ents, err := os.ReadDir("/usr/share/games/fortunes"); err == nil {
		for _, e := range ents {
			if strings.Contains(e.Name(), ".") || e.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join("/usr/share/games/fortunes", e.Name()))
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(data), "\n") {
				if l = strings.TrimSpace(l); l != "" && l != "%" && !strings.ContainsRune(l, 0) {
					lines = append(lines, l)
				}
			}
		}
	}
	if len(lines) == 0 {
		for i := 0; i < 5000; i++ {
			var sb strings.Builder
			for k := 0; k < 5+r.IntN(20); k++ {
				sb.WriteString(words[r.IntN(len(words))])
				sb.WriteByte(' ')
			}
			lines = append(lines, strings.TrimSpace(sb.String()))
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "corpus.txt"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	written := 0
	for written < mb<<20 {
		l := lines[r.IntN(len(lines))]
		bw.WriteString(l)
		bw.WriteByte('\n')
		written += len(l) + 1
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}
