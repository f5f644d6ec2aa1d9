package data2vec2

import (
	"testing"

	"github.com/sslpipe/sslpipe/train"
)

// presetFor is the named preset of data2vec2 for modality.
func presetFor(t testing.TB, modality, name string) train.Config {
	t.Helper()
	c, err := train.PresetConfig("data2vec2", name)
	if err != nil {
		t.Fatal(err)
	}
	c.Data.Modality = modality
	return c
}
