// make_golden_decoder_edges.js records HF tokenizers 0.23.2's decode for
// decoder corner cases that the golden lines do not reach (byte tokens that
// Rust's u8::from_str_radix reads, empty patterns, prefixes and suffixes,
// Strip counts, ByteLevel tokens that are not all byte runes), each as a
// decoder and a token list, in golden-decoder-edges.json; TestDecoderEdgeCases
// compares. Tolerance: none. (HF's Strip panics when stop reaches past the
// start of a token of content characters; those cases are in the Go test
// only.)
//
// Run from the repository root:
//   (cd benchmarks/text && npm install)
//   node text/testdata/make_golden_decoder_edges.js
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));

const cases = [
  [{ type: 'ByteFallback' }, ['<0x+A>', '<0x41>', '<0xE2>', '<0x82>', '<0xAC>', '<0xE2>', 'a']],
  [{ type: 'ByteFallback' }, ['<0xE2>', '<0x82>', '<0xAC>', '<0xzz>', '<0x41>', '<0x-1>', '<0xé>']],
  [{ type: 'Replace', pattern: { String: '' }, content: 'X' }, ['é€a', '', 'aa']],
  [{ type: 'Replace', pattern: { String: 'aa' }, content: 'b' }, ['aaa', 'aaaa', 'a']],
  [{ type: 'BPEDecoder', suffix: '' }, ['é€a', '', 'aa']],
  [{ type: 'BPEDecoder', suffix: '</w>' }, []],
  [{ type: 'BPEDecoder', suffix: '</w>' }, ['a</w>b</w>', 'c</w>']],
  [{ type: 'WordPiece', prefix: '', cleanup: false }, ['é€a', '', 'aa']],
  [{ type: 'WordPiece', prefix: '##', cleanup: true }, ['##a', '##b', 'do', 'not', "'", 's', '.']],
  [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'first' }, ['▁a▁', '▁a']],
  [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', add_prefix_space: false }, ['▁a', '▁a']],
  [{ type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true }, ['a', 'a', '<pad>', 'a', 'b', 'b', '|', '|', 'c', ' ,']],
  [{ type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: false }, ['a', 'a', '<pad>', '|', 'b']],
  [{ type: 'Strip', content: ' ', start: 5, stop: 0 }, ['  ']],
  [{ type: 'Strip', content: ' ', start: 1, stop: 2 }, ['  ab  c   ']],
  [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true }, ['Ġa', 'Ġ€', 'ĠĠ', 'ðŁ', 'Ļ']],
  [{ type: 'Sequence', decoders: [{ type: 'Fuse' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }] }, ['▁a', '▁b']],
];

(async () => {
  const rows = [];
  for (const [decoder, tokens] of cases) {
    const all = [...new Set(['<unk>', ...tokens])];
    const vocab = Object.fromEntries(all.map((t, i) => [t, i]));
    const t = tk.Tokenizer.fromString(JSON.stringify({
      version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null,
      post_processor: null, decoder,
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [] },
    }));
    rows.push({ decoder, tokens, hf: await t.decode(tokens.map((s) => vocab[s]), false) });
  }
  fs.writeFileSync(path.join(__dirname, 'golden-decoder-edges.json'), JSON.stringify(rows, null, 1) + '\n');
  console.log(rows.length, 'cases');
})();
