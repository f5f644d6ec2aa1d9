// make_golden_extra.js covers tokenizer.json components beyond the two main
// fixtures: a character-level BPE with an NFKC + Lowercase normalizer
// Sequence, the Whitespace pre-tokenizer (\w+|[^\w\s]+), a continuing
// subword prefix, an unk token and TemplateProcessing. Trained with HF
// tokenizers 0.23.2 on the fortunes corpus (default trainer, then the first
// 2,000 entries kept, as in make_golden.js).
//
// Run from the repository root after make_golden.js (it reuses the corpus):
//   node text/testdata/make_golden_extra.js
// Outputs text/testdata/bpe-nfkc-whitespace.json and
// golden-bpe-nfkc-whitespace.jsonl (ids for mixed.txt). Tolerance: none.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));
const out = (f) => path.join(__dirname, f);
const corpus = path.join(os.tmpdir(), 'sslpipe-fortunes-corpus.txt');
const VOCAB = 2000;

(async () => {
  const norm = () => tk.sequenceNormalizer([tk.nfkcNormalizer(), tk.lowercase()]);
  const t = new tk.Tokenizer(tk.BPE.empty());
  t.setNormalizer(norm());
  t.setPreTokenizer(tk.whitespacePreTokenizer());
  t.train([corpus]);
  const tmp = path.join(os.tmpdir(), 'sslpipe-bpe-ws-full.json');
  t.save(tmp, false);
  const full = JSON.parse(fs.readFileSync(tmp, 'utf8'));
  const specials = ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]'];
  const vocab = {};
  specials.forEach((s, i) => (vocab[s] = i));
  // Alphabet: single characters in learned order, with and without prefix.
  const learned = Object.entries(full.model.vocab).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
  for (const tok of learned) if ([...tok].length === 1 && !(tok in vocab)) vocab[tok] = Object.keys(vocab).length;
  for (const tok of learned) if ([...tok].length === 1 && !(('##' + tok) in vocab)) vocab['##' + tok] = Object.keys(vocab).length;
  // Merges re-expressed with the ## prefix on non-initial parts: learned on
  // plain symbols, so keep only merges whose result is a word-initial piece
  // (first part plain) and add the ## variant of each merge too.
  const merges = [];
  for (const m of full.model.merges) {
    if (Object.keys(vocab).length >= VOCAB) break;
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    for (const [x, y] of [[a, '##' + b], ['##' + a, '##' + b]]) {
      if (!(x in vocab) || !(y in vocab)) continue;
      const xy = x + y.slice(2);
      if (xy in vocab) continue;
      vocab[xy] = Object.keys(vocab).length;
      merges.push([x, y]);
    }
  }
  const b = new tk.Tokenizer(tk.BPE.init(vocab, merges, { unkToken: '[UNK]', continuingSubwordPrefix: '##' }));
  b.setNormalizer(norm());
  b.setPreTokenizer(tk.whitespacePreTokenizer());
  b.setPostProcessor(tk.templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1', [['[CLS]', 1], ['[SEP]', 2]]));
  b.addSpecialTokens(specials);
  b.save(out('bpe-nfkc-whitespace.json'), true);

  const lines = fs.readFileSync(out('mixed.txt'), 'utf8').replace(/\n$/, '').split('\n');
  const rows = [];
  for (const l of lines) {
    const plain = await b.encode(l, null, { addSpecialTokens: false });
    const spec = await b.encode(l, null, { addSpecialTokens: true });
    rows.push(JSON.stringify({ ids: plain.getIds(), ids_special: spec.getIds(), tokens: plain.getTokens() }));
  }
  fs.writeFileSync(out('golden-bpe-nfkc-whitespace.jsonl'), rows.join('\n') + '\n');
  console.log(`vocab ${Object.keys(vocab).length}, merges ${merges.length}, ${lines.length} golden lines`);
})();
