// Package data turns a data spec into a stream of decoded examples for
// training, evaluation and embedding, without holding the dataset in
// memory. It is pure Go (no libtorch): every method's data path and the
// `sslpipe train`, `eval` and `embed` commands share it.
//
// # Specs
//
// Open accepts:
//
//	DIR                  a `sslpipe preprocess` output folder, read through DIR/manifest.json (the main path)
//	DIR/shard-*.tar      a glob of WebDataset shards (or one .tar): modality from the member extensions
//	DIR                  a raw folder of images (.jpg, .jpeg, .png), 16 kHz-or-other WAVs, or text files
//	                     (.txt, .jsonl), decoded on the fly by the code preprocess uses (Options.Modality
//	                     when the folder mixes kinds; raw text needs Options.Tokenizer)
//	fashion-mnist:SPLIT  Debian's dataset-fashion-mnist ("fashion-mnist:train@DIR" for another folder)
//
// # Examples
//
// Every sample becomes an Example: an image (8-bit, HWC), a waveform
// (float32 in [-1, 1] at 16 kHz) with its frame labels when the dataset has
// them (preprocess --kmeans writes km.npy), or token ids (text), plus its
// class (.cls) when labelled. Decoding runs on pipeline workers
// (Options.Workers) from tar members or files; a sample that fails to
// decode is a *pipeline.SampleError naming the shard (or file) and key, so
// the run's error policy skips and reports it.
//
// # Order, ranks and resume
//
// Dataset.Stream visits the dataset in a pipeline.Order: shuffled per
// epoch with a keyed permutation in O(1) memory (random access into the
// shards by a compact index), sharded by (Rank, World) into disjoint,
// equal-length per-rank streams, and resumable from a pipeline.State. The
// order and every example are a pure function of the seed and the
// dataset, never of worker counts.
package data
