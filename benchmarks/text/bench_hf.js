// bench_hf.js measures Hugging Face tokenizers (npm tokenizers@0.23.2, Rust
// core) on the same corpus and tokenizer.json as `sslpipe bench tokenize`.
//
//   node bench_hf.js TOKENIZER.json CORPUS.txt SECONDS [BATCH]
//
// Every non-empty line is one input; lines are encoded with encodeBatch in
// batches of BATCH (default 1000) without special tokens, in whole passes
// until SECONDS have elapsed, after one untimed warm-up pass. Thread count:
// set RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false for one thread.
// Prints one JSON line with mb_per_s and tokens_per_s.
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, 'node_modules/tokenizers'));

(async () => {
  const [tokPath, corpus, secondsArg, batchArg] = process.argv.slice(2);
  const seconds = Number(secondsArg || 5);
  const batch = Number(batchArg || 1000);
  const t = tk.Tokenizer.fromFile(tokPath);
  const lines = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l, 'utf8'), 0);
  const batches = [];
  for (let i = 0; i < lines.length; i += batch) batches.push(lines.slice(i, i + batch));
  const pass = async () => {
    let tokens = 0;
    for (const b of batches) {
      const encs = await t.encodeBatch(b, { addSpecialTokens: false });
      for (const e of encs) tokens += e.getLength();
    }
    return tokens;
  };
  await pass();
  let tokens = 0;
  let passes = 0;
  const t0 = process.hrtime.bigint();
  let el = 0;
  while (el < seconds) {
    tokens += await pass();
    passes++;
    el = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  console.log(JSON.stringify({
    impl: 'hf-tokenizers-0.23.2-node', tokenizer: tokPath, threads: process.env.RAYON_NUM_THREADS || 'default',
    lines: lines.length, passes, seconds: el, mb_per_s: (bytes * passes) / el / 1e6, tokens_per_s: tokens / el,
  }));
})();
