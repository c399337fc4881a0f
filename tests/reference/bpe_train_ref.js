// bpe_train_ref.js — a deliberately naive byte-level BPE trainer, the oracle
// for src/train/bpe_train.c: `node bpe_train_ref.js VOCAB_SIZE OUT_DIR FILE...`
// writes OUT_DIR/merges.txt and OUT_DIR/vocab.json.
//
// Same specification, simplest possible algorithm: split documents at
// "<|endoftext|>", pre-tokenize with GPT-2's regex, count distinct pre-tokens;
// then at every step recount all adjacent pairs over all words, take the most
// frequent, ties to the lowest (left id, right id), and rewrite every word.
// Ids 0..255 are the bytes in GPT-2's order; a merge whose bytes already form
// a token reuses its id; "<|endoftext|>" comes last.
const fs = require('fs');
const path = require('path');

const [vocabSize, outDir, ...files] = [Number(process.argv[2]), process.argv[3], ...process.argv.slice(4)];
const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

// GPT-2's printable bytes stand for themselves, the others map to U+0100...
const printable = b => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
const order = [];
for (let b = 0; b < 256; b++) if (printable(b)) order.push(b);
for (let b = 0; b < 256; b++) if (!printable(b)) order.push(b);
const cpOf = new Array(256);
let extra = 0;
for (let b = 0; b < 256; b++) cpOf[b] = printable(b) ? b : 256 + extra++;
const show = bytes => bytes.map(b => String.fromCodePoint(cpOf[b])).join('');

const counts = new Map();
for (const f of files) {
  for (const doc of fs.readFileSync(f, 'utf8').split('<|endoftext|>')) {
    for (const m of doc.matchAll(pat)) counts.set(m[0], (counts.get(m[0]) || 0) + 1);
  }
}
const idOfByte = new Array(256);
order.forEach((b, i) => { idOfByte[b] = i; });
const tokens = order.map(b => [b]);
const byKey = new Map(tokens.map((t, i) => [t.join(','), i]));
const words = [...counts.entries()].map(([w, c]) => ({ syms: [...Buffer.from(w, 'utf8')].map(b => idOfByte[b]), c }));

const merges = [];
while (byKey.size < vocabSize - 1) {
  const pc = new Map();
  for (const w of words)
    for (let i = 0; i + 1 < w.syms.length; i++) {
      const k = w.syms[i] * 2097152 + w.syms[i + 1];
      pc.set(k, (pc.get(k) || 0) + w.c);
    }
  let best = -1, bestCount = 0;
  for (const [k, c] of pc) if (c > bestCount || (c === bestCount && k < best)) { best = k; bestCount = c; }
  if (best < 0) { console.error('corpus too small'); process.exit(1); }
  const a = Math.floor(best / 2097152), b = best % 2097152;
  const bytes = tokens[a].concat(tokens[b]);
  let id = byKey.get(bytes.join(','));
  if (id === undefined) { id = tokens.length; tokens.push(bytes); byKey.set(bytes.join(','), id); }
  merges.push([a, b]);
  for (const w of words) {
    const s = w.syms, out = [];
    for (let i = 0; i < s.length;) {
      if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(id); i += 2; } else out.push(s[i++]);
    }
    w.syms = out;
  }
}
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'merges.txt'),
  '#version: 0.2\n' + merges.map(([a, b]) => show(tokens[a]) + ' ' + show(tokens[b]) + '\n').join(''));
const vocab = {};
tokens.forEach((t, i) => { vocab[show(t)] = i; });
vocab['<|endoftext|>'] = tokens.length;
fs.writeFileSync(path.join(outDir, 'vocab.json'), JSON.stringify(vocab));
