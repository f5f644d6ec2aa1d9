package audio

import (
	"path/filepath"
	"testing"
)

// BenchmarkDecodeMFCCDeltas is the HuBERT target front end on the testdata
// utterances: read the WAV file, Kaldi MFCC (torchaudio defaults), deltas
// and delta-deltas. audio_s/s is seconds of audio processed per second on
// one goroutine.
func BenchmarkDecodeMFCCDeltas(b *testing.B) {
	files, _ := filepath.Glob("testdata/utt*.wav")
	ex, err := NewExtractor(DefaultOptions(MFCC))
	if err != nil {
		b.Fatal(err)
	}
	var wave []float32
	var m, d Matrix
	total := 0.0
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			var info Info
			wave, info, err = ReadWAV(f, wave)
			if err != nil {
				b.Fatal(err)
			}
			m, _ = ex.Compute(m, wave, nil)
			d = Deltas(d, m, 2, 2)
			total += info.Duration()
		}
	}
	b.ReportMetric(total/b.Elapsed().Seconds(), "audio_s/s")
}

// BenchmarkMFCCFrame is the per-frame cost of MFCC alone (no decode, no
// deltas) on utt1.
func BenchmarkMFCCFrame(b *testing.B) {
	wave, _, err := ReadWAV("testdata/utt1.wav", nil)
	if err != nil {
		b.Fatal(err)
	}
	ex, _ := NewExtractor(DefaultOptions(MFCC))
	var m Matrix
	frames := 0
	b.ReportAllocs()
	for b.Loop() {
		m, _ = ex.Compute(m, wave, nil)
		frames += m.Rows
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/frame")
}
