// make_golden_unicode.js records, for every code point in U+0000..U+3FFFF
// and U+E0000..U+E0FFF (surrogates excluded), what HF tokenizers 0.23.2
// (npm) does with it, sparsely: only the code points HF changes are listed.
// TestGoldenUnicode runs text/'s implementation over the same code points
// and requires the same result for every one. Tolerance: none.
//
//   clean      BertNormalizer(clean_text only): removed code points and
//              those mapped to " " (Rust is_whitespace / is_other tables)
//   lower      Lowercase normalizer: code point -> lowercased string
//   bert_strip BertNormalizer(strip_accents, no lowercase): code point -> output
//   nfkc       NFKC normalizer: code point -> output
//   punct      BertPreTokenizer: code points split off as punctuation, and
//              code points treated as whitespace
//   gpt2_*     ByteLevel pre-tokenizer regex classes \p{L}, \p{N} and \s,
//              told apart by how "a<c>1" and "a<c><c>1" are split
//
// Run from the repository root:  node text/testdata/make_golden_unicode.js
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));

const cps = [];
for (let c = 0; c <= 0x3ffff; c++) if (c < 0xd800 || c > 0xdfff) cps.push(c);
for (let c = 0xe0000; c <= 0xe0fff; c++) cps.push(c);

const clean = tk.bertNormalizer({ cleanText: true, handleChineseChars: false, stripAccents: false, lowercase: false });
const lower = tk.lowercase();
const strip = tk.bertNormalizer({ cleanText: false, handleChineseChars: false, stripAccents: true, lowercase: false });
const nfkc = tk.nfkcNormalizer();
const bertPre = tk.bertPreTokenizer();
const byteLevel = tk.byteLevelPreTokenizer(false, true);

const out = { clean_removed: [], clean_space: [], lower: {}, bert_strip: {}, nfkc: {}, punct: [], bert_space: [], gpt2_letter: [], gpt2_number: [], gpt2_space: [] };
for (const c of cps) {
  const s = String.fromCodePoint(c);
  const cl = clean.normalizeString('a' + s + 'a');
  if (cl === 'aa') out.clean_removed.push(c);
  else if (cl === 'a a' && s !== ' ') out.clean_space.push(c);
  const lo = lower.normalizeString(s);
  if (lo !== s) out.lower[c] = lo;
  const st = strip.normalizeString(s);
  if (st !== s) out.bert_strip[c] = st;
  const nk = nfkc.normalizeString(s);
  if (nk !== s) out.nfkc[c] = nk;
  const pieces = bertPre.preTokenizeString('a' + s + 'a').map((x) => x[0]);
  if (pieces.length === 3) out.punct.push(c);
  else if (pieces.length === 2) out.bert_space.push(c);
  const p1 = byteLevel.preTokenizeString('a' + s + '1').length;
  const p2 = byteLevel.preTokenizeString('a' + s + s + '1').length;
  if (p1 === 2 && c !== 0x20) {
    // "a<c>" + "1" (letter) or "a" + "<c>1" (number)
    const first = byteLevel.preTokenizeString('a' + s + '1')[0][0];
    if (first === 'a') out.gpt2_number.push(c);
    else out.gpt2_letter.push(c);
  } else if (p1 === 3 && p2 === 4) out.gpt2_space.push(c);
}
// Compress lists to [start, end] ranges.
const ranges = (l) => {
  const r = [];
  for (const c of l) {
    if (r.length && r[r.length - 1][1] === c - 1) r[r.length - 1][1] = c;
    else r.push([c, c]);
  }
  return r;
};
for (const k of ['clean_removed', 'clean_space', 'punct', 'bert_space', 'gpt2_letter', 'gpt2_number', 'gpt2_space']) out[k] = ranges(out[k]);
fs.writeFileSync(path.join(__dirname, 'golden-unicode.json'), JSON.stringify(out));
console.log(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.isArray(v) ? v.length + ' ranges' : Object.keys(v).length + ' code points'])));
