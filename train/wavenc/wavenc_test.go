package wavenc

import (
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

func TestBaseGeometry(t *testing.T) {
	c := Base()
	if c.Stack().Stride() != 320 || c.ReceptiveField() != 400 {
		t.Fatalf("stride %d, receptive field %d; want 320, 400", c.Stack().Stride(), c.ReceptiveField())
	}
	for _, n := range []int{399, 400, 719, 720, 16000, 64000} {
		if got, want := c.Frames(n), audio.Wav2Vec2Conv.Frames(n); got != want {
			t.Errorf("Frames(%d) = %d, audio says %d", n, got, want)
		}
	}
	if (Config{Channels: []int64{8}, Kernels: []int64{2, 2}, Strides: []int64{1}, Mode: "group_norm"}).Validate() == nil {
		t.Error("mismatched lists accepted")
	}
}

func TestForwardShape(t *testing.T) {
	defer op.LockThread()()
	c := Base()
	c.Channels = []int64{8, 8, 8, 8, 8, 8, 8}
	for _, mode := range []string{"group_norm", "layer_norm"} {
		c.Mode = mode
		p := tr.NewParams(1, gotch.CPU)
		e, err := New(p, "fe.", c)
		if err != nil {
			t.Fatal(err)
		}
		var tp op.Tape
		func() {
			defer op.Catch(&err)
			y := e.Forward(&tp, tp.Float32(make([]float32, 2*16000), gotch.CPU, 2, 16000))
			s := op.Shape(y)
			if s[0] != 2 || s[1] != 49 || s[2] != 8 {
				t.Errorf("%s: output %v, want [2 49 8]", mode, s)
			}
		}()
		if err != nil {
			t.Fatal(err)
		}
		tp.Drop()
		if tp.Len() != 0 {
			t.Error("tape not empty after Drop")
		}
		p.Free()
	}
}
