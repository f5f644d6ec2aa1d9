package preprocess

import (
	"context"
	"os"
	"testing"
)

func TestImageSmoke(t *testing.T) {
	dir, _ := imageCorpus(t, 20)
	out := t.TempDir()
	sum, err := Run(context.Background(), Options{Modality: Image, In: dir, Out: out, ShardSize: 7, LabelsFromDirs: true, MaxSide: 32, MaxErrors: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(sum)
	if testing.Verbose() {
		b, _ := os.ReadFile(out + "/manifest.json")
		t.Log(string(b))
		b, _ = os.ReadFile(out + "/errors.jsonl")
		t.Log(string(b))
	}
}
