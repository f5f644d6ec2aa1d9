package preprocess

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
)

// featureRate is the frame rate of the Kaldi features (10 ms shift).
const featureRate = 100

// kmeansMaxFrames caps the frames k-means is fitted on (reservoir sampled
// beyond it): 1 M frames of 39 values is 156 MB.
const kmeansMaxFrames = 1 << 20

// Artifact file names of the audio modality.
const (
	kmeansModelName = "kmeans.model"         // audio.KMeans.Save format, reusable with --kmeans-from
	kmeansNpyName   = "kmeans-centroids.npy" // the centroids alone, K x Dim float32
)

// audioProc holds what every audio worker shares.
type audioProc struct {
	o         *Options
	ext       *audio.Extractor // template; workers take clones from pool
	pool      sync.Pool
	resampers sync.Map // input rate -> *audio.Resampler
	km        *audio.KMeans
	enc       audio.ConvStack
	featName  string
	featType  string
}

// newAudioProducer makes the audio modality: decode WAV (header validated,
// duration checked against MaxSeconds before the samples are allocated),
// downmix to mono by averaging, resample to Rate, store the waveform as
// <key>.wav.npy (int16 scaled by 32767 and rounded, or float32 in [-1, 1]),
// optionally <key>.mfcc.npy / <key>.fbank.npy (frames x dims, Kaldi options
// as torchaudio.compliance.kaldi, deltas of window 5 appended) and
// <key>.km.npy (int32 k-means labels at LabelRate, HuBERT's
// forward_targets alignment on the wav2vec 2.0 encoder frames).
func newAudioProducer(ctx context.Context, o *Options, r *runner) (producer, error) {
	p := &audioProc{o: o}
	fields := []string{"wav.npy"}
	meta := &Meta{SampleRate: o.Rate, WaveDType: o.DType}
	if o.Features != "" {
		kind, err := audio.ParseKind(o.Features)
		if err != nil {
			return nil, optErr("%v", err)
		}
		opt := audio.DefaultOptions(kind)
		opt.SampleRate = float64(o.Rate)
		if p.ext, err = audio.NewExtractor(opt); err != nil {
			return nil, optErr("--features at --rate %d: %v", o.Rate, err)
		}
		p.pool.New = func() any { return p.ext.Clone() }
		p.featName, p.featType = o.Features, o.Features
		if o.Deltas {
			p.featType += "+deltas"
		}
		fields = append(fields, o.Features+".npy")
		meta.FeatureDim, meta.FeatureRate = p.dim(), featureRate
	}
	if o.KMeans > 0 || o.KMeansFrom != "" {
		if stride := o.Rate / o.LabelRate; stride == audio.Wav2Vec2Conv.Stride() {
			p.enc = audio.Wav2Vec2Conv
		} else {
			p.enc = audio.ConvStack{Kernels: []int{stride}, Strides: []int{stride}}
		}
		fields = append(fields, "km.npy")
		meta.LabelRate = o.LabelRate
		meta.KMeansK = o.KMeans
		if o.KMeansFrom != "" {
			sum, _, err := fileSHA256(o.KMeansFrom)
			if err != nil {
				return nil, fmt.Errorf("preprocess: --kmeans-from: %w", err)
			}
			o.KMeansFromSHA = sum
			km, err := audio.LoadKMeans(o.KMeansFrom)
			if err != nil {
				return nil, optErr("--kmeans-from: %v", err)
			}
			if err := p.checkCodebook(km); err != nil {
				return nil, err
			}
			p.km = km
			meta.KMeansK = km.Centroids.Rows
		}
	}
	m, err := newMediaProducer(ctx, o, r, p.process, fields, meta)
	if err != nil {
		return nil, err
	}
	m.prepFn = func(ctx context.Context, r *runner) error { return p.prepare(ctx, r, m.ins) }
	return m, nil
}

func (p *audioProc) dim() int {
	d := p.ext.Dim()
	if p.o.Deltas {
		d *= 3
	}
	return d
}

func (p *audioProc) checkCodebook(km *audio.KMeans) error {
	if km.Centroids.Cols != p.dim() || (km.Meta.FeatureType != "" && km.Meta.FeatureType != p.featType) {
		return optErr("--kmeans-from: codebook fitted on %q features of %d dims, this run makes %q of %d dims", km.Meta.FeatureType, km.Centroids.Cols, p.featType, p.dim())
	}
	return nil
}

// decoded is one input after decoding and resampling.
type decoded struct {
	wave    []float32
	seconds float64
}

func (p *audioProc) decode(in *input, data []byte) (decoded, error) {
	d, err := audio.NewDecoder(bytes.NewReader(data), int64(len(data)), in.Name)
	if err != nil {
		return decoded{}, err
	}
	info := d.Info()
	if sec := info.Duration(); sec > p.o.MaxSeconds {
		return decoded{}, fmt.Errorf("%w: audio: %s: %.1f s long (--max-seconds %g)", errTooLarge, in.Name, sec, p.o.MaxSeconds)
	}
	wave, err := d.ReadAll(nil)
	if err != nil {
		return decoded{}, err
	}
	if len(wave) == 0 {
		return decoded{}, fmt.Errorf("audio: %s: no samples", in.Name)
	}
	if info.SampleRate != p.o.Rate {
		rs, ok := p.resampers.Load(info.SampleRate)
		if !ok {
			r, err := audio.NewResampler(info.SampleRate, p.o.Rate)
			if err != nil {
				return decoded{}, fmt.Errorf("audio: %s: %w", in.Name, err)
			}
			rs, _ = p.resampers.LoadOrStore(info.SampleRate, r)
		}
		wave = rs.(*audio.Resampler).Resample(wave)
	}
	return decoded{wave: wave, seconds: float64(len(wave)) / float64(p.o.Rate)}, nil
}

// features computes the feature matrix of a resampled waveform.
func (p *audioProc) features(wave []float32) (audio.Matrix, error) {
	ext := p.pool.Get().(*audio.Extractor)
	defer p.pool.Put(ext)
	m, err := ext.Compute(audio.Matrix{}, wave, nil)
	if err != nil {
		return audio.Matrix{}, err
	}
	if p.o.Deltas {
		m = audio.Deltas(audio.Matrix{}, m, 2, 2)
	}
	return m, nil
}

func npyBytes(a *npy.Array) []byte {
	var buf bytes.Buffer
	if err := npy.Write(&buf, a); err != nil {
		panic("preprocess: npy: " + err.Error()) // shapes are built here and always match
	}
	return buf.Bytes()
}

func (p *audioProc) process(ctx context.Context, in *input, data []byte) (itemResult, error) {
	dec, err := p.decode(in, data)
	if err != nil {
		return itemResult{}, err
	}
	res := itemResult{Seconds: dec.seconds}
	if p.o.DType == "float32" {
		res.Fields = append(res.Fields, Field{Name: "wav.npy", Data: npyBytes(&npy.Array{DType: npy.Float32, Shape: []int{len(dec.wave)}, F32: dec.wave})})
	} else {
		pcm := make([]int16, len(dec.wave))
		for i, v := range dec.wave {
			pcm[i] = int16(math.Round(float64(max(-1, min(1, v))) * 32767))
		}
		res.Fields = append(res.Fields, Field{Name: "wav.npy", Data: npyBytes(&npy.Array{DType: npy.Int16, Shape: []int{len(pcm)}, I16: pcm})})
	}
	if p.ext == nil {
		return res, nil
	}
	feat, err := p.features(dec.wave)
	if err != nil {
		return itemResult{}, fmt.Errorf("audio: %s: %w", in.Name, err)
	}
	res.Fields = append(res.Fields, Field{Name: p.featName + ".npy", Data: npyBytes(&npy.Array{DType: npy.Float32, Shape: []int{feat.Rows, feat.Cols}, F32: feat.Data})})
	if p.km == nil {
		return res, nil
	}
	lab, err := p.km.Assign(feat, nil)
	if err != nil {
		return itemResult{}, fmt.Errorf("audio: %s: %w", in.Name, err)
	}
	if p.o.LabelRate != featureRate {
		if lab, err = audio.AlignLabels(lab, featureRate, len(dec.wave), p.o.Rate, p.enc, p.km.Centroids.Rows); err != nil {
			return itemResult{}, fmt.Errorf("audio: %s: %w", in.Name, err)
		}
	}
	res.Fields = append(res.Fields, Field{Name: "km.npy", Data: npyBytes(&npy.Array{DType: npy.Int32, Shape: []int{len(lab)}, I32: lab})})
	return res, nil
}

// kmeansRecord is DIR/.sslpipe/kmeans.json: which run fitted kmeans.model.
type kmeansRecord struct {
	Fingerprint string `json:"fingerprint"`
	SHA256      string `json:"sha256"`
}

// prepare fits the k-means codebook (or reuses the one an interrupted run
// of the same command fitted) and stores it with its centroids in DIR.
func (p *audioProc) prepare(ctx context.Context, r *runner, ins []input) error {
	o := p.o
	if o.KMeans == 0 && o.KMeansFrom == "" {
		return nil
	}
	model := filepath.Join(o.Out, kmeansModelName)
	recPath := filepath.Join(o.Out, stateDir, "kmeans.json")
	if o.KMeans > 0 {
		var rec kmeansRecord
		if data, err := os.ReadFile(recPath); err == nil && json.Unmarshal(data, &rec) == nil && rec.Fingerprint == r.fp {
			if sum, _, err := fileSHA256(model); err == nil && sum == rec.SHA256 {
				if km, err := audio.LoadKMeans(model); err == nil {
					p.km = km
				}
			}
		}
		if p.km == nil {
			km, err := p.fit(ctx, r, ins)
			if err != nil {
				return err
			}
			p.km = km
		}
	}
	// audio.KMeans.Save renames from a fixed temporary name: save under a
	// name unique to this process, then rename, so that parts sharing the
	// folder never interleave.
	tmp := tmpName(model)
	if err := p.km.Save(tmp); err != nil {
		os.Remove(tmp)
		return writeErr(model, err)
	}
	if err := os.Rename(tmp, model); err != nil {
		os.Remove(tmp)
		return writeErr(model, err)
	}
	sum, _, err := fileSHA256(model)
	if err != nil {
		return fmt.Errorf("preprocess: %w", err)
	}
	c := p.km.Centroids
	csum, err := writeFileAtomic(filepath.Join(o.Out, kmeansNpyName), npyBytes(&npy.Array{DType: npy.Float32, Shape: []int{c.Rows, c.Cols}, F32: c.Data}))
	if err != nil {
		return err
	}
	if _, err := writeJSONAtomic(recPath, kmeansRecord{Fingerprint: r.fp, SHA256: sum}); err != nil {
		return err
	}
	r.artifacts = append(r.artifacts,
		Artifact{Kind: "kmeans", Path: kmeansModelName, SHA256: sum},
		Artifact{Kind: "kmeans-centroids", Path: kmeansNpyName, SHA256: csum})
	return nil
}

// fit draws KMeansFraction of the recordings (each kept with that
// probability, keyed by the seed and its input index, so the choice does
// not depend on parts or workers), computes their features in input order
// and fits mini-batch k-means (k-means++ init) on their frames, like
// fairseq's learn_kmeans.py on a percentage of the utterances.
func (p *audioProc) fit(ctx context.Context, r *runner, ins []input) (*audio.KMeans, error) {
	o := p.o
	var chosen []input
	for _, in := range ins {
		if in.Err == nil && pipeline.SampleRand(o.Seed, 0, uint64(in.Index), 1).Float64() < o.KMeansFraction {
			chosen = append(chosen, in)
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "preprocess: fitting k-means (K=%d) on %d of %d recordings\n", o.KMeans, len(chosen), len(ins))
	}
	s := pipeline.Map(pipeline.From[input](pipeline.Slice(chosen), pipeline.Order{}), func(ctx context.Context, smp pipeline.Sample[input]) (audio.Matrix, error) {
		in := smp.Value
		data, err := in.read()
		if err != nil {
			return audio.Matrix{}, err
		}
		dec, err := p.decode(&in, data)
		if err != nil {
			return audio.Matrix{}, err
		}
		return p.features(dec.wave)
	}, pipeline.MapOptions{Name: "kmeans-features", Workers: o.Workers})
	sampler := audio.NewFrameSampler(pipeline.SampleRand(o.Seed, 0, 0, 2), 1, kmeansMaxFrames)
	for smp, err := range pipeline.All(ctx, s, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}}) {
		if err != nil {
			return nil, fmt.Errorf("preprocess: k-means features: %w", err)
		}
		if err := sampler.Add(smp.Value); err != nil {
			return nil, err
		}
	}
	frames := sampler.Frames()
	if frames.Rows < o.KMeans {
		return nil, fmt.Errorf("preprocess: k-means: %d frames from %d recordings cannot fit %d clusters; raise --kmeans-fraction", frames.Rows, len(chosen), o.KMeans)
	}
	meta := audio.KMeansMeta{FeatureType: p.featType, LabelRate: featureRate, SourceHash: r.inputsSHA[:32], Fraction: o.KMeansFraction, Seed: o.Seed}
	km, err := audio.FitKMeans(pipeline.SampleRand(o.Seed, 0, 0, 3), frames, audio.KMeansConfig{K: o.KMeans}, meta)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	return km, nil
}
