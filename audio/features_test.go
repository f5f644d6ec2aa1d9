package audio

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/npy"
)

// goldenTol is the maximum absolute difference allowed against
// torchaudio.compliance.kaldi (testdata/make_golden.py).
const goldenTol = 1e-3

type goldenCase struct {
	Name   string         `json:"name"`
	Wav    string         `json:"wav"`
	Start  int            `json:"start"`
	End    int            `json:"end"`
	Kind   string         `json:"kind"`
	Opts   map[string]any `json:"opts"`
	Deltas bool           `json:"deltas"`
	File   string         `json:"file"`
	Shape  []int          `json:"shape"`
	F64    bool           `json:"f64"`
}

// optionsFromTorch maps torchaudio keyword arguments onto Options; it fails
// on an unknown keyword so every option in the goldens is exercised.
func optionsFromTorch(t *testing.T, kind Kind, kw map[string]any) Options {
	o := DefaultOptions(kind)
	for k, v := range kw {
		f, _ := v.(float64)
		b, _ := v.(bool)
		s, _ := v.(string)
		switch k {
		case "sample_frequency":
			o.SampleRate = f
		case "frame_length":
			o.FrameLengthMs = f
		case "frame_shift":
			o.FrameShiftMs = f
		case "dither":
			o.Dither = f
		case "preemphasis_coefficient":
			o.Preemphasis = f
		case "remove_dc_offset":
			o.RemoveDCOffset = b
		case "window_type":
			w, err := ParseWindow(s)
			if err != nil {
				t.Fatal(err)
			}
			o.Window = w
		case "blackman_coeff":
			o.BlackmanCoeff = f
		case "round_to_power_of_two":
			o.RoundToPowerOfTwo = b
		case "snip_edges":
			o.SnipEdges = b
		case "raw_energy":
			o.RawEnergy = b
		case "energy_floor":
			o.EnergyFloor = f
		case "num_mel_bins":
			o.NumMelBins = int(f)
		case "low_freq":
			o.LowFreq = f
		case "high_freq":
			o.HighFreq = f
		case "vtln_low":
			o.VTLNLow = f
		case "vtln_high":
			o.VTLNHigh = f
		case "vtln_warp":
			o.VTLNWarp = f
		case "use_energy":
			o.UseEnergy = b
		case "htk_compat":
			o.HTKCompat = b
		case "subtract_mean":
			o.SubtractMean = b
		case "use_log_fbank":
			o.UseLogFbank = b
		case "use_power":
			o.UsePower = b
		case "num_ceps":
			o.NumCeps = int(f)
		case "cepstral_lifter":
			o.CepstralLifter = f
		default:
			t.Fatalf("golden uses option %q that the test does not map", k)
		}
	}
	return o
}

func loadGolden(t testing.TB) []goldenCase {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestGoldenTorchaudio compares Extractor (and Deltas) output with
// torchaudio.compliance.kaldi on every golden case: every value must agree
// to goldenTol. Float32 cases (torchaudio's default dtype, what HuBERT runs)
// use DefaultOptions (Float32Window true); cases marked f64 were computed by
// torchaudio on float64 input and use Float32Window false.
func TestGoldenTorchaudio(t *testing.T) {
	cases := loadGolden(t)
	if len(cases) < 31 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	worst, worst32 := 0.0, 0.0
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			kind, err := ParseKind(c.Kind)
			if err != nil {
				t.Fatal(err)
			}
			opt := optionsFromTorch(t, kind, c.Opts)
			opt.Float32Window = !c.F64
			wave, _, err := ReadWAV(filepath.Join("testdata", c.Wav), nil)
			if err != nil {
				t.Fatal(err)
			}
			end := c.End
			if end < 0 {
				end = len(wave)
			}
			wave = wave[c.Start:end]
			ex, err := NewExtractor(opt)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ex.Compute(Matrix{}, wave, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.Deltas {
				m = Deltas(Matrix{}, m, 2, 2)
			}
			want, err := npy.ReadFile(filepath.Join("testdata", c.File))
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Shape) != 2 || want.Shape[0] != m.Rows || want.Shape[1] != m.Cols {
				t.Fatalf("shape %dx%d, torchaudio %v", m.Rows, m.Cols, want.Shape)
			}
			maxd, at := 0.0, 0
			for i, v := range want.F32 {
				d := math.Abs(float64(v) - float64(m.Data[i]))
				if math.IsNaN(d) {
					t.Fatalf("NaN at %d", i)
				}
				if d > maxd {
					maxd, at = d, i
				}
				if d > goldenTol {
					t.Errorf("frame %d col %d: go %v, torchaudio %v: |diff| %.3g > %g", i/m.Cols, i%m.Cols, m.Data[i], v, d, goldenTol)
				}
			}
			if c.F64 {
				worst = math.Max(worst, maxd)
			} else {
				worst32 = math.Max(worst32, maxd)
			}
			t.Logf("%dx%d max |diff| %.2e at frame %d col %d", m.Rows, m.Cols, maxd, at/m.Cols, at%m.Cols)
		})
	}
	t.Logf("%d cases: max |diff| vs torchaudio float32 %.2e, vs torchaudio float64 %.2e (tolerance %g)", len(cases), worst32, worst, goldenTol)
}
