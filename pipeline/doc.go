// Package pipeline streams samples from sources through concurrent,
// deterministic, resumable stages to a consumer (a trainer or a writer).
//
// # Overview
//
// A pipeline is a Stream built from a Source and an Order, followed by
// stages, and run with Start (or All):
//
//	src, _ := pipeline.Folder("data/train", ".jpg", ".png")   // or Manifest, Tar, Slice, Interleave
//	s := pipeline.From(src, pipeline.Order{Seed: 42, Epochs: 100, Shuffle: true, Rank: rank, World: world})
//	files := pipeline.Map(s, pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: 4})
//	views := pipeline.Map(files, decodeTwoViews, pipeline.MapOptions{Name: "augment", Workers: 8})
//	batches := pipeline.Batches(views, pipeline.BatchOptions{Size: 256, DropLast: true})
//	tensors := pipeline.Prefetch(pipeline.Map(batches, collate, pipeline.MapOptions{Workers: 2}), 2)
//
//	it, err := pipeline.Start(ctx, tensors, pipeline.RunOptions{Resume: saved, Errors: pipeline.ErrorPolicy{Skip: true, MaxFraction: 0.01}})
//	if err != nil { ... }
//	defer it.Close()
//	for {
//		b, err := it.Next()            // io.EOF at the end
//		...
//		checkpoint.Data = it.State()   // JSON-serializable; resume with RunOptions{Resume: &st}
//	}
//
// Every value travels in a Sample, which carries its identity: Index (its
// position in the unshuffled source), Epoch, Seed, Pos (its position in this
// rank's epoch order), Key (path) and Origin (manifest line, tar shard).
//
// # Determinism
//
// All randomness comes from explicit seeds. The epoch order is a pure
// function of (Order.Seed, epoch, Rank, World); a Map function takes its
// random draws from s.Rand(view) = SampleRand(seed, epoch, index, view). Map
// stages keep input order by default, and Batches groups consecutive
// samples, so samples, their augmentations and batch composition are the
// same for any worker count and, at a fixed world size, any rank layout.
//
// # Resume
//
// Iter.State is {Seed, Epoch, Position, Emitted, Errors}. Starting the same
// Stream with RunOptions{Resume: &st} yields exactly the items that would
// have followed. With Shuffle (a keyed Feistel permutation computed in O(1)
// memory) or no shuffle, the source seeks straight to the position: skipped
// samples are neither read nor processed. With a ShuffleBuffer the epoch's
// prefix is re-read from the source, but not processed by any stage.
//
// # Concurrency, backpressure and cancellation
//
// A Map stage runs Workers goroutines that take chunks of input (adaptive:
// 1 to 256 samples, about 1ms of work each) and may have at most Window
// chunks in flight (default 2 x Workers): a slow consumer stops the
// workers, so memory stays bounded whatever the dataset size. Every
// goroutine belongs to the run: Close (or
// the end of a range loop over All, including break) cancels the run and
// waits for all of them; cancelling the context passed to Start does the
// same.
//
// # Errors
//
// A failure confined to one sample (unreadable file, truncated tar member,
// bad manifest line, decode error, panic in a Map function) travels down the
// stream as a *SampleError naming the file and, for manifests, the line. The
// run's ErrorPolicy decides: stop at the first (default), or skip and report
// (Iter.Report), up to MaxErrors or MaxFraction. Other errors (a missing
// shard, a cancelled context) stop the run. When the epoch length is known,
// Batches emits the same number of batches per epoch whatever was skipped,
// padding at the end if needed, so that all ranks take the same number of
// steps.
//
// # Metrics
//
// Iter.Metrics reports per stage: items in and out, errors, busy time, time
// blocked on input and on output, and queue occupancy; Iter.Progress and
// ReportProgress render a progress bar (terminal) or periodic lines (logs).
// A reporter is a goroutine with an owner: ReportProgress returns its stop
// function, and Iter.ReportProgress ties it to the run, whose Close stops it.
package pipeline
