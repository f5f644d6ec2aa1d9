package speechdata

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sslpipe/sslpipe/audio"
)

func TestSentences(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "food"), []byte("Eat your greens today, please.\n%\nA very long sentence that goes on and on and on and on and on and on past the limit.\n%\nÜber cool. Short one here now!\n%\nEat your greens today, please.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "food.dat"), []byte("binary"), 0o644)
	got, err := Sentences(dir, 4, 14)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Eat your greens today, please.", "Short one here now!"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestGenerateReproducible generates a tiny set twice and compares bytes;
// held-out digit voices never appear in probe-train.
func TestGenerateReproducible(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	if _, err := os.Stat("/usr/share/games/fortunes"); err != nil {
		t.Skip("fortunes not installed")
	}
	o := Options{Seed: 3, Pretrain: 3, Valid: 1, DigitReps: 1, DigitVoices: 4, TestVoices: 2}
	var sums [2]*Summary
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for i := range dirs {
		o.Out = dirs[i]
		s, err := Generate(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = s
	}
	if sums[0].DigitsTrain != 20 || sums[0].DigitsTest != 20 {
		t.Fatalf("digits %d/%d, want 20/20", sums[0].DigitsTrain, sums[0].DigitsTest)
	}
	for _, v := range sums[0].TestVoices {
		for _, w := range sums[0].TrainVoices {
			if v == w {
				t.Fatalf("voice %s in both probe splits", v)
			}
		}
	}
	for _, rel := range []string{"pretrain/train/00000.wav", "pretrain/valid/00000.wav", "digits/test/seven", "pretrain/manifest.tsv"} {
		a, _ := os.ReadDir(filepath.Join(dirs[0], filepath.Dir(rel)))
		if len(a) == 0 {
			t.Fatalf("%s missing", rel)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dirs[0], "pretrain/train/00002.wav"))
	b, _ := os.ReadFile(filepath.Join(dirs[1], "pretrain/train/00002.wav"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("same options gave different audio")
	}
	info, err := audio.DecodeConfig(filepath.Join(dirs[0], "pretrain/train/00002.wav"))
	if err != nil || info.SampleRate != 16000 || info.Channels != 1 {
		t.Fatalf("%+v %v", info, err)
	}
}
