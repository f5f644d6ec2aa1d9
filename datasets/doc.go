// Package datasets reads labelled data sets for evaluation probes: the
// Fashion-MNIST IDX files (gzip or raw), labelled folders (class = first
// directory below the root, the ImageFolder convention) and manifests
// (CSV or JSON lines naming a path and a label).
//
// Every reader returns a *Set: one key per example (a file path, or
// "fashion-mnist:train/00042" for the built-in set), an integer label per
// example indexing Set.Classes, and, for in-memory image sets, the pixels.
// File-based sets leave decoding to the caller (images through augment,
// audio through audio), so one reader serves every modality.
//
// Parsers validate headers before allocating: an IDX header that claims
// more elements than MaxIDXElements, or more than the input holds, is an
// error naming the file, never a large allocation. All errors carry the
// "datasets:" prefix and the file they concern; malformed input wraps
// ErrFormat.
package datasets
