package methods

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/op"
)

// encoderExamples are images of several sizes and channel counts, so that
// the encoders convert and resize.
func encoderExamples() []data.Example {
	var ex []data.Example
	for i, s := range [][3]int{{31, 29, 3}, {28, 28, 1}, {40, 40, 3}, {17, 23, 1}} {
		m := augment.NewImage(s[0], s[1], s[2])
		for j := range m.Pix {
			m.Pix[j] = uint8((j*37 + i*101 + (j/7)*13) % 256)
		}
		ex = append(ex, data.Example{Key: "x", Image: m, Class: -1})
	}
	return ex
}

// TestImageEncodersEmbedLikeTheTrainer: for every image method whose
// eval/embed encoder is sslkit's, the encoder opened from a trained run
// embeds bitwise as the online monitor's view of a trainer that loaded the
// run's newest checkpoint (the default network's backbone read under the
// method's checkpoint prefix: "net." for the pretext methods), the
// random-init encoder as a new trainer's (the run's seeded initial
// weights), and the two differ.
func TestImageEncodersEmbedLikeTheTrainer(t *testing.T) {
	spec := datatest.ImageShards(t, t.TempDir(), 48, 4)
	ex := encoderExamples()
	for _, m := range train.Methods() {
		if !slices.Contains(m.Modalities, data.Image) {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			defer op.LockThread()()
			c := smokeConfig(t, m, data.Image, spec, filepath.Join(t.TempDir(), "run"), 3)
			embed := func(open func() (train.Embedder, error)) [][]float32 {
				t.Helper()
				e, err := open()
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				v, err := e.Embed(ex)
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != len(ex) || len(v[0]) != e.Dim() {
					t.Fatalf("%d vectors of %d, want %d of %d", len(v), len(v[0]), len(ex), e.Dim())
				}
				return v
			}
			info := &train.RunInfo{Dir: c.Out, Config: c}
			probe, err := m.Encoder(info, train.EncoderOptions{Random: true})
			if err != nil {
				t.Fatal(err)
			}
			_, ours := probe.(*sslkit.Encoder)
			probe.Close()
			if !ours {
				t.Skipf("%s's encoder is its own", m.Name)
			}
			if _, err := train.Run(context.Background(), c, train.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			ds, err := data.Open(spec, data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			tr, err := m.New(&train.Env{Config: &c, Data: ds, Device: gotch.CPU, World: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			mon, ok := tr.(train.Monitored)
			if !ok {
				t.Fatalf("%s: no monitor view", m.Name)
			}
			view := func() (train.Embedder, error) { return mon.Embedder(), nil }
			initial := embed(view)
			random := embed(func() (train.Embedder, error) { return m.Encoder(info, train.EncoderOptions{Random: true}) })
			if !slices.EqualFunc(random, initial, slices.Equal) {
				t.Error("the random-init encoder differs from a new trainer's backbone")
			}
			path, err := train.LatestCheckpoint(c.Out)
			if err != nil {
				t.Fatal(err)
			}
			ts, st, err := train.ReadCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Load(path, ts, st); err != nil {
				t.Fatal(err)
			}
			loaded := embed(view)
			trained := embed(func() (train.Embedder, error) { return m.Encoder(info, train.EncoderOptions{}) })
			if !slices.EqualFunc(trained, loaded, slices.Equal) {
				t.Error("the encoder differs from the trainer that loaded the same checkpoint")
			}
			if slices.EqualFunc(trained, random, slices.Equal) {
				t.Error("the trained encoder embeds as the random-init one")
			}
			if _, err := m.Encoder(info, train.EncoderOptions{Network: "no-such-network"}); err == nil {
				t.Error("an unknown network was accepted")
			}
		})
	}
}
