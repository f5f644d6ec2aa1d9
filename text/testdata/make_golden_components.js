// make_golden_components.js records what HF tokenizers 0.23.2 (npm) does
// with each line of mixed.txt for individual normalizers and
// pre-tokenizers, so text/ can test them one by one
// (TestGoldenComponents). Each output line is
//   {"type": "normalizer"|"pre_tokenizer", "config": <tokenizer.json object>, "out": [...]}
// where out[i] is the normalized string, or the list of pre-token strings,
// for line i of mixed.txt. Tolerance: none.
//
// Run from the repository root:  node text/testdata/make_golden_components.js
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));
const out = (f) => path.join(__dirname, f);
const lines = fs.readFileSync(out('mixed.txt'), 'utf8').replace(/\n$/, '').split('\n');

const normalizers = [
  [{ type: 'NFD' }, tk.nfdNormalizer()],
  [{ type: 'NFKD' }, tk.nfkdNormalizer()],
  [{ type: 'NFC' }, tk.nfcNormalizer()],
  [{ type: 'NFKC' }, tk.nfkcNormalizer()],
  [{ type: 'Lowercase' }, tk.lowercase()],
  [{ type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }, { type: 'Lowercase' }] },
    tk.sequenceNormalizer([tk.nfdNormalizer(), tk.stripAccentsNormalizer(), tk.lowercase()])],
  [{ type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false },
    tk.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: false })],
  [{ type: 'BertNormalizer', clean_text: false, handle_chinese_chars: false, strip_accents: true, lowercase: true },
    tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: true })],
  [{ type: 'Strip', strip_left: true, strip_right: true }, tk.stripNormalizer(true, true)],
  [{ type: 'Replace', pattern: { String: ' ' }, content: '▁' }, tk.replace(' ', '▁')],
  [{ type: 'Prepend', prepend: '▁' }, tk.prependNormalizer('▁')],
];
const pretok = [
  [{ type: 'BertPreTokenizer' }, tk.bertPreTokenizer()],
  [{ type: 'Whitespace' }, tk.whitespacePreTokenizer()],
  [{ type: 'WhitespaceSplit' }, tk.whitespaceSplitPreTokenizer()],
  [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }, tk.byteLevelPreTokenizer(true, true)],
  [{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }, tk.byteLevelPreTokenizer(false, false)],
  [{ type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'BertPreTokenizer' }] },
    tk.sequencePreTokenizer([tk.whitespaceSplitPreTokenizer(), tk.bertPreTokenizer()])],
];
const rows = [];
for (const [config, n] of normalizers) rows.push({ type: 'normalizer', config, out: lines.map((l) => n.normalizeString(l)) });
for (const [config, p] of pretok) rows.push({ type: 'pre_tokenizer', config, out: lines.map((l) => p.preTokenizeString(l).map((x) => x[0])) });
fs.writeFileSync(out('golden-components.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(`${rows.length} components x ${lines.length} lines`);
