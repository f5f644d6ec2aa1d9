package preprocess

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/npy"
)

// wavPCM16 encodes interleaved samples in [-1, 1] as a 16-bit PCM WAV.
func wavPCM16(rate, channels int, x []float64) []byte {
	var b bytes.Buffer
	n := len(x) * 2
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+n))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*channels*2))
	binary.Write(&b, binary.LittleEndian, uint16(channels*2))
	binary.Write(&b, binary.LittleEndian, uint16(16))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(n))
	for _, v := range x {
		binary.Write(&b, binary.LittleEndian, int16(math.Round(v*32767)))
	}
	return b.Bytes()
}

// speechCorpus makes espeak-ng utterances (22.05 kHz mono), a stereo
// 44.1 kHz tone whose right channel is silent, and corrupt files. It
// skips the test when espeak-ng is not installed.
func speechCorpus(t *testing.T, n int) (dir string, bad map[string]string) {
	espeak, err := exec.LookPath("espeak-ng")
	if err != nil {
		t.Skip("espeak-ng is not installed: the speech end-to-end test needs it to make real utterances (apt-get install espeak-ng)")
	}
	dir = t.TempDir()
	sentences := []string{
		"self supervised learning needs no labels",
		"the quick brown fox jumps over the lazy dog",
		"hidden units are learned from clustered features",
		"a shard is renamed when it is complete",
		"resume keeps every finished shard",
		"speech at sixteen kilohertz",
	}
	for i := 0; i < n; i++ {
		spk := []string{"en", "en-us", "en+f3"}[i%3]
		p := filepath.Join(dir, "spk"+strconv.Itoa(i%3), "utt"+itoa3(i)+".wav")
		os.MkdirAll(filepath.Dir(p), 0o755)
		cmd := exec.Command(espeak, "-v", spk, "-s", strconv.Itoa(150+10*(i%4)), "-w", p, sentences[i%len(sentences)])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng: %v: %s", err, out)
		}
	}
	// Stereo tone: left 440 Hz at 0.8, right silent -> mono 0.4 amplitude.
	var st []float64
	for i := 0; i < 44100/2; i++ {
		st = append(st, 0.8*math.Sin(2*math.Pi*440*float64(i)/44100), 0)
	}
	writeFile(t, filepath.Join(dir, "spk0", "tone-stereo.wav"), wavPCM16(44100, 2, st))
	good := wavPCM16(16000, 1, make([]float64, 8000))
	writeFile(t, filepath.Join(dir, "spk1", "bad-truncated.wav"), good[:len(good)/3])
	writeFile(t, filepath.Join(dir, "spk1", "bad-text.wav"), []byte("this is not a wav file at all, just text"))
	huge := wavPCM16(16000, 1, make([]float64, 100))
	binary.LittleEndian.PutUint32(huge[40:], 0xFFFFFFF0) // data chunk claims 4 GiB
	binary.LittleEndian.PutUint32(huge[4:], 0xFFFFFFF8)
	writeFile(t, filepath.Join(dir, "spk2", "bad-huge.wav"), huge)
	long := wavPCM16(8000, 1, make([]float64, 8000*12))
	writeFile(t, filepath.Join(dir, "spk2", "too-long.wav"), long)
	bad = map[string]string{"spk1/bad-truncated.wav": "", "spk1/bad-text.wav": "", "spk2/bad-huge.wav": "", "spk2/too-long.wav": "too-large"}
	return dir, bad
}

func audioOpts(in, out string) Options {
	return Options{Modality: Audio, In: in, Out: out, ShardSize: 4, Features: "mfcc", Deltas: true, KMeans: 8, KMeansFraction: 0.6,
		MaxSeconds: 10, Seed: 5, MaxErrors: -1, Workers: 2, LabelsFromDirs: true}
}

func readNpy(t testing.TB, b []byte) *npy.Array {
	t.Helper()
	a, err := npy.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAudioEndToEnd(t *testing.T) {
	dir, bad := speechCorpus(t, 9)
	out := t.TempDir()
	sum, err := Run(context.Background(), audioOpts(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != 10 || sum.Rejected != len(bad) {
		t.Fatalf("summary %+v", sum)
	}
	for _, e := range readErrors(t, out) {
		want, ok := bad[e.Path]
		if !ok {
			t.Errorf("unexpected rejection %+v", e)
		}
		if want != "" && e.Kind != want {
			t.Errorf("%s: kind %s, want %s (%s)", e.Path, e.Kind, want, e.Reason)
		}
		delete(bad, e.Path)
	}
	if len(bad) > 0 {
		t.Errorf("not rejected: %v", bad)
	}
	m, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.Fields, ",") != "wav.npy,mfcc.npy,km.npy,cls" || m.Meta.FeatureDim != 39 || m.Meta.LabelRate != 50 || m.Meta.KMeansK != 8 {
		t.Fatalf("manifest fields %v meta %+v", m.Fields, m.Meta)
	}
	km, err := audio.LoadKMeans(filepath.Join(out, kmeansModelName))
	if err != nil {
		t.Fatal(err)
	}
	if km.Centroids.Rows != 8 || km.Centroids.Cols != 39 || km.Meta.FeatureType != "mfcc+deltas" {
		t.Fatalf("codebook %dx%d %+v", km.Centroids.Rows, km.Centroids.Cols, km.Meta)
	}
	opt := audio.DefaultOptions(audio.MFCC)
	ext, _ := audio.NewExtractor(opt)
	var secs float64
	for _, s := range readBack(t, out) {
		w := readNpy(t, s.Files["wav.npy"])
		if w.DType != npy.Int16 || len(w.Shape) != 1 {
			t.Fatalf("%s wav %v %v", s.Key, w.DType, w.Shape)
		}
		n := w.Shape[0]
		secs += float64(n) / 16000
		f := readNpy(t, s.Files["mfcc.npy"])
		if f.Shape[0] != 1+(n-400)/160 || f.Shape[1] != 39 {
			t.Errorf("%s: mfcc %v for %d samples, want (%d, 39)", s.Key, f.Shape, n, 1+(n-400)/160)
		}
		l := readNpy(t, s.Files["km.npy"])
		if want := audio.Wav2Vec2Conv.Frames(n); l.Shape[0] < want-1 || l.Shape[0] > want {
			t.Errorf("%s: %d labels, encoder frames %d", s.Key, l.Shape[0], want)
		}
		for _, v := range l.I32 {
			if v < 0 || v >= 8 {
				t.Fatalf("%s: label %d", s.Key, v)
			}
		}
		if c := string(s.Files["cls"]); c != "0" && c != "1" && c != "2" {
			t.Errorf("%s: cls %q, want a speaker folder index", s.Key, c)
		}
	}
	if math.Abs(secs-m.Meta.AudioSeconds) > 0.01 {
		t.Errorf("manifest says %.3f s of audio, shards hold %.3f s", m.Meta.AudioSeconds, secs)
	}
	// The stereo 44.1 kHz tone: downmixed (0.8 left, silent right -> 0.4)
	// and resampled to 16 kHz.
	for _, s := range readBack(t, out) {
		w := readNpy(t, s.Files["wav.npy"])
		if w.Shape[0] != 8000 {
			continue
		}
		peak := 0.0
		for _, v := range w.I16[1000:7000] {
			peak = math.Max(peak, math.Abs(float64(v)/32767))
		}
		if math.Abs(peak-0.4) > 0.01 {
			t.Errorf("tone peak %.3f after downmix and resampling, want 0.4", peak)
		}
	}

	// The codebook labels a "validation" run with --kmeans-from: same
	// labels as the fitted run for the same audio.
	o := audioOpts(dir, t.TempDir())
	o.KMeans, o.KMeansFraction, o.KMeansFrom = 0, 0, filepath.Join(out, kmeansModelName)
	o.DType = "float32"
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	a, b := readBack(t, out), readBack(t, o.Out)
	for i := range a {
		if !bytes.Equal(a[i].Files["km.npy"], b[i].Files["km.npy"]) {
			t.Errorf("%s: --kmeans-from labels differ", a[i].Key)
		}
		// The stored features are exactly those of the stored float32
		// waveform, and the labels are the nearest centroids.
		w := readNpy(t, b[i].Files["wav.npy"])
		mf, _ := ext.Compute(audio.Matrix{}, w.F32, nil)
		mf = audio.Deltas(audio.Matrix{}, mf, 2, 2)
		f := readNpy(t, b[i].Files["mfcc.npy"])
		if !slices.Equal(mf.Data, f.F32) {
			t.Errorf("%s: stored features differ from those of the stored waveform", b[i].Key)
		}
		lab, _ := km.Assign(mf, nil)
		al, err := audio.AlignLabels(lab, 100, len(w.F32), 16000, audio.Wav2Vec2Conv, 8)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(al, readNpy(t, b[i].Files["km.npy"]).I32) {
			t.Errorf("%s: labels are not the nearest centroids at 50 Hz", b[i].Key)
		}
	}
	// A codebook of other features is refused.
	o.Out, o.Deltas = t.TempDir(), false
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "39 dims") {
		t.Errorf("mismatched codebook accepted: %v", err)
	}
}

func TestAudioKillThenRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir, _ := speechCorpus(t, 11)
	ref := t.TempDir()
	o := audioOpts(dir, ref)
	o.DType = "float32"
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Out = t.TempDir()
	killMidway(t, o, 1)
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsKept < 1 || sum.ShardsWritten < 1 {
		t.Fatalf("kept %d, wrote %d", sum.ShardsKept, sum.ShardsWritten)
	}
	sameTree(t, ref, o.Out)
}

// The same recordings given as a JSONL manifest with string labels and as
// WebDataset tar shards give the same waveforms; labels follow the manifest
// column and the tar cls members.
func TestAudioManifestAndTarInputs(t *testing.T) {
	dir, _ := speechCorpus(t, 5)
	var jl strings.Builder
	var items []tarItem
	names := []string{"spk0/utt000.wav", "spk1/utt001.wav", "spk2/utt002.wav", "spk0/utt003.wav", "spk1/bad-text.wav"}
	for i, n := range names {
		spk := strings.Split(n, "/")[0]
		jl.WriteString(`{"path": "` + n + `", "speaker": "` + spk + `"}` + "\n")
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		key := "s" + itoa3(i)
		items = append(items, tarItem{name: key + ".wav", typ: '0', data: data}, tarItem{name: key + ".cls", typ: '0', data: []byte(spk[3:])})
	}
	writeFile(t, filepath.Join(dir, "train.jsonl"), []byte(jl.String()))
	writeFile(t, filepath.Join(dir, "shards", "a.tar"), makeTar(t, items[:6]))
	writeFile(t, filepath.Join(dir, "shards", "b.tar"), makeTar(t, items[6:]))

	base := Options{Modality: Audio, ShardSize: 2, MaxErrors: -1}
	o1 := base
	o1.In, o1.Out, o1.LabelColumn = filepath.Join(dir, "train.jsonl"), t.TempDir(), "speaker"
	if _, err := Run(context.Background(), o1); err != nil {
		t.Fatal(err)
	}
	o2 := base
	o2.In, o2.Out = filepath.Join(dir, "shards", "*.tar"), t.TempDir()
	if _, err := Run(context.Background(), o2); err != nil {
		t.Fatal(err)
	}
	m1, _ := ReadManifest(o1.Out)
	if strings.Join(m1.Classes, ",") != "spk0,spk1,spk2" {
		t.Errorf("classes %v", m1.Classes)
	}
	a, b := readBack(t, o1.Out), readBack(t, o2.Out)
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("%d and %d samples, want 4 (the text file is rejected)", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].Files["wav.npy"], b[i].Files["wav.npy"]) || !bytes.Equal(a[i].Files["cls"], b[i].Files["cls"]) {
			t.Errorf("sample %d differs between manifest and tar input", i)
		}
		if want := strconv.Itoa(int(names[i][3] - '0')); string(a[i].Files["cls"]) != want {
			t.Errorf("sample %d: cls %q, want %s", i, a[i].Files["cls"], want)
		}
	}
	// fbank features: 23 mel bins at 100 frames/s.
	o3 := o1
	o3.Out, o3.Features = t.TempDir(), "fbank"
	if _, err := Run(context.Background(), o3); err != nil {
		t.Fatal(err)
	}
	for _, s := range readBack(t, o3.Out) {
		n := readNpy(t, s.Files["wav.npy"]).Shape[0]
		if f := readNpy(t, s.Files["fbank.npy"]); f.Shape[0] != 1+(n-400)/160 || f.Shape[1] != 23 {
			t.Errorf("%s: fbank %v for %d samples", s.Key, f.Shape, n)
		}
	}
	e1, e2 := readErrors(t, o1.Out), readErrors(t, o2.Out)
	if len(e1) != 1 || e1[0].Input != 4 || !strings.Contains(e1[0].Path, "train.jsonl:5") || len(e2) != 1 || e2[0].Path != "b.tar:s004.wav" {
		t.Errorf("errors %+v / %+v", e1, e2)
	}
}
