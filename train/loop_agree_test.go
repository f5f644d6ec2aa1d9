package train

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// sumGroup sums float64 vectors over n goroutines (an in-memory stand-in
// for the all-reduce of Loop.Agree and Loop.Barrier).
type sumGroup struct {
	mu      sync.Mutex
	cond    *sync.Cond
	n       int
	gen     int
	arrived int
	acc     []float64
	out     []float64
	calls   []int // per rank
}

func newSumGroup(n int) *sumGroup {
	g := &sumGroup{n: n, calls: make([]int, n)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *sumGroup) sum(rank int, vals []float64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[rank]++
	if g.arrived == 0 {
		g.acc = make([]float64, len(vals))
	}
	if len(vals) != len(g.acc) {
		return fmt.Errorf("rank %d: %d values, another rank %d (collectives out of order)", rank, len(vals), len(g.acc))
	}
	for i, v := range vals {
		g.acc[i] += v
	}
	g.arrived++
	if gen := g.gen; g.arrived == g.n {
		g.out, g.arrived = g.acc, 0
		g.gen++
		g.cond.Broadcast()
	} else {
		// A peer that never comes fails the call after 2 s, as a lost
		// rank fails a collective after --dist-timeout.
		deadline := time.Now().Add(2 * time.Second)
		wake := time.AfterFunc(2*time.Second, func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.cond.Broadcast()
		})
		defer wake.Stop()
		for gen == g.gen {
			if time.Now().After(deadline) {
				return fmt.Errorf("rank %d: timeout: a peer never reached collective %d", rank, g.calls[rank])
			}
			g.cond.Wait()
		}
	}
	copy(vals, g.out)
	return nil
}

// TestLoopAgreeStop runs two ranks' loops in one process: rank 0's
// context ends in the middle of step 3 (a SIGINT), rank 1 never sees it
// and is slower; both stop before step 4 and take part in one final
// checkpoint. Then a step of rank 1 asks to stop (a collapse check): both
// stop after it; and rank 1 cannot read a step's input: neither takes that
// step. Without Loop.Agree the ranks part ways and the next collective
// times out.
func TestLoopAgreeStop(t *testing.T) {
	for _, c := range []struct {
		name     string
		cancelAt int64 // rank 0's context ends during this step (-1: never)
		stopAt   int64 // rank 1's step returns ErrStopRun (-1: never)
		badAt    int64 // rank 1 cannot read this step's input (-1: never)
		want     int64
		want1    error // in rank 1's error
		want0    error // in rank 0's error
	}{
		{"interrupt", 3, -1, -1, 4, ErrPeerInterrupted, context.Canceled},
		{"stop-run", -1, 5, -1, 6, ErrStopRun, ErrStopRun},
		// Neither rank takes step 5.
		{"bad-input", -1, -1, 5, 5, ErrStopBeforeStep, ErrStopBeforeStep},
		// Past the last step there is nothing to stop: a normal end.
		{"interrupt-last-step", 9, -1, -1, 10, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			g := newSumGroup(2)
			res := make([]*LoopResult, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for rank := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					l := &Loop{Method: "agree", Dir: dir, Steps: 10, Seed: 1, Batch: 2, Rank: rank, ReadOnly: rank != 0, CheckpointEvery: 4,
						Barrier: func() error { return g.sum(rank, nil) },
						Agree:   func(v []float64) error { return g.sum(rank, v) },
						Prepare: func(_ context.Context, step int64) error {
							if rank == 1 && step == c.badAt {
								return fmt.Errorf("unreadable batch: %w", ErrStopBeforeStep)
							}
							return nil
						},
						Step: func(_ context.Context, step int64) (any, error) {
							if rank == 1 {
								time.Sleep(2 * time.Millisecond)
								if step == c.stopAt {
									return nil, fmt.Errorf("collapse: %w", ErrStopRun)
								}
							}
							if rank == 0 && step == c.cancelAt {
								cancel()
							}
							return map[string]int64{"step": step + 1}, nil
						},
						Save: func() (map[string]STensor, int64, error) { return map[string]STensor{}, 0, nil },
						Load: func(string, map[string]STensor, *State) error { return nil },
					}
					res[rank], errs[rank] = l.Run(ctx)
				}()
			}
			wg.Wait()
			for r := range 2 {
				if res[r] == nil {
					t.Fatalf("rank %d: %v", r, errs[r])
				}
				t.Logf("rank %d: %d steps, interrupted %v: %v", r, res[r].Steps, res[r].Interrupted, errs[r])
				if res[r].Steps != c.want {
					t.Errorf("rank %d stopped after %d steps, want %d", r, res[r].Steps, c.want)
				}
			}
			for r, want := range []error{c.want0, c.want1} {
				if want == nil && errs[r] != nil || want != nil && !errors.Is(errs[r], want) {
					t.Errorf("rank %d: error %v, want %v", r, errs[r], want)
				}
			}
			if c.want < 10 && (!res[0].Interrupted || !res[1].Interrupted) {
				t.Errorf("interrupted: rank 0 %v, rank 1 %v", res[0].Interrupted, res[1].Interrupted)
			}
			ck, err := LatestCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ck != CheckpointPath(dir, c.want) {
				t.Errorf("last checkpoint %s, want step %d", ck, c.want)
			}
			// One agreement per step taken plus the one that stopped, two
			// barriers per checkpoint: the same on both ranks.
			if g.calls[0] != g.calls[1] {
				t.Errorf("collective calls: rank 0 %d, rank 1 %d", g.calls[0], g.calls[1])
			}
		})
	}
}
