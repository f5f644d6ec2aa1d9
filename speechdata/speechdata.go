// Package speechdata generates the synthetic speech sets sslpipe's speech
// models are pretrained and probed on, with espeak-ng at 16 kHz:
//
//   - an unlabelled pretraining set of sentences taken from Debian's
//     fortune files, each spoken by one of many voices (accent + voice
//     variant) at a random speed and pitch, split into train and valid;
//   - a labelled spoken-digit set ("zero" ... "nine") whose voices are
//     split between probe-train and probe-test, so a probe is scored on
//     voices it never saw.
//
// Everything is a pure function of the Options (seed included) and the
// installed espeak-ng and fortunes: Generate writes the same files on every
// run. espeak-ng's 22,050 Hz output is resampled with audio.Resample and
// written as 16-bit PCM WAV.
//
// Layout under Options.Out:
//
//	pretrain/train/00000.wav ...   pretraining utterances
//	pretrain/valid/00000.wav ...   held-out utterances (masked-accuracy curve)
//	pretrain/manifest.tsv          split, path, samples, voice, speed, pitch, text
//	digits/train/<digit>/<voice>-<k>.wav   probe-train (labelled folder: class = directory)
//	digits/test/<digit>/<voice>-<k>.wav    probe-test, other voices
//	digits/voices.tsv              voice, split
//	speechdata.json                the Options and counts
package speechdata

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/sslpipe/sslpipe/audio"
)

// Options configure Generate.
type Options struct {
	Out      string `json:"out"`
	Seed     uint64 `json:"seed"`
	Pretrain int    `json:"pretrain"` // pretraining utterances (train split)
	Valid    int    `json:"valid"`    // held-out pretraining utterances
	// DigitReps is the number of renditions (speed/pitch draws) of each
	// digit per voice.
	DigitReps int `json:"digit_reps"`
	// DigitVoices is the number of voices (drawn from Voices) that speak
	// the digits; TestVoices of them are held out for probe-test.
	DigitVoices int `json:"digit_voices"`
	TestVoices  int `json:"test_voices"`
	// MinWords and MaxWords bound the sentence length (4 and 14).
	MinWords int `json:"min_words"`
	MaxWords int `json:"max_words"`
	// Fortunes is the fortune directory (/usr/share/games/fortunes).
	Fortunes string `json:"fortunes"`
	// Espeak is the espeak-ng binary ("espeak-ng").
	Espeak string `json:"espeak"`
	// Workers run espeak-ng in parallel (<= 0: GOMAXPROCS).
	Workers int `json:"-"`
}

// Defaults are the `make demo` sizes.
func Defaults() Options {
	return Options{Seed: 1, Pretrain: 400, Valid: 40, DigitReps: 2, DigitVoices: 32, TestVoices: 8, MinWords: 4, MaxWords: 14,
		Fortunes: "/usr/share/games/fortunes", Espeak: "espeak-ng"}
}

// Accents and Variants combine into voices ("en-us+m3").
var (
	Accents  = []string{"en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"}
	Variants = []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
		"croak", "klatt", "klatt2", "klatt3", "iven", "iven2", "john", "max", "steph", "adam",
		"andy", "linda", "mike", "paul", "rob", "travis", "zac", "boris", "david", "edward", "gene", "belinda"}
	// Digits are the probe's words, in label order.
	Digits = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)

// Voices returns every accent+variant voice in a fixed order.
func Voices() []string {
	var v []string
	for _, a := range Accents {
		for _, x := range Variants {
			v = append(v, a+"+"+x)
		}
	}
	return v
}

// ErrNoEspeak is returned when espeak-ng cannot be run.
var ErrNoEspeak = errors.New("speechdata: espeak-ng not found (apt-get install espeak-ng)")

// Summary reports what Generate wrote.
type Summary struct {
	Options      Options  `json:"options"`
	Train        int      `json:"pretrain_train"`
	Valid        int      `json:"pretrain_valid"`
	TrainSeconds float64  `json:"pretrain_train_seconds"`
	DigitsTrain  int      `json:"digits_train"`
	DigitsTest   int      `json:"digits_test"`
	TrainVoices  []string `json:"digit_train_voices"`
	TestVoices   []string `json:"digit_test_voices"`
}

// Sentences reads fortune files under dir (files without an extension),
// splits them into sentences and keeps those of minWords..maxWords plain
// words (letters, apostrophes, simple punctuation), deduplicated, in a
// stable order.
func Sentences(dir string, minWords, maxWords int) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("speechdata: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		if e.IsDir() || strings.Contains(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("speechdata: %w", err)
		}
		for _, entry := range strings.Split(string(data), "\n%\n") {
			text := strings.Join(strings.Fields(entry), " ")
			for _, s := range splitSentences(text) {
				if ok, n := plain(s); ok && n >= minWords && n <= maxWords && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("speechdata: %s: no usable sentences in fortune files", dir)
	}
	return out, nil
}

func splitSentences(t string) []string {
	var out []string
	start := 0
	for i, r := range t {
		if r == '.' || r == '!' || r == '?' {
			s := strings.TrimSpace(t[start : i+1])
			if s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	return out
}

// plain reports whether s is plain text and counts its words.
func plain(s string) (bool, int) {
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || r == ' ' || r == '\'' || r == ',' || r == '.' || r == '!' || r == '?') {
			return false, 0
		}
	}
	return true, len(strings.Fields(s))
}

type job struct {
	path, voice, text string
	speed, pitch      int
}

// Generate writes both sets under o.Out.
func Generate(ctx context.Context, o Options) (*Summary, error) {
	d := Defaults()
	if o.Fortunes == "" {
		o.Fortunes = d.Fortunes
	}
	if o.Espeak == "" {
		o.Espeak = d.Espeak
	}
	if o.MinWords <= 0 {
		o.MinWords = d.MinWords
	}
	if o.MaxWords <= 0 {
		o.MaxWords = d.MaxWords
	}
	if o.Out == "" || o.Pretrain < 0 || o.Valid < 0 || o.DigitReps < 0 || o.TestVoices < 0 || o.DigitVoices < 0 {
		return nil, fmt.Errorf("speechdata: need an output folder and non-negative counts")
	}
	if _, err := exec.LookPath(o.Espeak); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoEspeak, err)
	}
	voices := Voices()
	sum := &Summary{Options: o}
	var jobs []job
	var manifest []string
	if o.Pretrain+o.Valid > 0 {
		sents, err := Sentences(o.Fortunes, o.MinWords, o.MaxWords)
		if err != nil {
			return nil, err
		}
		rng := rand.New(rand.NewPCG(o.Seed, 1))
		perm := rng.Perm(len(sents))
		for i := 0; i < o.Pretrain+o.Valid; i++ {
			split, k := "train", i
			if i >= o.Pretrain {
				split, k = "valid", i-o.Pretrain
			}
			j := job{
				path:  filepath.Join("pretrain", split, fmt.Sprintf("%05d.wav", k)),
				voice: voices[rng.IntN(len(voices))], text: sents[perm[i%len(perm)]],
				speed: 120 + rng.IntN(81), pitch: 20 + rng.IntN(61),
			}
			jobs = append(jobs, j)
			manifest = append(manifest, fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%s", split, j.path, j.voice, j.speed, j.pitch, j.text))
		}
	}
	// Digits: voices shuffled once; the first TestVoices are held out.
	drng := rand.New(rand.NewPCG(o.Seed, 2))
	dv := slices.Clone(voices)
	drng.Shuffle(len(dv), func(i, j int) { dv[i], dv[j] = dv[j], dv[i] })
	if o.DigitVoices > 0 && o.DigitVoices < len(dv) {
		dv = dv[:o.DigitVoices]
	}
	nTest := min(o.TestVoices, len(dv)/2)
	sum.TestVoices, sum.TrainVoices = slices.Clone(dv[:nTest]), slices.Clone(dv[nTest:])
	slices.Sort(sum.TestVoices)
	slices.Sort(sum.TrainVoices)
	var voiceLines []string
	if o.DigitReps > 0 {
		for vi, v := range dv {
			split := "train"
			if vi < nTest {
				split = "test"
			}
			voiceLines = append(voiceLines, v+"\t"+split)
			for _, w := range Digits {
				for k := 0; k < o.DigitReps; k++ {
					jobs = append(jobs, job{
						path:  filepath.Join("digits", split, w, fmt.Sprintf("%s-%d.wav", strings.ReplaceAll(v, "+", "_"), k)),
						voice: v, text: w, speed: 110 + drng.IntN(91), pitch: 20 + drng.IntN(61),
					})
					if split == "test" {
						sum.DigitsTest++
					} else {
						sum.DigitsTrain++
					}
				}
			}
		}
	}
	secs, err := synthesize(ctx, o, jobs)
	if err != nil {
		return nil, err
	}
	sum.Train, sum.Valid, sum.TrainSeconds = o.Pretrain, o.Valid, secs
	if len(manifest) > 0 {
		if err := writeLines(filepath.Join(o.Out, "pretrain", "manifest.tsv"), append([]string{"split\tpath\tvoice\tspeed\tpitch\ttext"}, manifest...)); err != nil {
			return nil, err
		}
	}
	if len(voiceLines) > 0 {
		if err := writeLines(filepath.Join(o.Out, "digits", "voices.tsv"), append([]string{"voice\tsplit"}, voiceLines...)); err != nil {
			return nil, err
		}
	}
	js, _ := json.MarshalIndent(sum, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Out, "speechdata.json"), append(js, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("speechdata: %w", err)
	}
	return sum, nil
}

// synthesize runs the jobs on o.Workers goroutines and returns the seconds
// of pretraining-train audio written.
func synthesize(ctx context.Context, o Options, jobs []job) (float64, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
		secs  float64
		wg    sync.WaitGroup
	)
	ch := make(chan job)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				n, err := synthOne(ctx, o, j)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				if strings.HasPrefix(j.path, filepath.Join("pretrain", "train")) {
					secs += float64(n) / 16000
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return secs, ctx.Err()
}

func synthOne(ctx context.Context, o Options, j job) (int, error) {
	dst := filepath.Join(o.Out, j.path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("speechdata: %w", err)
	}
	tmp := dst + ".22k.tmp"
	cmd := exec.CommandContext(ctx, o.Espeak, "-v", j.voice, "-s", fmt.Sprint(j.speed), "-p", fmt.Sprint(j.pitch), "-w", tmp, "--", j.text)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("speechdata: %s: espeak-ng -v %s: %v: %s", j.path, j.voice, err, strings.TrimSpace(string(out)))
	}
	defer os.Remove(tmp)
	x, info, err := audio.ReadWAV(tmp, nil)
	if err != nil {
		return 0, fmt.Errorf("speechdata: %s: %w", j.path, err)
	}
	y := x
	if info.SampleRate != 16000 {
		if y, err = audio.Resample(x, info.SampleRate, 16000); err != nil {
			return 0, fmt.Errorf("speechdata: %s: %w", j.path, err)
		}
	}
	y = trimSilence(y, 1e-3, 1600)
	if len(y) < 1600 {
		return 0, fmt.Errorf("speechdata: %s: espeak-ng made only %d samples for %q", j.path, len(y), j.text)
	}
	return len(y), WriteWAV16(dst, y, 16000)
}

// trimSilence removes leading and trailing samples below thresh, keeping
// up to pad samples of margin on each side.
func trimSilence(x []float32, thresh float32, pad int) []float32 {
	a, b := 0, len(x)
	for a < b && float32(math.Abs(float64(x[a]))) < thresh {
		a++
	}
	for b > a && float32(math.Abs(float64(x[b-1]))) < thresh {
		b--
	}
	return x[max(0, a-pad):min(len(x), b+pad)]
}

// WriteWAV16 writes mono samples in [-1, 1] as 16-bit PCM WAV (clipped),
// to a temp file renamed into place.
func WriteWAV16(path string, x []float32, rate int) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("speechdata: %w", err)
	}
	w := bufio.NewWriter(f)
	n := uint32(2 * len(x))
	hdr := []any{[]byte("RIFF"), 36 + n, []byte("WAVEfmt "), uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16), []byte("data"), n}
	for _, h := range hdr {
		binary.Write(w, binary.LittleEndian, h)
	}
	buf := make([]byte, 2*len(x))
	for i, v := range x {
		s := math.Round(float64(v) * 32767)
		s = math.Max(-32768, math.Min(32767, s))
		binary.LittleEndian.PutUint16(buf[2*i:], uint16(int16(s)))
	}
	w.Write(buf)
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("speechdata: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("speechdata: %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func writeLines(path string, lines []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("speechdata: %w", err)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
