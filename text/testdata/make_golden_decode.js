// make_golden_decode.js records HF tokenizers 0.23.2's decode for the
// golden tokenizers: for every line of mixed.txt, decode(ids with special
// tokens) with skip_special_tokens true and false, and for the first 40
// lines and the 61 hand-written ones the decode of each id alone (for byte-level BPE that splits
// multi-byte characters: HF's lossy UTF-8). TestGoldenDecode compares.
// Tolerance: none.
//
// Run from the repository root:  node text/testdata/make_golden_decode.js
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));
const out = (f) => path.join(__dirname, f);
const lines = fs.readFileSync(out('mixed.txt'), 'utf8').replace(/\n$/, '').split('\n');
(async () => {
  const rows = [];
  for (const f of ['wordpiece-fortunes.json', 'bpe-fortunes.json', 'bpe-nfkc-whitespace.json', 'go-trained-bpe.json']) {
    const t = tk.Tokenizer.fromFile(out(f));
    for (let i = 0; i < lines.length; i++) {
      const ids = (await t.encode(lines[i], null, { addSpecialTokens: true })).getIds();
      const row = { tokenizer: f, line: i, skip: await t.decode(ids, true), keep: await t.decode(ids, false) };
      if (i < 40 || i >= 260) row.each = await Promise.all(ids.map((id) => t.decode([id], false)));
      rows.push(JSON.stringify(row));
    }
  }
  fs.writeFileSync(out('golden-decode.jsonl'), rows.join('\n') + '\n');
  console.log(rows.length, 'rows');
})();
