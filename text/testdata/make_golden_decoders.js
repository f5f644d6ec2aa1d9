// make_golden_decoders.js builds small tokenizer.json files that exercise
// each Hugging Face decoder (decode-*.json) and records HF tokenizers
// 0.23.2's decode of id sequences with them (golden-decoders.jsonl);
// TestGoldenDecoders compares Decode. Tolerance: none.
//
// Fixtures (vocabularies derived from the HF-trained fixtures already here,
// so no training corpus is needed):
//   decode-llama.json           Llama 2 style: Prepend + Replace normalizer,
//                               no pre-tokenizer, BPE with <0xXX> byte tokens,
//                               "<s> $A"; decoder Sequence[Replace "▁"->" ",
//                               ByteFallback, Fuse, Strip " " 1 0]
//   decode-metaspace.json       same vocabulary, "$A </s>" (T5 style); legacy
//                               decoder {Metaspace, add_prefix_space: true}
//   decode-metaspace-never.json same vocabulary; decoder Sequence[ByteFallback,
//                               Metaspace prepend_scheme never, Strip " " 0 1,
//                               Fuse] (HF's Strip panics when stop exceeds a
//                               token of content characters, e.g. an empty one)
//   decode-suffix.json          word-final "</w>" BPE (original BPE/CLIP
//                               style), Whitespace; decoder BPEDecoder
//   decode-ctc.json             character vocabulary, " " -> "|"; decoder CTC
//   decode-bytelevel.json       byte-level BPE (first 1,000 tokens of
//                               bpe-fortunes.json) with added tokens made of
//                               byte runes and other characters; ByteLevel
//   decode-wordpiece-raw.json   first 3,000 tokens of wordpiece-fortunes.json;
//                               decoder WordPiece without cleanup
//
// Rows: for lines 1-60 and 261-321 of mixed.txt, the ids HF encodes with
// special tokens (for the three byte-token vocabularies, by a copy with
// byte_fallback on, so that rare characters become <0xXX> runs as in Llama;
// "encoded" says whether the committed file itself gave the ids), decoded
// with skip_special_tokens true and false; for CTC also the ids with
// repeats and <pad> inserted as a CTC model emits them; and 100 random id
// sequences per tokenizer (seeded; some ids out of range, one in ten an
// added token's).
//
// Run from the repository root:
//   (cd benchmarks/text && npm install)
//   node text/testdata/make_golden_decoders.js
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));
const out = (f) => path.join(__dirname, f);
const read = (f) => JSON.parse(fs.readFileSync(out(f), 'utf8'));

// GPT-2's byte <-> rune table.
const byteRune = {};
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byteRune[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
}
const runeByte = Object.fromEntries(Object.entries(byteRune).map(([b, r]) => [r, Number(b)]));
const utf8 = new TextDecoder('utf-8', { fatal: true });
// fromByteLevel maps a byte-level token to its text, or null if the bytes
// are not valid UTF-8 (a piece of a character).
const fromByteLevel = (tok) => {
  try {
    return utf8.decode(Uint8Array.from([...tok].map((c) => runeByte[c])));
  } catch {
    return null;
  }
};
const byId = (vocab) => Object.entries(vocab).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
const pairOf = (m) => (Array.isArray(m) ? m : m.split(' '));
const added = (id, content, special = true, normalized = false) =>
  ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized, special });
const bpeModel = (vocab, merges, extra) => ({
  type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
  fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges, ...extra,
});
const doc = (fields) => ({ version: '1.0', truncation: null, padding: null, ...fields });
const template = (single, specials) => ({
  type: 'TemplateProcessing',
  single: single.map((s) => (s === '$A' ? { Sequence: { id: 'A', type_id: 0 } } : { SpecialToken: { id: s, type_id: 0 } })),
  pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
  special_tokens: Object.fromEntries(specials.map(([s, id]) => [s, { id: s, ids: [id], tokens: [s] }])),
});

// Metaspace vocabulary: <unk> <s> </s>, the 256 byte tokens, then the first
// 1,000 tokens of bpe-fortunes.json that are whole characters, with "▁" for
// the space; merges kept where both parts and the result are kept.
function metaspaceVocab() {
  const src = read('bpe-fortunes.json');
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const map = {};
  for (const tok of byId(src.model.vocab)) {
    if (src.added_tokens.some((a) => a.content === tok)) continue;
    const s = fromByteLevel(tok);
    if (s === null) continue;
    const m = s.replace(/ /g, '\u2581');
    if (m in vocab) continue;
    if (Object.keys(vocab).length >= 259 + 1000) break;
    vocab[m] = Object.keys(vocab).length;
    map[tok] = m;
  }
  const merges = [];
  for (const mg of src.model.merges) {
    const [a, b] = pairOf(mg);
    if (a in map && b in map && (map[a] + map[b]) in vocab) merges.push([map[a], map[b]]);
  }
  return { vocab, merges };
}

// Suffix vocabulary: printable ASCII with and without "</w>", then for the
// first 600 all-letter words of bpe-fortunes.json ("Ġword" tokens) the
// chain of merges that builds word</w> from its letters.
function suffixVocab() {
  const src = read('bpe-fortunes.json');
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  const add = (t) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c));
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c) + '</w>');
  const merges = [];
  const seen = new Set();
  let words = 0;
  for (const tok of byId(src.model.vocab)) {
    if (words >= 600) break;
    if (!/^Ġ[A-Za-z]{2,}$/.test(tok)) continue;
    const w = tok.slice(1);
    words++;
    let left = w[0];
    for (let i = 1; i < w.length; i++) {
      const right = i === w.length - 1 ? w[i] + '</w>' : w[i];
      const key = left + ' ' + right;
      if (!seen.has(key)) {
        seen.add(key);
        merges.push([left, right]);
        add(left + right);
      }
      left += right;
    }
  }
  return { vocab, merges };
}

// Byte-level vocabulary: bpe-fortunes.json's specials, its first 1,000
// other tokens and the merges among them, and added tokens whose strings mix
// GPT-2 byte runes with other characters (HF's ByteLevel decoder keeps such
// a token as it is).
function byteLevelVocab() {
  const src = read('bpe-fortunes.json');
  const vocab = {};
  for (const tok of byId(src.model.vocab)) {
    if (Object.keys(vocab).length >= 1005) break;
    vocab[tok] = Object.keys(vocab).length;
  }
  const merges = src.model.merges.map(pairOf).filter(([a, b]) => a in vocab && b in vocab && (a + b) in vocab);
  return { vocab, merges, src };
}

function wordPieceVocab() {
  const src = read('wordpiece-fortunes.json');
  const vocab = {};
  for (const tok of byId(src.model.vocab)) {
    if (Object.keys(vocab).length >= 3000) break;
    vocab[tok] = Object.keys(vocab).length;
  }
  return { vocab, src };
}

function fixtures() {
  const ms = metaspaceVocab();
  const msSpecials = [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')];
  const llamaNorm = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] };
  const msModel = bpeModel(ms.vocab, ms.merges, { fuse_unk: true });
  const f = {};
  f['decode-llama.json'] = doc({
    added_tokens: msSpecials, normalizer: llamaNorm, pre_tokenizer: null,
    post_processor: template(['<s>', '$A'], [['<s>', 1]]),
    decoder: {
      type: 'Sequence', decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: msModel,
  });
  f['decode-metaspace.json'] = doc({
    added_tokens: msSpecials, normalizer: llamaNorm, pre_tokenizer: null,
    post_processor: template(['$A', '</s>'], [['</s>', 2]]),
    decoder: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true },
    model: msModel,
  });
  f['decode-metaspace-never.json'] = doc({
    added_tokens: msSpecials, normalizer: llamaNorm, pre_tokenizer: null,
    post_processor: template(['<s>', '$A', '</s>'], [['<s>', 1], ['</s>', 2]]),
    decoder: {
      type: 'Sequence', decoders: [
        { type: 'ByteFallback' }, { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: false },
        { type: 'Strip', content: ' ', start: 0, stop: 1 }, { type: 'Fuse' },
      ],
    },
    model: msModel,
  });
  const sx = suffixVocab();
  f['decode-suffix.json'] = doc({
    added_tokens: msSpecials, normalizer: null, pre_tokenizer: { type: 'Whitespace' },
    post_processor: template(['<s>', '$A', '</s>'], [['<s>', 1], ['</s>', 2]]),
    decoder: { type: 'BPEDecoder', suffix: '</w>' },
    model: bpeModel(sx.vocab, sx.merges, { end_of_word_suffix: '</w>' }),
  });
  const ctcVocab = { '<pad>': 0, '<s>': 1, '</s>': 2, '<unk>': 3, '|': 4 };
  for (const c of "abcdefghijklmnopqrstuvwxyz0123456789'.,?!-") ctcVocab[c] = Object.keys(ctcVocab).length;
  f['decode-ctc.json'] = doc({
    added_tokens: [added(0, '<pad>'), added(1, '<s>'), added(2, '</s>'), added(3, '<unk>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Replace', pattern: { String: ' ' }, content: '|' }] },
    pre_tokenizer: null, post_processor: null,
    decoder: { type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true },
    model: bpeModel(ctcVocab, []),
  });
  const bl = byteLevelVocab();
  const blAdded = bl.src.added_tokens.filter((a) => a.content in bl.vocab);
  let next = Object.keys(bl.vocab).length;
  for (const [content, special] of [['<|endoftext|>', true], ['ĠĠ→', false], ['Ċ€uro', false], ['naïve', false], ['日本ĠĠ', false]]) {
    blAdded.push(added(next++, content, special));
  }
  f['decode-bytelevel.json'] = doc({
    added_tokens: blAdded, normalizer: null, pre_tokenizer: bl.src.pre_tokenizer, post_processor: bl.src.post_processor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(bl.vocab, bl.merges, { unk_token: null }),
  });
  const wp = wordPieceVocab();
  f['decode-wordpiece-raw.json'] = doc({
    added_tokens: wp.src.added_tokens.filter((a) => a.content in wp.vocab), normalizer: wp.src.normalizer,
    pre_tokenizer: wp.src.pre_tokenizer, post_processor: wp.src.post_processor,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: { ...wp.src.model, vocab: wp.vocab },
  });
  return f;
}

// mulberry32: a small seeded generator, so the random rows are reproducible.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

(async () => {
  const lines = fs.readFileSync(out('mixed.txt'), 'utf8').replace(/\n$/, '').split('\n');
  const picked = [...lines.keys()].filter((i) => i < 60 || i >= 260);
  const rows = [];
  const rand = rng(20240611);
  for (const [name, json] of Object.entries(fixtures())) {
    fs.writeFileSync(out(name), JSON.stringify(json) + '\n');
    const t = tk.Tokenizer.fromFile(out(name)); // HF must load it
    let enc = t;
    const byteTokens = '<0x41>' in json.model.vocab;
    if (byteTokens) {
      const tmp = path.join(os.tmpdir(), 'sslpipe-fallback-' + name);
      fs.writeFileSync(tmp, JSON.stringify({ ...json, model: { ...json.model, byte_fallback: true } }));
      enc = tk.Tokenizer.fromFile(tmp);
    }
    const size = t.getVocabSize(true);
    const row = async (fields, ids) => {
      rows.push(JSON.stringify({ tokenizer: name, ...fields, ids, skip: await t.decode(ids, true), keep: await t.decode(ids, false) }));
    };
    for (const i of picked) {
      const ids = (await enc.encode(lines[i], null, { addSpecialTokens: true })).getIds();
      await row({ line: i, encoded: !byteTokens }, ids);
      if (name === 'decode-ctc.json') {
        const ctc = [];
        for (const id of ids) {
          if (rand() < 0.3) ctc.push(0);
          for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) ctc.push(id);
        }
        await row({ line: i, encoded: false }, ctc);
      }
    }
    const addedIds = json.added_tokens.map((a) => a.id);
    for (let r = 0; r < 100; r++) {
      const n = Math.floor(rand() * 17);
      const ids = [];
      for (let k = 0; k < n; k++) {
        const u = rand();
        if (u < 0.05) ids.push(size + Math.floor(rand() * 10));
        else if (u < 0.15) ids.push(addedIds[Math.floor(rand() * addedIds.length)]);
        else ids.push(Math.floor(rand() * size));
      }
      await row({ line: -1, encoded: false }, ids);
    }
    console.log(`${name}: vocab ${size}, ${fs.statSync(out(name)).size} bytes`);
  }
  fs.writeFileSync(out('golden-decoders.jsonl'), rows.join('\n') + '\n');
  console.log(rows.length, 'rows');
})();
