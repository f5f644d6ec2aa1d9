// hf_encode.js loads a tokenizer.json with Hugging Face tokenizers (the npm
// package pinned in benchmarks/text/package.json) and prints, as one JSON
// object, what HF gives for every line of a text file: the ids without and
// with special tokens, and the decode of the latter with
// skip_special_tokens true and false. TestTrainedMatchesHF runs it on the
// tokenizers it trains (live when the package is installed, and with
// -update-trained to write the committed golden files).
//
//   (cd benchmarks/text && npm install)
//   node text/testdata/hf_encode.js TOKENIZER.json LINES.txt
'use strict';
const fs = require('fs');
const path = require('path');
const mod = path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers');
const tk = require(mod);

(async () => {
  const [tokPath, linesPath] = process.argv.slice(2);
  const t = tk.Tokenizer.fromFile(tokPath);
  const lines = fs.readFileSync(linesPath, 'utf8').replace(/\n$/, '').split('\n');
  const rows = [];
  for (const l of lines) {
    const ids = (await t.encode(l, null, { addSpecialTokens: false })).getIds();
    const special = (await t.encode(l, null, { addSpecialTokens: true })).getIds();
    rows.push({ ids, ids_special: special, skip: await t.decode(special, true), keep: await t.decode(special, false) });
  }
  const version = JSON.parse(fs.readFileSync(path.join(mod, 'package.json'), 'utf8')).version;
  process.stdout.write(JSON.stringify({ hf: `tokenizers ${version} (npm)`, vocab_size: t.getVocabSize(true), rows }) + '\n');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
