package methods

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// TestEveryPresetValidatesAndRoundTrips resolves every preset of every
// registered method against a small dataset of each modality it trains on
// (the preset's own modality where it names one), validates it, and checks that its --print-config
// YAML parses back into the same config (so a printed preset is a config
// file that trains the same run).
func TestEveryPresetValidatesAndRoundTrips(t *testing.T) {
	specs := shards(t)
	// Text with sentence ends, which sop's whole-sentence presets need, in
	// rows as long as the longest text preset's (data2vec2 text-base: 512).
	specs[data.Text] = sentenceShards(t, t.TempDir())
	for _, m := range train.Methods() {
		for _, name := range m.PresetNames() {
			c, err := train.PresetConfig(m.Name, name)
			if err != nil {
				t.Fatalf("%s %s: %v", m.Name, name, err)
			}
			modalities := m.Modalities
			if c.Data.Modality != "" {
				modalities = []string{c.Data.Modality}
			}
			for _, mod := range modalities {
				roundTrip(t, m.Name, name, c, specs[mod])
			}
		}
	}
}

// roundTrip resolves preset name of method (config c) against the dataset
// at spec and checks that its printed YAML parses back unchanged.
func roundTrip(t *testing.T, method, name string, c train.Config, spec string) {
	t.Helper()
	ds, err := data.Open(spec, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if err := train.ResolveConfig(&c, ds); err != nil {
		t.Errorf("%s preset %s on %s data does not validate: %v", method, name, ds.Modality, err)
		return
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatalf("%s %s: %v", method, name, err)
	}
	back, err := train.ParseConfig(method+"-"+name+".yaml", y, "")
	if err != nil {
		t.Errorf("%s preset %s: printed config does not parse: %v", method, name, err)
		return
	}
	if err := back.Validate(); err != nil {
		t.Errorf("%s preset %s: printed config does not validate: %v", method, name, err)
	}
	y2, err := back.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(y, y2) {
		t.Errorf("%s preset %s: printed config changes when parsed back:\n%s\n---\n%s", method, name, y, y2)
	}
}

// sentenceShards is a small preprocessed text dataset of documents made of
// sentences ending in ".", "!" or "?".
func sentenceShards(t *testing.T, dir string) string {
	t.Helper()
	raw := filepath.Join(dir, "raw")
	if err := os.MkdirAll(raw, 0o755); err != nil {
		t.Fatal(err)
	}
	sentences := []string{"the cat sat on the mat.", "it purred near the warm fire!", "was the dog asleep?",
		"stocks rose as markets rallied.", "earnings were strong today!", "will rates stay low?"}
	var b strings.Builder
	for i := 0; i < 200; i++ {
		for j := 0; j < 4; j++ {
			b.WriteString(sentences[(i*7+j*5)%len(sentences)])
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(raw, "docs.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return datatest.Preprocess(t, raw, filepath.Join(dir, "text"), preprocess.Options{Modality: preprocess.Text,
		TrainTokenizer: "wordpiece", Vocab: 120, SeqLen: 512})
}
