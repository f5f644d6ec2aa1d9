package preprocess

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
)

// Summary reports what a Run did. Counts cover the shards of this part,
// both those written now and those kept from an earlier run; the rates
// cover the work done now.
type Summary struct {
	Out            string         `json:"out"`
	Modality       string         `json:"modality"`
	Part           int            `json:"part"`
	Parts          int            `json:"parts"`
	Inputs         int            `json:"inputs"`      // inputs listed (all parts)
	PartInputs     int            `json:"part_inputs"` // inputs in this part's shards
	Samples        int            `json:"samples"`     // samples in this part's shards
	Rejected       int            `json:"rejected"`    // rejected inputs in this part's shards
	RejectedByKind map[string]int `json:"rejected_by_kind"`
	Shards         int            `json:"shards"`         // shards of this part
	ShardsWritten  int            `json:"shards_written"` // written by this run
	ShardsKept     int            `json:"shards_kept"`    // finished earlier, verified by sha256 and kept
	BytesWritten   int64          `json:"bytes_written"`
	InputBytes     int64          `json:"input_bytes"`   // bytes read from inputs by this run
	AudioSeconds   float64        `json:"audio_seconds"` // audio processed by this run
	TextBytes      int64          `json:"text_bytes"`    // text processed by this run
	Tokens         int64          `json:"tokens"`        // tokens produced by this run
	ProcessedNow   int            `json:"processed_now"` // inputs processed by this run
	Elapsed        time.Duration  `json:"elapsed_ns"`
	Manifest       string         `json:"manifest"`              // manifest or part manifest written
	ErrorsFile     string         `json:"errors_file,omitempty"` // errors written when stopped by --max-errors
	Stopped        bool           `json:"stopped"`               // stopped by the --max-errors budget
}

// Rate is the inputs processed per second by this run.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.ProcessedNow) / s.Elapsed.Seconds()
}

// String renders the human summary printed at the end of a run.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "preprocess %s -> %s", s.Modality, s.Out)
	if s.Parts > 1 {
		fmt.Fprintf(&b, " (part %d of %d)", s.Part, s.Parts)
	}
	fmt.Fprintf(&b, "\n  inputs:   %d listed, %d in this part\n", s.Inputs, s.PartInputs)
	fmt.Fprintf(&b, "  written:  %d samples in %d shards (%d written now, %d kept after verification)\n", s.Samples, s.Shards, s.ShardsWritten, s.ShardsKept)
	fmt.Fprintf(&b, "  rejected: %d", s.Rejected)
	kinds := make([]string, 0, len(s.RejectedByKind))
	for k := range s.RejectedByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for i, k := range kinds {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, s.RejectedByKind[k])
		if i == len(kinds)-1 {
			b.WriteString(")")
		}
	}
	b.WriteString("\n")
	sec := s.Elapsed.Seconds()
	fmt.Fprintf(&b, "  time:     %.2fs, %.1f inputs/s, %.2f MB/s read, %.2f MB/s written", sec, s.Rate(), mbps(s.InputBytes, sec), mbps(s.BytesWritten, sec))
	if s.AudioSeconds > 0 && sec > 0 {
		fmt.Fprintf(&b, ", %.0f audio hours/hour", s.AudioSeconds/sec)
	}
	if s.TextBytes > 0 && sec > 0 {
		fmt.Fprintf(&b, ", %.2f MB text/s, %.0f tokens/s", mbps(s.TextBytes, sec), float64(s.Tokens)/sec)
	}
	b.WriteString("\n")
	if s.Stopped {
		fmt.Fprintf(&b, "  stopped:  more rejected inputs than --max-errors allows; they are listed in %s\n", s.ErrorsFile)
	}
	if s.Manifest != "" {
		fmt.Fprintf(&b, "  manifest: %s\n", s.Manifest)
	}
	return b.String()
}

func mbps(n int64, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) / 1e6 / sec
}

// shardJob is one shard to make: inputs [First, First+N).
type shardJob struct {
	Index, First, N int
}

// producer makes the samples of one shard; each modality implements it.
type producer interface {
	// inputs is the number of inputs (documents for text) and their digest.
	inputs() (int, string)
	// prepare fits or loads artifacts (tokenizer, k-means) after the output
	// folder is known to be consistent; it may set Options fields.
	prepare(ctx context.Context, r *runner) error
	fields() []string
	meta() *Meta
	// shard writes the samples of job to w and fills rec.
	shard(ctx context.Context, r *runner, job shardJob, w *shardWriter, rec *shardRecord) error
	// close releases what prepare opened.
	close()
}

// runner holds the state of one Run.
type runner struct {
	o         Options
	fp        string
	inputsSHA string
	classes   []string
	artifacts []Artifact
	prod      producer
	nInputs   int

	// progress and budget, updated by the shard goroutine
	done      atomic.Int64 // inputs finished in this part (kept or processed)
	emitted   atomic.Int64
	rejected  atomic.Int64
	partTotal int
	begun     time.Time

	sum Summary
}

// reject counts n rejected inputs and returns an ErrTooManyErrors error
// once more than MaxErrors have been rejected.
func (r *runner) reject(n int) error {
	v := r.rejected.Add(int64(n))
	if r.o.MaxErrors >= 0 && v > int64(r.o.MaxErrors) {
		return fmt.Errorf("%w: %d rejected, --max-errors %d", ErrTooManyErrors, v, r.o.MaxErrors)
	}
	return nil
}

// Run preprocesses o.In into o.Out (see the package documentation). It
// returns a Summary also when it fails part-way (ErrTooManyErrors, a full
// disk, a cancelled context), describing the work done.
func Run(ctx context.Context, o Options) (*Summary, error) {
	begun := time.Now()
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Workers <= 0 {
		o.Workers = max(1, runtimeProcs())
	}
	r := &runner{o: o, begun: begun}
	r.sum = Summary{Out: o.Out, Modality: o.Modality, Part: o.Part, Parts: o.Parts, RejectedByKind: map[string]int{}}
	if err := r.setup(ctx); err != nil {
		if r.prod != nil {
			r.prod.close()
		}
		return nil, err
	}
	defer r.prod.close()
	err := r.run(ctx)
	r.sum.Elapsed = time.Since(begun)
	return &r.sum, err
}

func (r *runner) setup(ctx context.Context) error {
	o := &r.o
	var err error
	switch o.Modality {
	case Image:
		r.prod, err = newImageProducer(ctx, o, r)
	case Audio:
		r.prod, err = newAudioProducer(ctx, o, r)
	case Text:
		r.prod, err = newTextProducer(ctx, o, r)
	}
	if err != nil {
		return err
	}
	n, digest := r.prod.inputs()
	if n == 0 {
		return fmt.Errorf("preprocess: no inputs found in %s", o.In)
	}
	r.nInputs, r.inputsSHA = n, digest
	if r.fp, err = fingerprint(o, digest); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(o.Out, stateDir), 0o755); err != nil {
		return writeErr(o.Out, err)
	}
	// Probe writability now rather than after minutes of work.
	probe := filepath.Join(o.Out, stateDir, fmt.Sprintf(".probe-%d", o.Part))
	if _, err := writeFileAtomic(probe, []byte("ok\n")); err != nil {
		return err
	}
	os.Remove(probe)
	return r.checkExisting()
}

// fingerprint hashes what determines the output bytes.
func fingerprint(o *Options, inputsSHA string) (string, error) {
	h := sha256.New()
	h.Write([]byte(FormatVersion + "\n"))
	for _, v := range []any{currentVersions(), o} {
		b, err := marshal(v)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	h.Write([]byte(inputsSHA))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkExisting refuses an output folder that holds another dataset and
// honours --resume.
func (r *runner) checkExisting() error {
	o := &r.o
	found := 0
	if data, err := os.ReadFile(filepath.Join(o.Out, "manifest.json")); err == nil {
		var m struct {
			Fingerprint string `json:"fingerprint"`
		}
		if json.Unmarshal(data, &m) == nil && m.Fingerprint != r.fp {
			return fmt.Errorf("%w: %s/manifest.json was made with other options or inputs (fingerprint %.12s, this run %.12s); use another --out", ErrOtherDataset, o.Out, m.Fingerprint, r.fp)
		}
		found++
	}
	recs, err := filepath.Glob(filepath.Join(o.Out, stateDir, "shard-*.json"))
	if err != nil {
		return err
	}
	for _, p := range recs {
		rec, err := readRecord(p)
		if err != nil {
			continue // unreadable records are redone
		}
		if rec.Fingerprint != r.fp {
			return fmt.Errorf("%w: %s records a shard made with other options or inputs (fingerprint %.12s, this run %.12s); use another --out", ErrOtherDataset, p, rec.Fingerprint, r.fp)
		}
		found++
	}
	if o.Resume && found == 0 {
		return fmt.Errorf("preprocess: --resume: nothing to resume in %s", o.Out)
	}
	return nil
}

func readRecord(p string) (*shardRecord, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var rec shardRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, err
	}
	if !shardNameRE.MatchString(rec.Shard.Name) || rec.Shard.Name != ShardName(rec.Shard.Index) {
		return nil, fmt.Errorf("bad shard name %q", rec.Shard.Name)
	}
	return &rec, nil
}

func recordPath(out string, j int) string {
	return filepath.Join(out, stateDir, strings.TrimSuffix(ShardName(j), ".tar")+".json")
}

// finished returns the record of shard j if the shard is complete and its
// bytes match the record.
func (r *runner) finished(job shardJob) *shardRecord {
	rec, err := readRecord(recordPath(r.o.Out, job.Index))
	if err != nil || rec.Fingerprint != r.fp || rec.Shard.Index != job.Index || rec.Shard.FirstInput != job.First || rec.Shard.Inputs != job.N {
		return nil
	}
	sum, n, err := fileSHA256(filepath.Join(r.o.Out, rec.Shard.Name))
	if err != nil || sum != rec.Shard.SHA256 || n != rec.Shard.Bytes {
		if r.o.Progress != nil && err == nil {
			fmt.Fprintf(r.o.Progress, "preprocess: %s does not match its record (sha256 %.12s, recorded %.12s): rewriting\n", rec.Shard.Name, sum, rec.Shard.SHA256)
		}
		return nil
	}
	return rec
}

func (r *runner) run(ctx context.Context) error {
	o := &r.o
	if err := r.prod.prepare(ctx, r); err != nil {
		return err
	}
	nShards := (r.nInputs + o.ShardSize - 1) / o.ShardSize
	var jobs []shardJob
	for j := o.Part; j < nShards; j += o.Parts {
		first := j * o.ShardSize
		jobs = append(jobs, shardJob{Index: j, First: first, N: min(o.ShardSize, r.nInputs-first)})
		r.partTotal += jobs[len(jobs)-1].N
	}
	r.sum.Inputs, r.sum.PartInputs, r.sum.Shards = r.nInputs, r.partTotal, len(jobs)

	stopProgress := r.startProgress(ctx)
	defer stopProgress()

	var recs []*shardRecord
	for _, job := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := r.finished(job)
		if rec != nil {
			r.sum.ShardsKept++
			r.done.Add(int64(job.N))
			if err := r.reject(rec.Shard.Rejected); err != nil {
				r.account(rec)
				r.sum.Stopped = true
				r.writeStoppedErrors(append(recs, rec))
				return err
			}
		} else {
			var err error
			var partial *shardRecord
			rec, partial, err = r.makeShard(ctx, job)
			if err != nil {
				if errors.Is(err, ErrTooManyErrors) {
					r.sum.Stopped = true
					partial.Shard.Samples = 0 // the shard was abandoned
					r.account(partial)
					r.writeStoppedErrors(append(recs, partial))
				}
				return err
			}
			r.sum.ShardsWritten++
			r.sum.BytesWritten += rec.Shard.Bytes
		}
		r.account(rec)
		recs = append(recs, rec)
	}
	return r.finish(recs, nShards, jobs)
}

func (r *runner) account(rec *shardRecord) {
	r.sum.Samples += rec.Shard.Samples
	r.sum.Rejected += rec.Shard.Rejected
	for _, e := range rec.Errors {
		r.sum.RejectedByKind[e.Kind]++
	}
}

// makeShard writes shard job.Index and its record. When it fails it
// returns the partial record (the errors seen so far) too.
func (r *runner) makeShard(ctx context.Context, job shardJob) (*shardRecord, *shardRecord, error) {
	name := ShardName(job.Index)
	rec := &shardRecord{Fingerprint: r.fp, Shard: ShardInfo{Name: name, Index: job.Index, FirstInput: job.First, Inputs: job.N}, Errors: []ErrorEntry{}}
	w, err := newShardWriter(filepath.Join(r.o.Out, name))
	if err != nil {
		return nil, rec, err
	}
	err = r.prod.shard(ctx, r, job, w, rec)
	sortErrors(rec.Errors)
	for i := range rec.Errors {
		rec.Errors[i].Shard = name
	}
	rec.Shard.Rejected = len(rec.Errors)
	if err != nil {
		w.Abort()
		return nil, rec, err
	}
	sum, n, err := w.Commit()
	if err != nil {
		return nil, rec, err
	}
	rec.Shard.SHA256, rec.Shard.Bytes = sum, n
	removeStale(recordPath(r.o.Out, job.Index))
	if _, err := writeJSONAtomic(recordPath(r.o.Out, job.Index), rec); err != nil {
		return nil, rec, err
	}
	if testHookShardDone != nil {
		testHookShardDone(job.Index)
	}
	return rec, nil, nil
}

// writeStoppedErrors writes the rejected inputs seen before the error
// budget ran out to errors.jsonl (errors.part-i-of-n.jsonl for a part), so
// the user can fix them; no manifest is written.
func (r *runner) writeStoppedErrors(recs []*shardRecord) {
	var el []byte
	for _, rec := range recs {
		for _, e := range rec.Errors {
			b, _ := json.Marshal(e)
			el = append(append(el, b...), '\n')
		}
	}
	name := "errors.jsonl"
	if r.o.Parts > 1 {
		name = "errors." + strings.TrimSuffix(PartManifestName(r.o.Part, r.o.Parts), ".json") + ".jsonl"
	}
	p := filepath.Join(r.o.Out, name)
	if _, err := writeFileAtomic(p, el); err == nil {
		r.sum.ErrorsFile = p
	}
}

// testHookShardDone and testHookSample let tests slow a run down to kill it
// at a known point; nil outside tests.
var (
	testHookShardDone func(int)
	testHookSample    func(int)
)

func sortErrors(es []ErrorEntry) {
	slices.SortStableFunc(es, func(a, b ErrorEntry) int { return a.Input - b.Input })
}

// baseManifest fills the fields every manifest of this run shares.
func (r *runner) baseManifest(nShards int) *Manifest {
	return &Manifest{
		Format: FormatVersion, Versions: currentVersions(), Options: r.o, Fingerprint: r.fp,
		InputsSHA: r.inputsSHA, Inputs: r.nInputs, ShardCount: nShards,
		Fields: r.prod.fields(), Classes: r.classes, Meta: r.prod.meta(), Artifacts: r.artifacts,
	}
}

// finish writes the part manifest, or errors.jsonl and manifest.json.
func (r *runner) finish(recs []*shardRecord, nShards int, jobs []shardJob) error {
	m := r.baseManifest(nShards)
	for _, rec := range recs {
		m.Shards = append(m.Shards, rec.Shard)
		m.Errors = append(m.Errors, rec.Errors...)
	}
	if r.o.Parts > 1 {
		m.Part = &PartInfo{Index: r.o.Part, Count: r.o.Parts, Shards: []int{}}
		for _, j := range jobs {
			m.Part.Shards = append(m.Part.Shards, j.Index)
		}
		for _, s := range m.Shards {
			m.Samples += s.Samples
			m.Rejected += s.Rejected
		}
		if m.Errors == nil {
			m.Errors = []ErrorEntry{}
		}
		p := filepath.Join(r.o.Out, PartManifestName(r.o.Part, r.o.Parts))
		if _, err := writeJSONAtomic(p, m); err != nil {
			return err
		}
		r.sum.Manifest = p
		return nil
	}
	p, err := writeFinal(r.o.Out, m)
	r.sum.Manifest = p
	return err
}

// writeFinal completes m (totals, meta sums), writes errors.jsonl then
// manifest.json, and returns the manifest path.
func writeFinal(out string, m *Manifest) (string, error) {
	errs := m.Errors
	m.Errors, m.Part = nil, nil
	sortErrors(errs)
	slices.SortFunc(m.Shards, func(a, b ShardInfo) int { return a.Index - b.Index })
	m.Samples, m.Rejected = 0, 0
	var secs float64
	var toks, tb int64
	for _, s := range m.Shards {
		m.Samples += s.Samples
		m.Rejected += s.Rejected
		secs += s.AudioSeconds
		toks += s.Tokens
		tb += s.TextBytes
	}
	if m.Meta != nil {
		meta := *m.Meta
		meta.AudioSeconds, meta.Tokens, meta.TextBytes = roundSec(secs), toks, tb
		m.Meta = &meta
	}
	var el []byte
	for _, e := range errs {
		b, _ := json.Marshal(e)
		el = append(append(el, b...), '\n')
	}
	sum, err := writeFileAtomic(filepath.Join(out, "errors.jsonl"), el)
	if err != nil {
		return "", err
	}
	m.ErrorsSHA = sum
	p := filepath.Join(out, "manifest.json")
	if _, err := writeJSONAtomic(p, m); err != nil {
		return "", err
	}
	return p, nil
}

func roundSec(s float64) float64 {
	return float64(int64(s*1000+0.5)) / 1000
}

// startProgress reports progress on o.Progress until the returned stop is
// called; stop waits for the reporting goroutine and writes a last line.
// On a terminal it redraws one line with a bar, otherwise it writes one
// line per interval (for logs).
func (r *runner) startProgress(ctx context.Context) (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	every := r.o.ProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				r.progressLine(true)
				return
			case <-t.C:
				r.progressLine(false)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

func (r *runner) progressLine(last bool) {
	done, total := int(r.done.Load()), r.partTotal
	el := time.Since(r.begun).Seconds()
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	line := fmt.Sprintf("preprocess: %d/%d inputs (%.1f%%) | %d samples written now | %d rejected | %.1f samples/s | %s",
		done, total, pct, r.emitted.Load(), r.rejected.Load(), float64(r.emitted.Load())/max(el, 1e-9), time.Duration(el*float64(time.Second)).Round(time.Second))
	if r.o.ProgressTTY {
		const width = 30
		n := min(width, int(pct*width/100))
		end := ""
		if last {
			end = "\n"
		}
		fmt.Fprintf(r.o.Progress, "\r[%s%s] %s%s", strings.Repeat("=", n), strings.Repeat(" ", width-n), line, end)
		return
	}
	fmt.Fprintln(r.o.Progress, line)
}

// classify names the kind of a rejection for the summary.
func classify(err error) string {
	var pe panicErr
	switch {
	case errors.As(err, &pe):
		return "panic"
	case errors.Is(err, ErrUnsafeMember):
		return "unsafe-tar-member"
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return "unreadable"
	case errors.Is(err, errTooLarge), errors.Is(err, augment.ErrTooLarge):
		return "too-large"
	case errors.Is(err, errLabel):
		return "label"
	case errors.Is(err, errManifestLine):
		return "manifest"
	case errors.Is(err, errMissingMember):
		return "missing-member"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, audio.ErrTruncated):
		return "truncated"
	}
	return "decode"
}

type panicErr struct{ v string }

func (p panicErr) Error() string { return "panic: " + p.v }

var (
	errTooLarge      = errors.New("too large")
	errLabel         = errors.New("label")
	errManifestLine  = errors.New("manifest line")
	errMissingMember = errors.New("tar sample")
)
