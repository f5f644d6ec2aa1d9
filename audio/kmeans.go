package audio

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/sslpipe/sslpipe/npy"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// KMeansConfig holds mini-batch k-means parameters; the zero values of the
// optional fields take the HuBERT recipe's settings (scikit-learn
// MiniBatchKMeans as called by fairseq's learn_kmeans.py).
type KMeansConfig struct {
	K         int // clusters (HuBERT: 100 on MFCC, 500 on layer-6 features)
	BatchSize int // frames per mini-batch (10000)
	// MaxEpochs bounds the passes over the data in Fit (100).
	MaxEpochs int
	// InitSize is the number of frames k-means++ runs on (3·BatchSize).
	InitSize int
	// NInit k-means++ initialisations are tried; the one with the lowest
	// inertia on the init sample is kept (20).
	NInit int
	// MaxNoImprovement stops Fit after this many mini-batches without an
	// improvement of the smoothed batch inertia (100).
	MaxNoImprovement int
}

func (c KMeansConfig) withDefaults() KMeansConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 10000
	}
	if c.MaxEpochs <= 0 {
		c.MaxEpochs = 100
	}
	if c.InitSize <= 0 {
		c.InitSize = 3 * c.BatchSize
	}
	if c.NInit <= 0 {
		c.NInit = 20
	}
	if c.MaxNoImprovement <= 0 {
		c.MaxNoImprovement = 100
	}
	return c
}

// KMeansMeta describes what a codebook was fitted on. Labels must only be
// assigned to features of the same type and dimension.
type KMeansMeta struct {
	FeatureType string  `json:"feature_type"` // e.g. "mfcc+deltas" or "hubert_l6"
	Dim         int     `json:"dim"`
	K           int     `json:"k"`
	LabelRate   float64 `json:"label_rate"`  // frames per second of the features (100 for MFCC)
	SourceHash  string  `json:"source_hash"` // SourceHash of the training inputs
	Fraction    float64 `json:"fraction"`    // subsample fraction the frames were drawn with
	Frames      int64   `json:"frames"`      // frames the model saw
	Seed        uint64  `json:"seed"`
	Inertia     float64 `json:"inertia"` // mean squared distance to the nearest centroid on the fit data
}

// KMeans is a k-means codebook: K centroids of Dim float32 values. Assign
// and Inertia are safe for concurrent use; PartialFit is not.
type KMeans struct {
	Meta      KMeansMeta
	Centroids Matrix    // K x Dim
	counts    []float64 // frames absorbed per centroid (mini-batch learning rates)
	ewa       float64
	noImprove int
	bestEWA   float64
	steps     int
}

// ErrKMeans is wrapped by k-means and label validation errors.
var ErrKMeans = errors.New("audio: k-means")

// assignBlock is the number of frames whose distances to all centroids are
// computed by one matrix product.
const assignBlock = 512

// gemmMinDim is the feature dimension from which distances go through a
// matrix product; below it (39-dim MFCCs) a direct loop is faster
// (BenchmarkAssign).
const gemmMinDim = 64

// nearestDirect returns the closest centroid to x and the squared distance,
// computed directly.
func (km *KMeans) nearestDirect(x []float32) (int, float32) {
	c := km.Centroids
	best, bd := 0, float32(math.MaxFloat32)
	x = x[:c.Cols]
	for k := 0; k < c.Rows; k++ {
		row := c.Data[k*c.Cols : (k+1)*c.Cols]
		var d0, d1 float32
		j := 0
		for ; j+2 <= len(row); j += 2 {
			t0 := x[j] - row[j]
			t1 := x[j+1] - row[j+1]
			d0 += t0 * t0
			d1 += t1 * t1
		}
		for ; j < len(row); j++ {
			t0 := x[j] - row[j]
			d0 += t0 * t0
		}
		if d := d0 + d1; d < bd {
			best, bd = k, d
		}
	}
	return best, bd
}

// rowNorms returns the squared L2 norm of every row of m.
func rowNorms(m Matrix) []float32 {
	out := make([]float32, m.Rows)
	for i := range out {
		var s float32
		for _, v := range m.Row(i) {
			s += v * v
		}
		out[i] = s
	}
	return out
}

// nearestAll writes, for every row of x, the index of the nearest centroid
// and the squared distance to it. Distances are computed as
// |x|² - 2x·c + |c|² with the cross terms from one float32 matrix product
// per block of frames (gonum's Sgemm), as scikit-learn does; they are
// clamped at zero.
func (km *KMeans) nearestAll(x Matrix, labels []int32, dists []float32) {
	c := km.Centroids
	if c.Cols < gemmMinDim {
		for i := 0; i < x.Rows; i++ {
			k, d := km.nearestDirect(x.Row(i))
			if labels != nil {
				labels[i] = int32(k)
			}
			if dists != nil {
				dists[i] = d
			}
		}
		return
	}
	cn := rowNorms(c)
	g := make([]float32, min(assignBlock, max(x.Rows, 1))*c.Rows)
	for r0 := 0; r0 < x.Rows; r0 += assignBlock {
		n := min(assignBlock, x.Rows-r0)
		xb := x.Data[r0*x.Cols : (r0+n)*x.Cols]
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, n, c.Rows, c.Cols, 1, xb, x.Cols, c.Data, c.Cols, 0, g, c.Rows)
		for i := 0; i < n; i++ {
			row := g[i*c.Rows : (i+1)*c.Rows]
			best, bd := 0, float32(math.MaxFloat32)
			for k, v := range row {
				if d := cn[k] - 2*v; d < bd {
					best, bd = k, d
				}
			}
			var xn float32
			for _, v := range x.Row(r0 + i) {
				xn += v * v
			}
			if labels != nil {
				labels[r0+i] = int32(best)
			}
			if dists != nil {
				dists[r0+i] = max(bd+xn, 0)
			}
		}
	}
}

// Assign writes the nearest centroid of every frame of m into dst (reused
// when large enough) and returns it.
func (km *KMeans) Assign(m Matrix, dst []int32) ([]int32, error) {
	if m.Cols != km.Centroids.Cols {
		return nil, fmt.Errorf("%w: features have %d dims, codebook %d", ErrKMeans, m.Cols, km.Centroids.Cols)
	}
	if cap(dst) < m.Rows {
		dst = make([]int32, m.Rows)
	}
	dst = dst[:m.Rows]
	km.nearestAll(m, dst, nil)
	return dst, nil
}

// Inertia is the mean squared distance of m's frames to their nearest
// centroid.
func (km *KMeans) Inertia(m Matrix) float64 {
	if m.Rows == 0 {
		return 0
	}
	d := make([]float32, m.Rows)
	km.nearestAll(m, nil, d)
	var s float64
	for _, v := range d {
		s += float64(v)
	}
	return s / float64(m.Rows)
}

// kmeansPP picks k centroids from data with greedy k-means++ (2 + ln k
// candidates per step, keeping the one that lowers the potential most, as
// scikit-learn does).
func kmeansPP(rng *rand.Rand, data Matrix, k int) Matrix {
	n, d := data.Rows, data.Cols
	cent := Matrix{Data: make([]float32, k*d), Rows: k, Cols: d}
	trials := 2 + int(math.Log(float64(k)))
	xn := rowNorms(data)
	// distTo fills out[t*n+i] with the squared distance from data row i to
	// candidate t (rows of cand), through one matrix product.
	g := make([]float32, n*trials)
	distTo := func(cand Matrix, out []float64) {
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, n, cand.Rows, d, 1, data.Data, d, cand.Data, d, 0, g[:n*cand.Rows], cand.Rows)
		cn := rowNorms(cand)
		for i := 0; i < n; i++ {
			for t := 0; t < cand.Rows; t++ {
				out[t*n+i] = math.Max(float64(xn[i]+cn[t]-2*g[i*cand.Rows+t]), 0)
			}
		}
	}
	closest := make([]float64, n)
	first := rng.IntN(n)
	copy(cent.Row(0), data.Row(first))
	distTo(Matrix{Data: cent.Row(0), Rows: 1, Cols: d}, closest)
	pot := 0.0
	for _, v := range closest {
		pot += v
	}
	cand := Matrix{Data: make([]float32, trials*d), Rows: trials, Cols: d}
	candIdx := make([]int, trials)
	cd := make([]float64, trials*n)
	for c := 1; c < k; c++ {
		for t := 0; t < trials; t++ {
			idx := rng.IntN(n)
			if pot > 0 {
				r := rng.Float64() * pot
				idx = n - 1
				for i, v := range closest {
					if r < v {
						idx = i
						break
					}
					r -= v
				}
			}
			candIdx[t] = idx
			copy(cand.Row(t), data.Row(idx))
		}
		distTo(cand, cd)
		bestT, bestPot := 0, math.Inf(1)
		for t := 0; t < trials; t++ {
			p := 0.0
			row := cd[t*n : (t+1)*n]
			for i, v := range row {
				p += math.Min(closest[i], v)
			}
			if p < bestPot {
				bestT, bestPot = t, p
			}
		}
		copy(cent.Row(c), data.Row(candIdx[bestT]))
		row := cd[bestT*n : (bestT+1)*n]
		for i, v := range row {
			closest[i] = math.Min(closest[i], v)
		}
		pot = bestPot
	}
	return cent
}

// NewKMeans initialises a codebook with k-means++ on init (the first
// mini-batch of a stream, or a sample of the data), trying cfg.NInit
// initialisations and keeping the one with the lowest inertia on init.
func NewKMeans(rng *rand.Rand, init Matrix, cfg KMeansConfig, meta KMeansMeta) (*KMeans, error) {
	cfg = cfg.withDefaults()
	if cfg.K < 1 {
		return nil, fmt.Errorf("%w: k = %d", ErrKMeans, cfg.K)
	}
	if init.Rows < cfg.K {
		return nil, fmt.Errorf("%w: %d frames cannot seed %d clusters", ErrKMeans, init.Rows, cfg.K)
	}
	if init.Rows > cfg.InitSize {
		init = subsampleRows(rng, init, cfg.InitSize)
	}
	var best *KMeans
	bestIn := math.Inf(1)
	for t := 0; t < cfg.NInit; t++ {
		km := &KMeans{Centroids: kmeansPP(rng, init, cfg.K)}
		if in := km.Inertia(init); in < bestIn {
			best, bestIn = km, in
		}
	}
	best.counts = make([]float64, cfg.K)
	best.Meta = meta
	best.Meta.K, best.Meta.Dim = cfg.K, init.Cols
	best.bestEWA = math.Inf(1)
	return best, nil
}

func subsampleRows(rng *rand.Rand, m Matrix, n int) Matrix {
	idx := sampleWithoutReplacement(rng, m.Rows, n)
	slices.Sort(idx)
	out := Matrix{Data: make([]float32, n*m.Cols), Rows: n, Cols: m.Cols}
	for i, j := range idx {
		copy(out.Row(i), m.Row(j))
	}
	return out
}

// PartialFit runs one mini-batch step on batch (scikit-learn's update: each
// centroid moves to the running mean of every frame ever assigned to it,
// i.e. a per-centroid learning rate of 1/count). It returns the batch's mean
// squared distance before the update. To fit while streaming over a dataset,
// seed with NewKMeans on the first batch and call PartialFit on each later
// one. The per-centroid counts are not saved: a codebook from LoadKMeans is
// for Assign, and PartialFit on it restarts the counts.
func (km *KMeans) PartialFit(batch Matrix) (float64, error) {
	c := km.Centroids
	if batch.Cols != c.Cols {
		return 0, fmt.Errorf("%w: batch has %d dims, codebook %d", ErrKMeans, batch.Cols, c.Cols)
	}
	if batch.Rows == 0 {
		return 0, nil
	}
	sums := make([]float64, c.Rows*c.Cols)
	n := make([]float64, c.Rows)
	labels := make([]int32, batch.Rows)
	dists := make([]float32, batch.Rows)
	km.nearestAll(batch, labels, dists)
	var inertia float64
	for i := 0; i < batch.Rows; i++ {
		x := batch.Row(i)
		k := labels[i]
		inertia += float64(dists[i])
		n[k]++
		s := sums[int(k)*c.Cols : (int(k)+1)*c.Cols]
		for j, v := range x {
			s[j] += float64(v)
		}
	}
	for k := 0; k < c.Rows; k++ {
		if n[k] == 0 {
			continue
		}
		old := km.counts[k]
		km.counts[k] += n[k]
		row := c.Row(k)
		for j := range row {
			row[j] = float32((float64(row[j])*old + sums[k*c.Cols+j]) / km.counts[k])
		}
	}
	km.Meta.Frames += int64(batch.Rows)
	km.steps++
	return inertia / float64(batch.Rows), nil
}

// Fit initialises with NewKMeans and runs mini-batch steps over data (held
// in memory: draw it with a FrameSampler) until cfg.MaxEpochs passes or
// cfg.MaxNoImprovement batches without improvement of the smoothed batch
// inertia. Meta.Inertia is set to the final inertia on data.
func FitKMeans(rng *rand.Rand, data Matrix, cfg KMeansConfig, meta KMeansMeta) (*KMeans, error) {
	cfg = cfg.withDefaults()
	km, err := NewKMeans(rng, data, cfg, meta)
	if err != nil {
		return nil, err
	}
	bs := min(cfg.BatchSize, data.Rows)
	steps := cfg.MaxEpochs * ((data.Rows + bs - 1) / bs)
	batch := Matrix{Data: make([]float32, bs*data.Cols), Rows: bs, Cols: data.Cols}
	alpha := 2 * float64(bs) / float64(data.Rows+1)
	alpha = math.Min(alpha, 1)
	for s := 0; s < steps; s++ {
		for i := 0; i < bs; i++ {
			copy(batch.Row(i), data.Row(rng.IntN(data.Rows)))
		}
		in, err := km.PartialFit(batch)
		if err != nil {
			return nil, err
		}
		if s == 0 {
			km.ewa = in
		} else {
			km.ewa = km.ewa*(1-alpha) + in*alpha
		}
		if km.ewa < km.bestEWA {
			km.bestEWA, km.noImprove = km.ewa, 0
		} else if km.noImprove++; km.noImprove >= cfg.MaxNoImprovement {
			break
		}
	}
	km.Meta.Inertia = km.Inertia(data)
	return km, nil
}

// FrameSampler draws a uniform subsample of frames from a stream of
// utterances: each frame is kept with probability Fraction, and at most Max
// frames are kept (reservoir sampling over the kept frames when Max > 0).
// This is HuBERT's "fit on about 10% of the data" step without holding the
// whole dataset.
type FrameSampler struct {
	Fraction float64
	Max      int
	rng      *rand.Rand
	data     []float32
	dim      int
	seen     int64 // frames that passed the Bernoulli draw
}

// NewFrameSampler returns a sampler drawing from rng.
func NewFrameSampler(rng *rand.Rand, fraction float64, max int) *FrameSampler {
	return &FrameSampler{Fraction: fraction, Max: max, rng: rng}
}

// Add offers every frame of m to the sampler. m is not retained.
func (s *FrameSampler) Add(m Matrix) error {
	if s.dim == 0 {
		s.dim = m.Cols
	}
	if m.Cols != s.dim {
		return fmt.Errorf("%w: frame sampler got %d dims, expected %d", ErrKMeans, m.Cols, s.dim)
	}
	for i := 0; i < m.Rows; i++ {
		if s.Fraction < 1 && s.rng.Float64() >= s.Fraction {
			continue
		}
		s.seen++
		if s.Max <= 0 || len(s.data)/s.dim < s.Max {
			s.data = append(s.data, m.Row(i)...)
			continue
		}
		if j := s.rng.Int64N(s.seen); j < int64(s.Max) {
			copy(s.data[int(j)*s.dim:], m.Row(i))
		}
	}
	return nil
}

// Frames returns the kept frames (aliasing the sampler's buffer).
func (s *FrameSampler) Frames() Matrix {
	if s.dim == 0 {
		return Matrix{}
	}
	return Matrix{Data: s.data, Rows: len(s.data) / s.dim, Cols: s.dim}
}

// SourceHash is a stable digest of a dataset description, for example the
// sorted "relative/path:size" strings of the training files.
func SourceHash(items []string) string {
	s := slices.Clone(items)
	slices.Sort(s)
	h := sha256.New()
	for _, v := range s {
		io.WriteString(h, v)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

const kmeansMagic = "SSLPIPE-KMEANS/1\n"

// Save writes the codebook: a magic line, the JSON metadata on one line,
// then the centroids as a float32 .npy array (K x Dim). The file is written
// to a temporary name and renamed into place.
func (km *KMeans) Save(path string) error {
	var buf bytes.Buffer
	buf.WriteString(kmeansMagic)
	meta, _ := json.Marshal(km.Meta)
	buf.Write(meta)
	buf.WriteByte('\n')
	if err := npy.Write(&buf, &npy.Array{DType: npy.Float32, Shape: []int{km.Centroids.Rows, km.Centroids.Cols}, F32: km.Centroids.Data}); err != nil {
		return fmt.Errorf("audio: %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("audio: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("audio: %w", err)
	}
	return nil
}

// LoadKMeans reads a codebook written by Save and checks that the metadata
// agrees with the centroid array (K rows, Dim columns, finite values).
func LoadKMeans(path string) (*KMeans, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	br := bufio.NewReader(f)
	magic := make([]byte, len(kmeansMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != kmeansMagic {
		return nil, fmt.Errorf("%w: %s: not a k-means file", ErrKMeans, path)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%w: %s: truncated metadata", ErrKMeans, path)
	}
	km := &KMeans{}
	if err := json.Unmarshal(line, &km.Meta); err != nil {
		return nil, fmt.Errorf("%w: %s: metadata: %v", ErrKMeans, path, err)
	}
	// The centroids' size is checked against the bytes left in the file
	// before they are allocated: a header claiming gigabytes in a short
	// file is an error, not an allocation.
	a, err := npy.Read(br, st.Size()-int64(len(magic)+len(line)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: centroids: %v", ErrKMeans, path, err)
	}
	if a.DType != npy.Float32 || len(a.Shape) != 2 || a.Shape[0] != km.Meta.K || a.Shape[1] != km.Meta.Dim || km.Meta.K < 1 {
		return nil, fmt.Errorf("%w: %s: centroids %v %v do not match k=%d dim=%d", ErrKMeans, path, a.DType, a.Shape, km.Meta.K, km.Meta.Dim)
	}
	for _, v := range a.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: %s: non-finite centroid", ErrKMeans, path)
		}
	}
	km.Centroids = Matrix{Data: a.F32, Rows: a.Shape[0], Cols: a.Shape[1]}
	km.counts = make([]float64, km.Meta.K)
	km.bestEWA = math.Inf(1)
	return km, nil
}
