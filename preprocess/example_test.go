package preprocess_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
)

// Run turns a corpus into shards; Shards lists them for pipeline.Tar.
func ExampleRun() {
	in, _ := os.MkdirTemp("", "corpus")
	out, _ := os.MkdirTemp("", "dataset")
	defer os.RemoveAll(in)
	defer os.RemoveAll(out)
	os.WriteFile(filepath.Join(in, "a.txt"), []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 50)), 0o644)

	sum, err := preprocess.Run(context.Background(), preprocess.Options{
		Modality: preprocess.Text, In: in, Out: out,
		TrainTokenizer: "wordpiece", Vocab: 100, SeqLen: 16, ShardSize: 20, MaxErrors: -1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sum.Inputs, "documents,", sum.Shards, "shards")

	paths, _ := preprocess.Shards(out, true)
	src, _ := pipeline.Tar(paths...)
	defer src.Close()
	s, _ := src.At(context.Background(), 0)
	fmt.Println(filepath.Base(paths[0]), s.Key, len(s.Value.Files["ids.npy"]), "bytes of int32 ids")
	// Output:
	// 50 documents, 3 shards
	// shard-000000.tar 000000_000000 192 bytes of int32 ids
}
