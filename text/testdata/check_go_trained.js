// check_go_trained.js loads the tokenizers that sslpipe trained on the
// fortunes corpus with Hugging Face tokenizers 0.23.2 (proving HF can load
// them) and writes the ids HF gives for mixed.txt; TestTrainedHFGolden
// checks that sslpipe encodes identically. Tolerance: none.
//
// Run from the repository root:
//   CGO_ENABLED=0 go build -o /tmp/sslpipe ./cmd/sslpipe
//   /tmp/sslpipe tokenizer train --kind wordpiece --vocab 8000 --fortunes /usr/share/games/fortunes --out text/testdata/go-trained-wordpiece.json
//   /tmp/sslpipe tokenizer train --kind bpe --vocab 8000 --fortunes /usr/share/games/fortunes --out text/testdata/go-trained-bpe.json
//   (cd benchmarks/text && npm install)
//   node text/testdata/check_go_trained.js
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));
const out = (f) => path.join(__dirname, f);

(async () => {
  const lines = fs.readFileSync(out('mixed.txt'), 'utf8').replace(/\n$/, '').split('\n');
  for (const kind of ['wordpiece', 'bpe']) {
    const t = tk.Tokenizer.fromFile(out(`go-trained-${kind}.json`));
    const rows = [];
    for (const l of lines) {
      const plain = await t.encode(l, null, { addSpecialTokens: false });
      const spec = await t.encode(l, null, { addSpecialTokens: true });
      rows.push(JSON.stringify({ ids: plain.getIds(), ids_special: spec.getIds(), tokens: plain.getTokens() }));
    }
    fs.writeFileSync(out(`golden-go-trained-${kind}.jsonl`), rows.join('\n') + '\n');
    console.log(`${kind}: HF loaded go-trained-${kind}.json (vocab ${t.getVocabSize(true)}), encoded ${lines.length} lines`);
  }
})();
