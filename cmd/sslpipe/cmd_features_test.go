package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/npy"
	"go.uber.org/goleak"
)

const featTestdata = "../../audio/testdata"

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runFeatures mirrors the input tree and writes exactly what the audio
// package computes (HuBERT features: MFCC + deltas).
func TestRunFeaturesTree(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	copyFile(t, filepath.Join(featTestdata, "utt1.wav"), filepath.Join(in, "a", "utt1.wav"))
	copyFile(t, filepath.Join(featTestdata, "utt3.wav"), filepath.Join(in, "b", "c", "utt3.wav"))
	var stderr bytes.Buffer
	o := featuresOpts{Kind: "mfcc", Deltas: true, In: in, Out: out, Workers: 2, SampleRate: 16000, NumMelBins: 23, NumCeps: 13, Quiet: true}
	r, err := runFeatures(context.Background(), &stderr, o)
	if err != nil {
		t.Fatal(err, stderr.String())
	}
	if r.Files != 2 || r.Failed != 0 || r.Dim != 39 {
		t.Fatalf("result %+v", r)
	}
	for _, rel := range []string{"a/utt1", "b/c/utt3"} {
		a, err := npy.ReadFile(filepath.Join(out, rel+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		wave, _, _ := audio.ReadWAV(filepath.Join(in, rel+".wav"), nil)
		ex, _ := audio.NewExtractor(audio.DefaultOptions(audio.MFCC))
		m, _ := ex.Compute(audio.Matrix{}, wave, nil)
		d := audio.Deltas(audio.Matrix{}, m, 2, 2)
		if a.Shape[0] != d.Rows || a.Shape[1] != 39 {
			t.Fatalf("%s: shape %v, want %dx39", rel, a.Shape, d.Rows)
		}
		for i := range d.Data {
			if a.F32[i] != d.Data[i] {
				t.Fatalf("%s: value %d differs", rel, i)
			}
		}
	}
}

// Bad files are reported with their name and skipped up to --max-errors;
// one more is exit code 4. A file shorter than one frame gives (0, dim).
func TestRunFeaturesBadInputs(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	in := t.TempDir()
	copyFile(t, filepath.Join(featTestdata, "utt3.wav"), filepath.Join(in, "good.wav"))
	good, _ := os.ReadFile(filepath.Join(in, "good.wav"))
	os.WriteFile(filepath.Join(in, "trunc.wav"), good[:len(good)/2], 0o644)
	os.WriteFile(filepath.Join(in, "junk.wav"), []byte("not a wav file at all"), 0o644)
	// 200 samples: shorter than a 400-sample window.
	short := append([]byte(nil), good[:44+400]...)
	os.WriteFile(filepath.Join(in, "short.wav"), fixSizes(short), 0o644)

	o := featuresOpts{Kind: "fbank", In: in, Workers: 2, SampleRate: 16000, NumMelBins: 23, NumCeps: 13, Quiet: true, MaxErrors: 2}
	o.Out = t.TempDir()
	var stderr bytes.Buffer
	r, err := runFeatures(context.Background(), &stderr, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if r.Files != 2 || r.Failed != 2 {
		t.Fatalf("result %+v", r)
	}
	for _, name := range []string{"trunc.wav", "junk.wav"} {
		if !strings.Contains(stderr.String(), name) {
			t.Fatalf("stderr does not name %s:\n%s", name, stderr.String())
		}
	}
	a, err := npy.ReadFile(filepath.Join(o.Out, "short.npy"))
	if err != nil || a.Shape[0] != 0 || a.Shape[1] != 23 {
		t.Fatalf("short file: %v %v", a, err)
	}
	o.MaxErrors = 1
	o.Out = t.TempDir()
	_, err = runFeatures(context.Background(), &stderr, o)
	if !errors.Is(err, errTooManyDataErrors) || exitCode(err) != exitDataErrors {
		t.Fatalf("err = %v, want errTooManyDataErrors", err)
	}
	// A cancelled context stops the run with context.Canceled (exit 130).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o.MaxErrors, o.Out = 10, t.TempDir()
	if _, err := runFeatures(ctx, &stderr, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err = %v", err)
	}
}

// fixSizes rewrites the RIFF and data sizes of a canonical 44-byte-header
// 16-bit WAV after truncation.
func fixSizes(b []byte) []byte {
	n := uint32(len(b))
	put := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	put(4, n-8)
	put(40, n-44)
	return b
}

// A 22.05 kHz input is resampled to 16 kHz first.
func TestRunFeaturesResamples(t *testing.T) {
	wave, _, _ := audio.ReadWAV(filepath.Join(featTestdata, "utt3.wav"), nil)
	up, _ := audio.Resample(wave, 16000, 22050)
	in, out := t.TempDir(), t.TempDir()
	writeWAV16(t, filepath.Join(in, "x.wav"), up, 22050)
	o := featuresOpts{Kind: "fbank", In: filepath.Join(in, "x.wav"), Out: out, Workers: 1, SampleRate: 16000, NumMelBins: 23, NumCeps: 13, Quiet: true}
	if _, err := runFeatures(context.Background(), &bytes.Buffer{}, o); err != nil {
		t.Fatal(err)
	}
	a, err := npy.ReadFile(filepath.Join(out, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := audio.NewExtractor(audio.DefaultOptions(audio.Fbank))
	m, _ := ex.Compute(audio.Matrix{}, wave, nil)
	if a.Shape[0] != m.Rows {
		t.Fatalf("%d frames after resampling, %d at 16 kHz", a.Shape[0], m.Rows)
	}
	// The round trip 16 -> 22.05 -> 16 kHz keeps the pass band (0.8 x
	// Nyquist = 6.4 kHz): log-mel bins 0..17 (centres below 5.6 kHz) of
	// frames with speech energy stay close; the top bins lose the band the
	// anti-aliasing filter removes.
	var diff, n float64
	for i := 0; i < m.Rows; i++ {
		if m.Row(i)[10] < 0 {
			continue
		}
		for j := 0; j < 18; j++ {
			diff += abs64(float64(a.F32[i*23+j] - m.Row(i)[j]))
			n++
		}
	}
	t.Logf("mean |diff| of log-mel bins 0..17 after the round trip: %.4f over %v values", diff/n, n)
	if n == 0 || diff/n > 0.05 {
		t.Fatalf("mean |diff| of log-mel bins after resampling round trip: %.4f over %v values", diff/n, n)
	}
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func writeWAV16(t *testing.T, path string, x []float32, rate int) {
	t.Helper()
	b := make([]byte, 44+2*len(x))
	copy(b, "RIFF----WAVEfmt ")
	put32 := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	put16 := func(off int, v uint16) { b[off], b[off+1] = byte(v), byte(v>>8) }
	put32(4, uint32(len(b)-8))
	put32(16, 16)
	put16(20, 1)
	put16(22, 1)
	put32(24, uint32(rate))
	put32(28, uint32(rate*2))
	put16(32, 2)
	put16(34, 16)
	copy(b[36:], "data")
	put32(40, uint32(2*len(x)))
	for i, v := range x {
		s := int(v * 32767)
		s = max(-32768, min(32767, s))
		put16(44+2*i, uint16(int16(s)))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFeaturesCommandFlags(t *testing.T) {
	var out, errb bytes.Buffer
	env := &cmdEnv{Stdout: &out, Stderr: &errb}
	for _, args := range [][]string{
		{"features"},
		{"features", "--in", "x"},
		{"features", "--in", "x", "--out", "y", "--kind", "plp"},
		{"features", "--in", "x", "--out", "y", "--num-mel-bins", "2"},
		{"bench", "features", "--in", featTestdata, "--workers", "0"},
	} {
		if err := run(context.Background(), env, args); exitCode(err) != exitUsage {
			t.Errorf("%v: err = %v, want usage error", args, err)
		}
	}
	dir := t.TempDir()
	out.Reset()
	err := run(context.Background(), env, []string{"features", "--in", filepath.Join(featTestdata, "utt2.wav"), "--out", dir, "--kind", "fbank", "--cmvn", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	var r featuresResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Files != 1 || r.Dim != 23 {
		t.Fatalf("summary %q: %v", out.String(), err)
	}
}

func TestBenchFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("timed benchmark")
	}
	var out bytes.Buffer
	err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &bytes.Buffer{}},
		[]string{"bench", "features", "--kind", "mfcc", "--deltas", "--in", featTestdata, "--workers", "2", "--seconds", "0.2", "--json"})
	if err != nil {
		t.Fatal(err)
	}
	var r benchFeaturesResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Files != 4 || r.Passes < 1 || r.AudioSecondsPerS <= 0 || r.Frames%805 != 0 {
		t.Fatalf("bench result %+v", r)
	}
}
