// make_golden.js trains the two reference tokenizers on Debian's fortunes
// corpus with Hugging Face tokenizers (npm tokenizers@0.23.2, Rust core) and
// writes the golden ids that text/ tests compare against.
//
// Run from the repository root:
//   (cd benchmarks/text && npm install)   # tokenizers@0.23.2, pinned in package.json
//   node text/testdata/make_golden.js
//
// Outputs (all in text/testdata/):
//   wordpiece-fortunes.json  BERT-style WordPiece, 8,000 tokens, BertNormalizer (lowercase, strip accents)
//   bpe-fortunes.json        RoBERTa-style byte-level BPE, 8,000 tokens
//   mixed.txt                the input lines (fortune lines + hand-written accents, emoji, CJK, long words)
//   golden-wordpiece.jsonl   {"ids": [...], "ids_special": [...]} per line of mixed.txt
//   golden-bpe.jsonl         same for the BPE tokenizer
// Tolerance: none; ids must be identical.
//
// The Node binding exposes no trainer options, so the script trains with the
// default trainers (30,000 tokens), keeps the first 8,000 - specials entries
// of the learned vocabulary in learned order (for BPE, merge order; the
// trainers learn tokens sequentially, so this is what a smaller vocab_size
// gives), puts the special tokens first, and builds the final tokenizer with
// WordPiece.init / BPE.init. HF tokenizers then saves the tokenizer.json.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));

const FORTUNES = '/usr/share/games/fortunes';
const VOCAB = 8000;
const out = (f) => path.join(__dirname, f);

// 1. Corpus: every fortune of every category file (not .dat, not .u8 links).
function fortunes() {
  const docs = [];
  for (const name of fs.readdirSync(FORTUNES).sort()) {
    const p = path.join(FORTUNES, name);
    if (name.includes('.') || !fs.lstatSync(p).isFile()) continue;
    for (const f of fs.readFileSync(p, 'utf8').split(/^%$/m)) {
      const t = f.trim();
      if (t) docs.push(t);
    }
  }
  return docs;
}
const docs = fortunes();
const corpus = path.join(os.tmpdir(), 'sslpipe-fortunes-corpus.txt');
fs.writeFileSync(corpus, docs.join('\n\n') + '\n');

// 2. WordPiece (BERT).
function trainWordPiece() {
  const t = new tk.Tokenizer(tk.WordPiece.empty());
  t.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true }));
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.train([corpus]);
  const learned = Object.entries(t.getVocab(false)).sort((a, b) => a[1] - b[1]);
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const vocab = {};
  specials.forEach((s, i) => (vocab[s] = i));
  for (const [tok] of learned) {
    if (Object.keys(vocab).length >= VOCAB) break;
    if (!(tok in vocab)) vocab[tok] = Object.keys(vocab).length;
  }
  const w = new tk.Tokenizer(tk.WordPiece.init(vocab, { unkToken: '[UNK]' }));
  w.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true }));
  w.setPreTokenizer(tk.bertPreTokenizer());
  w.setPostProcessor(tk.bertProcessing(['[SEP]', 3], ['[CLS]', 2]));
  w.setDecoder(tk.wordPieceDecoder('##', true));
  w.addSpecialTokens(specials);
  w.save(out('wordpiece-fortunes.json'), true);
}

// 3. Byte-level BPE (GPT-2 / RoBERTa).
function trainBPE() {
  const t = new tk.Tokenizer(tk.BPE.empty());
  t.setPreTokenizer(tk.byteLevelPreTokenizer(false, true));
  t.train([corpus]);
  const tmp = path.join(os.tmpdir(), 'sslpipe-bpe-full.json');
  t.save(tmp, false);
  const full = JSON.parse(fs.readFileSync(tmp, 'utf8'));
  const specials = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];
  const vocab = {};
  specials.forEach((s, i) => (vocab[s] = i));
  for (const c of tk.byteLevelAlphabet().sort()) vocab[c] = Object.keys(vocab).length;
  const merges = [];
  for (const m of full.model.merges) {
    if (Object.keys(vocab).length >= VOCAB) break;
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    if (!(a in vocab) || !(b in vocab)) continue;
    const ab = a + b;
    if (ab in vocab) continue;
    vocab[ab] = Object.keys(vocab).length;
    merges.push([a, b]);
  }
  const b = new tk.Tokenizer(tk.BPE.init(vocab, merges, {}));
  b.setPreTokenizer(tk.byteLevelPreTokenizer(false, true));
  b.setPostProcessor(tk.robertaProcessing(['</s>', 2], ['<s>', 0], true, false));
  b.addSpecialTokens(specials);
  b.save(out('bpe-fortunes.json'), true);
}

// 4. Mixed test lines: a deterministic sample of fortune lines plus hand-written hard cases.
function mixedLines() {
  const lines = [];
  const all = docs.join('\n').split('\n').filter((l) => l.trim() !== '');
  for (let i = 0; i < all.length && lines.length < 260; i += Math.floor(all.length / 260)) lines.push(all[i]);
  const hand = fs.readFileSync(out('hard-lines.txt'), 'utf8').split('\n').filter((l) => l !== '');
  return lines.concat(hand.map((l) => l.replace(/\\t/g, '\t')));
}

async function golden(file, lines, name) {
  const t = tk.Tokenizer.fromFile(out(file));
  const rows = [];
  for (const l of lines) {
    const plain = await t.encode(l, null, { addSpecialTokens: false });
    const spec = await t.encode(l, null, { addSpecialTokens: true });
    rows.push(JSON.stringify({ ids: plain.getIds(), ids_special: spec.getIds(), tokens: plain.getTokens() }));
  }
  fs.writeFileSync(out(name), rows.join('\n') + '\n');
}

(async () => {
  trainWordPiece();
  trainBPE();
  const lines = mixedLines();
  fs.writeFileSync(out('mixed.txt'), lines.join('\n') + '\n');
  await golden('wordpiece-fortunes.json', lines, 'golden-wordpiece.jsonl');
  await golden('bpe-fortunes.json', lines, 'golden-bpe.jsonl');
  console.log(`corpus ${docs.length} fortunes; ${lines.length} golden lines`);
})();
