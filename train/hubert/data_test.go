package hubert

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/speechdata"
)

// writeToneSet writes n tone utterances per split and a matching labels
// folder (labels = tone ids, k classes, 100 Hz) under dir.
func writeToneSet(t testing.TB, dir string, nTrain, nValid, k, samples int) (data, labels string) {
	t.Helper()
	data, labels = filepath.Join(dir, "data"), filepath.Join(dir, "labels")
	rng := rand.New(rand.NewPCG(7, 7))
	splits := map[string]map[string][]int32{}
	for _, sp := range []struct {
		name string
		n    int
	}{{"train", nTrain}, {"valid", nValid}} {
		splits[sp.name] = map[string][]int32{}
		for i := 0; i < sp.n; i++ {
			w, ids := toneWithIDs(rng, samples, k)
			rel := fmt.Sprintf("%s/%03d.wav", sp.name, i)
			p := filepath.Join(data, rel)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := speechdata.WriteWAV16(p, w, SampleRate); err != nil {
				t.Fatal(err)
			}
			splits[sp.name][rel] = ids
		}
	}
	km := &audio.KMeans{Meta: audio.KMeansMeta{FeatureType: "tone-id", Dim: 1, K: k, LabelRate: 100},
		Centroids: audio.Matrix{Rows: k, Cols: 1, Data: make([]float32, k)}}
	if err := WriteLabels(labels, LabelsMeta{K: k, LabelRate: 100, FeatureType: "tone-id", Data: data}, km, splits); err != nil {
		t.Fatal(err)
	}
	return data, labels
}

// toneWithIDs is tone() with the id of the tone at each 10 ms frame centre.
func toneWithIDs(rng *rand.Rand, samples, k int) ([]float32, []int32) {
	w := make([]float32, samples)
	owner := make([]int32, samples)
	pos := 0
	for pos < samples {
		id := rng.IntN(k)
		n := (30 + rng.IntN(30)) * 160 // 300 to 600 ms
		f := 200 * math.Pow(1.4, float64(id))
		for i := 0; i < n && pos+i < samples; i++ {
			w[pos+i] = float32(0.3 * math.Sin(2*math.Pi*f*float64(pos+i)/SampleRate))
			owner[pos+i] = int32(id)
		}
		pos += n
	}
	frames := 1 + (samples-400)/160
	labs := make([]int32, frames)
	for i := range labs {
		labs[i] = owner[i*160+200]
	}
	return w, labs
}

func TestMaskingSemantics(t *testing.T) {
	mc := baseModel()
	mc.CNN.Channels = []int64{8, 8, 8, 8, 8, 8, 8}
	rng := rand.New(rand.NewPCG(1, 1))
	var utts []Utterance
	for i := 0; i < 8; i++ {
		n := 16000 * (2 + i%3)
		w := make([]float32, n)
		for j := range w {
			w[j] = float32(rng.NormFloat64())
		}
		labs := make([]int32, mc.CNN.Frames(n))
		utts = append(utts, Utterance{Wave: w, Labels: labs})
	}
	var fracSum float64
	draws := 0
	for step := uint64(0); step < 200; step++ {
		b, err := MakeBatch(utts, []int{0, 1, 2, 3, 4, 5, 6, 7}, 48000, mc, 3, step)
		if err != nil {
			t.Fatal(err)
		}
		T := mc.CNN.Frames(b.L)
		// The shortest utterance (2 s) has 99 labelled frames: 320·98 + 400 samples.
		if b.L != 31760 || T != 99 {
			t.Fatalf("crop %d samples (%d frames), want the shortest utterance's 31760 (99)", b.L, T)
		}
		count := -1
		for r := 0; r < b.B; r++ {
			row := b.Mask[r*T : (r+1)*T]
			n := 0
			run := 0
			for i, m := range row {
				if m {
					n++
					run++
				}
				if (!m || i == T-1) && run > 0 {
					// Spans of 10 may overlap: every masked run is at least
					// one span long unless thinned by the equal-count rule.
					if run < 1 {
						t.Fatalf("empty run")
					}
					run = 0
				}
			}
			if count >= 0 && n != count {
				t.Fatalf("step %d: row %d has %d masked frames, row 0 %d: require_same_masks", step, r, n, count)
			}
			count = n
			// int(0.8*99/10 + U) = 7 or 8 spans of 10, overlapping: at most 80 frames.
			if n > 80 || n < 10 {
				t.Fatalf("step %d: %d masked frames of %d", step, n, T)
			}
			fracSum += float64(n) / float64(T)
			draws++
		}
	}
	// Fairseq's expectation for these settings: 7.9 spans of 10 placed
	// uniformly without replacement on 89 starts cover ~57% of 99 frames
	// before thinning to the batch minimum.
	frac := fracSum / float64(draws)
	t.Logf("mean masked fraction %.3f", frac)
	if frac < 0.40 || frac > 0.62 {
		t.Errorf("mean masked fraction %.3f outside [0.40, 0.62]", frac)
	}
	// Spans without thinning: a batch of one has runs of length >= 10.
	for step := uint64(0); step < 100; step++ {
		b, err := MakeBatch(utts, []int{2}, 64000, mc, 5, step)
		if err != nil {
			t.Fatal(err)
		}
		run := 0
		for i, m := range append(b.Mask, false) {
			if m {
				run++
				continue
			}
			if run > 0 && run < 10 {
				t.Fatalf("step %d: masked run of %d frames ending at %d, want >= 10", step, run, i)
			}
			run = 0
		}
	}
}

func TestLabelAlignment(t *testing.T) {
	dir := t.TempDir()
	data, labels := writeToneSet(t, dir, 3, 1, 8, 16000)
	mc := baseModel()
	c, err := LoadCorpus(data, labels, mc.CNN, 8)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ReadSplitLabels(labels, "train", 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range c.Train {
		r := raw[u.Path]
		if len(r) != 98 || len(u.Labels) != 49 {
			t.Fatalf("%s: %d labels at 100 Hz, %d at 50 Hz; want 98 and 49 for 1 s", u.Path, len(r), len(u.Labels))
		}
		for i, l := range u.Labels {
			if l != r[2*i] {
				t.Fatalf("%s: frame %d label %d, want the 100 Hz label %d (2:1 downsampling)", u.Path, i, l, r[2*i])
			}
		}
	}
	// k mismatch.
	if _, err := LoadCorpus(data, labels, mc.CNN, 100); err == nil || !strings.Contains(err.Error(), "labels.json") {
		t.Errorf("k mismatch: %v", err)
	}
	// A label file for shorter audio.
	p := filepath.Join(labels, "train.km")
	orig, _ := os.ReadFile(p)
	lines := strings.Split(strings.TrimSpace(string(orig)), "\n")
	path, labs, _ := strings.Cut(lines[0], "\t")
	f := strings.Fields(labs)
	lines[0] = path + "\t" + strings.Join(f[:60], " ")
	os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	if _, err := LoadCorpus(data, labels, mc.CNN, 8); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), path) {
		t.Errorf("short labels: %v", err)
	}
	// A label outside the dictionary.
	lines[0] = path + "\t" + strings.Replace(labs, f[3], "9", 1)
	os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	if _, err := LoadCorpus(data, labels, mc.CNN, 8); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "train.km:1") {
		t.Errorf("label 9 with k=8: %v", err)
	}
	os.WriteFile(p, orig, 0o644)
	// Two dictionaries: dict.km.txt with a gap.
	dp := filepath.Join(labels, "dict.km.txt")
	d, _ := os.ReadFile(dp)
	os.WriteFile(dp, []byte(strings.Replace(string(d), "3 ", "30 ", 1)), 0o644)
	if _, err := LoadCorpus(data, labels, mc.CNN, 8); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "dict.km.txt") {
		t.Errorf("bad dictionary: %v", err)
	}
	os.WriteFile(dp, d, 0o644)
	// Audio shorter than the receptive field, and silence.
	short := filepath.Join(data, "train", "short.wav")
	speechdata.WriteWAV16(short, make([]float32, 300), SampleRate)
	if _, err := LoadWave(short, mc.CNN.ReceptiveField()); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "short.wav") {
		t.Errorf("short audio: %v", err)
	}
	silent := filepath.Join(dir, "silent.wav")
	speechdata.WriteWAV16(silent, make([]float32, 16000), SampleRate)
	if _, err := LoadWave(silent, 400); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "silent") {
		t.Errorf("silent audio: %v", err)
	}
	// The extra file has no labels.
	if _, err := LoadCorpus(data, labels, mc.CNN, 8); !errors.Is(err, ErrData) {
		t.Errorf("unlabelled file: %v", err)
	}
	os.Remove(short)
	// A codebook for other features.
	if _, err := MFCCLabels(t.Context(), data, filepath.Join(dir, "l2"), LabelOptions{KMeans: filepath.Join(labels, "kmeans.bin")}); err == nil || !strings.Contains(err.Error(), "tone-id") {
		t.Errorf("codebook for another feature type: %v", err)
	}
}
