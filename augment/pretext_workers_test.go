package augment

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

// pretextDigest runs every image generator on one sample, each with its own
// stream s.Rand(view), and hashes everything they produce.
func pretextDigest(s pipeline.Sample[*Image], perms *PermutationSet, bins *ABBins) (string, error) {
	h := sha256.New()
	put := func(vs ...int) {
		for _, v := range vs {
			binary.Write(h, binary.LittleEndian, int64(v))
		}
	}
	img := func(m *Image) { put(m.W, m.H, m.C); h.Write(m.Pix) }
	src := s.Value
	var rot Image
	put(RandomRotation(&rot, src, s.Rand(0)))
	img(&rot)
	var jp JigsawPuzzle
	if err := (Jigsaw{Grid: 3, Crop: 60, Tile: 16}).Generate(&jp, src, perms, s.Rand(1)); err != nil {
		return "", err
	}
	put(jp.Label)
	for _, t := range jp.Tiles {
		img(t)
	}
	var ip Inpainting
	if err := (Inpaint{Kind: InpaintRandom}).Generate(&ip, src, s.Rand(2)); err != nil {
		return "", err
	}
	img(&ip.Input)
	img(&ip.Mask)
	var sr SuperResPair
	if err := (SuperRes{Factor: 2, Patch: 32, Upsample: true}).Generate(&sr, src, s.Rand(3), nil); err != nil {
		return "", err
	}
	img(&sr.Low)
	img(&sr.Upsampled)
	var c Colorization
	bins.Colorize(&c, src)
	writeInts(h, c.Bins)
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func writeInts(h hash.Hash, v []int32) { binary.Write(h, binary.LittleEndian, v) }

// TestPretextAcrossWorkers runs the generators through pipeline.Map with
// 1 and 4 workers (and two epochs): every sample's outputs must be the
// same whatever the worker count, and change with the epoch.
func TestPretextAcrossWorkers(t *testing.T) {
	perms, err := NewPermutationSet(9, 24, 3, MaxMinHamming)
	if err != nil {
		t.Fatal(err)
	}
	bins := DefaultABBins()
	var imgs []*Image
	for i := range 10 {
		imgs = append(imgs, randomImage(64+3*i, 61+i%4, 3, uint64(i)))
	}
	run := func(workers int) []string {
		s := pipeline.From(pipeline.Slice(imgs), pipeline.Order{Seed: 11, Epochs: 2, Shuffle: true})
		out := pipeline.Map(s, func(_ context.Context, s pipeline.Sample[*Image]) (string, error) {
			d, err := pretextDigest(s, perms, bins)
			return fmt.Sprintf("e%d i%d %s", s.Epoch, s.Index, d), err
		}, pipeline.MapOptions{Workers: workers, Chunk: 1})
		var got []string
		for sm, err := range pipeline.All(context.Background(), out, pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, sm.Value)
		}
		return got
	}
	one, four := run(1), run(4)
	if len(one) != 20 || len(four) != 20 {
		t.Fatalf("%d and %d samples", len(one), len(four))
	}
	byKey := map[string]string{}
	for i := range one {
		if one[i] != four[i] {
			t.Fatalf("sample %d: 1 worker %s, 4 workers %s", i, one[i], four[i])
		}
		byKey[one[i][:len(one[i])-65]] = one[i][len(one[i])-64:]
	}
	for i := range imgs {
		if byKey[fmt.Sprintf("e0 i%d", i)] == byKey[fmt.Sprintf("e1 i%d", i)] {
			t.Errorf("image %d: same outputs in epochs 0 and 1", i)
		}
	}
}
