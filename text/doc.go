// Package text turns raw text into model inputs for self-supervised
// learning: Hugging Face tokenizer.json loading, saving and training
// (WordPiece and byte-level BPE), corpus streaming with an invalid-UTF-8
// policy, BERT MLM, whole-word and span masking, and packing into
// fixed-length sequences with attention masks.
//
// # Tokenizers
//
// LoadTokenizer reads a tokenizer.json written by Hugging Face tokenizers
// (or by Save/Train here) and encodes text to the same ids HF gives; the
// package's golden tests compare against ids produced by tokenizers 0.23.2
// (text/testdata/make_golden.js). Supported components: normalizers
// BertNormalizer, Lowercase, NFC/NFD/NFKC/NFKD, StripAccents, Strip,
// Replace (literal pattern), Prepend and Sequence; pre-tokenizers
// BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit and Sequence;
// models WordPiece and BPE; post-processors BertProcessing,
// RobertaProcessing, TemplateProcessing (single sequence), ByteLevel and
// Sequence; decoders (for Decode) WordPiece, ByteLevel, Metaspace,
// BPEDecoder, CTC, ByteFallback, Fuse, Strip, Replace (literal pattern) and
// Sequence, with HF's semantics (golden tests: make_golden_decoders.js).
// Anything else is rejected at load time with ErrUnsupported rather than
// silently encoding or decoding differently.
//
// A *Tokenizer is immutable after loading and safe for concurrent use.
//
// # Randomness
//
// Masking functions take an explicit *rand.Rand (math/rand/v2); derive it per
// sample with pipeline.SampleRand(seed, epoch, index, view) so results do not
// depend on worker count or scheduling.
package text
