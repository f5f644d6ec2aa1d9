// make_golden_added.js checks added-token matching against HF tokenizers
// 0.23.2: it adds tokens with single_word, lstrip, rstrip and normalized
// set to copies of the two fortunes tokenizers, saves them
// (added-wordpiece.json, added-bpe.json) and records HF's ids for
// added-lines.txt plus mixed.txt (golden-added-*.jsonl). Tolerance: none.
//
// Run from the repository root:  node text/testdata/make_golden_added.js
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require(path.join(__dirname, '../../benchmarks/text/node_modules/tokenizers'));
const out = (f) => path.join(__dirname, f);

const extra = [
  'Hello <ent> world and x<ent>y and <ent>, <ent>!',
  'left   [L] strip and right [R]   strip, both [LR]   here',
  'HELLO WORLD normalized match, Hello World too, helloworld not',
  'ABC raw match, abc not, xABCx inside a word',
  'RoBERTa style: The capital of France is <mask>.',
  'no space<mask>here and  <mask>  spaced',
  '[MASK] [mask] [CLS]text[SEP] <s>x</s>',
  '<ent><ent> [L][R] ABCABC',
];
fs.writeFileSync(out('added-lines.txt'), extra.join('\n') + '\n');
const lines = extra.concat(fs.readFileSync(out('mixed.txt'), 'utf8').replace(/\n$/, '').split('\n'));

(async () => {
  for (const [base, name] of [['wordpiece-fortunes.json', 'added-wordpiece'], ['bpe-fortunes.json', 'added-bpe']]) {
    const t = tk.Tokenizer.fromFile(out(base));
    t.addAddedTokens([
      new tk.AddedToken('<ent>', false, { singleWord: true, normalized: false }),
      new tk.AddedToken('[L]', true, { leftStrip: true }),
      new tk.AddedToken('[R]', true, { rightStrip: true }),
      new tk.AddedToken('[LR]', true, { leftStrip: true, rightStrip: true }),
      new tk.AddedToken(name === 'added-bpe' ? 'HELLO WORLD' : 'hello world', false, { normalized: true }),
      new tk.AddedToken('ABC', false, { normalized: false }),
    ]);
    if (name === 'added-bpe') t.addAddedTokens([new tk.AddedToken('<mask>', true, { leftStrip: true })]);
    t.save(out(name + '.json'), false);
    const rows = [];
    for (const l of lines) {
      const plain = await t.encode(l, null, { addSpecialTokens: false });
      const spec = await t.encode(l, null, { addSpecialTokens: true });
      rows.push(JSON.stringify({ ids: plain.getIds(), ids_special: spec.getIds(), tokens: plain.getTokens() }));
    }
    fs.writeFileSync(out('golden-' + name + '.jsonl'), rows.join('\n') + '\n');
    console.log(name, t.getVocabSize(true));
  }
})();
