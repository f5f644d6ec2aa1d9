package preprocess_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
)

// writePNG writes a small gray PNG.
func writePNG(path string, v uint8) {
	img := image.NewGray(image.Rect(0, 0, 8, 6))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, b.Bytes(), 0o644)
}

// An image folder with class sub-folders and one corrupt file: the bad
// input is rejected into errors.jsonl (the run goes on, MaxErrors -1), the
// labels become .cls members, and Open reads the dataset back as a
// pipeline source.
func ExampleOpen() {
	in, _ := os.MkdirTemp("", "photos")
	out, _ := os.MkdirTemp("", "dataset")
	defer os.RemoveAll(in)
	defer os.RemoveAll(out)
	writePNG(filepath.Join(in, "cat", "a.png"), 10)
	writePNG(filepath.Join(in, "cat", "b.png"), 20)
	writePNG(filepath.Join(in, "dog", "c.png"), 30)
	os.WriteFile(filepath.Join(in, "dog", "broken.png"), []byte("not a png"), 0o644)

	sum, err := preprocess.Run(context.Background(), preprocess.Options{
		Modality: preprocess.Image, In: in, Out: out, LabelsFromDirs: true,
		Format: "png", ShardSize: 2, MaxErrors: -1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d inputs, %d samples, %d rejected, %d shards\n", sum.Inputs, sum.Samples, sum.Rejected, sum.Shards)

	m, src, err := preprocess.Open(out, true) // true: verify every shard's sha256 first
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	fmt.Println("fields", m.Fields, "classes", m.Classes)
	for s, err := range pipeline.All(context.Background(), pipeline.From[pipeline.TarSample](src, pipeline.Order{}), pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s class %s\n", s.Origin, s.Key, s.Value.Files["cls"])
	}
	errs, _ := os.ReadFile(filepath.Join(out, "errors.jsonl"))
	fmt.Println("errors.jsonl lines:", bytes.Count(errs, []byte("\n")))
	// Output:
	// 4 inputs, 3 samples, 1 rejected, 2 shards
	// fields [png cls] classes [cat dog]
	// shard-000000.tar 000000 class 0
	// shard-000000.tar 000001 class 0
	// shard-000001.tar 000003 class 1
	// errors.jsonl lines: 1
}

// Two machines (here: two calls) each write their part of the shards;
// Merge checks that the parts fit together, verifies every shard and
// writes the manifest a single run would have written.
func ExampleMerge() {
	in, _ := os.MkdirTemp("", "photos")
	out, _ := os.MkdirTemp("", "dataset")
	defer os.RemoveAll(in)
	defer os.RemoveAll(out)
	for i := range 5 {
		writePNG(filepath.Join(in, fmt.Sprintf("%02d.png", i)), uint8(40*i))
	}
	for part := range 2 {
		sum, err := preprocess.Run(context.Background(), preprocess.Options{
			Modality: preprocess.Image, In: in, Out: out, Format: "png", ShardSize: 2,
			Part: part, Parts: 2, MaxErrors: -1,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("part %d: %d shards, %s\n", part, sum.Shards, filepath.Base(sum.Manifest))
	}
	m, err := preprocess.Merge(context.Background(), preprocess.MergeOptions{Dirs: []string{out}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("merged:", m.Samples, "samples in", m.ShardCount, "shards")
	// Output:
	// part 0: 2 shards, part-00000-of-00002.json
	// part 1: 1 shards, part-00001-of-00002.json
	// merged: 5 samples in 3 shards
}

// Member names in input tar shards are checked before anything is read:
// nothing can be written outside the output folder.
func ExampleCheckMemberName() {
	for _, name := range []string{"000001.jpg", "class/000002.png", "../etc/passwd", "/abs.jpg", `dir\file.jpg`} {
		fmt.Printf("%-18q %v\n", name, preprocess.CheckMemberName(name) == nil)
	}
	// Output:
	// "000001.jpg"       true
	// "class/000002.png" true
	// "../etc/passwd"    false
	// "/abs.jpg"         false
	// "dir\\file.jpg"    false
}

// A ShardWriter writes a derived shard in preprocess's layout; it appears
// under its final name only after Commit, and pipeline.Tar reads it.
func ExampleShardWriter() {
	dir, _ := os.MkdirTemp("", "derived")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, preprocess.ShardName(0))
	w, err := preprocess.NewShardWriter(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, label := range []string{"3", "7"} {
		if err := w.Add(fmt.Sprintf("%06d", i), preprocess.Field{Name: "cls", Data: []byte(label)}); err != nil {
			fmt.Println(err)
			return
		}
	}
	if _, _, err := w.Commit(); err != nil {
		fmt.Println(err)
		return
	}
	src, err := pipeline.Tar(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	for s, err := range pipeline.All(context.Background(), pipeline.From[pipeline.TarSample](src, pipeline.Order{}), pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(s.Origin, s.Key, string(s.Value.Files["cls"]))
	}
	// Output:
	// shard-000000.tar 000000 3
	// shard-000000.tar 000001 7
}
