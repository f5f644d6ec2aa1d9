// Package preprocess turns a raw folder, file list, CSV/JSONL manifest or
// existing tar shards into a validated, sharded dataset that trains fast:
// WebDataset tar shards, a manifest.json and an errors.jsonl report.
//
// # Output layout
//
//	DIR/shard-000000.tar     members <key>.<field>, e.g. 000123.jpg, 000123.cls,
//	DIR/shard-000001.tar     000123.wav.npy, 000123.mfcc.npy, 000123.km.npy,
//	...                      000004_000017.ids.npy
//	DIR/errors.jsonl         one line per rejected input (input index, path, kind, reason)
//	DIR/manifest.json        written last: counts and sha256 per shard, options, versions, artifacts
//	DIR/tokenizer.json       text: the trained tokenizer (with --train-tokenizer)
//	DIR/kmeans.model         audio: the k-means codebook (with --kmeans; kmeans-centroids.npy beside it)
//	DIR/.sslpipe/            per-shard completion records used by resume (a rerun without them redoes every shard)
//
// Members of one sample are consecutive and share a key (WebDataset layout),
// so pipeline.Tar reads the shards back directly: Open returns the manifest
// and a pipeline source over the shards, Shards lists their paths in order.
//
// # Determinism, atomicity and resume
//
// Inputs are enumerated in a stable order (sorted folder walk, manifest line
// order, tar member order, corpus document order) and input i belongs to
// shard i / ShardSize: the shard a sample lands in never depends on which
// inputs failed, on worker count or on scheduling. Every shard is a pure
// function of its inputs and the options (tar headers carry no time stamps,
// owners or modes that vary), so shards can be written independently, in any
// order, by any machine.
//
// A shard is written to a hidden temporary name in DIR, synced and renamed
// to its final name when complete; its completion record (sha256, counts,
// rejected inputs) is then written the same way. manifest.json and
// errors.jsonl are written after every shard is complete. After a crash, a
// kill or a full disk, running the same command again keeps every shard
// whose record matches the options and whose bytes still match the recorded
// sha256, and redoes the others: the result is byte-identical to an
// uninterrupted run. A directory holding a dataset made with different
// options or inputs is refused rather than mixed.
//
// # Many machines
//
// Options.Part and Options.Parts split the shards: part i of n writes the
// shards j with j % n == i and a part manifest part-0000i-of-0000n.json
// instead of manifest.json. Merge combines the part manifests (from one
// shared folder or from several) into manifest.json and errors.jsonl, equal
// byte for byte to those of a single-machine run.
//
// # Untrusted input
//
// Decoders run under recover (a panic becomes a rejected input), image and
// WAV headers are validated before allocation, and input tar members are
// never extracted: a member with an absolute name, a ".." element, or of a
// non-regular type (symlink, hard link, device) is rejected into
// errors.jsonl. Output names are built from indices only.
//
// # Concurrency
//
// Run uses one level of parallelism: Options.Workers goroutines each process
// one input at a time through an ordered pipeline.Map, and one goroutine
// writes the shard. Every goroutine ends before Run returns.
package preprocess
