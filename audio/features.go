package audio

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Kind selects the feature type computed by an Extractor.
type Kind int

// Feature kinds.
const (
	Fbank Kind = iota + 1 // log mel filterbank energies (torchaudio.compliance.kaldi.fbank)
	MFCC                  // mel cepstra (torchaudio.compliance.kaldi.mfcc)
)

func (k Kind) String() string {
	switch k {
	case Fbank:
		return "fbank"
	case MFCC:
		return "mfcc"
	}
	return "invalid"
}

// ParseKind parses "fbank" or "mfcc".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "fbank":
		return Fbank, nil
	case "mfcc":
		return MFCC, nil
	}
	return 0, fmt.Errorf("audio: unknown feature kind %q (want fbank or mfcc)", s)
}

// WindowType is the analysis window applied to each frame.
type WindowType int

// Window types, as in Kaldi and torchaudio.compliance.kaldi.
const (
	Povey       WindowType = iota + 1 // Hann^0.85, zero at both ends (Kaldi default)
	Hamming                           // 0.54 - 0.46 cos, symmetric
	Hann                              // symmetric Hann ("hanning")
	Rectangular                       // no window
	Blackman                          // a - 0.5 cos + (0.5 - a) cos 2x, a = BlackmanCoeff
)

// ParseWindow parses a torchaudio window_type name.
func ParseWindow(s string) (WindowType, error) {
	switch s {
	case "povey":
		return Povey, nil
	case "hamming":
		return Hamming, nil
	case "hanning", "hann":
		return Hann, nil
	case "rectangular":
		return Rectangular, nil
	case "blackman":
		return Blackman, nil
	}
	return 0, fmt.Errorf("audio: unknown window type %q", s)
}

// Options are the parameters of torchaudio.compliance.kaldi.fbank and
// .mfcc, one field per keyword argument (the field comment names it). Start
// from DefaultOptions, which equals torchaudio's defaults: the zero value of
// several boolean fields is not the default. torchaudio's channel argument is
// Decoder.SetChannel (by default the decoder averages the channels).
type Options struct {
	Kind Kind

	SampleRate     float64    // sample_frequency, Hz (16000)
	FrameLengthMs  float64    // frame_length (25)
	FrameShiftMs   float64    // frame_shift (10)
	Dither         float64    // dither: stddev of Gaussian noise added to each sample (0); needs an rng
	Preemphasis    float64    // preemphasis_coefficient (0.97)
	RemoveDCOffset bool       // remove_dc_offset (true)
	Window         WindowType // window_type (Povey)
	BlackmanCoeff  float64    // blackman_coeff (0.42)
	// Float32Window computes the window coefficients with float32
	// arithmetic, as torchaudio does for a float32 waveform (true in
	// DefaultOptions). The rounding of the coefficients leaks a little
	// energy from strong into weak bins (relative 1e-7); reproducing it
	// keeps MFCCs within 1e-3 of float32 torchaudio, whose own difference
	// from float64 torchaudio reaches 1.7e-3 on quiet bins of fricatives.
	// Set it false to match torchaudio run on float64 input.
	Float32Window     bool
	RoundToPowerOfTwo bool    // round_to_power_of_two (true)
	SnipEdges         bool    // snip_edges (true): only frames that fit; false: reflect at the ends
	RawEnergy         bool    // raw_energy (true): energy before pre-emphasis and window
	EnergyFloor       float64 // energy_floor (1.0); 0 disables the floor
	MinDuration       float64 // min_duration, seconds (0): shorter input gives zero frames

	NumMelBins int     // num_mel_bins (23)
	LowFreq    float64 // low_freq, Hz (20)
	HighFreq   float64 // high_freq, Hz (0); <= 0 means Nyquist + HighFreq
	VTLNLow    float64 // vtln_low, Hz (100)
	VTLNHigh   float64 // vtln_high, Hz (-500); < 0 means Nyquist + VTLNHigh
	VTLNWarp   float64 // vtln_warp (1.0)

	UseEnergy    bool // use_energy (false): add log energy (first column, last if HTKCompat)
	HTKCompat    bool // htk_compat (false)
	SubtractMean bool // subtract_mean (false): subtract the per-utterance mean of each column

	// fbank only
	UseLogFbank bool // use_log_fbank (true)
	UsePower    bool // use_power (true): power rather than magnitude spectrum

	// mfcc only
	NumCeps        int     // num_ceps (13)
	CepstralLifter float64 // cepstral_lifter (22); 0 disables liftering
}

// DefaultOptions returns torchaudio.compliance.kaldi's defaults for kind.
// HuBERT's MFCC targets use DefaultOptions(MFCC) unchanged (use_energy false)
// followed by Deltas(m, 2, 2).
func DefaultOptions(kind Kind) Options {
	return Options{
		Kind: kind, SampleRate: 16000, FrameLengthMs: 25, FrameShiftMs: 10,
		Preemphasis: 0.97, RemoveDCOffset: true, Window: Povey, BlackmanCoeff: 0.42,
		Float32Window:     true,
		RoundToPowerOfTwo: true, SnipEdges: true, RawEnergy: true, EnergyFloor: 1.0,
		NumMelBins: 23, LowFreq: 20, HighFreq: 0, VTLNLow: 100, VTLNHigh: -500, VTLNWarp: 1.0,
		UseLogFbank: true, UsePower: true, NumCeps: 13, CepstralLifter: 22,
	}
}

// Matrix is a row-major float32 matrix: Rows frames of Cols values.
type Matrix struct {
	Data       []float32
	Rows, Cols int
}

// Row returns row i (aliasing Data).
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// ErrNeedRand is returned when Dither is non-zero and no *rand.Rand is given.
var ErrNeedRand = errors.New("audio: dither needs a *rand.Rand")

// epsilon is torch.finfo(torch.float).eps, the floor torchaudio applies
// before every log.
const epsilon = 1.1920928955078125e-07

type melBin struct {
	first int
	w     []float64
}

// Extractor computes fbank or MFCC features. It precomputes the window, the
// sparse mel filterbank, the DCT and FFT tables, and reuses its scratch
// buffers: computing features allocates only the output (or nothing, with a
// dst of sufficient capacity). An Extractor is not safe for concurrent use;
// give each goroutine its own (Clone is cheap).
type Extractor struct {
	opt      Options
	winSize  int
	winShift int
	padded   int
	window   []float64
	mel      []melBin
	dct      []float64 // NumCeps x NumMelBins
	lifter   []float64
	fft      *realFFT
	frame    []float64
	spec     []float64
	melE     []float64
	ext      []float32 // reflected signal when SnipEdges is false
	logFloor float64   // log(EnergyFloor) or -Inf
	dim      int
	shared   *Extractor // tables are shared by clones
}

// NewExtractor validates opt (with the same rules as torchaudio) and builds
// the tables.
func NewExtractor(opt Options) (*Extractor, error) {
	e := &Extractor{opt: opt}
	if opt.Kind != Fbank && opt.Kind != MFCC {
		return nil, fmt.Errorf("audio: invalid feature kind %d", opt.Kind)
	}
	if !(opt.SampleRate > 0) || math.IsInf(opt.SampleRate, 0) {
		return nil, fmt.Errorf("audio: sample rate %v must be > 0", opt.SampleRate)
	}
	e.winShift = int(opt.SampleRate * opt.FrameShiftMs * 0.001)
	e.winSize = int(opt.SampleRate * opt.FrameLengthMs * 0.001)
	if e.winSize < 2 || e.winSize > 1<<20 {
		return nil, fmt.Errorf("audio: frame length %v ms gives a window of %d samples", opt.FrameLengthMs, e.winSize)
	}
	if e.winShift <= 0 {
		return nil, fmt.Errorf("audio: frame shift %v ms gives a shift of %d samples", opt.FrameShiftMs, e.winShift)
	}
	e.padded = e.winSize
	if opt.RoundToPowerOfTwo {
		e.padded = 1
		for e.padded < e.winSize {
			e.padded <<= 1
		}
	}
	if e.padded%2 != 0 {
		return nil, fmt.Errorf("audio: padded window size %d is odd; set RoundToPowerOfTwo or change the frame length", e.padded)
	}
	if opt.Preemphasis < 0 || opt.Preemphasis > 1 {
		return nil, fmt.Errorf("audio: pre-emphasis %v outside [0, 1]", opt.Preemphasis)
	}
	if opt.Dither < 0 || math.IsNaN(opt.Dither) {
		return nil, fmt.Errorf("audio: dither %v < 0", opt.Dither)
	}
	if opt.EnergyFloor < 0 {
		return nil, fmt.Errorf("audio: energy floor %v < 0", opt.EnergyFloor)
	}
	e.logFloor = math.Inf(-1)
	if opt.EnergyFloor > 0 {
		e.logFloor = math.Log(opt.EnergyFloor)
	}
	var err error
	if e.window, err = makeWindow(opt.Window, e.winSize, opt.BlackmanCoeff, opt.Float32Window); err != nil {
		return nil, err
	}
	if e.mel, err = melBanks(opt, e.padded); err != nil {
		return nil, err
	}
	if e.fft, err = newRealFFT(e.padded); err != nil {
		return nil, err
	}
	nb := opt.NumMelBins
	switch opt.Kind {
	case Fbank:
		e.dim = nb
		if opt.UseEnergy {
			e.dim++
		}
	case MFCC:
		if opt.NumCeps < 1 || opt.NumCeps > nb {
			return nil, fmt.Errorf("audio: num_ceps %d must be in [1, num_mel_bins=%d]", opt.NumCeps, nb)
		}
		e.dim = opt.NumCeps
		// Orthonormal DCT-II with Kaldi's C0 scale sqrt(1/N).
		e.dct = make([]float64, opt.NumCeps*nb)
		for k := 0; k < opt.NumCeps; k++ {
			s := math.Sqrt(2 / float64(nb))
			if k == 0 {
				s = math.Sqrt(1 / float64(nb))
			}
			for n := 0; n < nb; n++ {
				e.dct[k*nb+n] = s * math.Cos(math.Pi/float64(nb)*(float64(n)+0.5)*float64(k))
			}
		}
		e.lifter = make([]float64, opt.NumCeps)
		for i := range e.lifter {
			e.lifter[i] = 1
			if opt.CepstralLifter != 0 {
				e.lifter[i] = 1 + 0.5*opt.CepstralLifter*math.Sin(math.Pi*float64(i)/opt.CepstralLifter)
			}
		}
	}
	e.alloc()
	return e, nil
}

func (e *Extractor) alloc() {
	e.frame = make([]float64, e.padded)
	e.spec = make([]float64, e.padded/2+1)
	e.melE = make([]float64, e.opt.NumMelBins)
}

// Clone returns an Extractor sharing e's read-only tables with its own
// scratch buffers, for use on another goroutine.
func (e *Extractor) Clone() *Extractor {
	c := *e
	c.fft, _ = newRealFFT(e.padded)
	c.ext = nil
	c.alloc()
	return &c
}

// Options returns the options e was built with.
func (e *Extractor) Options() Options { return e.opt }

// Dim is the number of values per frame.
func (e *Extractor) Dim() int { return e.dim }

// FrameShift is the hop in samples.
func (e *Extractor) FrameShift() int { return e.winShift }

// NumFrames is the number of frames computed for n samples.
func (e *Extractor) NumFrames(n int) int {
	// torchaudio raises for input shorter than one window whatever
	// snip_edges says; we return zero frames instead.
	if n < e.winSize || float64(n) < e.opt.MinDuration*e.opt.SampleRate {
		return 0
	}
	if e.opt.SnipEdges {
		return 1 + (n-e.winSize)/e.winShift
	}
	return (n + e.winShift/2) / e.winShift
}

func makeWindow(t WindowType, n int, blackman float64, f32 bool) ([]float64, error) {
	if f32 {
		return makeWindow32(t, n, blackman)
	}
	w := make([]float64, n)
	a := 2 * math.Pi / float64(n-1)
	for i := range w {
		x := float64(i)
		switch t {
		case Hann:
			w[i] = 0.5 - 0.5*math.Cos(a*x)
		case Povey:
			w[i] = math.Pow(0.5-0.5*math.Cos(a*x), 0.85)
		case Hamming:
			w[i] = 0.54 - 0.46*math.Cos(a*x)
		case Rectangular:
			w[i] = 1
		case Blackman:
			w[i] = blackman - 0.5*math.Cos(a*x) + (0.5-blackman)*math.Cos(2*a*x)
		default:
			return nil, fmt.Errorf("audio: invalid window type %d", t)
		}
	}
	return w, nil
}

// makeWindow32 follows the float32 evaluation order of torch.hann_window /
// hamming_window (arange · step, cos, · -beta, + alpha) and of
// torchaudio's Blackman and Povey formulas, rounding to float32 after every
// operation (explicit conversions keep Go from fusing them).
func makeWindow32(t WindowType, n int, blackman float64) ([]float64, error) {
	w := make([]float64, n)
	step := float32(2 * math.Pi / float64(n-1))
	step2 := float32(2 * (2 * math.Pi / float64(n-1)))
	cos32 := func(x float32) float32 { return float32(math.Cos(float64(x))) }
	hamming := func(i int, alpha, beta float32) float32 {
		c := cos32(float32(float32(i) * step))
		return float32(float32(c*-beta) + alpha)
	}
	for i := range w {
		var v float32
		switch t {
		case Hann:
			v = hamming(i, 0.5, 0.5)
		case Povey:
			v = float32(math.Pow(float64(hamming(i, 0.5, 0.5)), 0.85))
		case Hamming:
			v = hamming(i, 0.54, 0.46)
		case Rectangular:
			v = 1
		case Blackman:
			c1 := float32(0.5 * cos32(float32(float32(i)*step)))
			c2 := float32(float32(0.5-blackman) * cos32(float32(float32(i)*step2)))
			v = float32(float32(float32(blackman)-c1) + c2)
		default:
			return nil, fmt.Errorf("audio: invalid window type %d", t)
		}
		w[i] = float64(v)
	}
	return w, nil
}

// MelScale is Kaldi's mel scale, 1127 ln(1 + f/700).
func MelScale(f float64) float64 { return 1127 * math.Log(1+f/700) }

// InverseMelScale inverts MelScale.
func InverseMelScale(m float64) float64 { return 700 * (math.Exp(m/1127) - 1) }

// vtlnWarpFreq is Kaldi's piecewise-linear VTLN warping of a frequency.
func vtlnWarpFreq(lowCut, highCut, lowFreq, highFreq, warp, f float64) float64 {
	if f < lowFreq || f > highFreq {
		return f
	}
	l := lowCut * math.Max(1, warp)
	h := highCut * math.Min(1, warp)
	scale := 1 / warp
	fl, fh := scale*l, scale*h
	switch {
	case f < l:
		return lowFreq + (fl-lowFreq)/(l-lowFreq)*(f-lowFreq)
	case f < h:
		return scale * f
	default:
		return highFreq + (highFreq-fh)/(highFreq-h)*(f-highFreq)
	}
}

// melBanks builds the triangular filters of torchaudio's get_mel_banks over
// the padded/2 FFT bins (the Nyquist bin has weight 0), stored sparsely.
func melBanks(o Options, padded int) ([]melBin, error) {
	nb := o.NumMelBins
	if nb <= 3 {
		return nil, fmt.Errorf("audio: num_mel_bins %d must be > 3", nb)
	}
	nfft := padded / 2
	nyq := 0.5 * o.SampleRate
	high := o.HighFreq
	if high <= 0 {
		high += nyq
	}
	if !(o.LowFreq >= 0 && o.LowFreq < nyq && high > 0 && high <= nyq && o.LowFreq < high) {
		return nil, fmt.Errorf("audio: bad mel range: low_freq %v, high_freq %v, Nyquist %v", o.LowFreq, high, nyq)
	}
	vlow, vhigh := o.VTLNLow, o.VTLNHigh
	if vhigh < 0 {
		vhigh += nyq
	}
	warp := o.VTLNWarp
	if warp != 1 && !(o.LowFreq < vlow && vlow < high && 0 < vhigh && vhigh < high && vlow < vhigh) {
		return nil, fmt.Errorf("audio: bad VTLN range: vtln_low %v, vtln_high %v, low_freq %v, high_freq %v", vlow, vhigh, o.LowFreq, high)
	}
	if warp != 1 && !(warp > 0) {
		return nil, fmt.Errorf("audio: vtln_warp %v must be > 0", warp)
	}
	binW := o.SampleRate / float64(padded)
	mlow, mhigh := MelScale(o.LowFreq), MelScale(high)
	delta := (mhigh - mlow) / float64(nb+1)
	warpMel := func(m float64) float64 {
		if warp == 1 {
			return m
		}
		return MelScale(vtlnWarpFreq(vlow, vhigh, o.LowFreq, high, warp, InverseMelScale(m)))
	}
	bins := make([]melBin, nb)
	mels := make([]float64, nfft)
	for k := range mels {
		mels[k] = MelScale(binW * float64(k))
	}
	for b := 0; b < nb; b++ {
		left := warpMel(mlow + float64(b)*delta)
		center := warpMel(mlow + float64(b+1)*delta)
		right := warpMel(mlow + float64(b+2)*delta)
		first, last := -1, -1
		w := make([]float64, nfft)
		for k, m := range mels {
			up := (m - left) / (center - left)
			down := (right - m) / (right - center)
			var v float64
			if warp == 1 {
				v = math.Max(0, math.Min(up, down))
			} else if m > left && m <= center {
				v = up
			} else if m > center && m < right {
				v = down
			}
			if v != 0 {
				if first < 0 {
					first = k
				}
				last = k
			}
			w[k] = v
		}
		if first < 0 {
			bins[b] = melBin{first: 0, w: nil}
			continue
		}
		bins[b] = melBin{first: first, w: append([]float64(nil), w[first:last+1]...)}
	}
	return bins, nil
}

// Compute computes the features of the mono waveform wave (samples at
// Options.SampleRate, any scale; torchaudio and HuBERT use [-1, 1]). rng
// supplies the dither noise and may be nil when Dither is 0. The result
// reuses dst.Data when it has the capacity.
//
// Input shorter than one frame (or than MinDuration) gives a Matrix with
// zero rows and no error. Non-finite samples are not checked here (the WAV
// decoder rejects them); they propagate into the affected frames.
func (e *Extractor) Compute(dst Matrix, wave []float32, rng *rand.Rand) (Matrix, error) {
	o := &e.opt
	if o.Dither != 0 && rng == nil {
		return Matrix{}, ErrNeedRand
	}
	nf := e.NumFrames(len(wave))
	need := nf * e.dim
	if cap(dst.Data) < need {
		dst.Data = make([]float32, need)
	}
	out := Matrix{Data: dst.Data[:need], Rows: nf, Cols: e.dim}
	if nf == 0 {
		return out, nil
	}
	src := wave
	if !o.SnipEdges {
		// Kaldi's reflection: [x[pad-1] .. x[0]] + x + reversed(x).
		pad := e.winSize/2 - e.winShift/2
		n := len(wave)
		total := n + n
		if pad > 0 {
			total += pad
		}
		if cap(e.ext) < total {
			e.ext = make([]float32, total)
		}
		ext := e.ext[:0]
		if pad > 0 {
			for i := pad - 1; i >= 0; i-- {
				ext = append(ext, wave[i]) // pad < winSize/2 <= n
			}
			ext = append(ext, wave...)
		} else {
			ext = append(ext, wave[-pad:]...)
		}
		for i := n - 1; i >= 0; i-- {
			ext = append(ext, wave[i])
		}
		src = ext
	}
	for f := 0; f < nf; f++ {
		e.computeFrame(out.Row(f), src[f*e.winShift:f*e.winShift+e.winSize], rng)
	}
	if o.SubtractMean {
		SubtractMean(out)
	}
	return out, nil
}

func (e *Extractor) computeFrame(dst []float32, in []float32, rng *rand.Rand) {
	o := &e.opt
	x := e.frame
	W := e.winSize
	x = x[:len(e.frame)]
	in = in[:W]
	// Four accumulators: a single running sum is bound by the add latency.
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= W; i += 4 {
		a, b, c, d := float64(in[i]), float64(in[i+1]), float64(in[i+2]), float64(in[i+3])
		x[i], x[i+1], x[i+2], x[i+3] = a, b, c, d
		s0 += a
		s1 += b
		s2 += c
		s3 += d
	}
	for ; i < W; i++ {
		x[i] = float64(in[i])
		s0 += x[i]
	}
	sum := (s0 + s1) + (s2 + s3)
	if o.Dither != 0 {
		sum = 0
		for i := 0; i < W; i++ {
			x[i] += rng.NormFloat64() * o.Dither
			sum += x[i]
		}
	}
	mean := 0.0
	if o.RemoveDCOffset {
		mean = sum / float64(W)
	}
	var logE float64
	if o.RawEnergy && o.UseEnergy {
		for i := 0; i < W; i++ {
			x[i] -= mean
		}
		logE = e.logEnergy(x[:W])
		mean = 0
	}
	// DC removal, pre-emphasis and window in one backward sweep:
	// y[i] = ((x[i]-mean) - p·(x[i-1]-mean))·w[i], y[0] = (x[0]-mean)(1-p)·w[0].
	p := o.Preemphasis
	win := e.window[:W]
	xw := x[:W]
	for i := W - 1; i > 0; i-- {
		xw[i] = ((xw[i] - mean) - p*(xw[i-1]-mean)) * win[i]
	}
	xw[0] = (xw[0] - mean) * (1 - p) * win[0]
	for i := W; i < len(x); i++ {
		x[i] = 0
	}
	if !o.RawEnergy && o.UseEnergy {
		logE = e.logEnergy(x)
	}
	magnitude := o.Kind == Fbank && !o.UsePower
	e.fft.power(e.spec, x, magnitude)
	spec := e.spec
	useLog := o.Kind == MFCC || o.UseLogFbank
	melE := e.melE
	for b, mb := range e.mel {
		s := dot64(mb.w, spec[mb.first:mb.first+len(mb.w)])
		if useLog {
			if s < epsilon {
				s = epsilon
			}
			s = math.Log(s)
		}
		melE[b] = s
	}
	nb := len(melE)
	if o.Kind == Fbank {
		j := 0
		if o.UseEnergy && !o.HTKCompat {
			dst[0] = float32(logE)
			j = 1
		}
		for b, v := range melE {
			dst[j+b] = float32(v)
		}
		if o.UseEnergy && o.HTKCompat {
			dst[nb] = float32(logE)
		}
		return
	}
	nc := o.NumCeps
	var c0 float64
	for k := 0; k < nc; k++ {
		s := dot64(e.dct[k*nb:(k+1)*nb], melE) * e.lifter[k]
		if k == 0 {
			c0 = s
			if o.UseEnergy {
				c0 = logE
			}
			continue
		}
		if o.HTKCompat {
			dst[k-1] = float32(s)
		} else {
			dst[k] = float32(s)
		}
	}
	if o.HTKCompat {
		if !o.UseEnergy {
			c0 *= math.Sqrt2
		}
		dst[nc-1] = float32(c0)
	} else {
		dst[0] = float32(c0)
	}
}

func (e *Extractor) logEnergy(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	if s < epsilon {
		s = epsilon
	}
	l := math.Log(s)
	if l < e.logFloor {
		l = e.logFloor
	}
	return l
}

// SubtractMean subtracts each column's mean over the rows, in place
// (torchaudio's subtract_mean; per-utterance mean normalisation).
func SubtractMean(m Matrix) {
	CMVN(m, false)
}

// CMVN applies per-utterance cepstral mean (and, if normVars, variance)
// normalisation in place, like Kaldi's apply-cmvn with utterance-level
// statistics: each column gets zero mean and, with normVars, unit variance
// (population variance; a column with zero variance is only centred).
func CMVN(m Matrix, normVars bool) {
	if m.Rows == 0 {
		return
	}
	for c := 0; c < m.Cols; c++ {
		var s float64
		for r := 0; r < m.Rows; r++ {
			s += float64(m.Data[r*m.Cols+c])
		}
		mean := s / float64(m.Rows)
		scale := 1.0
		if normVars {
			var v float64
			for r := 0; r < m.Rows; r++ {
				d := float64(m.Data[r*m.Cols+c]) - mean
				v += d * d
			}
			v /= float64(m.Rows)
			if v > 0 {
				scale = 1 / math.Sqrt(v)
			}
		}
		for r := 0; r < m.Rows; r++ {
			i := r*m.Cols + c
			m.Data[i] = float32((float64(m.Data[i]) - mean) * scale)
		}
	}
}

// Deltas appends order levels of time derivatives to each frame, like
// torchaudio.functional.compute_deltas applied repeatedly (HuBERT: order 2,
// window 2): d[t] = Σ_{k=1..N} k (x[t+k] - x[t-k]) / (2 Σ k²), with the
// first and last frames replicated at the edges. The result has Cols·(order+1)
// columns laid out [x, Δx, ΔΔx] per frame; dst.Data is reused when large
// enough and must not alias m.Data.
func Deltas(dst, m Matrix, order, window int) Matrix {
	if order < 0 {
		order = 0
	}
	if window < 1 {
		window = 1
	}
	cols := m.Cols * (order + 1)
	need := m.Rows * cols
	if cap(dst.Data) < need {
		dst.Data = make([]float32, need)
	}
	out := Matrix{Data: dst.Data[:need], Rows: m.Rows, Cols: cols}
	T := m.Rows
	for t := 0; t < T; t++ {
		copy(out.Data[t*cols:t*cols+m.Cols], m.Row(t))
	}
	denom := float32(window * (window + 1) * (2*window + 1) / 3)
	inv := 1 / denom
	for lvl := 1; lvl <= order; lvl++ {
		srcOff, dstOff := (lvl-1)*m.Cols, lvl*m.Cols
		for t := 0; t < T; t++ {
			d := out.Data[t*cols+dstOff : t*cols+dstOff+m.Cols]
			for i := range d {
				d[i] = 0
			}
			for k := 1; k <= window; k++ {
				tp, tm := t+k, t-k
				if tp > T-1 {
					tp = T - 1
				}
				if tm < 0 {
					tm = 0
				}
				p := out.Data[tp*cols+srcOff : tp*cols+srcOff+m.Cols]
				q := out.Data[tm*cols+srcOff : tm*cols+srcOff+m.Cols]
				fk := float32(k)
				for i := range d {
					d[i] += fk * (p[i] - q[i])
				}
			}
			for i := range d {
				d[i] *= inv
			}
		}
	}
	return out
}

// dot64 is the inner product of equal-length slices with four accumulators.
func dot64(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	k := 0
	for ; k+4 <= len(a); k += 4 {
		s0 += a[k] * b[k]
		s1 += a[k+1] * b[k+1]
		s2 += a[k+2] * b[k+2]
		s3 += a[k+3] * b[k+3]
	}
	for ; k < len(a); k++ {
		s0 += a[k] * b[k]
	}
	return (s0 + s1) + (s2 + s3)
}
